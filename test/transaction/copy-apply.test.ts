/**
 * Applying a copy another node sends (a replica write, a migration's record) on the node that
 * receives it: a newer copy wins by the namespace's rule, an older or equal one is ignored,
 * tombstones compete like records (and a newer record replaces one), removals remove; listeners
 * hear the change with the bins it replaced when they read bins, and a replica whose listeners
 * read none compares versions from the stored metadata alone (the engine's getMeta, with get as
 * the fallback).
 */
import { strict as assert } from 'node:assert';
import { Kernel, type RecordChange } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, type StorageEngine, type StoredRecord } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, computeDigest, encodeBins, partitionOf, type Bins, type NamespaceConfig } from '../../core/model/index.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

type Calls = string[];

/** The memory engine, counting its reads; `later` answers every call a turn later, `noMeta` hides getMeta. */
function counted(engine: StorageEngine, calls: Calls, shape: { later?: boolean; noMeta?: boolean }): StorageEngine {
  const answer = <T>(v: T | Promise<T>): T | Promise<T> => (shape.later === true ? Promise.resolve().then(() => v) : v);
  const out: StorageEngine = {
    capabilities: engine.capabilities,
    get: (d) => { calls.push('get'); return answer(engine.get(d)); },
    put: (r, e) => answer(engine.put(r, e)),
    remove: (d, e) => answer(engine.remove(d, e)),
    scan: (o) => engine.scan(o), truncate: (o) => engine.truncate(o), stats: () => engine.stats(), close: () => engine.close(),
  };
  if (shape.noMeta !== true) out.getMeta = (d) => { calls.push('getMeta'); return answer((engine.getMeta as NonNullable<StorageEngine['getMeta']>)(d)); };
  return out;
}

async function replica(shape: { later?: boolean; noMeta?: boolean; rule?: NamespaceConfig['conflictResolution']; readsBins?: boolean } = {}) {
  const clock = new ManualClock();
  const cfg: NamespaceConfig = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS, ...(shape.rule === undefined ? {} : { conflictResolution: shape.rule }) };
  const memory = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const calls: Calls = [];
  const engine = counted(memory, calls, shape);
  const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  const changes: Array<{ cause: string; set: string; before: Bins | undefined; after: Bins | undefined; generation: number | undefined }> = [];
  const seen = (c: RecordChange): void => {
    changes.push({ cause: c.cause, set: c.set, before: shape.readsBins === false ? undefined : c.before, after: shape.readsBins === false ? undefined : c.after, generation: c.meta?.generation });
  };
  k.addListener(shape.readsBins === false ? { onChange: seen, readsBins: () => false } : { onChange: seen });
  return { k, calls, changes, memory };
}

const digest = computeDigest('s', 'k');
function copy(generation: number, lastUpdateMs: number, bins: Bins | 'tombstone'): StoredRecord {
  return {
    digest, partition: partitionOf(digest), set: 's', meta: { generation, voidTime: 0, lastUpdateMs }, key: undefined,
    payload: bins === 'tombstone' ? new Uint8Array(0) : encodeBins(bins), tombstone: bins === 'tombstone',
  };
}
const put = (r: StoredRecord) => ({ kind: 'put', record: r }) as const;
const removal = (generation: number) => ({ kind: 'remove', digest, partition: partitionOf(digest), generation }) as const;

