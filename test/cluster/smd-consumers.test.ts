/**
 * What a node does with system metadata another node wrote (merged into its store by the
 * cluster's SMD sync): a truncate marker truncates its own records, an index definition starts
 * an index (built from the records it holds) and its tombstone drops it, a UDF module is
 * installed and its tombstone removes it — without writing anything back.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import type { NodeExtension } from '../../core/node/extension.ts';
import type { SmdItem, SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { QUERY_SUBSYSTEM, UDF_ENGINE_KEY } from '../../core/services/index.ts';

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const item = (module: string, key: string, value: unknown, generation: number, deleted = false): SmdItem =>
  ({ module, key, json: deleted ? 'null' : JSON.stringify(value), generation, updatedMs: Date.now(), deleted });

describe('cluster/system metadata written on another node', function () {
  this.timeout(60_000);
  let t: TestNode;
  let smd: SystemMetadataStore | undefined;

  before(async () => {
    const probe: NodeExtension = { name: 'probe', async start(ctx) { smd = ctx.systemMetadata; } };
    t = await startTestNode({ config: { udf: { isolation: 'in-process' } }, extensions: [...builtInExtensions(), probe] });
  });
  after(async () => { await t.stop(); });

  const store = (): SystemMetadataStore => {
    assert.ok(smd !== undefined);
    return smd;
  };
  const count = async (set: string): Promise<number> => {
    let n = 0;
    for await (const _r of t.client.scan('test', { set })) n++;
    return n;
  };

  it('a truncate marker truncates this node\'s records older than its cut-off, and only those', async () => {
    for (let i = 0; i < 20; i++) await t.client.put({ namespace: 'test', set: 'gone', key: `k${i}` }, { n: BigInt(i) });
    for (let i = 0; i < 5; i++) await t.client.put({ namespace: 'test', set: 'kept', key: `k${i}` }, { n: BigInt(i) });
    await new Promise((r) => setTimeout(r, 5));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await store().merge([item('truncate', 'test/gone', { beforeMs: cut }, 1)]);
    await until('the records before the cut-off are gone', async () => (await count('gone')) === 0);
    assert.equal(await count('kept'), 5, 'another set is untouched');
    await t.client.put({ namespace: 'test', set: 'gone', key: 'new' }, { n: 1n });
    assert.equal(await count('gone'), 1, 'a record written after the cut-off stays');
    assert.equal(store().items('truncate').find((i) => i.key === 'test/gone')?.generation, 1, 'applying it wrote no new version');
  });

  it('an index definition starts an index built from the records here; its tombstone drops it', async () => {
    for (let i = 0; i < 30; i++) await t.client.put({ namespace: 'test', set: 'idx', key: `k${i}` }, { n: BigInt(i) });
    const q = t.node.services.require(QUERY_SUBSYSTEM);
    const def = { namespace: 'test', name: 'by_n', set: 'idx', bin: 'n', type: 'NUMERIC', collection: 'DEFAULT' };
    await store().merge([item('sindex', 'test:by_n', def, 1)]);
    await q.indexes.whenReady('test', 'by_n');
    assert.equal(q.indexes.stat('test', 'by_n').entries, 30);
    const rows = await q.engine.all({ namespace: 'test', set: 'idx', where: { kind: 'cmp', op: '<', left: { kind: 'bin', name: 'n' }, right: { kind: 'lit', value: 5n } } });
    assert.equal(rows.length, 5);
    assert.equal((await q.engine.explain({ namespace: 'test', set: 'idx', where: { kind: 'cmp', op: '<', left: { kind: 'bin', name: 'n' }, right: { kind: 'lit', value: 5n } } })).index, 'by_n');
    await store().merge([item('sindex', 'test:by_n', null, 2, true)]);
    assert.deepEqual(q.indexes.list().map((s) => s.name), []);
    assert.equal(store().items('sindex').find((i) => i.key === 'test:by_n')?.generation, 2, 'dropping it here wrote nothing back');
  });

  it('a UDF module is installed and callable; its tombstone removes it', async () => {
    const engine = t.node.services.require(UDF_ENGINE_KEY);
    const source = 'export function twice(rec, x) { return x * 2; }\n';
    const value = { type: 'js', content64: Buffer.from(source).toString('base64'), hash: createHash('sha256').update(source).digest('hex'), registeredAtMs: Date.now() };
    await store().merge([item('udf', 'twice.js', value, 1)]);
    await until('the module is installed', () => engine.getModule('twice.js') !== undefined);
    await store().merge([item('udf', 'twice.js', null, 2, true)]);
    await until('the module is removed', () => engine.getModule('twice.js') === undefined);
    assert.equal(store().items('udf').find((i) => i.key === 'twice.js')?.generation, 2, 'removing it here wrote nothing back');
  });
});
