import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { GeoJson, type Bins } from '../../../core/model/index.ts';
import {
  and, anyElem, arith, bin, cmp, elem, evaluate, exprFromJson, exprFromJsonText, exprToJson, exprToJsonText,
  exprToString, geoContains, geoWithin, lit, matches, meta, not, or, regex, size, type EvalContext, type Expr,
} from '../../../core/query/expr/index.ts';
import { isDbError } from '../../../core/errors/index.ts';

const NOW = 1_700_000_000_000;
function ctx(bins: Bins, extra: Partial<EvalContext> = {}): EvalContext {
  return {
    bins,
    meta: { generation: 3, voidTime: NOW / 1000 + 100, lastUpdateMs: NOW - 5000 },
    set: 'people',
    digest: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    keyExists: true,
    nowMs: NOW,
    ...extra,
  };
}

describe('query/expr evaluation', () => {
  const rec = ctx({
    age: 42n, score: 7.5, name: 'Ada Lovelace', tags: ['x', 'y', 3n],
    prefs: new Map<string | bigint, Bins[string]>([['color', 'red'], ['size', 10n]]), blob: new Uint8Array([1, 2]),
  });

  it('compares integers, doubles, strings', () => {
    assert.equal(matches(cmp('=', bin('age'), lit(42n)), rec), true);
    assert.equal(matches(cmp('>', bin('age'), lit(41.5)), rec), true);
    assert.equal(matches(cmp('<=', bin('score'), lit(7n)), rec), false);
    assert.equal(matches(cmp('=', bin('age'), lit(42.0)), rec), true);
    assert.equal(matches(cmp('<', bin('name'), lit('B')), rec), true);
    assert.equal(matches(cmp('!=', bin('name'), lit('Ada')), rec), true);
  });

  it('compares 64-bit integers exactly beyond 2^53', () => {
    const big = ctx({ n: 9007199254740993n });
    assert.equal(matches(cmp('>', bin('n'), lit(9007199254740992n)), big), true);
    assert.equal(matches(cmp('=', bin('n'), lit(9007199254740992)), big), false);
    assert.equal(matches(cmp('>', bin('n'), lit(9007199254740992)), big), true);
  });

  it('a missing bin or a type mismatch is unknown, never an error', () => {
    assert.equal(evaluate(cmp('=', bin('nope'), lit(1n)), rec), undefined);
    assert.equal(matches(cmp('!=', bin('nope'), lit(1n)), rec), false);
    assert.equal(matches(not(cmp('=', bin('nope'), lit(1n))), rec), false);
    assert.equal(evaluate(cmp('<', bin('name'), lit(5n)), rec), undefined);
    assert.equal(evaluate(cmp('=', bin('name'), lit(5n)), rec), false);
    assert.equal(evaluate(arith('+', bin('name'), lit(1n)), rec), undefined);
    assert.equal(evaluate(arith('/', bin('age'), lit(0n)), rec), undefined);
    assert.equal(evaluate(size(bin('age')), rec), undefined);
  });

  it('three-valued AND / OR / NOT', () => {
    const unknown = cmp('=', bin('nope'), lit(1n));
    const t = cmp('=', lit(1n), lit(1n));
    const f = cmp('=', lit(1n), lit(2n));
    assert.equal(evaluate(and(unknown, f), rec), false);
    assert.equal(evaluate(and(unknown, t), rec), undefined);
    assert.equal(evaluate(or(unknown, t), rec), true);
    assert.equal(evaluate(or(unknown, f), rec), undefined);
    assert.equal(evaluate(not(f), rec), true);
  });

  it('arithmetic keeps integers exact and mixes with doubles', () => {
    assert.equal(evaluate(arith('*', bin('age'), lit(2n)), rec), 84n);
    assert.equal(evaluate(arith('/', bin('age'), lit(5n)), rec), 8n);
    assert.equal(evaluate(arith('%', bin('age'), lit(5n)), rec), 2n);
    assert.equal(evaluate(arith('+', bin('age'), lit(0.5)), rec), 42.5);
    assert.equal(evaluate(arith('*', lit(2n ** 62n), lit(4n)), rec), undefined, 'int64 overflow is unknown');
  });

  it('list/map size, membership and element predicates', () => {
    assert.equal(evaluate(size(bin('tags')), rec), 3n);
    assert.equal(evaluate(size(bin('prefs')), rec), 2n);
    assert.equal(evaluate(size(bin('name')), rec), 12n);
    assert.equal(matches(anyElem('list', bin('tags'), cmp('=', elem, lit('y'))), rec), true);
    assert.equal(matches(anyElem('list', bin('tags'), cmp('=', elem, lit('z'))), rec), false);
    assert.equal(matches(anyElem('list', bin('tags'), cmp('>', elem, lit(2n))), rec), true);
    assert.equal(matches(anyElem('mapkeys', bin('prefs'), cmp('=', elem, lit('color'))), rec), true);
    assert.equal(matches(anyElem('mapvalues', bin('prefs'), cmp('=', elem, lit(10n))), rec), true);
    assert.equal(evaluate({ kind: 'get', source: bin('prefs'), key: lit('color') }, rec), 'red');
    assert.equal(evaluate({ kind: 'get', source: bin('tags'), key: lit(-1n) }, rec), 3n);
    assert.equal(matches({ kind: 'in', value: bin('age'), options: [lit(1n), lit(42n)] }, rec), true);
  });

  it('regular expressions on strings only', () => {
    assert.equal(matches(regex(bin('name'), '^ada', 'i'), rec), true);
    assert.equal(matches(regex(bin('name'), '^ada'), rec), false);
    assert.equal(evaluate(regex(bin('age'), '4'), rec), undefined);
  });

  it('record metadata: ttl, generation, last update, set, key, digest modulo', () => {
    assert.equal(evaluate(meta('ttl'), rec), 100n);
    assert.equal(evaluate(meta('ttl'), ctx({}, { meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 } })), -1n);
    assert.equal(evaluate(meta('generation'), rec), 3n);
    assert.equal(evaluate(meta('sinceUpdate'), rec), 5000n);
    assert.equal(evaluate(meta('lastUpdate'), rec), BigInt(NOW - 5000));
    assert.equal(matches(cmp('=', meta('setName'), lit('people')), rec), true);
    assert.equal(evaluate(meta('keyExists'), rec), true);
    assert.equal(evaluate({ kind: 'digestModulo', modulus: 3 }, rec), 1n); // byte 8 = 10 → 10 % 3
    assert.equal(evaluate({ kind: 'binExists', name: 'age' }, rec), true);
    assert.equal(evaluate({ kind: 'binType', name: 'tags' }, rec), 'list');
  });

  it('geo within / contains', () => {
    const r = ctx({ loc: new GeoJson('{"type":"Point","coordinates":[-122.0,37.5]}'),
      area: new GeoJson('{"type":"Polygon","coordinates":[[[-123,37],[-121,37],[-121,38],[-123,38],[-123,37]]]}') });
    const box = lit(new GeoJson('{"type":"Polygon","coordinates":[[[-123,37],[-121,37],[-121,38],[-123,38],[-123,37]]]}'));
    assert.equal(matches(geoWithin(bin('loc'), box), r), true);
    assert.equal(matches(geoContains(bin('area'), lit(new GeoJson('{"type":"Point","coordinates":[-122.5,37.2]}'))), r), true);
    assert.equal(matches(geoContains(bin('area'), lit(new GeoJson('{"type":"Point","coordinates":[-120,37.2]}'))), r), false);
  });
});

