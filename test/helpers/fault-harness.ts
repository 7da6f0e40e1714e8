/**
 * What the real-process fault tests share: a cluster of node processes behind relays (to cut
 * traffic, helpers/cluster-relay.ts), a seeded write load through every node, a checker of
 * acknowledged writes (helpers/ack-checker.ts) that reads every key through every node
 * afterwards, and a comparison of the copies partition by partition (GetPartitionDigests).
 * With `login` (a cluster with security on, e.g. a cluster secret) every client and admin call
 * logs in.
 *
 *   const h = new FaultHarness({ name: 'faults', heartbeat: HB, namespaces: [...] });
 *   after(() => h.close());
 *   await h.settled(await h.startAll(['A3', 'A2', 'A1']));
 *   const l = h.load(() => live);
 *   ... kill, cut, heal ...
 *   await l.stop();
 *   await h.verifyAll(['A3', 'A2', 'A1'], 'after the restart');
 *   await h.copiesAgree(['A3', 'A2', 'A1']);
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { ProcessCluster, memberOrder, membersOf, type ProcessClusterOptions } from './process-cluster.ts';
import { RelayNet } from './cluster-relay.ts';
import { AckChecker } from './ack-checker.ts';
import { until } from './until.ts';
import { partitionDigests, partitionMap } from './cluster-info.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { seededRandom } from '../../core/cluster/clock.ts';
import { makeKey } from '../../core/model/index.ts';
import type { GetPartitionDigestsResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';

export interface FaultHarnessOptions extends Omit<ProcessClusterOptions, 'relays' | 'clusterName'> {
  readonly clusterName?: string;
  /** The namespace the load writes to (default `test`). */
  readonly namespace?: string;
}

/** Waits for a condition and says how long it took. */
export async function timed<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  const value = await until(what, probe, ms, 100);
  return { value, ms: Date.now() - start };
}

export class FaultHarness {
  readonly net = new RelayNet();
  readonly cluster: ProcessCluster;
  readonly checker = new AckChecker();
  /** The write schedule's seed (SLIPSTREAM_FAULT_SEED=n replays it); print it on failure. */
  readonly seed: number;
  readonly rand: () => number;
  readonly ns: string;
  readonly #login: { readonly user: string; readonly password: string } | undefined;
  readonly #name: string;

  constructor(options: FaultHarnessOptions) {
    this.cluster = new ProcessCluster({ ...options, clusterName: options.clusterName ?? options.name, relays: this.net });
    this.seed = Number(process.env['SLIPSTREAM_FAULT_SEED'] ?? Math.floor(Math.random() * 1_000_000));
    this.rand = seededRandom(this.seed);
    this.ns = options.namespace ?? 'test';
    this.#login = options.login;
    this.#name = options.name;
  }

  port(id: string): number {
    return this.cluster.port(id);
  }

