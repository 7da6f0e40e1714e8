/**
 * A cluster scan while the cluster re-forms (clusterScan over a routing the test controls): while
 * a partition has no master (the node serving the scan left its cluster and has not joined
 * another yet, e.g. after a heartbeat flap on a loaded machine), the scan waits for the new map
 * instead of failing at once — bounded: it fails UNAVAILABLE when no master comes, and TIMEOUT
 * (not in doubt) at its deadline; with a deadline, each page is asked with the time left.
 */
import { strict as assert } from 'node:assert';
import { clusterScan, type ScanRouting } from '../../core/transaction/cluster-scan.ts';
import { DbError } from '../../core/errors/index.ts';
import type { StoredRecord } from '../../core/plugin-api/index.ts';

const rec = (partition: number): StoredRecord => ({
  digest: new Uint8Array(20).fill(partition), partition, set: 's', meta: { generation: 1, voidTime: 0, lastUpdateMs: 1 }, key: undefined, payload: new Uint8Array(0), tombstone: false,
});

/** Partitions 0–3 on node 2 once `mastersAfter` looks at the map have passed; time moves only by pauses. */
function routing(mastersAfter: number): ScanRouting & { looks: number; paused: number } {
  let t = 0;
  const r = {
    looks: 0, paused: 0, localNode: 1n,
    masterOf: () => (r.looks++ >= mastersAfter ? 2n : undefined),
    fetchPage: async (_node: bigint, req: { partitions: readonly number[] }) => ({ records: req.partitions.map(rec), done: true }),
    pause: async (ms: number) => { t += ms; r.paused += ms; },
    now: () => t,
  };
  return r;
}

async function run(req: Parameters<typeof clusterScan>[0], r: ScanRouting): Promise<number[] | DbError> {
  try {
    const got: number[] = [];
    for await (const x of clusterScan(req, r)) got.push(x.partition);
    return got;
  } catch (e) {
    if (e instanceof DbError) return e;
    throw e;
  }
}

describe('cluster/scan while partitions have no master', () => {
  it('waits for the new map and then returns every partition', async () => {
    const r = routing(10); // ten looks at the map without a master: about 4 s of waiting
    const out = await run({ namespace: 'test', partitions: [0, 1, 2, 3] }, r);
    assert.deepEqual(out, [0, 1, 2, 3], String(out));
    assert.ok(r.paused > 0 && r.paused < 10_000, `waited ${r.paused} ms`);
  });

  it('fails UNAVAILABLE when no master comes within about 10 s, and TIMEOUT at once at its deadline', async () => {
    const never = routing(Infinity);
    const out = await run({ namespace: 'test', partitions: [0, 1] }, never);
    assert.ok(out instanceof DbError && out.code === 'UNAVAILABLE', String(out));
    assert.ok(never.paused >= 5000 && never.paused <= 15_000, `gave up after ${never.paused} ms`);
    const bounded = routing(Infinity);
    const out2 = await run({ namespace: 'test', partitions: [0, 1], deadline: 700 }, bounded);
    assert.ok(out2 instanceof DbError && out2.code === 'TIMEOUT' && out2.inDoubt !== true && /scan's deadline passed/.test(out2.message), String(out2));
    assert.ok(bounded.paused <= 1300, `waited ${bounded.paused} ms past a 700 ms deadline`);
  });

  it('asks each page with the time left before its deadline, and none past it: TIMEOUT', async () => {
    const r = routing(0);
    const asked: Array<number | undefined> = [];
    let t = 0;
    const timed: ScanRouting = {
      ...r, now: () => t,
      // each page takes 300 ms and holds one partition
      fetchPage: async (_node, req) => { asked.push(req.forMs); t += 300; return { records: [rec(req.partitions[0] as number)], done: req.partitions.length === 1 }; },
    };
    const out = await run({ namespace: 'test', partitions: [0, 1, 2, 3, 4, 5, 6, 7], deadline: 1000 }, timed);
    assert.ok(out instanceof DbError && out.code === 'TIMEOUT', String(out));
    assert.deepEqual(asked, [1000, 700, 400, 100], 'each page carries the time left; none is asked at or past the deadline');
  });
});
