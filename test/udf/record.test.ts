import { strict as assert } from 'node:assert';
import { GeoJson, digestHex, listOrder, mapOrder, withListOrder, withMapOrder, type BinValue, type MapKey } from '../../core/model/index.ts';
import { UdfEngine, UdfError, decodeValue, encodeValue } from '../../core/udf/index.ts';
import { KEY, rejects, view } from './helpers.ts';

const MODULE = `
export function echo(rec, ...args) { return args; }
export function meta(rec) {
  return { exists: aerospike.exists(rec), gen: record.gen(rec), ttl: record.ttl(rec), key: record.key(rec),
    digest: record.digest(rec), set: record.setName(rec), ns: record.namespace(rec), lut: record.lastUpdateTime(rec),
    bins: record.binNames(rec), n: record.numBins(rec) };
}
export function incr(rec, bin, by) {
  rec[bin] = (rec[bin] ?? 0) + by;
  aerospike.update(rec);
  return rec[bin];
}
export function touchTtl(rec, ttl) { record.setTtl(rec, ttl); aerospike.update(rec); }
export function readOnly(rec) { rec.a = 99; return rec.a; }
export function createOnce(rec) { rec.c = 1; return aerospike.create(rec); }
export function remove(rec) { return aerospike.remove(rec); }
export function dropBin(rec, bin) { rec[bin] = null; aerospike.update(rec); }
export function updateThenRemove(rec) { rec.z = 1; aerospike.update(rec); aerospike.remove(rec); return aerospike.exists(rec); }
export function types(rec) { return [typeof rec.i, typeof rec.big, typeof rec.d, rec.b instanceof Uint8Array, rec.g instanceof GeoJSON, rec.m instanceof Map, Array.isArray(rec.l), rec.o.k, rec.o instanceof Map, rec.m.get(7)]; }
export function keep(rec) { rec.touched = true; aerospike.update(rec); }
export function bigPlus(rec) { rec.big = rec.big + 1n; aerospike.update(rec); return rec.big; }
export function toDouble(rec) { rec.x = aerospike.double(3); aerospike.update(rec); }
export function plainObject(rec) { return { a: 1, nested: { b: [1.5, 'x'] } }; }
export function userCode(rec, code) { throw new Error(code + ':custom failure'); }
export function throwString(rec) { throw 'just a string'; }
export function returnFunction(rec) { return () => 1; }
export function returnClass(rec) { return new (class Foo {})(); }
export function cyclic(rec) { const a = []; a.push(a); return a; }
export function asyncFn(rec) { return Promise.resolve(1); }
export function badTtl(rec) { record.setTtl(rec, 'soon'); }
export function fakeRec(rec) { return aerospike.update({}); }
export function addKey(rec, bin, k, v) { rec[bin][k] = v; aerospike.update(rec); return rec[bin]; }
export function addMapKey(rec, bin, k, v) { rec[bin].set(k, v); aerospike.update(rec); return rec[bin]; }
export function copyMap(rec, bin) { rec.copy = { ...rec[bin] }; aerospike.update(rec); return rec.copy; }
export function nestedAdd(rec) { rec.l[1].a = 0; aerospike.update(rec); }
export function pushList(rec, v) { rec.l.push(v); aerospike.update(rec); return rec.l; }
export function logs(rec) { aerospike.log('hello', 1, { a: 2 }); return 0; }
export class NotCallable {}
export function subclassError(rec) { class MyErr extends Error { constructor(m) { super(m); this.name = 'MyErr'; } } throw new MyErr('mine'); }
`;

function lineOf(text: string): number {
  return MODULE.split('\n').findIndex((l) => l.startsWith(text)) + 1;
}

