/**
 * The AqlService over real gRPC (an in-process node with only the AQL extension): event order,
 * OPERATE with record/list/map operations, SHOW SETS and STAT with the admin service's numbers,
 * located syntax errors, TIMEOUT, and cancellation aborting the running statement.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { aqlExtension } from '../../core/node/extensions/aql.ts';
import { executeAql } from '../../core/client/aql.ts';
import { AqlServiceService, type ExecuteResponse } from '../../core/wire/generated/slipstream/v1/aql.ts';
import { BUILT_IN_STATEMENTS } from '../../core/aql/exec/statements.ts';
import type { StatementFamily, StatementHandler } from '../../core/aql/exec/executor.ts';
import { renderResult, type StatementResult } from '../../core/aql/shell/render/renderer.ts';
import type { Cells, Renderer } from '../../core/aql/language/results.ts';
import { DEFAULT_SETTINGS, withSetting } from '../../core/aql/language/settings.ts';
import type { BinValue, MapKey } from '../../core/model/index.ts';

/** Collects a statement's result sets and status (for renderResult). */
function collector(): { renderer: Renderer; results: StatementResult[] } {
  const results: StatementResult[] = [];
  let sets: Array<{ columns: readonly string[]; rows: Cells[]; node: string | null; elapsedMs: number }> = [];
  return {
    results,
    renderer: {
      begin: (columns) => { sets.push({ columns, rows: [], node: null, elapsedMs: 0 }); },
      row: (cells) => { sets[sets.length - 1]?.rows.push(cells); },
      end: (_ms, node) => { const s = sets[sets.length - 1]; if (s !== undefined) s.node = node ?? null; },
      status: (code, message) => { results.push({ sets, status: { code, message } }); sets = []; },
    },
  };
}

