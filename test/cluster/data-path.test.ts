/**
 * The data path on simulated clusters (deterministic; a failure prints its seed — rerun one
 * with SLIPSTREAM_SIM_SEED=<seed> npm test -- --grep "data path"): requests through any node
 * reach the partition's master (proxied over a lossy, duplicating fabric), scans through any
 * node cover the cluster, and a checker compares every acknowledged write with what the
 * cluster returns afterwards.
 */
import { strict as assert } from 'node:assert';
import { seededRandom } from '../../core/cluster/clock.ts';
import { DbError } from '../../core/errors/index.ts';
import type { RecordKey } from '../../core/model/index.ts';
import { writePolicy } from '../../core/transaction/policy.ts';
import { simDataCluster, type DataNode } from './sim-data-harness.ts';

const fixed = process.env['SLIPSTREAM_SIM_SEED'];
const seeds = fixed === undefined ? [11, 12] : [Number(fixed)];

/**
 * What the cluster acknowledged. Writes are issued in batches of concurrent requests; per key,
 * the last batch that acknowledged a write leaves one of its acknowledged values (concurrent
 * writes may apply in any order), unless a later write in doubt (TIMEOUT) was applied after it.
 */
export class Checker {
  readonly acked = new Map<string, Set<bigint>>();
  readonly doubt = new Map<string, Set<bigint>>();
  readonly keys = new Map<string, RecordKey>();
  #batch = new Map<string, Set<bigint>>();
  #batchDoubt = new Map<string, Set<bigint>>();
  record(key: RecordKey, v: bigint, outcome: { ok: boolean; error?: unknown }): void {
    const d = hex(key.digest);
    this.keys.set(d, key);
    if (outcome.ok) {
      let s = this.#batch.get(d);
      if (s === undefined) this.#batch.set(d, s = new Set());
      s.add(v);
      return;
    }
    const e = outcome.error;
    if (!(e instanceof DbError)) throw e;
    // a failed write is either not applied (UNAVAILABLE and other codes) or in doubt (TIMEOUT)
    if (e.inDoubt) {
      let s = this.#batchDoubt.get(d);
      if (s === undefined) this.#batchDoubt.set(d, s = new Set());
      s.add(v);
    }
  }
  /** Ends a batch of concurrent writes. */
  endBatch(): void {
    for (const [d, vs] of this.#batch) {
      this.acked.set(d, vs);
      this.doubt.delete(d); // older writes in doubt were overwritten; this batch's may still land
    }
    for (const [d, vs] of this.#batchDoubt) {
      let s = this.doubt.get(d);
      if (s === undefined) this.doubt.set(d, s = new Set());
      for (const v of vs) s.add(v);
    }
    this.#batch = new Map();
    this.#batchDoubt = new Map();
  }
  /** A value read back is acceptable: one of the last acknowledged ones, or one in doubt after them. */
  ok(d: string, v: bigint | undefined): boolean {
    const a = this.acked.get(d);
    if (v === undefined) return a === undefined;
    return (a?.has(v) ?? false) || (this.doubt.get(d)?.has(v) ?? false);
  }
}

export const hex = (digest: Uint8Array): string => Buffer.from(digest).toString('hex');