describe('udf/record', function () {
  let engine: UdfEngine;
  const logged: string[] = [];
  before(async () => {
    engine = await UdfEngine.open({ poolSize: 2, onLog: (m, f, line) => logged.push(`${m}.${f}: ${line}`) });
    await engine.register('rec.js', MODULE);
  });
  after(() => engine.close());
  const call = (fn: string, v = view(undefined), ...args: BinValue[]) => engine.applyRecord({ module: 'rec', fn, args }, v);

  it('passes every value type through the boundary exactly, both ways', async () => {
    const values: BinValue[] = [
      null, true, false, 0n, -1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), 1.5, 2.0, -0, NaN, Infinity, -Infinity,
      'héllo ☃', '', new Uint8Array([0, 1, 254, 255]), new GeoJson('{"type":"Point","coordinates":[1,2]}'),
      [1n, [2.5, 'x']], new Map<string | bigint | number, BinValue>([['k', 1n], [7n, [true]], [1.5, new Map()]]),
    ];
    const r = await call('echo', view(undefined), ...values);
    // inside the sandbox 2.0 is the number 2, so returned it reads as the integer 2 (docs/udf.md)
    assert.deepEqual(r.value, values.map((v) => (Object.is(v, 2.0) ? 2n : v)));
    const out = r.value as BinValue[];
    assert.equal(typeof out[4], 'bigint');
    assert.equal(typeof out[9], 'number');
    assert.ok(Object.is(out[11], -0));
    // and the wire codec alone
    for (const v of values) assert.deepEqual(decodeValue(JSON.parse(JSON.stringify(encodeValue(v)))), v);
  });

  it('keeps a map\'s order through the UDF as Aerospike\'s Lua keeps its flags; a map the UDF builds is unordered', async () => {
    const ko = (entries: Array<[MapKey, BinValue]>) => withMapOrder(new Map(entries), 'keyOrdered');
    const kv = withMapOrder(new Map<MapKey, BinValue>([[2n, 'x'], [1n, 'y']]), 'keyValueOrdered');
    // passed as arguments and returned: the same maps come back with their order
    const echoed = (await call('echo', view(undefined), ko([['b', 1n], ['c', 2n]]), kv, [ko([['z', 1n]])])).value as BinValue[];
    assert.equal(mapOrder(echoed[0] as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    assert.equal(mapOrder(echoed[1] as ReadonlyMap<MapKey, BinValue>), 'keyValueOrdered');
    assert.deepEqual([...(echoed[1] as ReadonlyMap<MapKey, BinValue>).keys()], [1n, 2n]);
    assert.equal(mapOrder(((echoed[2] as BinValue[])[0]) as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    // read, changed in place (a key added after the others), written back: still key-ordered, in key order
    const w = await call('addKey', view({ m: ko([['b', 1n], ['c', 2n]]) }), 'm', 'a', 0n);
    assert.equal(w.effect.kind, 'write');
    const written = (w.effect as { bins: Record<string, BinValue> }).bins.m as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual([...written.keys()], ['a', 'b', 'c']);
    assert.equal(mapOrder(written), 'keyOrdered');
    assert.equal(mapOrder(w.value as ReadonlyMap<MapKey, BinValue>), 'keyOrdered');
    const wm = await call('addMapKey', view({ m: withMapOrder(new Map<MapKey, BinValue>([[5n, 1n], [9n, 2n]]), 'keyValueOrdered') }), 'm', 1n, 3n);
    const m2 = (wm.effect as { bins: Record<string, BinValue> }).bins.m as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual([...m2.keys()], [1n, 5n, 9n]);
    assert.equal(mapOrder(m2), 'keyValueOrdered');
    // nested in a list
    const wn = await call('nestedAdd', view({ l: [1n, ko([['b', 1n]])] }));
    const nested = ((wn.effect as { bins: Record<string, BinValue> }).bins.l as BinValue[])[1] as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual([...nested.keys()], ['a', 'b']);
    assert.equal(mapOrder(nested), 'keyOrdered');
    // an unordered map stays unordered (entries where they were put); a copy the UDF builds is unordered
    const wu = await call('addKey', view({ m: new Map<MapKey, BinValue>([['b', 1n]]) }), 'm', 'a', 0n);
    const unordered = (wu.effect as { bins: Record<string, BinValue> }).bins.m as ReadonlyMap<MapKey, BinValue>;
    assert.deepEqual([...unordered.keys()], ['b', 'a']);
    assert.equal(mapOrder(unordered), 'unordered');
    const copied = (await call('copyMap', view({ m: ko([['b', 1n]]) }), 'm')).value as ReadonlyMap<MapKey, BinValue>;
    assert.equal(mapOrder(copied), 'unordered');
    // a list's order does not travel: Aerospike's Lua writes every list back unordered
    const wl = await call('pushList', view({ l: withListOrder([3n, 1n], 'ordered') }), 0n);
    const list = (wl.effect as { bins: Record<string, BinValue> }).bins.l as BinValue[];
    assert.deepEqual(list, [1n, 3n, 0n]);
    assert.equal(listOrder(list), 'unordered');
    // the host refuses an order flag that is not a map order
    assert.throws(() => decodeValue({ m: ['a', 1], o: 2 }), (e: Error & { code?: string }) => e.code === 'UDF' && /map order 2/.test(e.message));
    for (const v of [ko([['a', 1n]]), kv]) assert.equal(mapOrder(decodeValue(JSON.parse(JSON.stringify(encodeValue(v)))) as ReadonlyMap<MapKey, BinValue>), mapOrder(v));
  });

  it('gives the UDF the record metadata', async () => {
    const now = Date.now();
    const r = await call('meta', { ...view({ a: 1n, b: 'x' }, { generation: 7, voidTime: Math.floor(now / 1000) + 100, lastUpdateMs: 12345 }) });
    const m = r.value as Map<string, BinValue>;
    assert.equal(m.get('exists'), true);
    assert.equal(m.get('gen'), 7n);
    const ttl = m.get('ttl') as bigint;
    assert.ok(ttl >= 99n && ttl <= 100n, String(ttl));
    assert.equal(m.get('key'), 'k1');
    assert.equal(digestHex(m.get('digest') as Uint8Array), digestHex(KEY.digest));
    assert.equal(m.get('set'), 'demo');
    assert.equal(m.get('ns'), 'test');
    assert.equal(m.get('lut'), 12345n);
    assert.deepEqual(m.get('bins'), ['a', 'b']);
    assert.equal(m.get('n'), 2n);
    assert.deepEqual(r.effect, { kind: 'none' });
    const absent = (await call('meta')).value as Map<string, BinValue>;
    assert.equal(absent.get('exists'), false);
    assert.equal(absent.get('gen'), 0n);
  });

  it('turns bin changes into a write effect only through aerospike.update/create', async () => {
    const r = await call('incr', view({ n: 41n, other: 'kept' }), 'n', 1n);
    assert.equal(r.value, 42n);
    assert.deepEqual(r.effect, { kind: 'write', bins: { n: 42n, other: 'kept' }, create: false });
    const created = await call('incr', view(undefined), 'n', 5n);
    assert.deepEqual(created.effect, { kind: 'write', bins: { n: 5n }, create: true });
    const ro = await call('readOnly', view({ a: 1n }));
    assert.equal(ro.value, 99n);
    assert.deepEqual(ro.effect, { kind: 'none' });
  });

  it('create, remove, TTL and dropping bins', async () => {
    assert.equal((await call('createOnce', view({ a: 1n }))).value, 1n); // exists: refused, Aerospike's 1
    assert.deepEqual((await call('createOnce', view({ a: 1n }))).effect, { kind: 'none' });
    const c = await call('createOnce');
    assert.equal(c.value, 0n);
    assert.deepEqual(c.effect, { kind: 'write', bins: { c: 1n }, create: true });
    assert.deepEqual((await call('remove', view({ a: 1n }))).effect, { kind: 'delete' });
    const t = await call('touchTtl', view({ a: 1n }), 3600n);
    assert.deepEqual(t.effect, { kind: 'write', bins: { a: 1n }, create: false, ttl: 3600 });
    assert.deepEqual((await call('dropBin', view({ a: 1n, b: 2n }), 'a')).effect, { kind: 'write', bins: { b: 2n }, create: false });
    const ur = await call('updateThenRemove', view({ a: 1n }));
    assert.equal(ur.value, false);
    assert.deepEqual(ur.effect, { kind: 'delete' });
  });

  it('keeps integers and doubles apart in bins written back', async () => {
    const r = await call('types', view({ i: 1n, big: 2n ** 60n, d: 2.0, b: new Uint8Array([1]), g: new GeoJson('{"type":"Point","coordinates":[0,0]}'), m: new Map([[7n, 'seven']]), l: [1n], o: new Map([['k', 'v']]) }));
    // maps with only string keys are plain objects inside the sandbox; others are Maps
    assert.deepEqual(r.value, ['number', 'bigint', 'number', true, true, true, true, 'v', false, 'seven']);
    const bins = { i: 1n, d: 2.0, half: 0.5, big: 2n ** 60n };
    const w = await call('keep', view(bins));
    assert.deepEqual(w.effect, { kind: 'write', bins: { ...bins, touched: true }, create: false });
    const written = (w.effect as { bins: Record<string, BinValue> }).bins;
    assert.equal(typeof written.d, 'number');
    assert.equal(typeof written.i, 'bigint');
    assert.equal((await call('bigPlus', view({ big: 2n ** 62n }))).value, 2n ** 62n + 1n);
    const bad = await rejects(call('bigPlus', view({ big: 2n ** 63n - 1n })));
    assert.match(bad.message, /outside the 64-bit signed range/);
    const dbl = (await call('toDouble', view({}))).effect as { bins: Record<string, BinValue> };
    assert.equal(dbl.bins.x, 3);
    assert.equal(typeof dbl.bins.x, 'number');
    assert.deepEqual((await call('plainObject')).value, new Map<string, BinValue>([['a', 1n], ['nested', new Map<string, BinValue>([['b', [1.5, 'x']]])]]));
  });

  it('maps thrown errors to Aerospike codes with module, function and line', async () => {
    const user = await rejects(call('userCode', view(undefined), 1000n));
    assert.ok(user instanceof UdfError);
    assert.equal(user.resultCode, 1000);
    assert.equal(user.code, 'UDF');
    assert.match(user.message, /^custom failure \(at rec\.js:\d+:\d+ in userCode\)$/);
    assert.equal(user.location.fn, 'userCode');
    assert.equal(user.location.line, lineOf('export function userCode'));
    const known = await rejects(call('userCode', view(undefined), 2n));
    assert.equal(known.code, 'NOT_FOUND');
    assert.equal(known.resultCode, 2);
    const cases: Array<[string, RegExp]> = [
      ['throwString', /UDF error: Error: just a string/],
      ['returnFunction', /a function cannot be stored or returned/],
      ['returnClass', /a Foo cannot be stored or returned/],
      ['cyclic', /nested more than 64 levels/],
      ['asyncFn', /must be synchronous/],
      ['badTtl', /record.setTtl/],
      ['fakeRec', /expected the record passed to the UDF/],
      ['nope', /function 'nope' is not exported by module 'rec'/],
      ['NotCallable', /UDF error: TypeError: Class constructor NotCallable cannot be invoked without 'new'/],
      ['subclassError', new RegExp(`UDF error: MyErr: mine \\(at rec\\.js:${lineOf('export function subclassError')}:\\d+ in subclassError\\)`)],
    ];
    for (const [fn, re] of cases) {
      const err = await rejects(call(fn));
      assert.equal(err.resultCode, 100, fn);
      assert.match(err.message, re, fn);
    }
  });

  it('forwards aerospike.log lines', async () => {
    logged.length = 0;
    const r = await call('logs');
    assert.deepEqual(r.logs, ['hello 1 {"m":["a",2]}']);
    assert.deepEqual(logged, ['rec.logs: hello 1 {"m":["a",2]}']);
  });

  it('runs calls of one module in parallel across its pool', async () => {
    await engine.register('slow.js', 'export function spin(rec, ms) { const start = Date.now(); const end = start + ms; while (Date.now() < end) {} return [start, Date.now()]; }');
    // the first pair creates the two isolates; the second pair runs on them: the two calls'
    // spans (measured inside the isolates) overlap — one did not wait for the other
    const pair = () => Promise.all([0, 1].map(() => engine.applyRecord({ module: 'slow', fn: 'spin', args: [300n] }, view(undefined))));
    await pair();
    const [a, b] = (await pair()).map((r) => (r.value as bigint[]).map(Number)) as [number[], number[]];
    assert.ok((a[0] as number) < (b[1] as number) && (b[0] as number) < (a[1] as number), `the calls ran one after the other: ${a} and ${b}`);
    assert.equal(engine.poolStats('slow')?.created, 2);
    // the main event loop stays free while a UDF runs
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await engine.applyRecord({ module: 'slow', fn: 'spin', args: [150n] }, view(undefined));
    clearInterval(timer);
    assert.ok(ticks >= 5, `only ${ticks} timer ticks during the call`);
  });
});
