/**
 * The AQL executor is per node: its statement table is built once from the statement
 * families, so starting many nodes in one process does not grow any table or nest handlers,
 * and a statement of a subsystem a node does not run is answered by that node alone.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { aqlExtension } from '../../core/node/extensions/aql.ts';
import { queryExtension } from '../../core/node/extensions/query.ts';
import { udfExtension } from '../../core/node/extensions/udf.ts';
import { executeAql } from '../../core/client/aql.ts';
import { AqlExecutor, type StatementFamily } from '../../core/aql/exec/executor.ts';
import { BUILT_IN_STATEMENTS, createAqlExecutor } from '../../core/aql/exec/statements.ts';
import type { Renderer } from '../../core/aql/language/results.ts';
import type { DbRecord } from '../../core/model/index.ts';

const quiet: Renderer = { begin: () => {}, row: () => {}, end: () => {}, status: () => {} };

/** Frames of the AQL executor's files on the stack when a PK SELECT reaches the kernel. */
async function executorFramesOfPkSelect(t: TestNode): Promise<number> {
  const kernel = t.node.kernel;
  const original = kernel.get.bind(kernel);
  let frames = -1;
  kernel.get = (key, options): Promise<DbRecord> => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = Infinity;
    const stack = new Error('where').stack ?? '';
    Error.stackTraceLimit = limit;
    frames = stack.split('\n').filter((l) => l.includes('/core/aql/exec/')).length;
    return original(key, options);
  };
  try {
    let status = -1;
    await executeAql(t.client, { text: "INSERT INTO test.s (PK, a) VALUES ('k', 1); SELECT * FROM test.s WHERE PK = 'k'" }, { ...quiet, status: (code) => { status = code; } });
    assert.equal(status, 0);
  } finally {
    kernel.get = original;
  }
  assert.ok(frames > 0, 'the SELECT reached the kernel through the executor');
  return frames;
}

describe('aql executor: one per node', function () {
  this.timeout(180_000);

  const extensions = (): ReturnType<typeof aqlExtension>[] => [queryExtension(), udfExtension(), aqlExtension()];
  const config = { udf: { isolation: 'in-process' } };

  it('21 in-process node starts: a PK SELECT passes through the same few executor frames on the last node as on the first', async () => {
    const first = await startTestNode({ extensions: extensions(), config });
    let firstFrames: number;
    try {
      firstFrames = await executorFramesOfPkSelect(first);
    } finally {
      await first.stop();
    }
    for (let i = 2; i <= 20; i++) await (await startTestNode({ extensions: extensions(), config })).stop();
    const last = await startTestNode({ extensions: extensions(), config });
    try {
      const lastFrames = await executorFramesOfPkSelect(last);
      assert.equal(lastFrames, firstFrames, `executor frames: ${firstFrames} on the first node, ${lastFrames} on the 21st`);
      // the script runner, the executor, the SELECT and its key-value form: no chain of handlers
      assert.ok(lastFrames <= 6, `a PK SELECT is dispatched once (${lastFrames} executor frames)`);
    } finally {
      await last.stop();
    }
  });

  it('each node answers for its own subsystems: queries on a node without them are UNSUPPORTED_FEATURE, on another node they run', async () => {
    const bare = await startTestNode({ extensions: [aqlExtension()] });
    const full = await startTestNode({ extensions: [queryExtension(), aqlExtension()] });
    try {
      const statusOf = async (t: TestNode, text: string): Promise<{ code: number; message: string }> => {
        let st = { code: -1, message: '' };
        await executeAql(t.client, { text }, { ...quiet, status: (code, message) => { st = { code, message }; } });
        return st;
      };
      assert.equal((await statusOf(full, 'CREATE INDEX a_idx ON test.s (a) NUMERIC')).code, 0);
      const onBare = await statusOf(bare, 'CREATE INDEX a_idx ON test.s (a) NUMERIC');
      assert.equal(onBare.code, 16);
      assert.match(onBare.message, /secondary indexes and queries are not installed on this node/);
      assert.equal((await statusOf(bare, "SELECT * FROM test.s WHERE PK = 'x'")).code, 2, 'key reads work without the query subsystem');
    } finally {
      await bare.stop();
      await full.stop();
    }
  });

  it('has every built-in statement once; a statement two families claim is refused', async () => {
    const t = await startTestNode({ extensions: [] });
    try {
      const executor = createAqlExecutor(t.node);
      for (const s of ['select', 'insert', 'operate', 'create-index', 'execute', 'show CLUSTER', 'show SETS', 'stat SYSTEM', 'stat INDEX']) {
        assert.ok(executor.statements().includes(s), s);
      }
      const again: StatementFamily = { name: 'mine', statements: { select: async () => {} } };
      assert.throws(() => new AqlExecutor(t.node, [...BUILT_IN_STATEMENTS, again]), /AQL statement 'select' is claimed by two statement families: key-value and mine/);
    } finally {
      await t.stop();
    }
  });
});
