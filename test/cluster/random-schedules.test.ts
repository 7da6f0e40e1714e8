/**
 * Random fault schedules on a simulated network (delays, drops, duplicates, partitions,
 * crashes, restarts). Invariants are checked on every change; at the end the network heals and
 * every node restarts, and the cluster must converge to one. A failure prints its seed:
 * rerun one with SLIPSTREAM_SIM_SEED=<seed> (or a range a-b) npm test -- test/cluster --grep schedule
 */
import { strict as assert } from 'node:assert';
import { seededRandom } from '../../core/cluster/clock.ts';
import { simCluster, ids } from './sim-harness.ts';

// SLIPSTREAM_SIM_SEED=7 runs one seed; SLIPSTREAM_SIM_SEED=1-200 a range (a soak run).
const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const range = fixed === undefined ? undefined : /^(\d+)-(\d+)$/.exec(fixed);
const seeds = fixed === undefined
  ? [101, 202, 303, 404, 505, 606]
  : range !== null && range !== undefined
    ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i)
    : [Number(fixed)];

describe('cluster/random schedules (simulated network)', () => {
  for (const seed of seeds) {
    it(`schedule with seed ${seed} keeps the invariants and heals into one cluster`, async () => {
      const rand = seededRandom(seed);
      const nodes = ids(...Array.from({ length: 3 + Math.floor(rand() * 3) }, (_, i) => 0x100 + i * 7));
      const faults = { minDelayMs: 1, maxDelayMs: 1 + rand() * 40, dropRate: rand() * 0.15, duplicateRate: rand() * 0.1 };
      const c = simCluster(seed, nodes.map((id) => ({ id })), faults);
      const log: string[] = [`seed ${seed}: nodes ${nodes.map((n) => n.toString(16))}, faults ${JSON.stringify(faults)}`];
      try {
        for (const id of nodes) await c.start(id);
        for (let step = 0; step < 12; step++) {
          const r = rand();
          const pick = nodes[Math.floor(rand() * nodes.length)] as bigint;
          if (r < 0.25 && c.running().length > 1) {
            log.push(`t=${c.clock.now()} kill ${pick.toString(16)}`);
            await c.kill(pick);
          } else if (r < 0.5 && !c.running().includes(pick)) {
            log.push(`t=${c.clock.now()} restart ${pick.toString(16)}`);
            await c.start(pick);
          } else if (r < 0.7) {
            const cut = nodes.filter(() => rand() < 0.5).map((id) => c.host(id));
            log.push(`t=${c.clock.now()} partition [${cut}]`);
            c.net.partition([cut]);
          } else if (r < 0.8) {
            const [a, b] = [nodes[Math.floor(rand() * nodes.length)] as bigint, pick];
            log.push(`t=${c.clock.now()} one-way ${a.toString(16)}>${b.toString(16)}`);
            c.net.blockOneWay(c.host(a), c.host(b));
          } else {
            log.push(`t=${c.clock.now()} heal`);
            c.net.heal();
          }
          c.clock.advance(200 + rand() * 4000);
          assert.deepEqual(c.violations, [], 'invariant violated');
        }
        c.net.heal();
        for (const id of nodes) if (!c.running().includes(id)) await c.start(id);
        log.push(`t=${c.clock.now()} heal all, restart all`);
        const took = c.converge(undefined, 30_000);
        assert.ok(took >= 0, 'did not converge after healing');
        assert.deepEqual(c.violations, []);
      } catch (e) {
        console.log(`\n  FAILED ${log.join('\n    ')}\n  violations: ${c.violations.join('; ')}`);
        throw e;
      } finally {
        await c.stopAll();
      }
    });
  }
});
