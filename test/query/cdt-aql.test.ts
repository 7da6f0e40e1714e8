/**
 * AQL OPERATE with the by-rank, by-index and by-range list and map operations: the transcript
 * of a session against an in-process kernel, and the record the operations leave behind.
 */
import { strict as assert } from 'node:assert';
import { Kernel } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { AqlSession } from '../../core/aql/shell/session.ts';
import { createAqlExecutor } from '../../core/aql/exec/statements.ts';
import { ServiceLocator } from '../../core/services/index.ts';
import { kernelOperation } from '../../core/aql/exec/operate.ts';
import { parseStatement } from '../../core/aql/language/index.ts';
import { DbError } from '../../core/errors/index.ts';

async function session(): Promise<{ run: (text: string) => Promise<string> }> {
  const clock = new ManualClock();
  const cfg = { ...NAMESPACE_DEFAULTS, name: 'test', storage: 'storage-memory' };
  const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  const run = async (text: string): Promise<string> => {
    let transcript = '';
    const sink = { out: (t: string) => { transcript += t; }, err: (t: string) => { transcript += t; } };
    const executor = createAqlExecutor({ kernel, services: new ServiceLocator() });
    const s = new AqlSession((stmt, _text, settings, out, signal) => executor.execute(stmt, {
      settings, signal, nodeAddress: '127.0.0.1:3000', now: () => clock.now(),
    }, out), sink, '.');
    await s.run(text, { echo: false });
    return transcript.replace(/\(\d+\.\d{3} secs?\)/g, '(0.000 secs)');
  };
  return { run };
}

/** The single OPERATE result row of a table transcript, as cell texts by column. */
function row(transcript: string): Record<string, string> {
  const lines = transcript.split('\n').filter((x) => x.startsWith('|'));
  const cells = (line: string): string[] => line.split('|').slice(1, -1).map((c) => c.trim());
  const [head, values] = [cells(lines[0] ?? ''), cells(lines[1] ?? '')];
  return Object.fromEntries(head.map((h, i) => [h, values[i] ?? '']));
}

