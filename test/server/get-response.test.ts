import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { encodeGetResponse } from '../../core/server/wire/get-response.ts';
import { GetResponse } from '../../core/server/generated/slipstream/v1/kv.ts';
import { toPbRecord } from '../../core/server/convert.ts';
import { computeDigest, partitionOf, encodeBins, encodeUserKey, GeoJson, type Bins, type BinValue, type MapKey } from '../../core/model/index.ts';
import type { StoredRecord } from '../../core/plugin-api/index.ts';

const leaf: fc.Arbitrary<BinValue> = fc.oneof(
  fc.constant(null), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.double({ noNaN: true }), fc.string(), fc.boolean(),
  fc.uint8Array({ maxLength: 30 }).map((a) => new Uint8Array(a)),
  fc.constant(new GeoJson('{"type":"Point","coordinates":[1,2]}')),
);
const mapKey: fc.Arbitrary<MapKey> = fc.oneof(fc.string({ maxLength: 6 }), fc.bigInt({ min: -1000n, max: 1000n }), fc.double({ noNaN: true }));
const value: fc.Arbitrary<BinValue> = fc.letrec<{ v: BinValue }>((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }),
    fc.array(fc.tuple(mapKey, tie('v')), { maxLength: 4 }).map((es) => new Map(es))),
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
});