describe('AqlService (gRPC)', () => {
  let t: TestNode;
  before(async () => { t = await startTestNode({ extensions: [aqlExtension()] }); });
  after(async () => { await t?.stop(); });

  const run = async (text: string, settings = DEFAULT_SETTINGS): Promise<StatementResult[]> => {
    const c = collector();
    await executeAql(t.client, { text, settings }, c.renderer);
    return c.results;
  };
  const rows = (r: StatementResult | undefined): Array<Record<string, BinValue>> => (r?.sets[0]?.rows ?? []).map((cells) => Object.fromEntries(cells));

  it('streams statement, header, rows, end and one status per statement, in order', async () => {
    const events: Array<ExecuteResponse['event']> = [];
    for await (const e of t.client.stream(AqlServiceService.execute, { text: "INSERT INTO test.s (PK, a) VALUES (1, 'x'); SELECT * FROM test.s; SELEC", files: [] })) events.push(e.event);
    assert.deepEqual(events.map((e) => e?.$case), ['statement', 'status', 'statement', 'header', 'row', 'end', 'status', 'statement', 'status']);
    const row = events[4];
    assert.ok(row?.$case === 'row');
    assert.deepEqual(row.value.cells.map((c) => [c.name, c.value?.kind?.$case]), [['PK', 'int'], ['a', 'string']]);
    const syntax = events[8];
    assert.ok(syntax?.$case === 'status');
    assert.equal(syntax.value.code, 4);
    assert.equal(syntax.value.syntaxError?.line, 1);
    assert.equal(syntax.value.syntaxError?.aqlText, 'ERROR: 404: COMMAND NOT FOUND : SELEC');
  });

  it('OPERATE maps record, list and map operations onto the kernel atomically', async () => {
    const r = await run([
      "INSERT INTO test.o (PK, l, m, n, s) VALUES ('k', LIST('[3, 1]'), MAP('{\"a\": 1}'), 10, 'mid')",
      "OPERATE LIST_APPEND(l, 2), LIST_SORT(l), LIST_GET_RANGE(l, 0, 2), MAP_PUT(m, 'b', 5), MAP_INCREMENT(m, 'a', 4), MAP_GET_BY_KEY(m, 'a'), INCR(n, -3), PREPEND(s, '<'), APPEND(s, '>') ON test.o WHERE PK = 'k'",
      "SELECT * FROM test.o WHERE PK = 'k'",
      "OPERATE MAP_SIZE(m), LIST_POP(l, 0), READ(n) ON test.o WHERE PK = 'k'",
      "OPERATE MAP_SET_TYPE(m, 'KEY_ORDERED') ON test.o WHERE PK = 'k'",
      "OPERATE INCR(s, 1) ON test.o WHERE PK = 'k'",
      "OPERATE WRITE(w, 1) ON test.o WHERE PK = 'k'",
    ].join('\n'));
    assert.deepEqual(r.map((x) => x.status.code), [0, 0, 0, 0, 0, 12, 0]);
    const op = rows(r[1])[0] as Record<string, BinValue>;
    assert.deepEqual(op['l'], [3n, [1n, 2n]], 'append returns the size, get-range the elements');
    assert.deepEqual(op['m'], [2n, 5n, 5n], 'put returns the size, increment and get-by-key the value');
    const rec = rows(r[2])[0] as Record<string, BinValue>;
    assert.deepEqual(rec['l'], [1n, 2n, 3n]);
    assert.deepEqual(rec['m'], new Map<string, BinValue>([['a', 5n], ['b', 5n]]));
    assert.equal(rec['n'], 7n);
    assert.equal(rec['s'], '<mid>');
    assert.deepEqual(rows(r[3]), [{ m: 2n, l: 1n, n: 7n }]);
    assert.equal(r[6]?.status.message, '1 record affected.');
    assert.equal(r[6]?.sets.length, 0);
  });

  it('OPERATE: MAP_SET_TYPE, WITH_POLICY map and list orders and write modes, WITH_RETURN return types', async () => {
    const r = await run([
      "OPERATE MAP_PUT(m, 'z', 1) WITH_POLICY(AS_MAP_KEY_ORDERED), MAP_PUT(m, 'c', 2), MAP_PUT(u, 'z', 1), MAP_PUT(u, 'c', 2) ON test.ord WHERE PK = 'k'",
      "SELECT * FROM test.ord WHERE PK = 'k'",
      "OPERATE MAP_SET_TYPE(u, 'AS_MAP_KEY_VALUE_ORDERED'), LIST_APPEND(l, 5) WITH_POLICY(AS_LIST_ORDERED), LIST_APPEND(l, 1) ON test.ord WHERE PK = 'k'",
      "SELECT * FROM test.ord WHERE PK = 'k'",
      "OPERATE MAP_GET_BY_INDEX_RANGE(m, 0) WITH_RETURN(KEY), MAP_GET_BY_RANK(u, -1) WITH_RETURN(AS_MAP_RETURN_VALUE) ON test.ord WHERE PK = 'k'",
      "OPERATE MAP_PUT(m, 'c', 9) WITH_POLICY(AS_MAP_CREATE_ONLY) ON test.ord WHERE PK = 'k'",
      "OPERATE LIST_GET_BY_INDEX(l, 0) WITH_RETURN(COUNT) ON test.ord WHERE PK = 'k'",
      "OPERATE MAP_SET_TYPE(m, 'SIDEWAYS') ON test.ord WHERE PK = 'k'",
      "OPERATE MAP_PUT(m, 'a', 1) WITH_POLICY(AS_MAP_WHATEVER) ON test.ord WHERE PK = 'k'",
      "OPERATE LIST_INSERT(l, 0, 7) ON test.ord WHERE PK = 'k'",
      "OPERATE MAP_SIZE(m) WITH_POLICY(AS_MAP_KEY_ORDERED) ON test.ord WHERE PK = 'k'",
    ].join('\n'));
    assert.deepEqual(r.map((x) => x.status.code), [0, 0, 0, 0, 0, 24, 0, 4, 4, 26, 4]);
    const first = rows(r[1])[0] as Record<string, BinValue>;
    assert.deepEqual([...(first['m'] as ReadonlyMap<MapKey, BinValue>).keys()], ['c', 'z'], 'a key-ordered map');
    assert.deepEqual([...(first['u'] as ReadonlyMap<MapKey, BinValue>).keys()], ['z', 'c'], 'an unordered map keeps insertion order');
    const second = rows(r[3])[0] as Record<string, BinValue>;
    assert.deepEqual([...(second['u'] as ReadonlyMap<MapKey, BinValue>).keys()], ['c', 'z'], 'MAP_SET_TYPE sorted it');
    assert.deepEqual(second['l'], [1n, 5n], 'the list was created ordered');
    assert.deepEqual(rows(r[4]), [{ m: ['c', 'z'], u: 2n }]);
    assert.deepEqual(rows(r[6]), [{ l: 1n }]);
    assert.match(r[7]?.status.message ?? '', /not a map order/);
    assert.match(r[8]?.status.message ?? '', /not a map policy/);
  });

  it('SHOW SETS and STAT give the admin service\'s numbers', async () => {
    const [sets, statNs, statSys] = await run('SHOW SETS test; STAT NAMESPACE test; STAT SYSTEM');
    const admin = await t.client.sets('test');
    assert.deepEqual(rows(sets), admin.map((s) => ({ ns: s.namespace, set: s.set, objects: s.records })));
    assert.equal(sets?.sets[0]?.node, t.node.address);
    const adminNs = await t.client.statistics('test');
    assert.deepEqual(new Map(rows(statNs).map((x) => [x['name'], x['value']])), adminNs);
    const sys = new Map(rows(statSys).map((x) => [x['name'], x['value']]));
    const adminSys = await t.client.statistics();
    for (const name of ['node_id', 'namespaces', 'client_write_success']) assert.equal(sys.get(name), adminSys.get(name), name);
    const [bad] = await run('STAT NAMESPACE nope');
    assert.equal(bad?.status.code, 20);
  });

  it('SET/GET inside the text apply to the rest of the call; the rendered output is aql\'s', async () => {
    const c = collector();
    const messages: string[] = [];
    await executeAql(t.client, { text: "SET KEY_SEND false\nINSERT INTO test.ks (PK, a) VALUES ('q', 1)\nGET KEY_SEND\nSELECT * FROM test.ks WHERE PK = 'q'" }, c.renderer, { onMessage: (m) => messages.push(m) });
    assert.deepEqual(messages, ['KEY_SEND = false', 'KEY_SEND = false']);
    const select = c.results[3];
    assert.ok(select !== undefined);
    assert.equal(renderResult(select, 'TABLE').stdout.replace(/\(\d\.\d{3} secs\)/, '(x)'), '+---+\n| a |\n+---+\n| 1 |\n+---+\n1 row in set (x)\n\nOK\n\n');
  });

  it('a cancelled call aborts the running statement; TIMEOUT ends one with code 9', async () => {
    let aborted: (() => void) | undefined;
    const sawAbort = new Promise<void>((r) => { aborted = r; });
    let started: (() => void) | undefined;
    const running = new Promise<void>((r) => { started = r; });
    // a node whose STAT SYSTEM waits until its statement is aborted
    const waitForAbort: StatementHandler<'stat'> = async (_s, ctx) => {
      started?.();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted?.();
      throw new Error('stopped');
    };
    const families: StatementFamily[] = BUILT_IN_STATEMENTS.map((f) => (f.name === 'info' ? { ...f, stat: { ...f.stat, SYSTEM: waitForAbort } } : f));
    const slow = await startTestNode({ extensions: [aqlExtension({ statements: families })] });
    const runOn = async (text: string, settings = DEFAULT_SETTINGS): Promise<StatementResult[]> => {
      const c = collector();
      await executeAql(slow.client, { text, settings }, c.renderer);
      return c.results;
    };
    try {
      const ac = new AbortController();
      const call = executeAql(slow.client, { text: 'STAT SYSTEM', settings: withSetting(DEFAULT_SETTINGS, 'TIMEOUT', 0) }, collector().renderer, {}, ac.signal);
      await running;
      ac.abort();
      await assert.rejects(call, (e: Error & { code?: string }) => e.code === 'CLIENT_ABORT');
      await sawAbort;
      const [timedOut] = await runOn('STAT SYSTEM', withSetting(DEFAULT_SETTINGS, 'TIMEOUT', 50));
      assert.equal(timedOut?.status.code, 9);
      assert.match(timedOut?.status.message ?? '', /TIMEOUT \(50 ms\)/);
    } finally {
      await slow.stop();
    }
    const [other] = await run('STAT SYSTEM');
    assert.equal(other?.status.code, 0, 'another node keeps its own STAT SYSTEM');
  });

  it('SHOW CLUSTER and SHOW PARTITIONS describe a single node as master of everything', async () => {
    const [cluster] = await run('SHOW CLUSTER');
    const rows = cluster?.sets[0]?.rows ?? [];
    assert.equal(rows.length, 1);
    const row = new Map(rows[0]);
    assert.equal(row.get('node'), 'A1');
    assert.equal(row.get('state'), 'online');
    assert.equal(row.get('masters'), 4096n);
    // 4096 rows: a statement TIMEOUT well above the default, so a loaded machine does not cut it short
    const [parts] = await run('SHOW PARTITIONS test', withSetting(DEFAULT_SETTINGS, 'TIMEOUT', 60_000));
    const prow = parts?.sets[0]?.rows ?? [];
    assert.equal(prow.length, 4096);
    assert.ok(prow.every((r, i) => new Map(r).get('partition') === BigInt(i) && new Map(r).get('master') === 'A1'));
    const [bad] = await run('SHOW PARTITIONS nope');
    assert.equal(bad?.status.code, 20);
    const [noNs] = await run('SHOW CLUSTER test');
    assert.equal(noNs?.status.code, 4);
  });
});
