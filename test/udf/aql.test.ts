/**
 * The UDF statements of AQL (REGISTER/REMOVE/DESC MODULE, SHOW MODULES, EXECUTE, AGGREGATE,
 * SHOW JOBS, KILL JOB) against a real node with the query and UDF subsystems.
 * Fixture folders under fixtures/aql: input.aql (with the module files next to it) runs through
 * the session; the transcript (stdout + stderr, timings normalised) must equal expected.txt.
 * Jobs started without a throttle finish before the next statement, so fixtures are deterministic.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AqlSession } from '../../core/aql/shell/session.ts';
import { createAqlExecutor } from '../../core/aql/exec/statements.ts';
import { queryExtension } from '../../core/node/extensions/query.ts';
import { QUERY_SUBSYSTEM } from '../../core/services/index.ts';
import { udfExtension } from '../../core/node/extensions/udf.ts';
import { UDF_JOBS_KEY } from '../../core/services/index.ts';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { expectFile } from '../aql/fixture-util.ts';
import { normalise, runAql, startTestNode as startProcessNode } from '../aql/e2e-helpers.ts';

const ROOT = join(import.meta.dirname, 'fixtures', 'aql');

async function withSession<T>(dir: string, fn: (run: (text: string) => Promise<string>, t: TestNode) => Promise<T>): Promise<T> {
  const t = await startTestNode({ extensions: [queryExtension(), udfExtension()] });
  try {
    const q = t.node.services.require(QUERY_SUBSYSTEM);
    const jobs = t.node.services.require(UDF_JOBS_KEY);
    let text = '';
    const sink = { out: (s: string) => { text += s; }, err: (s: string) => { text += s; } };
    const executor = createAqlExecutor(t.node);
    const session = new AqlSession(async (stmt, _text, settings, out, signal) => {
      await executor.execute(stmt, {
        settings, signal, nodeAddress: '127.0.0.1:3000', now: () => Date.now(),
        readClientFile: async (p) => new Uint8Array(await readFile(resolve(dir, p))),
      }, out);
      for (const st of q.indexes.list()) await q.indexes.whenReady(st.namespace, st.name);
      for (const j of jobs.list()) if (j.status === 'running' && j.recordsPerSecond === 0) await jobs.wait(j.id);
    }, sink, dir);
    return await fn(async (input) => {
      text = '';
      await session.run(input, { echo: true });
      return text.replace(/\(\d+\.\d{3} secs?\)/g, '(x.xxx secs)');
    }, t);
  } finally {
    await t.stop();
  }
}

describe('udf: AQL statements (fixtures)', function () {
  this.timeout(20_000);
  for (const name of ['modules', 'record-and-stream-udfs', 'index-and-aggregation', 'jobs']) {
    const dir = join(ROOT, name);
    it(name, async () => {
      await withSession(dir, async (run) => {
        const out = await run(readFileSync(join(dir, 'input.aql'), 'utf8'));
        assert.equal(out, expectFile(dir, 'expected.txt', out));
      });
    });
  }

  it('shows a throttled job running with progress, and kills it', async () => {
    const dir = join(ROOT, 'jobs');
    await withSession(dir, async (run, t) => {
      for (let i = 0; i < 20; i++) await t.client.put({ namespace: 'test', set: 'slow', key: BigInt(i) }, { n: 0n });
      await run("REGISTER MODULE 'count.js'\nSET SCAN_RECORDS_PER_SECOND 10");
      assert.match(await run('EXECUTE count.bump(1) ON test.slow'), /OK, Scan job \(1\) created\./);
      // at 10 records/s the job runs for about 2 s: wait until it has done some
      let shown = '';
      let row: RegExpExecArray | null = null;
      for (const t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 100))) {
        shown = await run('SHOW JOBS');
        row = /\| 1 +\| "test" \| "slow" \| "count" \| "bump" +\| "running" \| "(\d+\.\d)%" +\| (\d+) /.exec(shown);
        if (row === null || Number(row[2]) >= 1) break;
      }
      assert.ok(row !== null, shown);
      const done = Number(row[2]);
      assert.ok(done >= 1 && done < 20, shown);
      assert.equal(Number(row[1]), (done / 20) * 100);
      assert.match(await run('KILL JOB 1'), /OK, Job \(1\) killed\./);
      assert.match(await run('KILL JOB 1'), /OK, Job \(1\) had already ended\./);
      assert.match(await run('SHOW JOBS'), /\| 1 +\| "test" \| "slow" \| "count" \| "bump" +\| "killed" \| "100\.0%"/);
    });
  });
});

describe('udf: AQL through the aql binary and a real node process', function () {
  this.timeout(60_000);
  it('REGISTER MODULE sends the file from the client; EXECUTE, AGGREGATE, SHOW MODULES and user codes work end to end', async () => {
    const t = await startProcessNode();
    try {
      writeFileSync(join(t.dir, 'acct.js'), [
        'export function open(rec, n) { rec.balance = n; aerospike.create(rec); return n; }',
        "export function withdraw(rec, n) { if (rec.balance < n) throw new Error('1000:insufficient funds'); rec.balance -= n; aerospike.update(rec); return rec.balance; }",
        'export function total(stream) { return stream.map((r) => r.balance).reduce((a, b) => a + b); }',
        '',
      ].join('\n'));
      const script = [
        "REGISTER MODULE 'acct.js'",
        "EXECUTE acct.open(50) ON test.a WHERE PK = 'x'",
        "EXECUTE acct.open(20) ON test.a WHERE PK = 'y'",
        "EXECUTE acct.withdraw(80) ON test.a WHERE PK = 'x'",
        'AGGREGATE acct.total() ON test.a',
        'SHOW MODULES',
        "REGISTER MODULE 'nothere.js'",
      ].join('\n');
      writeFileSync(join(t.dir, 'script.aql'), script);
      // a generous statement timeout: the first REGISTER starts the node's UDF host, slow on a loaded machine
      const r = await runAql(['-h', '127.0.0.1', '-p', String(t.node.port), '-T', '20000', '-f', 'script.aql'], { dir: t.dir });
      const out = normalise(r.output);
      assert.match(out, /REGISTER MODULE 'acct\.js'\nOK, 1 module added\./);
      assert.match(out, /\| open +\|\n\+-+\+\n\| 50 +\|/);
      assert.match(out, /Error: \(1000\) insufficient funds \(at acct\.js:2:\d+ in withdraw\)/);
      assert.match(out, /\| total +\|\n\+-+\+\n\| 70 +\|/);
      assert.match(out, /\| "acct\.js" \| "[0-9a-f]{64}" \| "JS" +\|/);
      assert.match(out, /Error: \(-?\d+\) .*Cannot open file nothere\.js/);
      assert.notEqual(r.code, 0);
    } finally {
      await t.stop();
    }
  });
});