describe('transaction/copy apply', () => {
  for (const shape of [{}, { later: true }, { noMeta: true }, { readsBins: false }, { readsBins: false, later: true }, { readsBins: false, noMeta: true }]) {
    const name = JSON.stringify(shape);
    it(`${name}: newer copies win, older and equal ones are ignored, tombstones compete and are replaced by newer records`, async () => {
      const { k, changes, memory } = await replica(shape);
      assert.equal(await k.applyCopy('test', put(copy(2, 10, { v: 1 }))), true);
      assert.equal(await k.applyCopy('test', put(copy(2, 10, { v: 9 }))), false, 'the same version');
      assert.equal(await k.applyCopy('test', put(copy(1, 99, { v: 9 }))), false, 'an older generation (later time)');
      assert.equal(await k.applyCopy('test', put(copy(3, 5, { v: 2 }))), true, 'a newer generation (earlier time)');
      assert.equal(await k.applyCopy('test', put(copy(4, 20, 'tombstone'))), true, 'a durable delete');
      assert.equal(await k.applyCopy('test', put(copy(3, 30, { v: 9 }))), false, 'older than the tombstone');
      assert.equal(await k.applyCopy('test', put(copy(5, 40, { v: 3 }))), true, 'a record newer than the tombstone replaces it');
      const stored = await memory.get(digest);
      assert.equal(stored?.meta.generation, 5);
      assert.equal(stored?.tombstone, false);
      const bins = shape.readsBins === false;
      assert.deepEqual(changes, [
        { cause: 'write', set: 's', before: undefined, after: bins ? undefined : { v: 1 }, generation: 2 },
        { cause: 'write', set: 's', before: bins ? undefined : { v: 1 }, after: bins ? undefined : { v: 2 }, generation: 3 },
        { cause: 'delete', set: 's', before: bins ? undefined : { v: 2 }, after: undefined, generation: undefined },
        { cause: 'write', set: 's', before: undefined, after: bins ? undefined : { v: 3 }, generation: 5 },
      ]);
    });

    it(`${name}: removals remove what they are not older than, tombstones included`, async () => {
      const { k, changes, memory } = await replica(shape);
      await k.applyCopy('test', put(copy(3, 10, { v: 1 })));
      assert.equal(await k.applyCopy('test', removal(2)), false, 'the stored copy is newer');
      assert.equal(await k.applyCopy('test', removal(3)), true);
      assert.equal(await memory.get(digest), undefined);
      assert.equal(await k.applyCopy('test', removal(3)), false, 'nothing to remove');
      await k.applyCopy('test', put(copy(4, 10, 'tombstone')));
      assert.equal(await k.applyCopy('test', removal(5)), true, 'a tombstone the removal is newer than');
      assert.equal(await memory.get(digest), undefined);
      assert.deepEqual(changes.map((c) => [c.cause, c.before === undefined ? undefined : c.before]), [
        ['write', undefined], ['delete', shape.readsBins === false ? undefined : { v: 1 }],
      ]);
    });
  }

  it('last-update-time resolution: the later copy wins whatever its generation', async () => {
    const { k, memory } = await replica({ rule: 'last-update-time', readsBins: false });
    await k.applyCopy('test', put(copy(5, 100, { v: 1 })));
    assert.equal(await k.applyCopy('test', put(copy(9, 50, { v: 2 }))), false);
    assert.equal(await k.applyCopy('test', put(copy(1, 200, { v: 3 }))), true);
    assert.equal((await memory.get(digest))?.meta.generation, 1);
  });

  it('reads only the stored metadata when no listener reads bins; the record when one does or the engine has no getMeta', async () => {
    const reads = async (shape: { later?: boolean; noMeta?: boolean; readsBins?: boolean }): Promise<Calls> => {
      const { k, calls } = await replica(shape);
      await k.applyCopy('test', put(copy(2, 10, { v: 1 })));
      await k.applyCopy('test', put(copy(1, 10, { v: 1 }))); // stale
      await k.applyCopy('test', put(copy(3, 10, { v: 1 }))); // newer
      return calls;
    };
    assert.deepEqual(await reads({ readsBins: false }), ['getMeta', 'getMeta', 'getMeta']);
    assert.deepEqual(await reads({}), ['get', 'get', 'get'], 'a listener that may read bins');
    assert.deepEqual(await reads({ readsBins: false, noMeta: true }), ['get', 'get', 'get']);
    // an engine answering later: a stale copy is told from the metadata, a winning one over a
    // stored record reads the record too (an index made meanwhile gets the bins it replaces)
    assert.deepEqual(await reads({ readsBins: false, later: true }), ['getMeta', 'getMeta', 'getMeta', 'get']);
  });

  it('a listener that reads bins for one namespace only: the others\' copies read metadata alone', async () => {
    const { k, calls } = await replica({ readsBins: false });
    k.addListener({ onChange: () => {}, readsBins: (ns) => ns === 'other' });
    await k.applyCopy('test', put(copy(2, 10, { v: 1 })));
    k.addListener({ onChange: () => {}, readsBins: (ns) => ns === 'test' });
    await k.applyCopy('test', put(copy(3, 10, { v: 1 })));
    assert.deepEqual(calls, ['getMeta', 'get']);
  });
});
