import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get } from 'node:https';
import { readFileSync } from 'node:fs';
import { startTestNode } from '../helpers/node-harness.ts';
import { createNode } from '../../core/node/node.ts';
import { parseConfig } from '../../core/node/config.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';

const TLS = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));

describe('security/metrics endpoint', function () {
  this.timeout(60_000);

  it('requires the bearer token when security.metricsTokenFile is set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipstream-metrics-'));
    const token = 'a-metrics-token-of-enough-length';
    writeFileSync(join(dir, 'metrics.token'), token);
    writeFileSync(join(dir, 'admin.password'), 'pw');
    const t = await startTestNode({ config: { node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir, metricsPort: 0 }, security: { metricsTokenFile: 'metrics.token', adminPasswordFile: 'admin.password' } } });
    try {
      const url = `http://127.0.0.1:${t.node.metricsPort}/metrics`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-token-of-the-same-len' } })).status, 401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /slipstream_rpc_requests_total|slipstream_/);
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves /metrics over TLS with the node certificate when security.metricsTls is set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipstream-metrics-'));
    writeFileSync(join(dir, 'admin.password'), 'pw');
    const node = await createNode(parseConfig({
      node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir, metricsPort: 0, tls: { certFile: join(TLS, 'server.pem'), keyFile: join(TLS, 'server.key') } },
      namespaces: [{ name: 'test', storage: 'storage-memory' }],
      security: { metricsTls: true, adminPasswordFile: 'admin.password' },
    }), { plugins: [memoryStorage()], logger: silentLogger });
    const t = { node, stop: () => node.stop() };
    try {
      const status = await new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port: t.node.metricsPort, path: '/metrics', ca: readFileSync(join(TLS, 'ca.pem')), servername: 'localhost' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      assert.equal(status, 200);
      await assert.rejects(fetch(`http://127.0.0.1:${t.node.metricsPort}/metrics`), 'plain HTTP is not served');
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses metricsTls without node.tls at start, naming what to configure', async () => {
    await assert.rejects(startTestNode({ config: { node: { id: 'A1', host: '127.0.0.1', port: 0, metricsPort: 0 }, security: { metricsTls: true } } }), /metricsTls needs node\.tls/);
  });
});
