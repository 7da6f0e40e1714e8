/**
 * Aerospike's Exp.key (the stored user key, of the asked type), Exp.unknown and Exp.isTombstone:
 * evaluation, the JSON form, printing, the wire opcodes (80, 0, 72), and malformed wire input.
 */
import { strict as assert } from 'node:assert';
import { cmp, cond, lit, bin, type Expr } from '../../core/query/expr/ast.ts';
import { evaluate, type EvalContext } from '../../core/query/expr/eval.ts';
import { exprFromJsonText, exprToJsonText } from '../../core/query/expr/json.ts';
import { exprToString } from '../../core/query/expr/print.ts';
import { wireExpr } from '../../core/server/aerospike/expressions.ts';
import { recordContext } from '../../core/query/query-engine.ts';
import { makeKey, type UserKey } from '../../core/model/index.ts';
import { DbError } from '../../core/errors/index.ts';

const ctx = (userKey?: UserKey): EvalContext => ({
  bins: { v: 1n }, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 }, set: '', digest: new Uint8Array(20), keyExists: userKey !== undefined, nowMs: 0,
  ...(userKey === undefined ? {} : { userKey }),
});

describe('query/expr user key, unknown and tombstone', () => {
  it('Exp.key gives the stored key of the asked type, else unknown', () => {
    const asString: Expr = { kind: 'userKey', type: 'string' };
    const asInt: Expr = { kind: 'userKey', type: 'integer' };
    const asBytes: Expr = { kind: 'userKey', type: 'bytes' };
    assert.equal(evaluate(asString, ctx('k1')), 'k1');
    assert.equal(evaluate(asInt, ctx('k1')), undefined, 'a string key asked as an integer');
    assert.equal(evaluate(asInt, ctx(7n)), 7n);
    assert.deepEqual(evaluate(asBytes, ctx(Uint8Array.from([1, 2]))), Uint8Array.from([1, 2]));
    assert.equal(evaluate(asString, ctx()), undefined, 'no stored key');
    // from a stored record: the key is there only when the record keeps it
    const stored = recordContext({ key: makeKey('test', 'demo', 'k9'), bins: {}, meta: { generation: 1, voidTime: 0, lastUpdateMs: 0 } }, 0);
    assert.equal(evaluate(asString, stored), 'k9');
    for (const e of [asString, asInt, asBytes]) assert.deepEqual(exprFromJsonText(exprToJsonText(e)), e);
    assert.equal(exprToString(asInt), 'KEY(integer)');
    assert.throws(() => exprFromJsonText('{"kind":"userKey","type":"list"}'), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
    // the wire: [80, type] with Exp.Type INT 2, STRING 3, BLOB 6
    assert.deepEqual(wireExpr(Buffer.from([0x92, 80, 3])), asString);
    assert.deepEqual(wireExpr(Buffer.from([0x92, 80, 2])), asInt);
    assert.deepEqual(wireExpr(Buffer.from([0x92, 80, 6])), asBytes);
    assert.throws(() => wireExpr(Buffer.from([0x92, 80, 4])), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && /key type 4/.test(e.message));
  });

  it('Exp.unknown is unknown (a cond default that must not be reached); Exp.isTombstone is false on the live records expressions see', () => {
    const guarded = cond([[cmp('=', bin('v'), lit(1n)), lit('one')]], { kind: 'unknown' });
    assert.equal(evaluate(guarded, ctx()), 'one');
    assert.equal(evaluate(guarded, { ...ctx(), bins: { v: 2n } }), undefined);
    assert.deepEqual(exprFromJsonText(exprToJsonText(guarded)), guarded);
    assert.equal(exprToString({ kind: 'unknown' }), 'UNKNOWN');
    assert.deepEqual(wireExpr(Buffer.from([0x91, 0])), { kind: 'unknown' });
    assert.deepEqual(wireExpr(Buffer.from([0x91, 72])), lit(false));
  });

  it('an operator missing an argument is refused with PARAMETER, not a crash', () => {
    for (const bytes of [[0x91, 18], [0x92, 1, 1], [0x91, 7], [0x91, 27]]) {
      assert.throws(() => wireExpr(Buffer.from(bytes)), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER', `[${bytes}]`);
    }
  });
});
