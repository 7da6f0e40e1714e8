/**
 * A cluster of real node processes on 127.0.0.1 for tests: writes each node's config file
 * (ephemeral ports, its own data directory under one temporary directory), starts the server
 * binary, finds seeds, waits until the nodes form one cluster (or have also finished their
 * migrations), stops, kills and restarts nodes, and removes everything afterwards.
 *
 *   const c = new ProcessCluster({ name: 'routing', clusterName: 'routing', heartbeat: { intervalMs: 150, timeout: 15 } });
 *   after(() => c.close());
 *   await c.startCluster(['A3', 'A2', 'A1']);          // A3 alone, then the others seeded by it
 *   await c.kill('A1');
 *   await c.formed(['A3', 'A2']);
 *   await c.start('A1');                               // seeded by every running node of its cluster
 *   await c.formed(['A3', 'A2', 'A1'], { settled: true });
 *
 * Node ids are hex strings (as in `node.id`). With `relays` (helpers/cluster-relay.ts) every node
 * binds fixed heartbeat/fabric ports and publishes its relays' addresses, so a test can cut traffic.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { startNodeProcess, type NodeProcess } from './process-node.ts';
import { clusterInfo } from './cluster-info.ts';
import { until } from './until.ts';
import type { RelayNet } from './cluster-relay.ts';
import type { GetClusterInfoResponse } from '../../core/wire/generated/slipstream/v1/cluster.ts';

export interface ProcessClusterOptions {
  /** Prefix of the temporary directory holding the nodes' configs and data. */
  readonly name: string;
  readonly clusterName: string;
  readonly heartbeat: { readonly intervalMs: number; readonly timeout: number };
  /** The nodes' namespaces; default one memory namespace `test` with RF 2. */
  readonly namespaces?: readonly Record<string, unknown>[];
  /** Each node serves Prometheus metrics on an ephemeral port (NodeProcess.metricsPort). */
  readonly metrics?: boolean;
  /** More top-level sections of every node's config (e.g. `security`), given the temporary directory. */
  readonly sections?: (dir: string) => Record<string, unknown>;
  /** Credentials for the harness's own ClusterService calls when security is on. */
  readonly login?: { readonly user: string; readonly password: string };
  /** Relays in front of the heartbeat and fabric ports (to cut traffic between nodes). */
  readonly relays?: RelayNet;
  /** How long a node may take to start (default 90 s: a loaded 2-core machine starts slowly). */
  readonly startTimeoutMs?: number;
  /** More fields of every node's cluster section (a node's own StartOptions.clusterFields win). */
  readonly clusterFields?: Record<string, unknown>;
}

export interface StartOptions {
  /** Heartbeat seeds; default every running node of the same cluster name (with relays: every node the relays know). */
  readonly seeds?: readonly string[];
  /** false: a node without a cluster section (a single node beside the cluster). */
  readonly cluster?: boolean;
  readonly clusterName?: string;
  /** More fields of this node's cluster section (rackId, migration, …). */
  readonly clusterFields?: Record<string, unknown>;
  /** Top-level sections of this node's config, replacing the cluster-wide ones (`{}` for none). */
  readonly sections?: Record<string, unknown>;
}

export interface FormedOptions {
  /** Deadline (default 90 s). */
  readonly ms?: number;
  /** Also every member online and no migration left on any node. */
  readonly settled?: boolean;
}

interface NodeEntry {
  readonly clusterName: string | undefined;
  heartbeatAddress?: string;
}

/** Members in the order a cluster lists them (by node id, highest first). */
export function memberOrder(ids: readonly string[]): string {
  return [...ids].sort((a, b) => (BigInt(`0x${b}`) > BigInt(`0x${a}`) ? 1 : BigInt(`0x${b}`) < BigInt(`0x${a}`) ? -1 : 0)).join(',');
}

export const membersOf = (r: GetClusterInfoResponse): string => r.members.map((m) => m.nodeId).join(',');

