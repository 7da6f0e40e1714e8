/**
 * HyperLogLog operations (Aerospike's HLL operations over its HyperMinHash layout): results,
 * policies and failures as the server's particle_hll.c has them; counts, union, intersection
 * and similarity against exact counts of seeded random sets, within the documented error bound
 * (relative standard error 1.04 / √2^indexBits for counts).
 */
import { strict as assert } from 'node:assert';
import murmur from 'murmurhash3js-revisited';
import { applyHllOp, type HllOperation } from '../../core/transaction/hll-ops.ts';
import { DbError } from '../../core/errors/index.ts';
import { Hll, Sketch, hllElementBytes, hllSize, parseHll, decodeBins, encodeBins, type BinValue } from '../../core/model/index.ts';
import { seededRandom } from '../../core/cluster/clock.ts';

function code(f: () => unknown): string {
  try { f(); } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.code; }
  assert.fail('expected a failure');
}
const op = (kind: HllOperation['kind'], extra: Partial<HllOperation> = {}): HllOperation => ({ op: 'hll', bin: 'h', kind, ...extra });

/** `n` distinct values for i = from…from+n-1 (strings and integers, each i always the same value), in a seeded random order. */
function values(tag: string, from: number, n: number, seed: number): BinValue[] {
  const r = seededRandom(seed);
  const out: BinValue[] = [];
  for (let i = from; i < from + n; i++) out.push(i % 3 === 0 ? BigInt(i) * 1_000_003n + BigInt(tag.length) : `${tag}:${i}`);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j] as BinValue, out[i] as BinValue];
  }
  return out;
}

function build(vs: readonly BinValue[], indexBits: number, minhashBits = 0): Hll {
  const r = applyHllOp(undefined, op('add', { values: vs, indexBits, minhashBits }));
  return r.next as Hll;
}

const count = (h: Hll): bigint => applyHllOp(h, op('getCount')).result as bigint;

