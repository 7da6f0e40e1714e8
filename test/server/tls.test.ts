import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode } from '../../core/node/node.ts';
import { parseConfig } from '../../core/node/config.ts';
import { DbError, SlipstreamClient } from '../../core/client/index.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { runAql } from '../aql/e2e-helpers.ts';
import { startNodeProcess } from '../helpers/process-node.ts';

const DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const file = (name: string): string => join(DIR, name);
const pem = (name: string): Buffer => readFileSync(file(name));

async function tlsNode(tls: Record<string, unknown>) {
  return createNode(parseConfig({ node: { id: 'A1', host: '127.0.0.1', port: 0, tls }, namespaces: [{ name: 'test', storage: 'storage-memory' }] }), { plugins: [memoryStorage()], logger: silentLogger });
}

async function connectFails(options: Parameters<typeof SlipstreamClient.connect>[0]): Promise<DbError> {
  try {
    const c = await SlipstreamClient.connect(options);
    c.close();
  } catch (err) {
    assert.ok(err instanceof DbError);
    return err;
  }
  assert.fail('expected the connection to fail');
}

describe('server/tls: gRPC over TLS', function () {
  // real processes (a node, the aql binary several times): slow on a loaded machine
  this.timeout(120_000);

  it('serves TLS clients that trust its CA, and no plaintext or wrongly trusting client', async () => {
    const node = await tlsNode({ certFile: file('server.pem'), keyFile: file('server.key') });
    try {
      const hosts = `127.0.0.1:${node.port}`;
      const client = await SlipstreamClient.connect({ hosts, tls: { ca: pem('ca.pem') } });
      await client.put({ namespace: 'test', set: 's', key: 'k' }, { a: 1n });
      assert.deepEqual((await client.get({ namespace: 'test', set: 's', key: 'k' })).bins, { a: 1n });
      client.close();
      const byName = await SlipstreamClient.connect({ hosts: `localhost:${node.port}`, tls: { ca: pem('ca.pem') } });
      byName.close();
      const plain = await connectFails({ hosts, connectTimeoutMs: 1500 });
      assert.equal(plain.code, 'CONNECTION');
      assert.match(plain.hint ?? '', /tls option/);
      const wrongCa = await connectFails({ hosts, connectTimeoutMs: 1500, tls: { ca: pem('other-ca.pem') } });
      assert.equal(wrongCa.code, 'CONNECTION');
      const wrongName = await connectFails({ hosts, connectTimeoutMs: 1500, tls: { ca: pem('ca.pem'), serverName: 'not-the-node.example' } });
      assert.equal(wrongName.code, 'CONNECTION');
      await assert.rejects(SlipstreamClient.connect({ hosts, tls: { ca: pem('ca.pem'), cert: pem('client.pem') } }), (e: unknown) => e instanceof DbError && e.code === 'CLIENT_PARAM');
    } finally {
      await node.stop();
    }
  });

  it('with requireClientCert, serves only clients with a certificate its CA signed (mutual TLS)', async () => {
    const node = await tlsNode({ certFile: file('server.pem'), keyFile: file('server.key'), caFile: file('ca.pem'), requireClientCert: true });
    try {
      const hosts = `127.0.0.1:${node.port}`;
      const client = await SlipstreamClient.connect({ hosts, tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') } });
      await client.put({ namespace: 'test', set: 's', key: 'm' }, { a: 2n });
      client.close();
      const anonymous = await connectFails({ hosts, connectTimeoutMs: 1500, tls: { ca: pem('ca.pem') } });
      assert.equal(anonymous.code, 'CONNECTION');
    } finally {
      await node.stop();
    }
  });

  it('refuses bad TLS settings with messages that say what to fix', async () => {
    const cfg = (tls: unknown) => parseConfig({ node: { tls }, namespaces: [{ name: 'test' }] });
    assert.throws(() => cfg({ certFile: 'a.pem' }), /node\.tls.*needs certFile and keyFile/);
    assert.throws(() => cfg({ certFile: 'a', keyFile: 'b', requireClientCert: true }), /requireClientCert.*needs caFile/);
    assert.throws(() => cfg({ certFile: 'a', keyFile: 'b', verify: true }), /node\.tls\.verify.*is not a TLS setting/);
    await assert.rejects(tlsNode({ certFile: file('missing.pem'), keyFile: file('server.key') }), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /node\.tls\.certFile: cannot read .*missing\.pem/.test(e.message));
    await assert.rejects(tlsNode({ certFile: file('README.md'), keyFile: file('server.key') }), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /node\.tls\.certFile: .*README\.md is not a PEM certificate/.test(e.message));
    await assert.rejects(tlsNode({ certFile: file('server.pem'), keyFile: file('ca.pem') }), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /node\.tls\.keyFile: .*ca\.pem is not a PEM private key/.test(e.message));
  });

  it('the binary serves TLS with --tls-cert/--tls-key, and aql connects with --tls-ca', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipstream-tls-'));
    const node = await startNodeProcess(['--port', '0', '--data-dir', join(dir, 'data'), '--tls-cert', file('server.pem'), '--tls-key', file('server.key')]);
    try {
      const ok = await runAql(['-h', `127.0.0.1:${node.port}`, '--tls-ca', file('ca.pem'), '-c', "INSERT INTO test.t (PK, a) VALUES ('x', 7); SELECT * FROM test.t WHERE PK = 'x'"], { dir });
      assert.equal(ok.code, 0, ok.output);
      assert.match(ok.output, /\| "x" \| 7 \|/);
      assert.doesNotMatch(ok.output, /DeprecationWarning/);
      const plain = await runAql(['-h', `127.0.0.1:${node.port}`, '-c', 'SHOW NAMESPACES'], { dir });
      assert.notEqual(plain.code, 0);
      assert.match(plain.output, /cannot connect to/);
      const missing = await runAql(['-h', `127.0.0.1:${node.port}`, '--tls-ca', file('nope.pem'), '-c', 'SHOW NAMESPACES'], { dir });
      assert.notEqual(missing.code, 0);
      assert.match(missing.output, /--tls-ca: cannot read/);
    } finally {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