export class ProcessCluster {
  readonly dir: string;
  /** The running nodes by id. */
  readonly procs = new Map<string, NodeProcess>();
  readonly #options: ProcessClusterOptions;
  readonly #nodes = new Map<string, NodeEntry>();
  /** Output of the earlier runs of each node (stopped and started again). */
  readonly #earlierOutput = new Map<string, string>();

  constructor(options: ProcessClusterOptions) {
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), `slipstream-${options.name}-`));
  }

  /** Starts node `id` (again, after a stop: same data directory, fresh config); resolves when it serves. */
  async start(id: string, options: StartOptions = {}): Promise<NodeProcess> {
    assert.ok(!this.procs.has(id), `node ${id} is already running`);
    const o = this.#options;
    const inCluster = options.cluster !== false;
    const clusterName = options.clusterName ?? o.clusterName;
    const config: Record<string, unknown> = {
      node: { id, host: '127.0.0.1', port: 0, dataDir: join(this.dir, id), ...(o.metrics === true ? { metricsPort: 0 } : {}) },
      // SLIPSTREAM_TEST_LOG_LEVEL=info keeps more of what the nodes did (a failing test prints it)
      logLevel: process.env['SLIPSTREAM_TEST_LOG_LEVEL'] ?? 'warn',
      namespaces: o.namespaces ?? [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }],
      ...(options.sections ?? o.sections?.(this.dir) ?? {}),
    };
    const seeds = inCluster ? options.seeds ?? await this.#seedsFor(id, clusterName) : [];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce(id, config, inCluster ? { clusterName, seeds, fields: options.clusterFields } : undefined);
      } catch (e) {
        // with relays a node binds ports found free earlier: another process may have taken one since
        const taken = o.relays !== undefined && /EADDRINUSE/.test((e as Error).message);
        if (!taken || attempt >= 3) throw e;
        await o.relays?.repick(id);
      }
    }
  }

  /** Writes the node's config (`cluster`: its cluster section's parts, undefined for a node alone) and starts it. */
  async #startOnce(id: string, config: Record<string, unknown>, cluster: { clusterName: string; seeds: readonly string[]; fields: StartOptions['clusterFields'] } | undefined): Promise<NodeProcess> {
    const o = this.#options;
    if (cluster !== undefined) {
      const { clusterName, seeds } = cluster;
      let ports = { heartbeat: { address: '127.0.0.1:0' } as Record<string, unknown>, fabric: { address: '127.0.0.1:0' } as Record<string, unknown> };
      if (o.relays !== undefined) {
        const r = await o.relays.node(id);
        ports = { heartbeat: { address: `127.0.0.1:${r.hbPort}`, accessAddress: r.hbAccess }, fabric: { address: `127.0.0.1:${r.fabricPort}`, accessAddress: r.fabricAccess } };
      }
      config['cluster'] = {
        clusterName, seeds, ...o.clusterFields, ...cluster.fields,
        heartbeat: { ...ports.heartbeat, ...o.heartbeat }, fabric: ports.fabric,
      };
    }
    const file = join(this.dir, `${id}.json`);
    writeFileSync(file, JSON.stringify(config));
    this.#nodes.set(id, { clusterName: cluster?.clusterName });
    const p = await startNodeProcess(['--config', file], { timeoutMs: o.startTimeoutMs ?? 90_000 });
    this.procs.set(id, p);
    return p;
  }

  /** Starts `ids[0]` alone, then the others at once seeded by it; waits until they form one cluster. */
  async startCluster<const T extends readonly string[]>(ids: T, formed: FormedOptions = {}): Promise<{ -readonly [K in keyof T]: NodeProcess }> {
    const [first, ...rest] = ids;
    assert.ok(first !== undefined, 'no node to start');
    await this.start(first);
    const seed = await this.heartbeatAddress(first);
    await Promise.all(rest.map((id) => this.start(id, { seeds: [seed] })));
    await this.formed(ids, formed);
    return ids.map((id) => this.node(id)) as { -readonly [K in keyof T]: NodeProcess };
  }

  /** The running node `id`. */
  node(id: string): NodeProcess {
    const p = this.procs.get(id);
    assert.ok(p !== undefined, `node ${id} runs`);
    return p;
  }

  /** Everything node `id` printed, over all its runs. */
  output(id: string): string {
    return `${this.#earlierOutput.get(id) ?? ''}${this.procs.get(id)?.output() ?? ''}`;
  }

  port(id: string): number {
    return this.node(id).port;
  }

  /** The address other nodes reach `id`'s heartbeat port at (its relay's with relays): a seed. */
  async heartbeatAddress(id: string): Promise<string> {
    if (this.#options.relays !== undefined) return (await this.#options.relays.node(id)).hbAccess;
    const entry = this.#nodes.get(id);
    if (entry?.heartbeatAddress !== undefined && this.procs.has(id)) return entry.heartbeatAddress;
    const r = await until(`node ${id}'s heartbeat address`, async () => (await this.info(id)).members.find((m) => m.nodeId === id)?.heartbeatAddress, 30_000, 100);
    if (entry !== undefined) entry.heartbeatAddress = r;
    return r;
  }

  /** The node's view of its cluster (GetClusterInfo), as the configured login when security is on. */
  info(id: string): Promise<GetClusterInfoResponse> {
    const md = new Metadata();
    if (this.#options.login !== undefined) {
      md.set('user', this.#options.login.user);
      md.set('password', this.#options.login.password);
    }
    return clusterInfo(this.port(id), md);
  }

  /**
   * Waits until exactly `ids` form one cluster: every one of them lists them all as members, is
   * online, and has the same cluster key (with `settled`: every member online, no migration left).
   * Returns each node's view and how long it took.
   */
  async formed(ids: readonly string[], options: FormedOptions = {}): Promise<{ infos: GetClusterInfoResponse[]; ms: number }> {
    const want = memberOrder(ids);
    const start = Date.now();
    const infos = await until(`cluster ${want}${options.settled === true ? ' settled' : ''}`, async () => {
      const rs = await Promise.all(ids.map((id) => this.info(id)));
      const together = rs.every((r) => membersOf(r) === want && r.state === 'online' && r.clusterKey === rs[0]?.clusterKey);
      if (!together) return undefined;
      if (options.settled === true && !rs.every((r) => r.members.every((m) => m.state === 'online') && r.migrations?.partitionsRemaining === 0)) return undefined;
      return rs;
    }, options.ms ?? 90_000, 100);
    return { infos, ms: Date.now() - start };
  }

  /** Stops node `id` with `signal` (SIGTERM: a clean stop) and waits for its exit. */
  async stop(id: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.node(id);
    this.procs.delete(id);
    this.#earlierOutput.set(id, `${this.#earlierOutput.get(id) ?? ''}${p.output()}\n--- stopped (${signal})\n`);
    const entry = this.#nodes.get(id);
    if (entry !== undefined) delete entry.heartbeatAddress;
    return p.stop(signal);
  }

  kill(id: string): Promise<number | null> {
    return this.stop(id, 'SIGKILL');
  }

  /** Stops node `id` (SIGTERM by default) and starts it again with its data directory. */
  async restart(id: string, options: StartOptions & { signal?: NodeJS.Signals } = {}): Promise<NodeProcess> {
    if (this.procs.has(id)) await this.stop(id, options.signal);
    return this.start(id, options);
  }

  /** Kills every node still running, closes the relays and removes the directory. */
  async close(): Promise<void> {
    for (const id of [...this.procs.keys()]) await this.kill(id);
    await this.#options.relays?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #seedsFor(id: string, clusterName: string): Promise<string[]> {
    const others = [...this.#nodes.entries()].filter(([other, e]) => other !== id && e.clusterName === clusterName
      && (this.#options.relays !== undefined || this.procs.has(other)));
    return Promise.all(others.map(([other]) => this.heartbeatAddress(other)));
  }
}