  /** A client whose every request enters the cluster at node `id` (it proxies what it does not master). */
  connect(id: string, timeoutMs: number): Promise<SlipstreamClient> {
    return SlipstreamClient.connect({ routing: 'seed', hosts: `127.0.0.1:${this.port(id)}`, timeoutMs, ...(this.#login ?? {}) });
  }

  #metadata(): Metadata {
    const md = new Metadata();
    if (this.#login !== undefined) {
      md.set('user', this.#login.user);
      md.set('password', this.#login.password);
    }
    return md;
  }

  digests(id: string, detailPartitions: number[] = []): Promise<GetPartitionDigestsResponse> {
    return partitionDigests(this.port(id), this.ns, detailPartitions, this.#metadata());
  }

  /** Starts the nodes not running yet among `ids` (the first alone when none runs, then the others seeded by every node the relays know). */
  async startAll(ids: readonly string[]): Promise<string[]> {
    const procs = this.cluster.procs;
    const [first, ...rest] = ids.filter((id) => !procs.has(id));
    if (first !== undefined && procs.size === 0) await this.cluster.start(first);
    else if (first !== undefined) rest.unshift(first);
    await Promise.all(rest.map((id) => this.cluster.start(id)));
    return [...ids];
  }

  /** Waits until `ids` form one cluster, all online, with no migrations left on any of them; ms taken. */
  async settled(ids: readonly string[], ms = 60_000): Promise<number> {
    return (await this.cluster.formed(ids, { settled: true, ms })).ms;
  }

  /** Every node holds a copy of a partition exactly when the map places one there, and the copies agree. */
  async copiesAgree(ids: readonly string[], ms = 30_000): Promise<void> {
    let problem = '';
    await timed('copies placed by the map and equal', async () => {
      const map = await partitionMap(this.port(ids[0] as string), this.ns, this.#metadata());
      const byNode = new Map<string, Map<number, string>>();
      for (const id of ids) {
        const d = await this.digests(id);
        byNode.set(d.nodeId, new Map(d.partitions.map((p) => [p.partition, `${p.records}/${p.tombstones}/${p.checksum}`])));
      }
      for (let pid = 0; pid < 4096; pid++) {
        const row = (map.partitions[pid]?.nodeIndexes ?? []).map((i) => map.nodes[i] as string);
        const holders = ids.filter((id) => byNode.get(id)?.has(pid) === true);
        const sums = new Set(row.map((id) => byNode.get(id)?.get(pid) ?? 'none'));
        if (holders.length === 0 && sums.size === 1) continue; // an empty partition
        if (holders.some((h) => !row.includes(h)) || sums.size !== 1) {
          // which copies differ, node by node
          const detail = await Promise.all([...new Set([...row, ...holders])].map(async (id) => {
            const d = await this.digests(id, [pid]);
            return `${id}: ${d.copies.map((c) => `${c.digest.slice(0, 8)} gen ${c.generation} lut ${c.lastUpdateMs}${c.tombstone ? ' tombstone' : ''} ${c.content.slice(0, 8)}`).join(', ')}`;
          }));
          problem = `partition ${pid}: map ${row.join(',')}, held by ${holders.join(',')}; ${detail.join('; ')}`;
          return undefined;
        }
      }
      return true;
    }, ms).catch(() => assert.fail(`copies disagree (seed ${this.seed}): ${problem}`));
  }

  /** Reads every key the checker knows through every node in `ids` and judges each value. */
  async verifyAll(ids: readonly string[], what: string, rule?: 'generation'): Promise<void> {
    const problems: string[] = [];
    for (const id of ids) {
      const cl = await this.connect(id, 10_000);
      try {
        const keys = [...this.checker.acked.keys()];
        for (let i = 0; i < keys.length; i += 64) {
          await Promise.all(keys.slice(i, i + 64).map(async (key) => {
            let got: bigint | undefined;
            for (const t0 = Date.now(); ;) {
              try {
                got = (await cl.get({ namespace: this.ns, set: 'load', key })).bins['v'] as bigint;
                break;
              } catch (e) {
                const code = (e as { code?: string }).code;
                if (code === 'NOT_FOUND') break;
                // a heartbeat flap on a loaded machine re-forms the cluster for a moment: read again
                if ((code !== 'UNAVAILABLE' && code !== 'TIMEOUT') || Date.now() - t0 > 30_000) throw e;
                await new Promise((r) => setTimeout(r, 200));
              }
            }
            const p = this.checker.judge(key, got, rule);
            if (p !== undefined) problems.push(`through ${id}: ${p}`);
          }));
        }
      } finally {
        cl.close();
      }
    }
    if (problems.length > 0) {
      // every node's own copy of the first keys in question (generation, last update), to see where each version lives
      const keys = [...new Set(problems.map((p) => /key (\S+):/.exec(p)?.[1] ?? ''))].slice(0, 3);
      for (const key of keys) {
        const k = makeKey(this.ns, 'load', key);
        const hex = Buffer.from(k.digest).toString('hex');
        const copies = await Promise.all(ids.map(async (id) => {
          const d = await this.digests(id, [k.partition]);
          const c = d.copies.find((x) => x.digest === hex);
          return `${id}: ${c === undefined ? 'none' : `gen ${c.generation} lut ${c.lastUpdateMs}${c.tombstone ? ' tombstone' : ''}`}`;
        }));
        problems.push(`copies of ${key} (partition ${k.partition}): ${copies.join('; ')}`);
      }
      for (const id of ids) {
        const file = join(tmpdir(), `slipstream-${this.#name}-${this.seed}-${id}.log`);
        writeFileSync(file, this.cluster.output(id));
        problems.push(`copies of the logs: ${id} ${file}`);
      }
    }
    assert.equal(problems.length, 0, `${what} (seed ${this.seed}): ${problems.length} problems, e.g.\n${[...problems.slice(0, 5), ...problems.filter((p) => p.startsWith('copies of '))].join('\n')}`);
  }

  /** A write load: one writer per node in `through`, each with its own keys, one write at a time; stop() ends it. */
  load(through: () => string[]): { stop: () => Promise<void> } {
    const { checker, rand, ns } = this;
    const procs = this.cluster.procs;
    let stopping = false;
    const writers = new Map<string, Promise<void>>();
    const writer = async (id: string): Promise<void> => {
      let cl: SlipstreamClient | undefined;
      for (let i = 0; !stopping && through().includes(id); i++) {
        const key = `${id}-${Math.floor(rand() * 120)}`;
        const value = BigInt(Date.now()) * 1000n + BigInt(i % 1000);
        try {
          cl ??= await this.connect(id, 3000);
          const meta = await cl.put({ namespace: ns, set: 'load', key }, { v: value });
          checker.ack(key, { value, generation: meta.generation, lastUpdateMs: meta.lastUpdateMs, side: id });
        } catch (e) {
          checker.fail(key, value, (e as { inDoubt?: boolean }).inDoubt === true, `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
          cl?.close();
          cl = undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      cl?.close();
      writers.delete(id);
    };
    let ticking = true;
    const tick = async (): Promise<void> => {
      while (ticking) {
        for (const id of through()) if (!writers.has(id) && procs.has(id)) writers.set(id, writer(id));
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const ticker = tick();
    return {
      stop: async () => {
        stopping = true;
        ticking = false;
        await ticker;
        await Promise.all(writers.values());
      },
    };
  }

  /**
   * A network split and heal under the write load through every node: the relays cut every pair
   * across the sides; each side re-forms and serves (AP); the same keys are written on both
   * sides — three times on the small side first, then once on the large side, so the rules tell
   * the versions apart (by generation the small side's wins, by last-update time the other) —
   * then the cut heals and every copy must resolve by generation (the default rule): the keys
   * written on both sides read as the generation winner through every node, every key of the
   * load as the winner of its acknowledged versions, and the copies agree.
   */
  async splitAndHeal(large: readonly string[], small: readonly string[]): Promise<void> {
    const { checker, net, ns: NS, seed: SEED } = this;
    const all = [...large, ...small];
    const [big] = large as [string];
    const [little] = small as [string];
    const l = this.load(() => all);
    await until('writes acknowledged', async () => (checker.ackTimes.length > 30 ? true : undefined), 30_000);
    const cutAt = Date.now();
    net.split([...large], [...small]);
    // each side re-forms without the other
    const formed = await timed('both sides re-formed', async () => {
      const views = await Promise.all(all.map((id) => this.cluster.info(id)));
      return views.every((r, i) => membersOf(r) === memberOrder(i < large.length ? large : small) && r.state === 'online') ? true : undefined;
    }, 30_000);
    // the same keys written on both sides: three times on the small side first, then once on
    // the large side — by generation the small side's version wins, by last-update time the other
    const minority = await this.connect(little, 5000);
    const majority = await this.connect(big, 5000);
    const both = Array.from({ length: 20 }, (_, i) => `both-${i}`);
    try {
      for (const key of both) {
        for (let n = 0; n < 3; n++) {
          const value = 1000n + BigInt(n);
          const meta = await minority.put({ namespace: NS, set: 'load', key }, { v: value });
          checker.ack(key, { value, generation: meta.generation, lastUpdateMs: meta.lastUpdateMs, side: little });
        }
      }
      await new Promise((r) => setTimeout(r, 5)); // a later last-update time on the large side
      for (const key of both) {
        const value = 2000n;
        const meta = await majority.put({ namespace: NS, set: 'load', key }, { v: value });
        checker.ack(key, { value, generation: meta.generation, lastUpdateMs: meta.lastUpdateMs, side: big });
      }
      // the sides diverged: each reads its own version
      assert.equal((await minority.get({ namespace: NS, set: 'load', key: 'both-0' })).bins['v'], 1002n);
      assert.equal((await majority.get({ namespace: NS, set: 'load', key: 'both-0' })).bins['v'], 2000n);
    } finally {
      minority.close();
      majority.close();
    }
    // the scenario tells the rules apart
    for (const key of both) assert.notEqual(checker.expected(key, 'generation'), checker.expected(key, 'last-update-time'), key);
    await new Promise((r) => setTimeout(r, 500));
    const dropped = net.dropped();
    assert.ok(dropped > 0, 'the relays dropped frames between the sides');
    net.heal();
    const healAt = Date.now();
    const healed = await this.settled(all, 60_000);
    await l.stop();
    console.log(`      (split ${large.join(',')} | ${small.join(',')}: sides re-formed ${formed.ms} ms after the cut; healed and settled in ${healed} ms; ${dropped} frames dropped; ${checker.inDoubt} writes in doubt; longest gap without an acknowledged write ${checker.longestGap(cutAt, healAt)} ms)`);
    // the keys written on both sides read as the generation winner through every node
    const problems: string[] = [];
    for (const id of all) {
      const cl = await this.connect(id, 10_000);
      try {
        for (const key of both) {
          const got = (await cl.get({ namespace: NS, set: 'load', key })).bins['v'] as bigint;
          const p = checker.judge(key, got, 'generation');
          if (p !== undefined) problems.push(`through ${id}: ${p}`);
        }
      } finally {
        cl.close();
      }
    }
    assert.equal(problems.length, 0, `duplicates not resolved by generation (seed ${SEED}):\n${problems.slice(0, 5).join('\n')}`);
    // every key of the load reads as the winner by generation of its acknowledged versions: a
    // write acknowledged on one side is lost only where the other side's copy won by the rule
    await this.verifyAll(all, 'after the split healed', 'generation');
    await this.copiesAgree(all);
  }

  /** Waits until more than `n` writes were acknowledged in all. */
  async acknowledged(what: string, n: number, ms = 30_000): Promise<void> {
    await until(what, async () => (this.checker.ackTimes.length > n ? true : undefined), ms);
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}
