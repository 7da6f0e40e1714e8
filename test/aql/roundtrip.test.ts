/**
 * Property tests: printing an AST and parsing it back gives the same AST; the parser never
 * throws anything but a located AqlError, whatever the input.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { GeoJson, type BinValue } from '../../core/model/index.ts';
import type { Expr, KeyRef, SelectStatement, Statement, Target, Where } from '../../core/aql/language/ast.ts';
import { AqlError, parseScript, parseStatement, printStatement, OPERATIONS, SETTING_NAMES, SOFT_KEYWORDS } from '../../core/aql/language/index.ts';

const RUNS = Number(process.env['FC_RUNS'] ?? 300);

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const anyString = fc.string({ maxLength: 12, unit: fc.oneof(fc.constantFrom("'", '"', '`', ' ', '\n', '#', '-', ';', '\\', 'é'), fc.string({ minLength: 1, maxLength: 1 })) });
const bareName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
const name = fc.oneof(
  bareName,
  fc.constantFrom(...SOFT_KEYWORDS.slice(0, 20), 'and', 'not', 'PK', 'digest', 'count'),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom('a', 'B', ' ', '$', '.', "'", '"', '-', '1') }),
).filter((s) => Buffer.byteLength(s) <= 15);
const target: fc.Arbitrary<Target> = fc.record({ namespace: name, set: fc.option(name, { nil: null }) });

const scalar: fc.Arbitrary<BinValue> = fc.oneof(
  int64,
  fc.double({ noNaN: false }),
  anyString,
  fc.boolean(),
  fc.constant(null),
);
const jsonScalar: fc.Arbitrary<BinValue> = fc.oneof(int64, fc.double({ noNaN: true, noDefaultInfinity: true }), anyString, fc.boolean(), fc.constant(null));
const cdt: fc.Arbitrary<BinValue> = fc.letrec<{ v: BinValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonScalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.array(fc.tuple(anyString, tie('v')), { maxLength: 3 }).map((es) => new Map(es)),
  ),
})).v;
const value: fc.Arbitrary<BinValue> = fc.oneof(
  scalar,
  cdt,
  fc.uint8Array({ maxLength: 6 }),
  fc.tuple(fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: -90, max: 90, noNaN: true }))
    .map(([x, y]) => new GeoJson(JSON.stringify({ type: 'Point', coordinates: [x, y] }))),
);
const keyRef: fc.Arbitrary<KeyRef> = fc.oneof(
  fc.record({ kind: fc.constant('pk' as const), value: fc.oneof(int64, anyString, fc.uint8Array({ maxLength: 4 })) }),
  fc.record({ kind: fc.constant('digest' as const), hex: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex')) }),
);

const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => {
  const e = tie('e');
  const flat = (kind: 'and' | 'or') => fc.array(e, { minLength: 2, maxLength: 3 }).map((ops) => ({ kind, operands: ops.flatMap((o) => (o.kind === kind ? o.operands : [o])) }));
  return {
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      value.map((v): Expr => ({ kind: 'literal', value: v })),
      name.map((n): Expr => ({ kind: 'bin', name: n })),
      fc.record({ kind: fc.constant('call' as const), name: fc.constantFrom('SIZE', 'TTL', 'REGEX', 'LAST_UPDATE'), args: fc.array(e, { maxLength: 2 }) }),
      fc.record({ kind: fc.constant('compare' as const), op: fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), left: e, right: e }),
      fc.record({ kind: fc.constant('between' as const), operand: e, low: e, high: e }),
      fc.record({ kind: fc.constant('geo' as const), op: fc.constantFrom('CONTAINS', 'WITHIN' as const), operand: e, region: e }),
      flat('and'), flat('or'),
      fc.record({ kind: fc.constant('not' as const), operand: e }),
      fc.record({ kind: fc.constant('arith' as const), op: fc.constantFrom('+', '-', '*', '/', '%' as const), left: e, right: e }),
      e.filter((x) => x.kind !== 'literal').map((x): Expr => ({ kind: 'neg', operand: x })),
    ),
  };
}).e;

const filterWhere: fc.Arbitrary<Where> = expr.map((x) => ({ kind: 'filter', expr: x }));
const where: fc.Arbitrary<Where> = fc.oneof(filterWhere, keyRef.map((k): Where => ({ kind: 'key', key: k })));
const collection = fc.option(fc.constantFrom('LIST', 'MAPKEYS', 'MAPVALUES' as const), { nil: null });
const limit = fc.option(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), { nil: null });

const select: fc.Arbitrary<SelectStatement> = fc.record({
  kind: fc.constant('select' as const),
  items: fc.option(fc.oneof(
    fc.array(name.map((n) => ({ kind: 'bin' as const, name: n })), { minLength: 1, maxLength: 3 }),
    fc.array(fc.oneof(
      fc.constant({ kind: 'aggregate' as const, fn: 'COUNT' as const, bin: null }),
      fc.record({ kind: fc.constant('aggregate' as const), fn: fc.constantFrom('COUNT', 'SUM', 'MIN', 'MAX', 'AVG' as const), bin: name }),
    ), { minLength: 1, maxLength: 3 }),
  ), { nil: null }),
  target,
  in: collection,
  where: fc.option(where, { nil: null }),
  orderBy: fc.array(fc.record({ bin: name, direction: fc.constantFrom('ASC', 'DESC' as const) }), { maxLength: 2 }),
  limit,
}).map((s) => (s.where?.kind === 'key' ? { ...s, in: null } : s));

const bins = fc.uniqueArray(fc.record({ name, value }), { minLength: 1, maxLength: 3, selector: (b) => b.name });
const opNames = Object.keys(OPERATIONS);
const operation = fc.constantFrom(...opNames).chain((op) => {
  const spec = OPERATIONS[op]!;
  return fc.record({
    op: fc.constant(op),
    bin: spec.bin ? name : fc.constant(null),
    args: fc.array(value, { minLength: spec.min, maxLength: spec.max }),
  });
});
const udfCall = fc.record({ module: name, fn: name, args: fc.array(value, { maxLength: 3 }) });
const settingStmt = fc.constantFrom(...SETTING_NAMES).map((n): Statement => {
  const v = n === 'OUTPUT' ? 'JSON' : ['TIMEOUT', 'RECORD_TTL', 'SCAN_RECORDS_PER_SECOND'].includes(n) ? '5' : 'true';
  return { kind: 'set-setting', name: n, value: v };
});

const statement: fc.Arbitrary<Statement> = fc.oneof(
  select,
  select.map((s): Statement => ({ kind: 'explain', statement: s })),
  fc.record({ kind: fc.constant('insert' as const), target, key: keyRef.filter((k) => k.kind === 'pk'), bins }),
  fc.record({ kind: fc.constant('update' as const), target, bins, key: keyRef }),
  fc.record({ kind: fc.constant('delete' as const), target, key: keyRef }),
  fc.record({ kind: fc.constant('operate' as const), ops: fc.array(operation, { minLength: 1, maxLength: 3 }), target, key: keyRef }),
  fc.record({ kind: fc.constant('truncate' as const), target, upto: fc.option(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.string({ maxLength: 8 }).filter((s) => !(s.includes("'") && s.includes('"')))), { nil: null }) }),
  fc.record({ kind: fc.constant('show' as const), what: fc.constantFrom('SETS', 'BINS', 'INDEXES' as const), namespace: fc.option(name, { nil: null }) }),
  fc.record({ kind: fc.constant('show' as const), what: fc.constantFrom('NAMESPACES', 'MODULES', 'JOBS', 'CLUSTER', 'PARTITIONS' as const), namespace: fc.constant(null) }),
  fc.constant<Statement>({ kind: 'stat', what: 'SYSTEM' }),
  name.map((n): Statement => ({ kind: 'stat', what: 'NAMESPACE', namespace: n })),
  fc.tuple(name, name).map(([n, i]): Statement => ({ kind: 'stat', what: 'INDEX', namespace: n, index: i })),
  settingStmt,
  fc.option(fc.constantFrom(...SETTING_NAMES), { nil: null }).map((n): Statement => ({ kind: 'get-setting', name: n })),
  fc.constantFrom(...SETTING_NAMES).map((n): Statement => ({ kind: 'reset-setting', name: n })),
  fc.option(fc.array(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), { minLength: 1, maxLength: 2 }).map((w) => w.join(' ')), { nil: null }).map((t): Statement => ({ kind: 'help', topic: t })),
  fc.constant<Statement>({ kind: 'exit' }),
  fc.record({ kind: fc.constant('create-index' as const), collection, name: bareName, target, bin: name, type: fc.constantFrom('NUMERIC', 'STRING', 'BLOB', 'GEO2DSPHERE' as const) }),
  fc.record({ kind: fc.constant('drop-index' as const), target, name: bareName }),
  fc.stringMatching(/^[a-z./_]{1,12}$/).map((p): Statement => ({ kind: 'register-module', path: p })),
  fc.stringMatching(/^[a-z_]{1,8}\.js$/).map((m): Statement => ({ kind: 'remove-module', module: m })),
  fc.stringMatching(/^[a-z_]{1,8}\.js$/).map((m): Statement => ({ kind: 'desc-module', module: m })),
  fc.record({ kind: fc.constant('execute' as const), call: udfCall, target, in: collection, where: fc.option(filterWhere, { nil: null }) }),
  fc.record({ kind: fc.constant('execute' as const), call: udfCall, target, in: fc.constant(null), where: keyRef.map((k): Where => ({ kind: 'key', key: k })) }),
  fc.record({ kind: fc.constant('aggregate' as const), call: udfCall, target, in: collection, where: fc.option(expr, { nil: null }) }),
  fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map((id): Statement => ({ kind: 'kill-job', id })),
);

/** fc.record builds null-prototype objects; the parser builds plain ones. */
function plain<T>(x: T): T {
  if (Array.isArray(x)) return x.map(plain) as T;
  if (x instanceof Map) return new Map([...x].map(([k, v]) => [k, plain(v)])) as T;
  if (x !== null && typeof x === 'object' && !(x instanceof Uint8Array) && !(x instanceof GeoJson)) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)])) as T;
  }
  return x;
}

