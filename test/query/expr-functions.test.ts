/**
 * Expression parity: the numeric, bitwise and boolean functions (Aerospike's exp.pow, log, abs,
 * floor, ceil, toInt, toFloat, min, max, intAnd/Or/Xor/Not, the shifts, intCount, intLscan,
 * intRscan, exclusive) — values as Aerospike's documentation gives them, 64-bit two's
 * complement for the bit functions, unknown on a wrong type, the JSON form with arity checks.
 */
import { strict as assert } from 'node:assert';
import { bin, fn, lit, type Expr, type FunctionName } from '../../core/query/expr/ast.ts';
import { evaluate, type EvalContext } from '../../core/query/expr/eval.ts';
import { exprFromJsonText, exprToJsonText } from '../../core/query/expr/json.ts';
import { exprToString } from '../../core/query/expr/print.ts';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue } from '../../core/model/index.ts';

const ctx: EvalContext = { bins: { i: 12n, f: 2.5, neg: -8n, t: true, s: 'x' }, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 }, set: '', digest: new Uint8Array(20), keyExists: false, nowMs: 0 };
const ev = (name: FunctionName, ...args: BinValue[]): BinValue | undefined => evaluate(fn(name, ...args.map((a) => lit(a))), ctx);

describe('query/expr numeric and bitwise functions', () => {
  it('computes floats: pow, log, abs, floor, ceil, and converts toInt / toFloat', () => {
    assert.equal(ev('pow', 2.0, 10.0), 1024);
    assert.equal(ev('log', 1024.0, 2.0), 10);
    assert.equal(ev('abs', -3n), 3n);
    assert.equal(ev('abs', -2.5), 2.5);
    assert.equal(ev('floor', 2.7), 2);
    assert.equal(ev('ceil', 2.2), 3);
    assert.equal(ev('toInt', -2.9), -2n, 'truncates toward zero');
    assert.equal(ev('toFloat', 7n), 7);
    assert.equal(evaluate(fn('pow', bin('f'), lit(2.0)), ctx), 6.25);
  });

  it('min and max of integers or of floats; mixed types are unknown', () => {
    assert.equal(ev('min', 5n, -2n, 9n), -2n);
    assert.equal(ev('max', 5n, -2n, 9n), 9n);
    assert.equal(ev('max', 1.5, 0.5), 1.5);
    assert.equal(ev('max', 1n, 1.5), undefined);
  });

  it('bit functions work on 64-bit two\'s complement integers', () => {
    assert.equal(ev('intAnd', 0b1100n, 0b1010n), 0b1000n);
    assert.equal(ev('intOr', 0b1100n, 0b1010n, 1n), 0b1111n);
    assert.equal(ev('intXor', 0b1100n, 0b1010n), 0b0110n);
    assert.equal(ev('intNot', 0n), -1n);
    assert.equal(ev('intLshift', 1n, 63n), -(2n ** 63n), 'into the sign bit');
    assert.equal(ev('intRshift', -1n, 60n), 15n, 'logical: zeros come in');
    assert.equal(ev('intArshift', -16n, 2n), -4n, 'arithmetic: the sign is kept');
    assert.equal(ev('intLshift', 1n, 64n), undefined, 'a shift past 63');
    assert.equal(ev('intCount', -1n), 64n);
    assert.equal(ev('intCount', 0b1011n), 3n);
    // bit 0 is the most significant
    assert.equal(ev('intLscan', 1n, true), 63n);
    assert.equal(ev('intLscan', -1n, false), -1n);
    assert.equal(ev('intRscan', 0b0110n, true), 62n);
    assert.equal(ev('intLscan', 2n ** 62n, true), 1n);
    assert.equal(ev('intAnd', 1n, 1.0), undefined, 'a float in a bit function');
  });

  it('exclusive is true when exactly one argument is', () => {
    assert.equal(ev('exclusive', true, false, false), true);
    assert.equal(ev('exclusive', true, true), false);
    assert.equal(ev('exclusive', false, false), false);
    assert.equal(evaluate(fn('exclusive', bin('t'), bin('s')), ctx), undefined);
  });

  it('round-trips through JSON, refuses a wrong argument count and an unknown name, prints', () => {
    const e: Expr = fn('max', bin('i'), fn('intCount', bin('neg')));
    assert.deepEqual(exprFromJsonText(exprToJsonText(e)), e);
    assert.equal(evaluate(e, ctx), 61n, "popcount of -8 is 61");
    assert.equal(exprToString(e), 'MAX(i, INTCOUNT(neg))');
    assert.throws(() => exprFromJsonText('{"kind":"fn","name":"pow","args":[{"kind":"lit","value":{"double":1.5}}]}'), (err: unknown) => err instanceof DbError && /pow takes 2 arguments, got 1/.test(err.message));
    assert.throws(() => exprFromJsonText('{"kind":"fn","name":"sqrt","args":[]}'), (err: unknown) => err instanceof DbError && err.code === 'PARAMETER');
  });
});
