/**
 * The page of stored records nodes send each other (migrations): every record and tombstone
 * comes back as it was sent, and bytes that do not decode are refused with a DbError.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { DbError } from '../../core/errors/index.ts';
import { computeDigest, encodeBins, encodeUserKey, partitionOf } from '../../core/model/index.ts';
import type { StoredRecord } from '../../core/plugin-api/index.ts';
import { decodeRecordPage, encodeRecordPage } from '../../core/replication/record-page.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

const recordArb: fc.Arbitrary<StoredRecord> = fc.record({
  set: fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), fc.constantFrom('ünï', '集合')),
  key: fc.option(fc.oneof(fc.string({ maxLength: 50 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })), { nil: undefined }),
  generation: fc.integer({ min: 1, max: 0xffffffff }),
  voidTime: fc.integer({ min: 0, max: 0xffffffff }),
  lastUpdateMs: fc.integer({ min: 0, max: 2 ** 50 }),
  tombstone: fc.boolean(),
  bins: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.oneof(fc.string(), fc.integer().map(BigInt), fc.double({ noNaN: true }), fc.uint8Array({ maxLength: 300 }))),
  name: fc.string({ maxLength: 12 }),
}).map((r) => {
  const digest = computeDigest(r.set, r.name);
  return {
    digest, partition: partitionOf(digest), set: r.set,
    meta: { generation: r.generation, voidTime: r.voidTime, lastUpdateMs: r.lastUpdateMs },
    key: r.key === undefined ? undefined : encodeUserKey(r.key),
    payload: r.tombstone ? new Uint8Array(0) : encodeBins(r.bins), tombstone: r.tombstone,
  };
});

/** A record with plain arrays for its bytes, so that views and copies compare equal. */
const plain = (r: StoredRecord): unknown => ({ ...r, digest: [...r.digest], key: r.key === undefined ? undefined : [...r.key], payload: [...r.payload] });

describe('cluster/record page: stored records between nodes', () => {
  it(`round-trips records and tombstones with their metadata, keys and sets (seed ${SEED})`, () => {
    fc.assert(fc.property(fc.array(recordArb, { maxLength: 40 }), fc.boolean(), (records, done) => {
      const page = decodeRecordPage(encodeRecordPage({ records, done }));
      assert.equal(page.done, done);
      assert.deepEqual(page.records.map(plain), records.map(plain));
    }), { numRuns: 300, seed: SEED });
  });

  it(`refuses bytes that do not decode (cut short, changed, another version) with a DbError (seed ${SEED})`, () => {
    const records = fc.sample(recordArb, { numRuns: 20, seed: SEED });
    const bytes = encodeRecordPage({ records, done: true });
    const refused = (b: Uint8Array): void => {
      try {
        decodeRecordPage(b);
      } catch (e) {
        assert.ok(e instanceof DbError && e.code === 'SERVER_ERROR' && /does not decode/.test(e.message), String(e));
        return;
      }
      assert.fail(`${b.length} bytes decoded`);
    };
    for (let n = 0; n < bytes.length; n += 7) refused(bytes.subarray(0, n));
    refused(Uint8Array.from([...bytes, 0]));
    refused(Uint8Array.from([2, ...bytes.subarray(1)]));
    // any single changed byte: a page that decodes is whole, otherwise a DbError
    fc.assert(fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 }), (at, x) => {
      const c = Uint8Array.from(bytes);
      c[at] = x;
      try {
        const page = decodeRecordPage(c);
        assert.equal(page.records.length, records.length);
      } catch (e) {
        assert.ok(e instanceof DbError, String(e));
      }
    }), { numRuns: 500, seed: SEED });
  });
});
