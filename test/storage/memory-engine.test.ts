import { strict as assert } from 'node:assert';
import { makeRecord } from 'slipstream/testing';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, systemClock, type StorageEngine } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';

const ctx = { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal };
const ns = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };

const payloadOf = (engine: StorageEngine, digest: Uint8Array): string | undefined => {
  const got = engine.get(digest);
  if (got instanceof Promise) throw new Error('the memory engine answers directly');
  return got === undefined ? undefined : Buffer.from(got.payload).toString();
};

describe('storage/memory-engine', () => {
  it('finds each record by its digest bytes, also when the caller reuses one array for several digests', async () => {
    const engine = await memoryStorage().create(ctx, ns, {});
    const records = Array.from({ length: 50 }, (_, i) => makeRecord('s', `k${i}`, `v${i}`));
    for (const r of records) assert.deepEqual(engine.put(r, { kind: 'absent' }), { ok: true });
    // one array, its bytes overwritten with each digest in turn (a scratch buffer)
    const scratch = new Uint8Array(20);
    for (let i = 0; i < records.length; i++) {
      scratch.set(records[i]!.digest);
      assert.equal(payloadOf(engine, scratch), `v${i}`);
      // a read then a write with the same array (the write path's order), then another digest in it
      assert.deepEqual(engine.put({ ...records[i]!, digest: scratch, payload: new Uint8Array(Buffer.from(`w${i}`)) }, { kind: 'any' }), { ok: true });
      const next = (i + 1) % records.length;
      scratch.set(records[next]!.digest);
      assert.equal(payloadOf(engine, scratch), next === 0 ? 'w0' : `v${next}`);
      assert.equal(payloadOf(engine, records[i]!.digest), `w${i}`);
    }
    // scratch holds the first record's digest now
    const removed = engine.remove(scratch, { kind: 'any' });
    assert.ok(!(removed instanceof Promise) && removed.ok);
    assert.equal(payloadOf(engine, records[0]!.digest), undefined);
    assert.equal(payloadOf(engine, records[1]!.digest), 'w1');
  });
});