describe('transaction/hll operations', () => {
  it('hashes with MurmurHash3 x64-128 (seed 0) over the compact Aerospike msgpack of an element', () => {
    // the reference implementation's value for "hello": h1 cbd8a7b341bd9b02, h2 5b1e906a48ae1d19
    assert.equal(murmur.x64.hash128(Buffer.from('hello'), 0), 'cbd8a7b341bd9b025b1e906a48ae1d19');
    assert.deepEqual([...hllElementBytes('a', 'x')], [0xa2, 0x03, 0x61], 'a string carries its particle type, as in Aerospike msgpack');
    assert.deepEqual([...hllElementBytes(1n, 'x')], [0x01]);
    assert.deepEqual([...hllElementBytes(300n, 'x')], [0xcd, 0x01, 0x2c]);
    assert.deepEqual([...hllElementBytes(-200n, 'x')], [0xd1, 0xff, 0x38]);
    assert.deepEqual([...hllElementBytes(new Uint8Array([9]), 'x')], [0xa2, 0x04, 0x09]);
    assert.equal(code(() => hllElementBytes([1n], 'x')), 'PARAMETER', 'lists are not HLL elements');
  });

  it('lays an HLL out as Aerospike does: header, cached count, packed registers', () => {
    const h = applyHllOp(undefined, op('init', { indexBits: 8, minhashBits: 16 })).next as Hll;
    assert.equal(h.bytes.length, hllSize(8, 16));
    assert.equal(h.bytes.length, 11 + Math.ceil((6 + 16) * 256 / 8));
    assert.deepEqual([...h.bytes.subarray(0, 3)], [0, 8, 16]);
    // registers round-trip through the packed layout at every position, the last ones included
    for (const [ib, mb] of [[4, 0], [8, 4], [5, 51], [16, 0], [10, 13]] as const) {
      const s = Sketch.empty(ib, mb);
      const r = seededRandom(ib * 100 + mb);
      const want: bigint[] = [];
      const width = BigInt(6 + mb);
      for (let i = 0; i < s.registers; i++) {
        const v = BigInt(Math.floor(r() * 2 ** 30)) * BigInt(Math.floor(r() * 2 ** 30)) % (1n << width);
        want.push(v);
        s.set(i, v);
      }
      for (let i = 0; i < s.registers; i++) assert.equal(s.get(i), want[i], `register ${i} of (${ib}, ${mb})`);
    }
    assert.equal(code(() => parseHll(new Uint8Array(h.bytes.subarray(1)), 'x')), 'PARAMETER', 'a truncated HLL');
    const back = decodeBins(encodeBins({ h })).h;
    assert.ok(back instanceof Hll, 'the record codec keeps the HLL type');
    assert.deepEqual(back.bytes, h.bytes);
  });

  it('init, add, refreshCount, fold, describe and getCount behave as Aerospike\'s', () => {
    const h = build(values('a', 0, 100, 1), 10);
    assert.deepEqual(applyHllOp(h, op('describe')).result, [10n, 0n]);
    const add = applyHllOp(h, op('add', { values: ['a:0', 'zz', 'zz'] }));
    assert.ok(typeof add.result === 'bigint' && add.result <= 2n, 'add returns how many values changed a register (a repeat changes none)');
    const again = applyHllOp(add.next, op('add', { values: ['zz'] }));
    assert.equal(again.result, 0n);
    const refreshed = applyHllOp(h, op('refreshCount'));
    assert.equal(refreshed.result, count(h));
    assert.equal(Buffer.from((refreshed.next as Hll).bytes).readBigUInt64LE(3), refreshed.result, 'the count is cached in the header');
    assert.equal(count(refreshed.next as Hll), refreshed.result);
    const folded = applyHllOp(h, op('fold', { indexBits: 6 })).next as Hll;
    assert.deepEqual(applyHllOp(folded, op('describe')).result, [6n, 0n]);
    const reinit = applyHllOp(h, op('init')).next as Hll;
    assert.equal(count(reinit), 0n, 'init on an existing HLL empties it, keeping its bits');
    assert.deepEqual(applyHllOp(reinit, op('describe')).result, [10n, 0n]);
    assert.equal(applyHllOp(undefined, op('getCount')).result, null, 'a read of a missing bin is nil');
  });

  it('refuses and fails as the server does', () => {
    const h = build(['x'], 8);
    const mh = build(['x'], 8, 8);
    assert.equal(code(() => applyHllOp(undefined, op('init', { indexBits: 3 }))), 'PARAMETER');
    assert.equal(code(() => applyHllOp(undefined, op('init', { indexBits: 17 }))), 'PARAMETER');
    assert.equal(code(() => applyHllOp(undefined, op('init', { indexBits: 8, minhashBits: 3 }))), 'PARAMETER');
    assert.equal(code(() => applyHllOp(undefined, op('init', { indexBits: 16, minhashBits: 51 }))), 'PARAMETER', 'index + min-hash > 64');
    assert.equal(code(() => applyHllOp(undefined, op('init'))), 'OP_NOT_APPLICABLE', 'creating without index bits');
    assert.equal(code(() => applyHllOp(undefined, op('add', { values: ['a'] }))), 'OP_NOT_APPLICABLE');
    assert.equal(code(() => applyHllOp(undefined, op('add', { values: [] , indexBits: 8 }))), 'PARAMETER');
    assert.equal(code(() => applyHllOp(h, op('init', { indexBits: 8, policy: { createOnly: true } }))), 'BIN_EXISTS');
    assert.deepEqual(applyHllOp(h, op('init', { indexBits: 8, policy: { createOnly: true, noFail: true } })), { next: undefined, result: undefined });
    assert.equal(code(() => applyHllOp(undefined, op('init', { indexBits: 8, policy: { updateOnly: true } }))), 'BIN_NOT_FOUND');
    assert.equal(code(() => applyHllOp(h, op('add', { values: ['a'], policy: { updateOnly: true } }))), 'PARAMETER', 'add takes no updateOnly');
    assert.equal(code(() => applyHllOp(h, op('init', { policy: { allowFold: true } }))), 'PARAMETER', 'init takes no allowFold');
    assert.equal(code(() => applyHllOp(h, op('init', { policy: { createOnly: true, updateOnly: true } }))), 'PARAMETER');
    assert.equal(code(() => applyHllOp(h, op('getCount', { indexBits: 8 }))), 'PARAMETER', 'a field the operation does not take');
    assert.equal(code(() => applyHllOp(undefined, op('refreshCount'))), 'BIN_NOT_FOUND');
    assert.equal(code(() => applyHllOp(undefined, op('fold', { indexBits: 4 }))), 'BIN_NOT_FOUND');
    assert.equal(code(() => applyHllOp(mh, op('fold', { indexBits: 4 }))), 'OP_NOT_APPLICABLE', 'folding an HLL with min-hash bits');
    assert.equal(code(() => applyHllOp(h, op('fold', { indexBits: 10 }))), 'OP_NOT_APPLICABLE', 'folding up');
    assert.equal(code(() => applyHllOp('text', op('getCount'))), 'BIN_TYPE');
    assert.equal(code(() => applyHllOp(5n, op('add', { values: ['a'], indexBits: 8 }))), 'BIN_TYPE');
    // set-union: lowering the bin's index bits needs allowFold
    const small = build(['y'], 6);
    assert.equal(code(() => applyHllOp(h, op('setUnion', { hlls: [small] }))), 'OP_NOT_APPLICABLE');
    const u = applyHllOp(h, op('setUnion', { hlls: [small], policy: { allowFold: true } })).next as Hll;
    assert.deepEqual(applyHllOp(u, op('describe')).result, [6n, 0n]);
    assert.equal(code(() => applyHllOp(mh, op('setUnion', { hlls: [h] }))), 'OP_NOT_APPLICABLE', 'dropping min-hash bits needs allowFold');
    assert.equal(code(() => applyHllOp(h, op('getIntersectCount', { hlls: [h, h, h] }))), 'PARAMETER', 'more than two others without min-hash bits');
    assert.equal(code(() => applyHllOp(h, op('getIntersectCount', { hlls: [mh, mh, mh] }))), 'OP_NOT_APPLICABLE', 'the bin lacks the others\' min-hash bits');
  });

  it('mayContain: 1 for values added (no false negatives), 0 for others but at the sketch\'s collision rate, as hmh_may_contain', function () {
    const mayContain = (h: Hll | undefined, vs: BinValue[]) => applyHllOp(h, op('mayContain', { values: vs })).result;
    const empty = applyHllOp(undefined, op('init', { indexBits: 8 })).next as Hll;
    assert.equal(mayContain(empty, ['a', 1n, 2.5, true, new Uint8Array([1])]), 0n, 'an empty HLL contains nothing');
    for (const v of ['a', 1n, 2.5, true, new Uint8Array([1])]) assert.equal(mayContain(empty, [v]), 0n);
    assert.equal(mayContain(undefined, ['a']), null, 'a missing bin: nil, as every HLL read');
    for (const [ib, mb] of [[8, 0], [12, 0], [14, 16], [16, 32]] as const) {
      const members = values('m', 0, 2000, ib + mb);
      const h = build(members, ib, mb);
      // every member, alone and all together: 1
      for (const v of members) assert.equal(mayContain(h, [v]), 1n, `member ${String(v)} with (${ib}, ${mb})`);
      assert.equal(mayContain(h, members), 1n);
      // others: a false positive needs the value's register to be taken (and to hold at least the
      // value's own), so fewer than the share of taken registers answer 1
      const others = values('o', 5000, 2000, 7);
      const positives = others.filter((v) => mayContain(h, [v]) === 1n).length;
      const emptyShare = 1 - (1 - 2 ** -ib) ** members.length;
      if (ib >= 12) assert.ok(positives / others.length < emptyShare, `(${ib}, ${mb}): ${positives} of ${others.length} others may be contained`);
      // one non-member among members makes the whole answer 0 unless it collides
      const outsider = others.find((v) => mayContain(h, [v]) === 0n) as BinValue;
      assert.equal(mayContain(h, [...members.slice(0, 10), outsider]), 0n);
      // the same answer as the register rule itself: the value's register holds at least the value's own
      const s = Sketch.of(h);
      for (const v of others.slice(0, 200)) {
        const [r, mine] = s.hash(hllElementBytes(v, 'x'));
        assert.equal(mayContain(h, [v]), mine <= s.get(r) ? 1n : 0n);
      }
    }
    const h = build(['x'], 8);
    assert.equal(code(() => applyHllOp(h, op('mayContain', { values: [] }))), 'PARAMETER', 'no values');
    assert.equal(code(() => applyHllOp(h, op('mayContain'))), 'PARAMETER', 'no values');
    assert.equal(code(() => applyHllOp(h, op('mayContain', { values: [[1n]] }))), 'PARAMETER', 'a list is not an element');
    assert.equal(code(() => applyHllOp(h, op('mayContain', { values: ['x'], indexBits: 8 }))), 'PARAMETER', 'a field it does not take');
    assert.equal(code(() => applyHllOp(h, op('mayContain', { values: ['x'], policy: { noFail: true } }))), 'PARAMETER', 'reads take no policy');
    assert.equal(code(() => applyHllOp('text', op('mayContain', { values: ['x'] }))), 'BIN_TYPE');
  });

  it('counts within the error bound over seeded random sets (1.04 / √2^indexBits)', function () {
    this.timeout(120_000);
    const errors: number[] = [];
    let seed = 15_000;
    for (const ib of [8, 11, 14]) {
      const se = 1.04 / Math.sqrt(2 ** ib);
      for (const n of [200, 5_000, 30_000]) {
        const h = build(values(`c${ib}`, 0, n, ++seed), ib);
        const est = Number(count(h));
        const rel = Math.abs(est - n) / n;
        errors.push(rel / se);
        assert.ok(rel <= 4 * se, `index bits ${ib}, ${n} values: estimate ${est} is off by ${(rel * 100).toFixed(2)}% (4 standard errors: ${(4 * se * 100).toFixed(2)}%)`);
      }
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    assert.ok(mean <= 1.5, `mean error ${mean.toFixed(2)} standard errors`);
  });

  it('unions, intersections and similarity track exact set arithmetic', function () {
    this.timeout(120_000);
    // A = 0..20000, B = 10000..30000: union 30000, intersection 10000, Jaccard 1/3
    for (const [ib, mb] of [[12, 0], [12, 16], [14, 20]] as const) {
      const a = build(values('s', 0, 20_000, 7), ib, mb);
      const b = build(values('s', 10_000, 20_000, 8), ib, mb);
      const se = 1.04 / Math.sqrt(2 ** ib);
      const union = Number(applyHllOp(a, op('getUnionCount', { hlls: [b] })).result);
      assert.ok(Math.abs(union - 30_000) / 30_000 <= 4 * se, `(${ib}, ${mb}) union ${union}`);
      const u = applyHllOp(a, op('getUnion', { hlls: [b] })).result as Hll;
      assert.ok(u instanceof Hll);
      assert.equal(count(u), BigInt(union), 'getUnion and getUnionCount agree');
      const merged = applyHllOp(a, op('setUnion', { hlls: [b] })).next as Hll;
      assert.equal(count(merged), BigInt(union), 'setUnion writes the same union');
      const inter = Number(applyHllOp(a, op('getIntersectCount', { hlls: [b] })).result);
      // an intersection estimate's error scales with the union, not with the intersection
      assert.ok(Math.abs(inter - 10_000) <= 30_000 * 6 * se, `(${ib}, ${mb}) intersection ${inter}`);
      const sim = applyHllOp(a, op('getSimilarity', { hlls: [b] })).result as number;
      assert.ok(Math.abs(sim - 1 / 3) <= 0.08, `(${ib}, ${mb}) similarity ${sim}`);
    }
    // disjoint sets with min-hash bits: similarity near 0; identical: 1
    const x = build(values('d', 0, 5_000, 9), 12, 16);
    const y = build(values('ee', 0, 5_000, 10), 12, 16);
    assert.ok((applyHllOp(x, op('getSimilarity', { hlls: [y] })).result as number) < 0.02);
    assert.ok((applyHllOp(x, op('getSimilarity', { hlls: [x] })).result as number) > 0.99, 'identical sets: about 1 (less the expected min-hash collisions)');
    const empty = applyHllOp(undefined, op('init', { indexBits: 12, minhashBits: 16 })).next as Hll;
    assert.ok(Number.isNaN(applyHllOp(empty, op('getSimilarity', { hlls: [empty] })).result as number), 'two empty HLLs: NaN, as the server');
  });
});