describe('aql OPERATE by rank, index and range', () => {
  it('runs the list forms: values for gets, counts for removes', async () => {
    const { run } = await session();
    await run("INSERT INTO test.c (PK, l) VALUES ('k', LIST('[7, 2, 9, 2, 5]'))");
    const out = await run("OPERATE LIST_GET_BY_RANK(l, -1), LIST_GET_BY_RANK_RANGE(l, 0, 2), LIST_GET_BY_VALUE_RANGE(l, 5, NULL), LIST_GET_BY_VALUE_RANGE(l, NULL, 5) ON test.c WHERE PK = 'k'");
    assert.equal(row(out)['l'], 'LIST(\'[9, [2, 2], [7, 9, 5], [2, 2]]\')', out);
    const removed = await run("OPERATE LIST_REMOVE_BY_RANK(l, 0), LIST_REMOVE_BY_VALUE_RANGE(l, 7, 100), LIST_REMOVE_BY_RANK_RANGE(l, -1) ON test.c WHERE PK = 'k'");
    assert.equal(row(removed)['l'], 'LIST(\'[1, 2, 1]\')', removed);
    const after = await run("SELECT l FROM test.c WHERE PK = 'k'");
    assert.match(after, /LIST\('\[2\]'\)/);
  });

  it('LIST_SORT takes Aerospike\'s sort flags (1 descending, 2 drop duplicates) and refuses others', async () => {
    const { run } = await session();
    await run("INSERT INTO test.c (PK, l) VALUES ('s', LIST('[3, 1, 2, 1, 3]'))");
    await run("OPERATE LIST_SORT(l, 3) ON test.c WHERE PK = 's'");
    assert.match(await run("SELECT l FROM test.c WHERE PK = 's'"), /LIST\('\[3, 2, 1\]'\)/);
    await run("OPERATE LIST_SORT(l, 0) ON test.c WHERE PK = 's'");
    assert.match(await run("SELECT l FROM test.c WHERE PK = 's'"), /LIST\('\[1, 2, 3\]'\)/);
    assert.match(await run("OPERATE LIST_SORT(l, 4) ON test.c WHERE PK = 's'"), /sort flags 4 are not known/);
  });

  it('runs the map forms: entries (a map) for gets, counts for removes; index is key order', async () => {
    const { run } = await session();
    await run(`INSERT INTO test.c (PK, m) VALUES ('k', MAP('{"d": 4, "a": 17, "c": 2, "b": 10}'))`);
    const out = await run("OPERATE MAP_GET_BY_INDEX(m, 0), MAP_GET_BY_INDEX_RANGE(m, -2), MAP_GET_BY_RANK(m, 0), MAP_GET_BY_RANK_RANGE(m, -2, 1), MAP_GET_BY_KEY_RANGE(m, 'b', 'd'), MAP_GET_BY_VALUE_RANGE(m, 10, NULL) ON test.c WHERE PK = 'k'");
    assert.equal(row(out)['m'], `LIST('[{"a":17}, {"c":2, "d":4}, {"c":2}, {"b":10}, {"b":10, "c":2}, {"a":17, "b":10}]')`, out);
    const removed = await run("OPERATE MAP_REMOVE_BY_KEY_RANGE(m, NULL, 'b'), MAP_REMOVE_BY_RANK(m, -1), MAP_REMOVE_BY_INDEX(m, 0), MAP_SIZE(m) ON test.c WHERE PK = 'k'");
    assert.equal(row(removed)['m'], `LIST('[1, 1, 1, 1]')`, removed);
    const after = await run("SELECT m FROM test.c WHERE PK = 'k'");
    assert.match(after, /MAP\('\{"d":4\}'\)/, after);
    const more = await run("OPERATE MAP_REMOVE_BY_VALUE_RANGE(m, 0, 100), MAP_REMOVE_BY_RANK_RANGE(m, 0), MAP_REMOVE_BY_INDEX_RANGE(m, 0, 5) ON test.c WHERE PK = 'k'");
    assert.equal(row(more)['m'], `LIST('[1, 0, 0]')`, more);
  });

  it('answers errors with Aerospike codes and a usage hint; MAP_SET_TYPE sets the map order', async () => {
    const { run } = await session();
    await run("INSERT INTO test.c (PK, l, m) VALUES ('k', LIST('[1, 2]'), MAP('{\"a\": 1}'))");
    assert.match(await run("OPERATE LIST_GET_BY_RANK(l, 2) ON test.c WHERE PK = 'k'"), /Error: \(26\)[^\n]*rank 2 is out of bounds/);
    assert.match(await run("OPERATE LIST_GET_BY_RANK(l, 'x') ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*rank must be an integer/);
    assert.match(await run("OPERATE MAP_GET_BY_RANK(l, 0) ON test.c WHERE PK = 'k'"), /Error: \(12\)/);
    assert.match(await run("OPERATE MAP_GET_BY_KEY_RANGE(m, LIST('[1]'), NULL) ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*map keys are strings, integers or doubles/);
    assert.doesNotMatch(await run("OPERATE MAP_SET_TYPE(m, 'KEY_ORDERED') ON test.c WHERE PK = 'k'"), /Error/);
    assert.match(await run("OPERATE MAP_SET_TYPE(m, 'BY_COLOUR') ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*not a map order/);
    // a modifier the operation does not use is refused, naming it, and changes nothing
    assert.match(await run("OPERATE LIST_APPEND(l, 3) WITH_RETURN(COUNT) ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*list append on bin 'l' takes no return type/);
    assert.match(await run("OPERATE LIST_SIZE(l) WITH_POLICY(AS_LIST_ADD_UNIQUE) ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*takes no write flags/);
    assert.match(await run("OPERATE MAP_GET_BY_KEY(m, 'a') WITH_POLICY(AS_MAP_KEY_ORDERED) ON test.c WHERE PK = 'k'"), /Error: \(4\)[^\n]*takes no order/);
    assert.match(await run("SELECT l FROM test.c WHERE PK = 'k'"), /LIST\('\[1, 2\]'\)/);
  });

  it('maps each AQL form onto the kernel operation with its return type', () => {
    const op = (text: string) => {
      const s = parseStatement(`OPERATE ${text} ON test WHERE PK = 1`);
      assert.ok(s.kind === 'operate');
      return kernelOperation(s.ops[0]!);
    };
    assert.deepEqual(op('LIST_GET_BY_RANK_RANGE(l, 1, 3)'), { op: 'list', bin: 'l', kind: 'getByRankRange', rank: 1, count: 3 });
    assert.deepEqual(op('LIST_REMOVE_BY_VALUE_RANGE(l, 1, NULL)'), { op: 'list', bin: 'l', kind: 'removeByValueRange', value: 1n, valueEnd: null, returnType: 'count' });
    assert.deepEqual(op("MAP_GET_BY_KEY_RANGE(m, NULL, 'q')"), { op: 'map', bin: 'm', kind: 'getByKeyRange', keyEnd: 'q' });
    assert.deepEqual(op('MAP_REMOVE_BY_INDEX_RANGE(m, -2)'), { op: 'map', bin: 'm', kind: 'removeByIndexRange', index: -2, returnType: 'count' });
    assert.deepEqual(op('MAP_SET_TYPE(m, 1)'), { op: 'map', bin: 'm', kind: 'setOrder', order: 'keyOrdered' });
    assert.deepEqual(op("MAP_SET_TYPE(m, 'AS_MAP_KEY_VALUE_ORDERED')"), { op: 'map', bin: 'm', kind: 'setOrder', order: 'keyValueOrdered' });
    assert.deepEqual(op('MAP_PUT(m, 1, 2) WITH_POLICY(AS_MAP_KEY_ORDERED, AS_MAP_UPDATE_ONLY)'), { op: 'map', bin: 'm', kind: 'put', key: 1n, value: 2n, order: 'keyOrdered', flags: { updateOnly: true } });
    assert.deepEqual(op('LIST_GET_BY_INDEX(l, 0) WITH_RETURN(AS_LIST_RETURN_RANK)'), { op: 'list', bin: 'l', kind: 'getByIndex', index: 0, returnType: 'rank' });
    assert.deepEqual(op('LIST_APPEND(l, 1) WITH_POLICY(AS_LIST_ORDERED, AS_LIST_ADD_UNIQUE)'), { op: 'list', bin: 'l', kind: 'append', value: 1n, order: 'ordered', flags: { addUnique: true } });
    assert.throws(() => op('MAP_SET_TYPE(m, 2)'), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
    assert.throws(() => op('WRITE(b, 1) WITH_RETURN(KEY)'), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
  });
});
