/**
 * The official Aerospike Node.js client (npm `aerospike`, a native addon over the Aerospike C
 * client) against a real node process, over the Aerospike protocol on the node's one port.
 * The node runs in a child process: the C client blocks its thread while it connects.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Aerospike from 'aerospike';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';

type Client = Awaited<ReturnType<typeof Aerospike.connect>>;

/** The result code of a rejected client call. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as { code: number }).code;
  }
  assert.fail('the call succeeded');
}

describe('Aerospike protocol: the official aerospike npm client', function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let client: Client;
  let dir: string;
  const ns = 'test';
  const key = (k: string | number, set = 'demo') => new Aerospike.Key(ns, set, k);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-aerospike-'));
    const config = join(dir, 'node.json');
    writeFileSync(config, JSON.stringify({
      node: { id: 'BB9020011AC4202', host: '127.0.0.1', port: 0, dataDir: dir },
      logLevel: 'warn',
      namespaces: [{ name: 'test', storage: 'storage-memory', defaultTtl: 0, nsupPeriod: 1 }],
    }));
    node = await startNodeProcess(['--config', config]);
    client = await Aerospike.connect({ hosts: [{ addr: '127.0.0.1', port: node.port }], log: { level: Aerospike.log.OFF } });
  });

  after(async () => {
    await client?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the reference example: connect, put, get, remove', async () => {
    const k = key('key');
    await client.put(k, { i: 42, s: 'abc' });
    const rec = await client.get(k);
    assert.deepEqual(rec.bins, { i: 42, s: 'abc' });
    assert.equal(rec.gen, 1);
    await client.remove(k);
    assert.equal(await codeOf(client.get(k)), Aerospike.status.ERR_RECORD_NOT_FOUND);
  });

  it('learns the node through info: node id, build, namespaces, partition ownership', async () => {
    const nodes = client.getNodes();
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.name, 'BB9020011AC4202');
    const info = await client.infoAny('build\nnamespaces\nstatus');
    assert.match(info, /^build\t8\.1\.0\.0$/m);
    assert.match(info, /^namespaces\ttest$/m);
    assert.match(info, /^status\tok$/m);
    assert.equal(await codeOf(client.infoAny('nope')), 4);
    const replicas = await client.infoAny('replicas');
    assert.match(replicas, new RegExp(`^replicas\\ttest:0,1,${'/'.repeat(682)}8=$`, 'm'));
  });
});