describe('query/expr JSON form', () => {
  const sample: Expr = and(
    cmp('>=', bin('a'), lit(-(2n ** 63n))), or(regex(bin('s'), 'x+', 'i'), not(cmp('=', bin('b'), lit(new Uint8Array([255]))))),
    anyElem('mapvalues', bin('m'), cmp('<', elem, lit(1.5))), cmp('=', bin('l'), lit([1n, 'two', null, new Map([['k', true]])])),
    geoWithin(bin('g'), lit(new GeoJson('{"type":"AeroCircle","coordinates":[[0,0],100]}'))), cmp('>', meta('ttl'), lit(0n)),
  );
  it('round-trips exactly', () => {
    const back = exprFromJsonText(exprToJsonText(sample));
    assert.deepEqual(exprToJson(back), exprToJson(sample));
    assert.equal(exprToString(back), exprToString(sample));
  });
  it('reads plain JSON numbers as integers or doubles', () => {
    const e = exprFromJson({ kind: 'cmp', op: '=', left: { kind: 'bin', name: 'a' }, right: { kind: 'lit', value: 5 } });
    assert.equal(matches(e, ctx({ a: 5n })), true);
    const d = exprFromJson({ kind: 'lit', value: 2.5 });
    assert.deepEqual(d, { kind: 'lit', value: 2.5 });
  });
  it('rejects malformed expressions with PARAMETER and a path', () => {
    for (const bad of [
      { kind: 'cmp', op: '~', left: { kind: 'bin', name: 'a' }, right: { kind: 'lit', value: 1 } },
      { kind: 'and', args: [] }, { kind: 'nope' }, { kind: 'meta', field: 'size' },
      { kind: 'regex', arg: { kind: 'bin', name: 'a' }, pattern: '(' },
      { kind: 'lit', value: { int: 'x' } },
    ]) {
      assert.throws(() => exprFromJson(bad), (e: unknown) => isDbError(e, 'PARAMETER'));
    }
  });
  it('random values survive the JSON trip (incl. -0)', () => {
    assert.ok(Object.is(exprFromJsonText(exprToJsonText(lit(-0))).kind === 'lit' ? (exprFromJsonText(exprToJsonText(lit(-0))) as { value: number }).value : 1, -0));
    const val = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.double({ noNaN: true }),
        fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 4 }), fc.array(tie('v'), { maxLength: 3 })),
    })).v;
    fc.assert(fc.property(val, (v) => {
      const e = lit(v as never);
      const back = exprFromJsonText(exprToJsonText(e));
      assert.deepEqual(exprToJson(back), exprToJson(e));
    }), { numRuns: 200 });
  });
});
