import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { startNodeProcess, runNodeBinary } from '../helpers/process-node.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

describe('server binary (real process)', function () {
  // several process starts per test: on a loaded machine one start takes up to ~20 s
  this.timeout(150_000);

  it('starts with the embedded configuration, serves, answers health and reflection, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'slipstream-bin-'));
    const p = await startNodeProcess(['--port', '0', '--data-dir', dataDir]);
    try {
      const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}` });
      await client.put({ namespace: 'test', set: 'bin', key: 'k' }, { v: 12345678901234567890n % (2n ** 63n) });
      assert.equal((await client.get({ namespace: 'test', set: 'bin', key: 'k' })).bins['v'], 12345678901234567890n % (2n ** 63n));
      client.close();

      const healthDef = loadSync(require.resolve('grpc-health-check/proto/health/v1/health.proto'), { enums: String });
      const Health = (loadPackageDefinition(healthDef) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => Client & { check(req: object, cb: (e: ServiceError | null, r: { status: string }) => void): void } } } } }).grpc.health.v1.Health;
      const health = new Health(`127.0.0.1:${p.port}`, credentials.createInsecure());
      const status = await new Promise<string>((resolve, reject) => health.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r.status))));
      assert.equal(status, 'SERVING');
      const kvStatus = await new Promise<string>((resolve, reject) => health.check({ service: 'slipstream.v1.KeyValueService' }, (e, r) => (e ? reject(e) : resolve(r.status))));
      assert.equal(kvStatus, 'SERVING');
      health.close();

      const reflDef = loadSync(require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'));
      const Refl = (loadPackageDefinition(reflDef) as unknown as { grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => Client & { serverReflectionInfo(): NodeJS.ReadWriteStream & { write(m: object): void; end(): void } } } } } }).grpc.reflection.v1.ServerReflection;
      const refl = new Refl(`127.0.0.1:${p.port}`, credentials.createInsecure());
      const stream = refl.serverReflectionInfo();
      const services = await new Promise<string[]>((resolve, reject) => {
        stream.on('data', (m: { listServicesResponse?: { service: { name: string }[] } }) => resolve((m.listServicesResponse?.service ?? []).map((s) => s.name)));
        stream.on('error', reject);
        stream.write({ listServices: '' });
      });
      stream.end();
      refl.close();
      assert.ok(services.includes('slipstream.v1.KeyValueService'), services.join());
      assert.ok(services.includes('slipstream.v1.AdminService'));
      assert.ok(services.includes('grpc.health.v1.Health'), 'health is described by reflection too');
    } finally {
      const code = await p.stop('SIGTERM');
      assert.equal(code, 0);
      assert.match(p.output(), /node stopped/);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('reads --config and refuses a bad one with a clear message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipstream-cfg-'));
    try {
      const good = join(dir, 'good.json');
      writeFileSync(good, JSON.stringify({ node: { id: 'B2', port: 0 }, namespaces: [{ name: 'custom', storage: 'storage-memory', defaultTtl: 60 }] }));
      const p = await startNodeProcess(['--config', good]);
      const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}` });
      assert.deepEqual((await client.namespaces()).map((n) => n.name), ['custom']);
      assert.equal((await client.nodeInfo()).nodeId, 'B2');
      client.close();
      await p.stop();

      const bad = join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({ namespaces: [{ name: 'x'.repeat(40) }] }));
      const r = await runNodeBinary(['--config', bad]);
      assert.equal(r.code, 1);
      assert.match(r.output, /namespaces\[0\]\.name/);
      const missing = await runNodeBinary(['--config', join(dir, 'nope.json')]);
      assert.equal(missing.code, 1);
      assert.match(missing.output, /cannot read config file/);
      const unknownEngine = join(dir, 'engine.json');
      writeFileSync(unknownEngine, JSON.stringify({ namespaces: [{ name: 'x', storage: 'storage-nope' }] }));
      const e = await runNodeBinary(['--config', unknownEngine, '--port', '0']);
      assert.equal(e.code, 1);
      assert.match(e.output, /no storage plugin named 'storage-nope'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