describe('cluster/data path (simulated network)', function () {
  this.timeout(120_000);
  for (const seed of seeds) {
    it(`seed ${seed}: writes through every node reach their masters over a faulty fabric; reads and scans through any node see them`, async () => {
      const rand = seededRandom(seed);
      const ids = [0x300n, 0x200n, 0x100n];
      const c = simDataCluster(seed, ids, { rf: 1, faults: { minDelayMs: 1, maxDelayMs: 15, dropRate: 0.05, duplicateRate: 0.05 } });
      const ctx = `seed ${seed}`;
      try {
        for (const id of ids) await c.start(id);
        assert.ok(await c.converge() >= 0, `${ctx}: cluster formed`);
        const node = (): DataNode => [...c.nodes.values()][Math.floor(rand() * c.nodes.size)] as DataNode;
        const check = new Checker();
        for (let round = 0; round < 6; round++) {
          const batch = Array.from({ length: 25 }, (_, i) => {
            const n = node();
            const key = n.kernel.key('test', 's', `k${Math.floor(rand() * 80)}`);
            const v = BigInt(round * 100 + i);
            return { key, v, p: n.kernel.put(key, { v }, writePolicy()) };
          });
          const out = await c.drive(batch.map((b) => b.p));
          batch.forEach((b, i) => check.record(b.key, b.v, out[i] as { ok: boolean; error?: unknown }));
          check.endBatch();
        }
        assert.ok(check.acked.size > 40, `${ctx}: only ${check.acked.size} keys acknowledged`);
        // every node reads every key as the checker expects
        for (const n of c.nodes.values()) {
          const reads = [...check.keys].map(([d, key]) => n.kernel.get(key).then((r) => [d, r.bins['v'] as bigint] as const, (e: unknown) => {
            if (e instanceof DbError && e.code === 'NOT_FOUND') return [d, undefined] as const;
            throw e;
          }));
          for (const r of await c.drive(reads)) {
            assert.ok(r.ok, `${ctx}: read failed: ${String(!r.ok && r.error)}`);
            const [d, v] = r.value;
            assert.ok(check.ok(d, v), `${ctx}: node ${n.id.toString(16)} read ${v} for ${d}, acknowledged ${[...(check.acked.get(d) ?? [])].join('|')}`);
          }
          // a scan through this node covers every record of the cluster, each once, in scan order
          const scanned: string[] = [];
          const [done] = await c.drive([(async () => {
            for await (const rec of n.kernel.scanStored({ namespace: 'test' })) scanned.push(hex(rec.digest));
          })()]);
          assert.ok(done?.ok, `${ctx}: scan failed: ${String(done?.ok === false && done.error)}`);
          assert.equal(new Set(scanned).size, scanned.length, `${ctx}: a record came twice`);
          for (const d of check.acked.keys()) assert.ok(scanned.includes(d), `${ctx}: scan through ${n.id.toString(16)} misses ${d}`);
          for (const d of scanned) assert.ok(check.keys.has(d), `${ctx}: scan returned a record never written`);
        }
        const proxied = [...c.nodes.values()].reduce((s, n) => s + n.path.forwarding.counters.proxied, 0);
        assert.ok(proxied > 100, `${ctx}: ${proxied} proxied`);
      } finally {
        await c.stopAll();
      }
    });
  }

  for (const seed of seeds) {
    it(`seed ${seed}: RF 2 — a node crashes under a write load; no acknowledged write is lost and every survivor serves them all`, async () => {
      const rand = seededRandom(seed * 7919);
      const ids = [0x300n, 0x200n, 0x100n];
      const c = simDataCluster(seed, ids, { rf: 2, faults: { minDelayMs: 1, maxDelayMs: 10, dropRate: 0.03, duplicateRate: 0.03 } });
      const ctx = `seed ${seed}`;
      try {
        for (const id of ids) await c.start(id);
        assert.ok(await c.converge() >= 0, `${ctx}: cluster formed`);
        const check = new Checker();
        const victim = ids[Math.floor(rand() * ids.length)] as bigint;
        let failures = 0;
        for (let round = 0; round < 8; round++) {
          const live = [...c.nodes.values()];
          const batch = Array.from({ length: 30 }, (_, i) => {
            const n = live[Math.floor(rand() * live.length)] as DataNode;
            const key = n.kernel.key('test', 's', `k${Math.floor(rand() * 120)}`);
            const v = BigInt(round * 100 + i);
            return { key, v, p: n.kernel.put(key, { v }, writePolicy()) };
          });
          if (round === 4) await c.kill(victim); // crash while these writes are in flight
          const out = await c.drive(batch.map((b) => b.p));
          batch.forEach((b, i) => {
            const o = out[i] as { ok: boolean; error?: unknown };
            if (!o.ok) failures++;
            check.record(b.key, b.v, o);
          });
          check.endBatch();
          if (round === 4) assert.ok(await c.converge() >= 0, `${ctx}: survivors re-formed`);
        }
        assert.ok(check.acked.size > 60, `${ctx}: only ${check.acked.size} keys acknowledged (${failures} failures)`);
        for (const n of c.nodes.values()) {
          const reads = [...check.keys].map(([d, key]) => n.kernel.get(key).then((r) => [d, r.bins['v'] as bigint] as const, (e: unknown) => {
            if (e instanceof DbError && e.code === 'NOT_FOUND') return [d, undefined] as const;
            throw e;
          }));
          for (const r of await c.drive(reads)) {
            assert.ok(r.ok, `${ctx}: read failed: ${String(!r.ok && r.error)}`);
            const [d, v] = r.value;
            assert.ok(check.ok(d, v), `${ctx}: after ${victim.toString(16)} crashed, node ${n.id.toString(16)} read ${v} for ${d}, acknowledged ${[...(check.acked.get(d) ?? [])].join('|')}`);
          }
        }
        const sent = [...c.nodes.values()].reduce((x, n) => x + n.path.replicas.counters.sent, 0);
        assert.ok(sent > 100, `${ctx}: ${sent} replica writes`);
      } finally {
        await c.stopAll();
      }
    });
  }

  for (const seed of seeds) {
    it(`seed ${seed}: RF 2 under load — crash, restart, two nodes join: migrations restore every copy, copies agree, nothing acknowledged is lost`, async () => {
      const rand = seededRandom(seed * 104729);
      const first = [0x500n, 0x400n, 0x300n];
      const later = [0x200n, 0x100n];
      const c = simDataCluster(seed, [...first, ...later], { rf: 2, faults: { minDelayMs: 1, maxDelayMs: 8, dropRate: 0.02, duplicateRate: 0.02 } });
      const ctx = `seed ${seed}`;
      const check = new Checker();
      const load = async (rounds: number, during?: () => Promise<void>): Promise<void> => {
        for (let round = 0; round < rounds; round++) {
          const live = [...c.nodes.values()];
          const batch = Array.from({ length: 30 }, (_, i) => {
            const n = live[Math.floor(rand() * live.length)] as DataNode;
            const key = n.kernel.key('test', 's', `k${Math.floor(rand() * 300)}`);
            const v = BigInt(c.clock.now() * 100 + i);
            return { key, v, p: n.kernel.put(key, { v }, writePolicy()) };
          });
          if (round === 0 && during !== undefined) await during();
          const out = await c.drive(batch.map((b) => b.p));
          batch.forEach((b, i) => check.record(b.key, b.v, out[i] as { ok: boolean; error?: unknown }));
          check.endBatch();
        }
      };
      try {
        for (const id of first) await c.start(id);
        assert.ok(await c.converge() >= 0, `${ctx}: cluster formed`);
        await load(4);
        const victim = first[Math.floor(rand() * first.length)] as bigint;
        await load(3, () => c.kill(victim));
        assert.ok(await c.converge() >= 0, `${ctx}: survivors re-formed`);
        await load(3, async () => { await c.start(victim); });
        assert.ok(await c.converge() >= 0, `${ctx}: ${victim.toString(16)} back and filled`);
        await load(3, async () => { for (const id of later) await c.start(id); });
        assert.ok(await c.converge() >= 0, `${ctx}: two more nodes joined and filled`);
        await load(2);
        assert.ok(await c.converge(undefined, 5000) >= 0, `${ctx}: settled`);
        assert.ok(check.acked.size > 150, `${ctx}: only ${check.acked.size} keys acknowledged`);
        // every node reads every acknowledged write
        for (const n of c.nodes.values()) {
          const reads = [...check.keys].map(([d, key]) => n.kernel.get(key).then((r) => [d, r.bins['v'] as bigint] as const, (e: unknown) => {
            if (e instanceof DbError && e.code === 'NOT_FOUND') return [d, undefined] as const;
            throw e;
          }));
          for (const r of await c.drive(reads)) {
            assert.ok(r.ok, `${ctx}: read failed: ${String(!r.ok && r.error)}`);
            const [d, v] = r.value;
            assert.ok(check.ok(d, v), `${ctx}: node ${n.id.toString(16)} read ${v} for ${d}, acknowledged ${[...(check.acked.get(d) ?? [])].join('|')}`);
          }
        }
        // a scan through every node returns each record once, with the value a read returns
        for (const n of c.nodes.values()) {
          const seen = new Map<string, bigint>();
          const [done] = await c.drive([(async () => {
            for await (const rec of n.kernel.scan({ namespace: 'test' })) {
              const d = hex(rec.key.digest);
              assert.ok(!seen.has(d), `${ctx}: scan through ${n.id.toString(16)} returned ${d} twice`);
              seen.set(d, rec.bins['v'] as bigint);
            }
          })()]);
          assert.ok(done?.ok, `${ctx}: scan failed: ${String(done?.ok === false && done.error)}`);
          for (const d of check.keys.keys()) assert.ok(check.ok(d, seen.get(d)), `${ctx}: scan through ${n.id.toString(16)} gave ${seen.get(d)} for ${d}`);
        }
        // every partition has RF copies, and the copies agree record by record (generation, last update, bytes)
        const nodes = [...c.nodes.values()];
        const table = nodes[0]?.svc.partitionTable('test');
        assert.ok(table !== undefined);
        let compared = 0;
        for (const [d, key] of check.keys) {
          const row: readonly bigint[] = table.rows[key.partition] ?? [];
          assert.equal(row.length, 2, `${ctx}: partition ${key.partition} has ${row.length} copies`);
          const copies = await Promise.all(row.map((id) => c.nodes.get(id)?.kernel.namespace('test').engine.get(key.digest)));
          const [m, r] = copies;
          assert.equal(m === undefined, r === undefined, `${ctx}: ${d} is on one copy only (partition ${key.partition})`);
          if (m !== undefined && r !== undefined) {
            assert.deepEqual([r.meta.generation, r.meta.lastUpdateMs, Buffer.from(r.payload).toString('hex')], [m.meta.generation, m.meta.lastUpdateMs, Buffer.from(m.payload).toString('hex')], `${ctx}: copies of ${d} differ`);
            compared++;
          }
        }
        assert.ok(compared > 150, `${ctx}: compared ${compared}`);
        // once every node is Online, copies of partitions a node no longer holds are dropped: RF copies in all
        await c.idle(3000);
        let stored = 0;
        for (const n of nodes) stored += (await n.kernel.namespace('test').engine.stats()).records;
        const [count] = await c.drive([(async () => { let k = 0; for await (const _r of (nodes[0] as DataNode).kernel.scanStored({ namespace: 'test' })) k++; return k; })()]);
        const live = count?.ok === true ? count.value : -1;
        assert.equal(stored, 2 * live, `${ctx}: ${stored} copies stored for ${live} records (RF 2)`);
        const migrated = nodes.reduce((x, n) => x + n.path.migrations.progress().recordsReceived, 0);
        assert.ok(migrated > 100, `${ctx}: ${migrated} records migrated`);
        for (const n of nodes) assert.equal(n.path.migrations.progress().partitionsRemaining, 0);
      } finally {
        await c.stopAll();
      }
    });
  }
});

