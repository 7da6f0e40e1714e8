/**
 * CDT contexts: list and map operations on nested elements. Aerospike's documented examples
 * (the "drilling down" list and the nested users list of the context documentation), the
 * failures of a path that does not resolve (checked against Aerospike's cdt_context_dig), the
 * create forms, and a property test of nested edits against a plain JavaScript model.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { applyCdtOperation } from '../../core/transaction/cdt/context.ts';
import type { CdtContextItem, Operation } from '../../core/transaction/operations.ts';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue, MapKey } from '../../core/model/index.ts';

type CdtOp = Extract<Operation, { op: 'list' | 'map' }>;

function code(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a failure');
}

const li = (index: number): CdtContextItem => ({ type: 'listIndex', index });
const mk = (key: MapKey): CdtContextItem => ({ type: 'mapKey', key });
const m = (...entries: Array<[MapKey, BinValue]>): Map<MapKey, BinValue> => new Map(entries);

describe('transaction/cdt contexts', () => {
  // Aerospike's documentation: [0, 1, [2, [3, 4], 5, 6], 7, [8, 9]]
  const doc: BinValue = [0n, 1n, [2n, [3n, 4n], 5n, 6n], 7n, [8n, 9n]];

  it('drills down by list index, rank and value (the documented list)', () => {
    const at34 = applyCdtOperation(doc, { op: 'list', bin: 'l', kind: 'append', value: 100n, ctx: [li(2), li(1)] });
    assert.deepEqual(at34.next, [0n, 1n, [2n, [3n, 4n, 100n], 5n, 6n], 7n, [8n, 9n]]);
    assert.equal(at34.result, 3n, 'append returns the nested list\'s new size');
    assert.deepEqual(doc, [0n, 1n, [2n, [3n, 4n], 5n, 6n], 7n, [8n, 9n]], 'the stored value is not changed in place');
    // rank -1: the largest element; lists sort after integers, and [8, 9] > [2, …] element by element
    const largest = applyCdtOperation(doc, { op: 'list', bin: 'l', kind: 'getByIndex', index: 0, ctx: [{ type: 'listRank', rank: -1 }] });
    assert.equal(largest.result, 8n);
    const byValue = applyCdtOperation(doc, { op: 'list', bin: 'l', kind: 'size', ctx: [{ type: 'listValue', value: [8n, 9n] }] });
    assert.equal(byValue.result, 2n);
    const negative = applyCdtOperation(doc, { op: 'list', bin: 'l', kind: 'getByRank', rank: 0, ctx: [li(-3), li(-3)] });
    assert.equal(negative.result, 3n);
  });

  it('reads and writes maps inside lists (the documented users example)', () => {
    const users: BinValue = [m(['name', 'John'], ['id', 100n]), m(['name', 'Bill'], ['id', 200n])];
    assert.equal(applyCdtOperation(users, { op: 'map', bin: 'users', kind: 'getByKey', key: 'id', returnType: 'value', ctx: [li(1)] }).result, 200n);
    const cindy = m(['name', 'Cindy'], ['id', 300n], ['ratings', m(['Facebook', 4n], ['Snapchat', 5n])]);
    const appended = applyCdtOperation(users, { op: 'list', bin: 'users', kind: 'append', value: cindy });
    const rating = applyCdtOperation(appended.next, { op: 'map', bin: 'users', kind: 'getByKey', key: 'Facebook', returnType: 'value', ctx: [li(2), mk('ratings')] });
    assert.equal(rating.result, 4n);
    const bumped = applyCdtOperation(appended.next, { op: 'map', bin: 'users', kind: 'increment', key: 'Snapchat', value: 2n, ctx: [li(2), mk('ratings')] });
    assert.deepEqual(((bumped.next as BinValue[])[2] as Map<MapKey, BinValue>).get('ratings'), m(['Facebook', 4n], ['Snapchat', 7n]));
  });

  it('selects map entries by index (key order), rank (value order) and value', () => {
    const v = m(['b', [1n]], ['a', [5n, 6n]], ['c', [0n, 0n, 0n]]);
    assert.equal(applyCdtOperation(v, { op: 'list', bin: 'x', kind: 'size', ctx: [{ type: 'mapIndex', index: 0 }] }).result, 2n, 'index 0 is key a');
    assert.equal(applyCdtOperation(v, { op: 'list', bin: 'x', kind: 'size', ctx: [{ type: 'mapRank', rank: 0 }] }).result, 3n, 'rank 0 is the smallest value, [0, 0, 0]');
    assert.equal(applyCdtOperation(v, { op: 'list', bin: 'x', kind: 'size', ctx: [{ type: 'mapValue', value: [1n] }] }).result, 1n);
  });

  it('fails as Aerospike does when the path does not resolve, changing nothing', () => {
    const ops: Array<[CdtOp, string, RegExp]> = [
      [{ op: 'list', bin: 'l', kind: 'append', value: 1n, ctx: [li(9)] }, 'OP_NOT_APPLICABLE', /step 0 \(list index 9\) finds no element/],
      [{ op: 'list', bin: 'l', kind: 'size', ctx: [{ type: 'listValue', value: 'absent' }] }, 'OP_NOT_APPLICABLE', /finds no element/],
      [{ op: 'list', bin: 'l', kind: 'size', ctx: [mk('a')] }, 'OP_NOT_APPLICABLE', /map step but finds a list/],
      [{ op: 'list', bin: 'l', kind: 'size', ctx: [li(0), li(0)] }, 'OP_NOT_APPLICABLE', /finds an integer, which has no elements/],
      [{ op: 'map', bin: 'l', kind: 'size', ctx: [li(2)] }, 'BIN_TYPE', /ends at a list, not a map/],
      [{ op: 'list', bin: 'l', kind: 'size', ctx: [li(1)] }, 'BIN_TYPE', /ends at an integer, not a list/],
    ];
    for (const [op, want, message] of ops) {
      const e = code(() => applyCdtOperation(doc, op));
      assert.equal(e.code, want, `${op.kind} ${JSON.stringify(op.ctx, (_, v: unknown) => typeof v === 'bigint' ? String(v) : v)}`);
      assert.match(e.message, message);
    }
    assert.equal(code(() => applyCdtOperation('text', { op: 'list', bin: 's', kind: 'size', ctx: [li(0)] })).code, 'PARAMETER', 'a bin that is not a list or map');
    assert.equal(code(() => applyCdtOperation(undefined, { op: 'list', bin: 'l', kind: 'append', value: 1n, ctx: [li(0)] })).code, 'OP_NOT_APPLICABLE', 'a missing bin without create');
    assert.equal(applyCdtOperation(undefined, { op: 'list', bin: 'l', kind: 'size', ctx: [li(0)] }).result, null, 'a read of a missing bin gives nil');
    assert.equal(code(() => applyCdtOperation(doc, { op: 'list', bin: 'l', kind: 'size', ctx: [{ type: 'listRank', rank: 0, create: { order: 'unordered' } } as unknown as CdtContextItem] })).code, 'PARAMETER', 'only index and key steps create');
  });

  it('creates missing containers along the path (mkdir -p), with pad and only in writes', () => {
    const created = applyCdtOperation(undefined, {
      op: 'map', bin: 'm', kind: 'put', key: 'c', value: 1n,
      ctx: [{ type: 'mapKey', key: 'a', create: { order: 'unordered' } }, { type: 'mapKey', key: 'b', create: { order: 'unordered' } }],
    });
    assert.deepEqual(created.next, m(['a', m(['b', m(['c', 1n])])]));
    const deeper = applyCdtOperation(created.next, {
      op: 'list', bin: 'm', kind: 'append', value: 'x',
      ctx: [mk('a'), { type: 'mapKey', key: 'z', create: { order: 'unordered' } }, li(-1)],
    });
    assert.deepEqual(deeper.next, m(['a', m(['b', m(['c', 1n])], ['z', [['x']]])]));
    const padded = applyCdtOperation([1n], { op: 'list', bin: 'l', kind: 'append', value: 7n, ctx: [{ type: 'listIndex', index: 3, create: { order: 'unordered', pad: true } }] });
    assert.deepEqual(padded.next, [1n, null, null, [7n]]);
    const atEnd = applyCdtOperation([1n], { op: 'list', bin: 'l', kind: 'append', value: 7n, ctx: [{ type: 'listIndex', index: 1, create: { order: 'unordered' } }] });
    assert.deepEqual(atEnd.next, [1n, [7n]]);
    assert.equal(code(() => applyCdtOperation([1n], { op: 'list', bin: 'l', kind: 'append', value: 7n, ctx: [{ type: 'listIndex', index: 3, create: { order: 'unordered' } }] })).code,
      'OP_NOT_APPLICABLE', 'beyond the end without pad');
    assert.equal(code(() => applyCdtOperation(m(), { op: 'map', bin: 'm', kind: 'size', ctx: [{ type: 'mapKey', key: 'q', create: { order: 'unordered' } }] })).code,
      'OP_NOT_APPLICABLE', 'a read does not create');
  });

  // ---- property: nested edits against a plain JavaScript model --------------------------------

  /** The model: plain arrays and objects (string keys), edited in place on a deep copy. */
  type Plain = bigint | Plain[] | { [k: string]: Plain };
  const toValue = (p: Plain): BinValue => typeof p === 'bigint' ? p : Array.isArray(p) ? p.map(toValue) : new Map(Object.entries(p).map(([k, v]) => [k, toValue(v)] as [MapKey, BinValue]));
  const clone = (p: Plain): Plain => typeof p === 'bigint' ? p : Array.isArray(p) ? p.map(clone) : Object.fromEntries(Object.entries(p).map(([k, v]) => [k, clone(v)]));

  const plain: fc.Arbitrary<Plain> = fc.letrec<{ node: Plain }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
      fc.bigInt({ min: -5n, max: 5n }),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('node'), { maxKeys: 3 })),
  })).node;

  /** A random path of existing indexes/keys through `p`, as model steps. */
  function pathsOf(p: Plain, prefix: Array<number | string> = []): Array<Array<number | string>> {
    const out: Array<Array<number | string>> = [prefix];
    if (Array.isArray(p)) p.forEach((c, i) => out.push(...pathsOf(c, [...prefix, i])));
    else if (typeof p === 'object') for (const [k, c] of Object.entries(p)) out.push(...pathsOf(c, [...prefix, k]));
    return out;
  }

  it('nested append / put / remove through index and key paths match a JS model', () => {
    fc.assert(fc.property(plain, fc.nat(), fc.bigInt({ min: -9n, max: 9n }), fc.boolean(), (root, pick, n, negative) => {
      if (typeof root !== 'object') return;
      const paths = pathsOf(root).filter((path) => path.length > 0 && typeof path.reduce<Plain>((x, s) => (x as Record<string | number, Plain>)[s] as Plain, root) === 'object');
      if (paths.length === 0) return;
      const path = paths[pick % paths.length] as Array<number | string>;
      const model = clone(root);
      let parent: Plain = model;
      const ctx: CdtContextItem[] = [];
      for (const s of path) {
        if (typeof s === 'number') {
          const len = (parent as Plain[]).length;
          ctx.push(li(negative ? s - len : s));
        } else ctx.push(mk(s));
        parent = (parent as Record<string | number, Plain>)[s] as Plain;
      }
      const target = parent;
      let op: CdtOp;
      let want: BinValue | undefined;
      if (Array.isArray(target)) {
        target.push(n);
        op = { op: 'list', bin: 'b', kind: 'append', value: n, ctx };
        want = BigInt(target.length);
      } else {
        const t = target as Record<string, Plain>;
        if ('a' in t) {
          const old = t['a'] as Plain;
          delete t['a'];
          op = { op: 'map', bin: 'b', kind: 'removeByKey', key: 'a', ctx };
          want = toValue(old);
        } else {
          t['a'] = n;
          op = { op: 'map', bin: 'b', kind: 'put', key: 'a', value: n, ctx };
          want = 1n + BigInt(Object.keys(t).length - 1);
        }
      }
      const r = applyCdtOperation(toValue(root), op);
      assert.deepEqual(r.result, want);
      // key order of a JS object and of the kernel's Map differ; compare as sorted entries
      assert.deepEqual(normal(r.next as BinValue), normal(toValue(model)));
    }), { numRuns: 300 });
  });
});

function normal(v: BinValue): unknown {
  if (Array.isArray(v)) return v.map(normal);
  if (v instanceof Map) return [...v].map(([k, x]) => [k, normal(x)]).sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1);
  return v;
}
