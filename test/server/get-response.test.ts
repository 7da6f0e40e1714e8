import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { encodeBatchGetResponse, encodeGetResponse, encodeScanPage, type BatchStored } from '../../core/server/wire/get-response.ts';
import { BatchGetResponse, GetResponse, ScanResponse } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { toPbRecord } from '../../core/wire/convert.ts';
import { computeDigest, partitionOf, encodeBins, encodeUserKey, GeoJson, MAP_ORDERS, withListOrder, withMapOrder, type Bins, type BinValue, type MapKey } from '../../core/model/index.ts';
import type { StoredRecord } from '../../core/plugin-api/index.ts';
import { DbError } from '../../core/errors/index.ts';

const leaf: fc.Arbitrary<BinValue> = fc.oneof(
  fc.constant(null), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.double({ noNaN: true }), fc.string(), fc.boolean(),
  fc.uint8Array({ maxLength: 30 }).map((a) => new Uint8Array(a)),
  fc.constant(new GeoJson('{"type":"Point","coordinates":[1,2]}')),
);
const mapKey: fc.Arbitrary<MapKey> = fc.oneof(fc.string({ maxLength: 6 }), fc.bigInt({ min: -1000n, max: 1000n }), fc.double({ noNaN: true }));
const value: fc.Arbitrary<BinValue> = fc.letrec<{ v: BinValue }>((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }),
    fc.array(tie('v'), { maxLength: 4 }).map((l) => withListOrder(l, 'ordered')),
    fc.tuple(fc.array(fc.tuple(mapKey, tie('v')), { maxLength: 4 }), fc.constantFrom(...MAP_ORDERS)).map(([es, order]) => withMapOrder(new Map(es), order))),
})).v;

