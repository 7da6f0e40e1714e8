/**
 * Background operation jobs over real gRPC: write operations applied to every record of a set
 * while other clients write the same records (every increment of both lands exactly once),
 * records deleted meanwhile not re-created, throttle with progress and kill, and refusals.
 */
import { strict as assert } from 'node:assert';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, type ClientKey } from '../../core/client/index.ts';
import { UdfServiceService, type JobInfo } from '../../core/wire/generated/slipstream/v1/udf.ts';

describe('server/background operation jobs', function () {
  this.timeout(120_000);
  let t: TestNode;
  before(async () => { t = await startTestNode(); });
  after(async () => { await t?.stop(); });
  const k = (set: string, i: number): ClientKey => ({ namespace: 'test', set, key: `r${i}` });

  async function job(id: bigint): Promise<JobInfo> {
    const res = await t.client.unary(UdfServiceService.listJobs, {}, {}, true);
    const j = res.jobs.find((x) => x.id === id);
    assert.ok(j !== undefined, `job ${id} is listed`);
    return j;
  }
  async function until(id: bigint, done: (j: JobInfo) => boolean, what: string): Promise<JobInfo> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const j = await job(id);
      if (done(j)) return j;
      if (Date.now() > deadline) assert.fail(`${what}: job ${id} is ${j.status} after ${j.done} records`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('adds to every record while other writers change the same records; nothing is lost or re-created', async () => {
    const N = 300;
    for (let i = 0; i < N; i++) await t.client.put(k('opjob', i), { n: 0n, w: 0n });
    const started = await t.client.startOperationJob({ namespace: 'test', set: 'opjob' }, [
      { op: 'add', bin: 'n', value: 1n },
      { op: 'list', bin: 'seen', kind: 'append', value: 'job' },
    ]);
    assert.equal(started.operations, 2);
    assert.equal(started.status, 'running');
    // concurrent writers: add 100 to n and 1 to w on records, delete a few
    const adds = new Array<number>(N).fill(0);
    const deleted = new Set<number>();
    let running = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      let x = w * 7919;
      while (running) {
        x = (x * 1103515245 + 12345) % 2147483648;
        const i = x % N;
        if (deleted.has(i)) continue;
        if (x % 97 === 0 && deleted.size < 5) {
          deleted.add(i);
          await t.client.delete(k('opjob', i));
          continue;
        }
        await t.client.operate(k('opjob', i), [{ op: 'add', bin: 'n', value: 100n }, { op: 'add', bin: 'w', value: 1n }]);
        adds[i] = (adds[i] ?? 0) + 1;
      }
    });
    const end = await until(started.id, (j) => j.status !== 'running', 'operation job');
    running = false;
    await Promise.all(writers);
    assert.equal(end.status, 'done');
    assert.equal(end.total, BigInt(N));
    assert.equal(end.progressPct, 100);
    const recs = await t.client.batchGet(Array.from({ length: N }, (_, i) => k('opjob', i)));
    let applied = 0;
    recs.forEach((r, i) => {
      if (deleted.has(i)) {
        assert.ok(r instanceof DbError && r.code === 'NOT_FOUND', `record ${i} was deleted and must stay deleted`);
        return;
      }
      assert.ok(!(r instanceof DbError), `record ${i}: ${String(r)}`);
      const n = r.bins['n'] as bigint;
      const jobAdds = n - 100n * BigInt(adds[i] ?? 0);
      assert.equal(r.bins['w'], BigInt(adds[i] ?? 0), `record ${i}: every concurrent write landed`);
      assert.equal(jobAdds, 1n, `record ${i}: the job added exactly once`);
      assert.deepEqual(r.bins['seen'], ['job']);
      applied++;
    });
    assert.equal(Number(end.succeeded), applied, 'succeeded counts the records the job changed');
    assert.equal(Number(end.succeeded + end.failed), Number(end.done));
  });

  it('throttles, shows progress, and stops when killed', async () => {
    for (let i = 0; i < 200; i++) await t.client.put(k('slow', i), { n: 0n });
    const started = await t.client.startOperationJob({ namespace: 'test', set: 'slow' }, [{ op: 'add', bin: 'n', value: 1n }], { recordsPerSecond: 40 });
    const midway = await until(started.id, (j) => j.done >= 5n, 'throttled job');
    assert.equal(midway.status, 'running');
    assert.ok(midway.progressPct > 0 && midway.progressPct < 100);
    const killed = await t.client.unary(UdfServiceService.killJob, { id: started.id }, {}, false);
    assert.equal(killed.killed, true);
    const end = await until(started.id, (j) => j.endedMs > 0n, 'killed job');
    assert.equal(end.status, 'killed');
    assert.ok(end.done < 200n, `stopped early (${end.done})`);
  });

  it('refuses reading operations, no operations and createOnly', async () => {
    const code = async (p: Promise<unknown>): Promise<number> => {
      try { await p; } catch (err) { assert.ok(err instanceof DbError, String(err)); return err.resultCode; }
      assert.fail('expected a failure');
    };
    assert.equal(await code(t.client.startOperationJob({ namespace: 'test', set: 'slow' }, [{ op: 'read', bin: 'n' }])), 4);
    assert.equal(await code(t.client.startOperationJob({ namespace: 'test', set: 'slow' }, [])), 4);
    assert.equal(await code(t.client.startOperationJob({ namespace: 'test', set: 'slow' }, [{ op: 'add', bin: 'n', value: 1n }], { policy: { exists: 'createOnly' } })), 4);
    assert.equal(await code(t.client.startOperationJob({ namespace: 'nope' }, [{ op: 'add', bin: 'n', value: 1n }])), 20);
  });
});
