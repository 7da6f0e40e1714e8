/**
 * Bins a record UDF leaves as they were are not copied back: the isolate writes `{"s":0}` in
 * place of a bin still holding the primitive value it was read with, and the engine keeps the
 * stored value for it. Containers and bytes (changeable in place), changed values (-0.0 against
 * 0.0 included) and new bins travel in full; a marker for a bin that was not read is refused.
 */
import { strict as assert } from 'node:assert';
import { GeoJson, type BinValue, type Bins } from '../../core/model/index.ts';
import { UdfEngine, decodeBins, encodeBins } from '../../core/udf/index.ts';
import { Sandbox } from '../../core/udf/sandbox.ts';
import { view } from './helpers.ts';

const MODULE = `
export function bump(rec) { rec.n = rec.n + 1; aerospike.update(rec); return rec.n; }
export function same(rec) { rec.s = 'text'; aerospike.update(rec); }
export function negZero(rec) { rec.z = 0; aerospike.update(rec); }
export function pushItem(rec) { rec.l.push(4); rec.b[0] = 9; aerospike.update(rec); }
export function dropOne(rec) { rec.s = null; aerospike.update(rec); }
`;

const BINS: Bins = { n: 1n, s: 'text', d: 2.0, half: 0.5, big: 2n ** 60n, t: true, z: -0, l: [1n, 2n, 3n], b: new Uint8Array([1, 2]), g: new GeoJson('{"type":"Point","coordinates":[1,2]}') };

describe('udf/untouched-bins', function () {
  this.timeout(30_000);

  it('the isolate marks bins still holding their primitive value, and sends changed values and containers in full', async () => {
    const s = await Sandbox.create({ fileName: 'u.js', packageName: 'u', code: MODULE }, { memoryLimitMb: 32, loadTimeoutMs: 1000 });
    try {
      const request = (fn: string): string => JSON.stringify({ op: 'record', fn, args: [], rec: { exists: true, bins: encodeBins(BINS), doubles: ['d', 'half', 'z'], gen: 1, ttl: -1, lut: 0, key: null, digest: '', set: 's', ns: 'test' } });
      const bump = JSON.parse(await s.call(request('bump'), 1000, 'u.bump', { repeatable: true })) as { effect: { bins: Record<string, unknown> } };
      const same = { s: 0 };
      assert.deepEqual(bump.effect.bins, { n: 2, s: same, d: same, half: same, big: same, t: same, z: same, l: [1, 2, 3], b: { b: 'AQI=' }, g: { g: '{"type":"Point","coordinates":[1,2]}' } });
      const nz = JSON.parse(await s.call(request('negZero'), 1000, 'u.negZero', { repeatable: true })) as { effect: { bins: Record<string, unknown> } };
      assert.deepEqual(nz.effect.bins.z, { d: '0' }, '-0.0 → 0.0 is a change');
    } finally {
      s.dispose();
    }
  });

  for (const isolation of ['process', 'in-process'] as const) {
    it(`the engine keeps the stored value of untouched bins, types included [${isolation}]`, async () => {
      const engine = await UdfEngine.open({ isolation, poolSize: 1 });
      try {
        await engine.register('u.js', MODULE);
        const bins = async (fn: string): Promise<Record<string, BinValue>> => {
          const r = await engine.applyRecord({ module: 'u', fn }, view(BINS));
          assert.equal(r.effect.kind, 'write');
          return (r.effect as { bins: Record<string, BinValue> }).bins;
        };
        const bumped = await bins('bump');
        const expected: Bins = { ...BINS, n: 2n };
        assert.deepEqual(bumped, expected);
        assert.equal(typeof bumped.d, 'number', 'a double left alone stays a double');
        assert.ok(Object.is(bumped.z, -0));
        assert.deepEqual(await bins('same'), BINS);
        const pushed = await bins('pushItem');
        assert.deepEqual(pushed.l, [1n, 2n, 3n, 4n]);
        assert.deepEqual(pushed.b, new Uint8Array([9, 2]));
        const { s: _dropped, ...rest } = BINS;
        assert.deepEqual(await bins('dropOne'), rest);
      } finally {
        await engine.shutdown();
      }
    });
  }

  it('refuses a marker for a bin the UDF was not given', () => {
    assert.deepEqual(decodeBins({ a: { s: 0 }, b: 'x' }, { a: 5n }), { a: 5n, b: 'x' });
    assert.throws(() => decodeBins({ a: { s: 0 } }, { b: 5n }), /bin 'a' is marked unchanged but was not read/);
    assert.throws(() => decodeBins({ a: { s: 0 } }), /marked unchanged/);
  });
});
