/**
 * Every list and map operation refuses, with PARAMETER naming it, each argument its kind does not
 * take (a rank on an append, a return type on a put, write flags on a read, an order on a get …),
 * on the bin itself, through a context, and whatever the bin holds; the arguments it does take
 * are accepted.
 */
import { strict as assert } from 'node:assert';
import { applyCdtOperation } from '../../core/transaction/cdt/context.ts';
import { fieldsOf } from '../../core/transaction/cdt/op-fields.ts';
import type { ListOpKind, MapOpKind, Operation } from '../../core/transaction/operations.ts';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue } from '../../core/model/index.ts';

type CdtOp = Extract<Operation, { op: 'list' | 'map' }>;

const LIST_KINDS: readonly ListOpKind[] = [
  'append', 'appendItems', 'insert', 'insertItems', 'set', 'increment', 'get', 'getRange', 'pop', 'popRange', 'remove', 'removeRange',
  'removeByValue', 'getByValue', 'size', 'clear', 'sort', 'trim', 'getByIndex', 'getByIndexRange', 'getByRank', 'getByRankRange',
  'getByValueRange', 'getByValueList', 'getByValueRelRankRange', 'removeByIndex', 'removeByIndexRange', 'removeByRank', 'removeByRankRange',
  'removeByValueRange', 'removeByValueList', 'removeByValueRelRankRange', 'setOrder',
];
const MAP_KINDS: readonly MapOpKind[] = [
  'put', 'putItems', 'increment', 'getByKey', 'getByKeys', 'removeByKey', 'removeByKeys', 'getByValue', 'removeByValue', 'size', 'clear',
  'keys', 'values', 'getByIndex', 'getByIndexRange', 'getByRank', 'getByRankRange', 'getByKeyRange', 'getByValueRange', 'getByKeyList',
  'getByValueList', 'getByKeyRelIndexRange', 'getByValueRelRankRange', 'removeByIndex', 'removeByIndexRange', 'removeByRank',
  'removeByRankRange', 'removeByKeyRange', 'removeByValueRange', 'removeByKeyList', 'removeByValueList', 'removeByKeyRelIndexRange',
  'removeByValueRelRankRange', 'setOrder',
];

/** A value for each argument (valid for the kinds that take it). */
const SAMPLE: Readonly<Record<string, (op: 'list' | 'map') => unknown>> = {
  index: () => 0, rank: () => 0, count: () => 1, value: () => 1n, valueEnd: () => 9n, values: () => [1n],
  key: () => 'a', keyEnd: () => 'z', keys: () => ['a'], items: () => new Map([['a', 1n]]),
  returnType: () => 'count', inverted: () => true, flags: (op) => (op === 'list' ? { noFail: true } : { noFail: true }),
  order: () => 'unordered', sortFlags: () => ({ dropDuplicates: true }),
};
const NAMES: Readonly<Record<string, string>> = { valueEnd: 'value end', keyEnd: 'key end', returnType: 'return type', inverted: 'inverted flag', flags: 'write flags', sortFlags: 'sort flags' };
const ALL_LIST = ['index', 'rank', 'count', 'value', 'valueEnd', 'values', 'returnType', 'inverted', 'flags', 'order', 'sortFlags'];
const ALL_MAP = [...ALL_LIST.filter((f) => f !== 'sortFlags'), 'key', 'keyEnd', 'keys', 'items'];

function build(op: 'list' | 'map', kind: string, fields: readonly string[]): CdtOp {
  const o: Record<string, unknown> = { op, bin: 'b', kind };
  for (const f of fields) o[f] = (SAMPLE[f] as (op: 'list' | 'map') => unknown)(op);
  if (o.inverted === true && /ByIndex$|ByRank$|ByKey$/.test(kind)) delete o.inverted; // single selections cannot invert (26)
  return o as unknown as CdtOp;
}

function code(fn: () => unknown): { code: string; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    return { code: err.code, message: err.message };
  }
}

describe('transaction/cdt operation arguments: none ignored', () => {
  const cases: Array<['list' | 'map', string, readonly string[], BinValue]> = [
    ...LIST_KINDS.map((k) => ['list', k, ALL_LIST, [3n, 1n, 2n]] as ['list', string, readonly string[], BinValue]),
    ...MAP_KINDS.map((k) => ['map', k, ALL_MAP, new Map<string, BinValue>([['a', 1n], ['b', 2n]])] as ['map', string, readonly string[], BinValue]),
  ];

  it('every kind has an argument list, and its own arguments run', () => {
    for (const [op, kind, , bin] of cases) {
      const takes = fieldsOf(op, kind);
      assert.ok(takes !== undefined, `${op} ${kind} has no argument list`);
      const r = code(() => applyCdtOperation(bin, build(op, kind, takes)));
      // the sample arguments may be refused for what they say (a bound, an index), never as a stray field
      assert.ok(r === undefined || !/takes no/.test(r.message), `${op} ${kind} refused its own arguments: ${r?.message}`);
    }
  });

  it('refuses each argument a kind does not take with PARAMETER naming it, on the bin, through a context, and on a missing bin', () => {
    let refused = 0;
    for (const [op, kind, all, bin] of cases) {
      const takes = fieldsOf(op, kind) as readonly string[];
      const base = takes.filter((f) => f !== 'inverted' && f !== 'returnType');
      for (const stray of all.filter((f) => !takes.includes(f))) {
        const bad = build(op, kind, [...base, stray]);
        for (const [where, current, o] of [
          ['the bin', bin, bad], ['a missing bin', undefined, bad],
          ['a context', [bin], { ...bad, ctx: [{ type: 'listIndex', index: 0 }] } as CdtOp],
          ['a context that does not resolve', [], { ...bad, ctx: [{ type: 'listIndex', index: 5 }] } as CdtOp],
        ] as Array<[string, BinValue | undefined, CdtOp]>) {
          const r = code(() => applyCdtOperation(current, o));
          assert.equal(r?.code, 'PARAMETER', `${op} ${kind} with a stray ${stray} on ${where}: ${r?.message ?? 'accepted'}`);
          assert.ok(r.message.includes(`takes no ${NAMES[stray] ?? stray}`), r.message);
          refused++;
        }
      }
    }
    assert.ok(refused > 1000, `only ${refused} refusals checked`);
  });

  it('refuses the examples: rank with append, a return type on put, write flags on a get, an order on a get', () => {
    const msg = (o: CdtOp): string => code(() => applyCdtOperation([1n], o))?.message ?? 'accepted';
    assert.match(msg({ op: 'list', bin: 'l', kind: 'append', value: 1n, rank: 2 }), /list append on bin 'l' takes no rank/);
    assert.match(code(() => applyCdtOperation(new Map(), { op: 'map', bin: 'm', kind: 'put', key: 'k', value: 1n, returnType: 'value' }))?.message ?? '', /takes no return type/);
    assert.match(msg({ op: 'list', bin: 'l', kind: 'getByIndex', index: 0, flags: { addUnique: true } }), /takes no write flags/);
    assert.match(msg({ op: 'list', bin: 'l', kind: 'get', index: 0, order: 'ordered' }), /takes no order/);
    // empty repeated arguments are the protobuf defaults, not stray fields
    assert.equal(code(() => applyCdtOperation([1n], { op: 'list', bin: 'l', kind: 'size', values: [], inverted: false })), undefined);
  });
});