describe('cluster/split and heal (simulated network)', function () {
  this.timeout(120_000);
  for (const rule of ['generation', 'last-update-time'] as const) {
    it(`both sides take writes during a split; on heal the copies merge by ${rule}, as configured`, async () => {
      const seed = 21;
      const rand = seededRandom(seed);
      const ids = [0x300n, 0x200n, 0x100n];
      const c = simDataCluster(seed, ids, { rf: 2, conflictResolution: rule });
      try {
        for (const id of ids) await c.start(id);
        assert.ok(await c.converge() >= 0, 'cluster formed');
        type Version = { v: bigint; gen: number; lut: number };
        const keys = Array.from({ length: 60 }, (_, i) => (c.nodes.get(0x300n) as DataNode).kernel.key('test', 's', `k${i}`));
        const put = async (n: DataNode, i: number, v: bigint): Promise<Version> => {
          const out = await c.drive([n.kernel.put(keys[i] as RecordKey, { v }, writePolicy())]);
          const r = out[0];
          assert.ok(r?.ok, `write of k${i} through ${n.id.toString(16)}: ${String(r?.ok === false && r.error)}`);
          return { v, gen: r.value?.generation ?? 0, lut: r.value?.lastUpdateMs ?? 0 };
        };
        // a base version of every key; some keys get a second version (a higher generation)
        const base: Version[] = [];
        for (let i = 0; i < keys.length; i++) {
          base.push(await put(c.nodes.get(0x300n) as DataNode, i, BigInt(i)));
          if (i % 3 === 0) base[i] = await put(c.nodes.get(0x200n) as DataNode, i, BigInt(1000 + i));
        }
        // split: {300, 200} | {100}; each side forms its own cluster and masters every partition it can
        c.net.partition([[c.host(0x300n), c.host(0x200n)], [c.host(0x100n)]]);
        assert.ok(await c.converge([0x300n, 0x200n]) >= 0 && await c.converge([0x100n]) >= 0, 'both sides formed');
        const major: Array<Version | undefined> = [];
        const minor: Array<Version | undefined> = [];
        for (let i = 0; i < keys.length; i++) {
          const r = rand();
          // majority side writes some keys, the minority side others, both sides a few, later or earlier
          if (r < 0.35 || (r >= 0.7 && r < 0.85)) major[i] = await put(c.nodes.get(rand() < 0.5 ? 0x300n : 0x200n) as DataNode, i, BigInt(2000 + i));
          if (r >= 0.35 && r < 0.85) minor[i] = await put(c.nodes.get(0x100n) as DataNode, i, BigInt(3000 + i));
          if (r >= 0.75 && r < 0.85) major[i] = await put(c.nodes.get(0x300n) as DataNode, i, BigInt(4000 + i)); // a later write on the majority
          await c.idle(3);
        }
        c.net.heal();
        assert.ok(await c.converge(undefined, 30_000) >= 0, 'healed into one cluster, partitions filled');
        // the expected survivor of each key: the winning version of the two sides, by the configured rule
        const wins = (a: Version, b: Version): boolean => rule === 'generation'
          ? a.gen !== b.gen ? a.gen > b.gen : a.lut > b.lut
          : a.lut !== b.lut ? a.lut > b.lut : a.gen > b.gen;
        // keys written on both sides lose one side's acknowledged write (the loss window of a split)
        let bothSides = 0;
        for (const n of c.nodes.values()) {
          for (let i = 0; i < keys.length; i++) {
            const a = major[i] ?? base[i] as Version;
            const b = minor[i] ?? base[i] as Version;
            const want = wins(b, a) ? b : a;
            const [r] = await c.drive([n.kernel.get(keys[i] as RecordKey)]);
            assert.ok(r?.ok, `k${i} through ${n.id.toString(16)}: ${String(r?.ok === false && r.error)}`);
            assert.equal(r.value.bins['v'], want.v, `k${i} through ${n.id.toString(16)} (majority ${JSON.stringify(a, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))}, minority ${JSON.stringify(b, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x))})`);
            if (n.id === 0x300n && major[i] !== undefined && minor[i] !== undefined) bothSides++;
          }
        }
        assert.ok(bothSides > 5, `only ${bothSides} keys were written on both sides`);
      } finally {
        await c.stopAll();
      }
    });
  }
});