describe('server/wire: the Get fast path', () => {
  it('encodes exactly what GetResponse.encode(toPbRecord(...)) decodes to, for random records', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 15 }).filter((n) => n !== '__proto__'), value, { minKeys: 1, maxKeys: 6 }),
      fc.string({ maxLength: 10 }), fc.option(fc.oneof(fc.string({ minLength: 1 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }))),
      fc.nat(0xffffffff), fc.nat(2_000_000_000), fc.double({ min: 0, max: 4e12, noNaN: true }),
      (bins: Bins, set, userKey, generation, voidTime, lastUpdateMs) => {
        const digest = computeDigest(set, 'k');
        const stored: StoredRecord = {
          digest, partition: partitionOf(digest), set, meta: { generation, voidTime, lastUpdateMs },
          key: userKey === null ? undefined : encodeUserKey(userKey), payload: encodeBins(bins), tombstone: false,
        };
        const now = 1_800_000_000_000;
        const fast = GetResponse.decode(new Uint8Array(encodeGetResponse('test', stored, now)));
        const ref = GetResponse.decode(GetResponse.encode({
          record: toPbRecord({ key: { namespace: 'test', set, digest, partition: stored.partition, ...(userKey === null ? {} : { userKey }) }, meta: stored.meta, bins }, now),
        }).finish());
        assert.deepEqual(fast, ref);
      }), { numRuns: 300 });
  });

  const check = (bins: Bins, set: string, userKey: string | bigint | Uint8Array | undefined, meta = { generation: 1, voidTime: 0, lastUpdateMs: 1_700_000_000_000 }): Uint8Array => {
    const digest = computeDigest(set, 'k');
    const stored: StoredRecord = {
      digest, partition: partitionOf(digest), set, meta,
      key: userKey === undefined ? undefined : encodeUserKey(userKey), payload: encodeBins(bins), tombstone: false,
    };
    const now = 1_800_000_000_000;
    const bytes = encodeGetResponse('test', stored, now);
    const ref = GetResponse.decode(GetResponse.encode({
      record: toPbRecord({ key: { namespace: 'test', set, digest, partition: stored.partition, ...(userKey === undefined ? {} : { userKey }) }, meta: stored.meta, bins }, now),
    }).finish());
    assert.deepEqual(GetResponse.decode(new Uint8Array(bytes)), ref);
    return bytes;
  };

  it('widens length prefixes for nested messages of 128 bytes, 16 KiB and 2 MiB and more', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.string({ minLength: 100, maxLength: 300 }),
        fc.uint8Array({ minLength: 16_000, maxLength: 17_000 }).map((a) => new Uint8Array(a)),
        fc.array(fc.string({ minLength: 120, maxLength: 140 }), { minLength: 1, maxLength: 140 }),
      ), { minLength: 1, maxLength: 3 }),
      (values) => { check(Object.fromEntries(values.map((v, i) => [`b${i}`, v as BinValue])), 'set', undefined); },
    ), { numRuns: 40 });
    check({ huge: new Uint8Array(2_200_000).fill(7), nested: [[new Map<MapKey, BinValue>([['k', 'x'.repeat(20_000)]])]] }, 'set', 'user-key');
  });

  it('keeps non-ASCII names, sets and keys, and every user key type', () => {
    check({ 'ñame': 'välue ✓', 'bin': 1n }, 'séts', 'ключ');
    check({ a: -1n, b: 2n ** 63n - 1n, c: -(2n ** 63n), d: 2147483647n, e: -2147483648n }, '', 12345678901234n);
    check({ a: null, b: true, c: false, d: 0.1, e: -0.0 }, 's', new Uint8Array([0, 1, 2, 255]));
    check({ a: 1n }, 's'.repeat(63), 'k', { generation: 0xffffffff, voidTime: 2_000_000_000, lastUpdateMs: 0 });
  });

  it('encodes batch results (records of any namespace, and errors) exactly as BatchGetResponse.encode', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ ns: fc.constantFrom('test', 'bar', 'ñs'), bins: fc.dictionary(fc.constantFrom('a', 'b', 'c'), value, { minKeys: 1 }), gen: fc.nat(100) }),
        fc.record({ code: fc.constantFrom('NOT_FOUND', 'FILTERED_OUT', 'KEY_BUSY') as fc.Arbitrary<'NOT_FOUND' | 'FILTERED_OUT' | 'KEY_BUSY'>, message: fc.string() }),
      ), { maxLength: 12 }),
      (items) => {
        const now = 1_800_000_000_000;
        const results: BatchStored[] = items.map((it, i) => {
          if ('code' in it) return new DbError(it.code, it.message);
          const digest = computeDigest('s', `k${i}`);
          return { namespace: it.ns, record: { digest, partition: partitionOf(digest), set: 's', meta: { generation: it.gen, voidTime: 0, lastUpdateMs: 5 }, key: undefined, payload: encodeBins(it.bins), tombstone: false } };
        });
        const ref = BatchGetResponse.encode({
          results: items.map((it, i) => {
            const r = results[i] as BatchStored;
            if (r instanceof DbError) return { resultCode: r.resultCode, message: r.message };
            const bins = (it as { bins: Bins }).bins;
            return { resultCode: 0, message: '', record: toPbRecord({ key: { namespace: r.namespace, set: 's', digest: r.record.digest, partition: r.record.partition }, meta: r.record.meta, bins }, now) };
          }),
        }).finish();
        assert.deepEqual(BatchGetResponse.decode(new Uint8Array(encodeBatchGetResponse(results, now))), BatchGetResponse.decode(ref));
      }), { numRuns: 200 });
  });

  it('encodes a packed scan message exactly as ScanResponse.encode({ records })', () => {
    fc.assert(fc.property(fc.array(fc.dictionary(fc.constantFrom('a', 'b', 'c'), value, { minKeys: 1 }), { maxLength: 20 }), (binsList) => {
      const now = 1_800_000_000_000;
      const stored: StoredRecord[] = binsList.map((bins, i) => {
        const digest = computeDigest('s', `k${i}`);
        return { digest, partition: partitionOf(digest), set: 's', meta: { generation: i + 1, voidTime: 0, lastUpdateMs: 9 }, key: undefined, payload: encodeBins(bins), tombstone: false };
      });
      const ref = ScanResponse.encode({
        records: stored.map((r, i) => toPbRecord({ key: { namespace: 'test', set: 's', digest: r.digest, partition: r.partition }, meta: r.meta, bins: binsList[i] as Bins }, now)),
      }).finish();
      assert.deepEqual(ScanResponse.decode(new Uint8Array(encodeScanPage('test', stored, now))), ScanResponse.decode(ref));
    }), { numRuns: 150 });
  });

  it('returns bytes of its own: a later encode does not change an earlier answer', () => {
    const first = check({ a: 'first'.repeat(50) }, 's', undefined);
    const copy = Buffer.from(first);
    check({ b: 'second'.repeat(300) }, 's', undefined);
    assert.deepEqual(Buffer.from(first), copy);
  });

  it('answers a corrupt payload with SERVER_ERROR, not a crash or wrong bytes', () => {
    const digest = computeDigest('s', 'k');
    const payload = encodeBins({ a: 'text' });
    payload[4] = 99; // the value's tag
    const stored: StoredRecord = { digest, partition: partitionOf(digest), set: 's', meta: { generation: 1, voidTime: 0, lastUpdateMs: 1 }, key: undefined, payload, tombstone: false };
    assert.throws(() => encodeGetResponse('test', stored, 0), (e: unknown) => e instanceof DbError && e.code === 'SERVER_ERROR' && /corrupt record payload/.test(e.message));
    const truncated: StoredRecord = { ...stored, payload: encodeBins({ a: 'text' }).subarray(0, 8) };
    assert.throws(() => encodeGetResponse('test', truncated, 0), (e: unknown) => e instanceof DbError && e.code === 'SERVER_ERROR');
    const short: StoredRecord = { ...stored, payload: encodeBins({ a: 'text' }).subarray(0, 11) };
    assert.throws(() => encodeGetResponse('test', short, 0), (e: unknown) => e instanceof DbError && e.code === 'SERVER_ERROR');
  });
});