describe('aql round trip (fast-check)', () => {
  it('parse(print(ast)) equals ast, and printing is stable', () => {
    fc.assert(fc.property(statement, (generated) => {
      const ast = plain(generated);
      const text = printStatement(ast);
      const back = parseStatement(text);
      assert.deepStrictEqual(back, ast, text);
      assert.equal(printStatement(back), text);
    }), { numRuns: RUNS });
  });

  const fragment = fc.oneof(
    fc.constantFrom('SELECT', 'INSERT', 'INTO', 'FROM', 'WHERE', 'PK', '=', '*', ',', '(', ')', 'VALUES', 'AND', 'OR', 'NOT',
      'BETWEEN', 'LIMIT', 'SET', 'GET', 'ALL', 'SHOW', 'test', 'test.demo', "'str'", '"dq"', '`q`', '1', '-', '0x1F', '1.5',
      'LIST(', "'[1,2]'", 'CAST(', 'AS', 'INT', ';', '\n', '--', '#', 'IN', 'ORDER BY', 'EXECUTE', 'm.f', 'ON', 'CREATE INDEX'),
    fc.string({ maxLength: 3 }),
  );
  const noise = fc.array(fragment, { maxLength: 14 }).map((fs) => fs.join(' '));

  it('random input: only located AqlErrors, and whatever parses round-trips', () => {
    fc.assert(fc.property(fc.oneof(noise, fc.string({ maxLength: 40 }), fc.string({ maxLength: 20, unit: 'binary' })), (text) => {
      try {
        const ast = parseStatement(text);
        assert.deepStrictEqual(parseStatement(printStatement(ast)), ast);
      } catch (err) {
        assert.ok(err instanceof AqlError, `not an AqlError: ${String(err)}`);
        assert.ok(err.pos.line >= 1 && err.pos.column >= 1, 'located');
        assert.ok(err.message.length > 0);
      }
      for (const part of parseScript(text)) {
        if (!part.result.ok) assert.ok(part.result.error instanceof AqlError && part.result.error.pos.line >= 1);
      }
    }), { numRuns: RUNS * 3 });
  });
});
