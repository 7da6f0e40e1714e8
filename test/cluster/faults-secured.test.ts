/**
 * The real-process fault proofs with a cluster secret (security.clusterSecretFile: every heartbeat
 * and fabric frame signed, per-connection challenge and counter), as production clusters run:
 * three nodes (memory, RF 2) behind the same relays as faults.test.ts, a write load through every
 * node with logged-in clients, and the checker of acknowledged writes. A node is SIGKILLed under
 * the load, the survivors re-form, it restarts empty and fills again: no acknowledged write is
 * lost and the copies agree. Then a split {B3, B2} | {B1} with writes on both sides and a heal:
 * duplicates resolve by generation, every key reads as the winner of its acknowledged versions,
 * the copies agree. The relays cut signed traffic without the secret (see helpers/cluster-relay.ts);
 * the test checks the nodes really signed (they sent challenges) and that the relays dropped frames.
 * The write schedule's seed is printed on failure (SLIPSTREAM_FAULT_SEED=n).
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultHarness } from '../helpers/fault-harness.ts';

const HB = { intervalMs: 150, timeout: 20 }; // node timeout 3 s: a loaded 2-core machine stalls event loops
const ADMIN = { user: 'admin', password: 'faults-secured-pw' };
const ALL = ['B3', 'B2', 'B1'];

describe('cluster/faults with a cluster secret (real processes: SIGKILL and restart, split and heal)', function () {
  this.timeout(600_000);
  const h = new FaultHarness({
    name: 'faults-secured', heartbeat: HB, login: ADMIN,
    namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }],
    sections: (dir) => {
      writeFileSync(join(dir, 'cluster.secret'), 'the secret these fault-test nodes share\n');
      writeFileSync(join(dir, 'admin.password'), ADMIN.password);
      return { security: { clusterSecretFile: join(dir, 'cluster.secret'), adminPasswordFile: join(dir, 'admin.password') } };
    },
  });
  const { cluster, checker } = h;

  async function cluster3(): Promise<void> {
    if (cluster.procs.size >= 3) return;
    await h.settled(await h.startAll(ALL));
  }

  after(() => h.close());

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(`      fault schedule seed: SLIPSTREAM_FAULT_SEED=${h.seed}`);
  });

  it('a node SIGKILLed under write load and restarted empty: no acknowledged write is lost, the copies agree (frames signed)', async () => {
    await cluster3();
    assert.ok(h.net.challenged() > 0, 'the nodes sign their frames: receivers sent challenges through the relays');
    let live = [...ALL];
    const l = h.load(() => live);
    await h.acknowledged('writes acknowledged', 60);
    live = ['B3', 'B2'];
    const killedAt = Date.now();
    await cluster.kill('B1');
    const downMs = await h.settled(live);
    const before = checker.ackTimes.length;
    await h.acknowledged('writes acknowledged while B1 is down', before + 20);
    let t = Date.now();
    await cluster.start('B1');
    const startMs = Date.now() - t;
    live = [...ALL];
    t = Date.now();
    const backMs = await h.settled(ALL);
    await h.acknowledged('writes after the restart', checker.ackTimes.length + 20);
    await l.stop();
    console.log(`      (SIGKILL: re-formed and settled ${downMs} ms after the kill, start ${startMs} ms, filled ${backMs} ms; ${checker.ackTimes.length} writes acknowledged, ${checker.inDoubt} in doubt, ${checker.failed - checker.inDoubt} failed; longest gap without an acknowledged write ${checker.longestGap(killedAt, killedAt + downMs)} ms)`);
    await h.verifyAll(ALL, 'after the SIGKILL and restart');
    await h.copiesAgree(ALL);
  });

  it('a network split and heal of signed traffic: both sides serve, duplicates resolve by generation, copies agree', async () => {
    await cluster3();
    const dropped = h.net.dropped();
    await h.splitAndHeal(['B3', 'B2'], ['B1']);
    assert.ok(h.net.dropped() > dropped, 'the relays dropped signed frames between the sides');
  });
});
