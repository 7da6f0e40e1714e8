/**
 * Expression parity: Aerospike's cond and let/def/var — evaluation (first true branch, unknown
 * conditions, later definitions using earlier ones, shadowing), the JSON form both ways with
 * scope checks, and printing.
 */
import { strict as assert } from 'node:assert';
import { and, arith, bin, cdtRead, cmp, cond, letIn, lit, variable, type Expr } from '../../core/query/expr/ast.ts';
import type { BinValue } from '../../core/model/index.ts';
import { evaluate, type EvalContext } from '../../core/query/expr/eval.ts';
import { exprFromJsonText, exprToJsonText } from '../../core/query/expr/json.ts';
import { exprToString } from '../../core/query/expr/print.ts';
import { DbError } from '../../core/errors/index.ts';

const ctx = (bins: EvalContext['bins']): EvalContext => ({ bins, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 }, set: '', digest: new Uint8Array(20), keyExists: false, nowMs: 0 });

describe('query/expr cond and let', () => {
  const grade: Expr = cond([
    [cmp('>=', bin('score'), lit(90n)), lit('A')],
    [cmp('>=', bin('score'), lit(75n)), lit('B')],
  ], lit('C'));

  it('cond takes the first true branch, else the default; an unknown condition makes it unknown', () => {
    assert.equal(evaluate(grade, ctx({ score: 95n })), 'A');
    assert.equal(evaluate(grade, ctx({ score: 80n })), 'B');
    assert.equal(evaluate(grade, ctx({ score: 10n })), 'C');
    assert.equal(evaluate(grade, ctx({})), undefined);
    assert.equal(evaluate(grade, ctx({ score: 'x' })), undefined);
  });

  it('let binds names in order, later ones use earlier ones, inner ones shadow', () => {
    const e = letIn([['x', arith('+', bin('a'), lit(1n))], ['y', arith('*', variable('x'), lit(10n))]],
      and(cmp('=', variable('y'), lit(60n)), letIn([['x', lit(0n)]], cmp('=', variable('x'), lit(0n)))));
    assert.equal(evaluate(e, ctx({ a: 5n })), true);
    assert.equal(evaluate(letIn([['x', bin('a')]], arith('+', variable('x'), variable('x'))), ctx({ a: 21n })), 42n);
  });

  it('round-trips through JSON, refuses unbound variables, prints', () => {
    const e = letIn([['s', bin('score')]], cond([[cmp('>', variable('s'), lit(5n)), variable('s')]], lit(0n)));
    const back = exprFromJsonText(exprToJsonText(e));
    assert.deepEqual(back, e);
    assert.equal(evaluate(back, ctx({ score: 9n })), 9n);
    assert.throws(() => exprFromJsonText('{"kind":"var","name":"nope"}'), (err: unknown) => err instanceof DbError && err.code === 'PARAMETER' && /not bound/.test(err.message));
    assert.throws(() => exprFromJsonText('{"kind":"cond","branches":[],"otherwise":{"kind":"lit","value":1}}'), DbError);
    assert.equal(exprToString(e), 'LET(s = score; COND($s > 5 => $s, ELSE 0))');
  });
});

describe('query/expr list, map and bit reads', () => {
  const rec = ctx({
    scores: [7n, 2n, 9n, 4n],
    prefs: new Map<string, BinValue>([['size', 10n], ['tags', ['a', 'b', 'c']]]),
    bits: Uint8Array.from([0b00000001, 0b01000010]),
  });

  it('applies the kernel\'s list, map and bit reads (with return types and contexts) to a value', () => {
    assert.equal(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByRank', rank: -1 }), rec), 9n);
    assert.deepEqual(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByValueRange', value: 3n, valueEnd: 8n, returnType: 'index' }), rec), [0n, 3n]);
    assert.equal(evaluate(cdtRead(bin('prefs'), { op: 'list', bin: '', kind: 'size', ctx: [{ type: 'mapKey', key: 'tags' }] }), rec), 3n);
    assert.equal(evaluate(cdtRead(bin('bits'), { op: 'bit', bin: '', kind: 'getInt', offset: 8, size: 8 }), rec), 0b01000010n);
    // as a filter: records whose largest score is over 8
    assert.equal(evaluate(cmp('>', cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByRank', rank: -1 }), lit(8n)), rec), true);
  });

  it('a read that fails or a missing bin is unknown; writes and bad fields are refused when parsed', () => {
    assert.equal(evaluate(cdtRead(bin('scores'), { op: 'list', bin: '', kind: 'getByIndex', index: 10 }), rec), undefined);
    assert.equal(evaluate(cdtRead(bin('nothing'), { op: 'list', bin: '', kind: 'size' }), rec), undefined);
    assert.equal(evaluate(cdtRead(bin('prefs'), { op: 'list', bin: '', kind: 'size' }), rec), undefined, 'a list read on a map');
    const e = cdtRead(bin('prefs'), { op: 'map', bin: '', kind: 'getByKey', key: 'size', returnType: 'value' });
    const back = exprFromJsonText(exprToJsonText(e));
    assert.equal(evaluate(back, rec), 10n);
    const text = (op: unknown): string => JSON.stringify({ kind: 'cdtRead', source: { kind: 'bin', name: 'scores' }, op });
    assert.throws(() => exprFromJsonText(text({ op: 'list', kind: 'append', value: 1 })), /writes; use a cdtModify call/);
    assert.throws(() => exprFromJsonText(text({ op: 'list', kind: 'size', bogus: 1 })), /bogus is not a field/);
    assert.throws(() => exprFromJsonText(text({ op: 'list', kind: 'nope' })), DbError);
  });
});
