/**
 * In-process simulated clusters with the data path: FakeClock + SimNetwork + real cluster
 * services + a real kernel (memory engine) per node, wired exactly as a node wires them
 * (attachClusterDataPath). Requests are driven by advancing simulated time.
 */
import { createClusterService, type ClusterService } from '../../core/cluster/cluster-service.ts';
import { FakeClock, seededRandom } from '../../core/cluster/clock.ts';
import { SimNetwork, type SimFaults, NO_FAULTS } from '../../core/cluster/sim-network.ts';
import { silentLogger, type NodeId, type PluginContext } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { Kernel } from '../../core/transaction/kernel.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { attachClusterDataPath, type ClusterDataPath } from '../../core/transaction/cluster-data-path.ts';
import { recordFilter } from '../../core/query/record-filter.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

export interface DataNode {
  readonly id: NodeId;
  readonly svc: ClusterService;
  readonly kernel: Kernel;
  readonly path: ClusterDataPath;
}

export interface SimDataCluster {
  readonly clock: FakeClock;
  readonly net: SimNetwork;
  readonly nodes: Map<NodeId, DataNode>;
  host(id: NodeId): string;
  start(id: NodeId): Promise<DataNode>;
  kill(id: NodeId): Promise<void>;
  /** Advances time until the running nodes (or `group`) agree and are online; ms taken or -1. */
  converge(group?: readonly NodeId[], maxMs?: number): Promise<number>;
  /** Advances simulated time until every promise settled (or maxMs passed); their outcomes. */
  drive<T>(ps: readonly Promise<T>[], maxMs?: number): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>>;
  /** Lets `ms` of simulated time pass with the event loop turning. */
  idle(ms: number): Promise<void>;
  stopAll(): Promise<void>;
}

export const SIM_HB_MS = 150;
export const SIM_HB_TIMEOUT = 10;

export function simDataCluster(seed: number, all: readonly NodeId[], options: { faults?: SimFaults; rf?: number; conflictResolution?: 'generation' | 'last-update-time'; writeCommitLevel?: 'all' | 'master' } = {}): SimDataCluster {
  const clock = new FakeClock();
  const net = new SimNetwork(clock, seed, options.faults ?? NO_FAULTS);
  const rand = seededRandom(seed ^ 0x5bd1e995);
  const nodes = new Map<NodeId, DataNode>();
  const host = (id: NodeId): string => `n${id.toString(16)}`;
  const seeds = all.map((id) => `${host(id)}:3002`);
  const nsConfig = {
    name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS, replicationFactor: options.rf ?? 2,
    ...(options.conflictResolution === undefined ? {} : { conflictResolution: options.conflictResolution }),
    ...(options.writeCommitLevel === undefined ? {} : { writeCommitLevel: options.writeCommitLevel }),
  };
  const ctx = (id: NodeId): PluginContext => ({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal });

  const c: SimDataCluster = {
    clock, net, nodes, host,
    async start(id) {
      const svc = createClusterService({
        nodeId: id, clusterName: 'sim', heartbeatAddress: `${host(id)}:3002`, fabricAddress: `${host(id)}:3001`,
        seeds: seeds.filter((s) => s !== `${host(id)}:3002`), heartbeatIntervalMs: SIM_HB_MS, heartbeatTimeout: SIM_HB_TIMEOUT,
        transport: net.factory(host(id)), clock, replication: globalKeyReplication().create(ctx(id), {}),
        retransmit: basicRetransmit().create(ctx(id), { intervalMs: 50 }),
        namespaces: [{ name: 'test', replicationFactor: nsConfig.replicationFactor }], random: rand,
      });
      const engine = await memoryStorage().create(ctx(id), nsConfig, {});
      const kernel = new Kernel({ namespaces: [new Namespace(nsConfig, new GuardedEngine(engine, 'storage-memory'))], clock, router: singleNodeRouter(id), logger: silentLogger });
      const path = attachClusterDataPath(kernel, svc, { clock, logger: silentLogger, compileFilter: (src) => recordFilter(src, () => clock.now()), random: rand });
      await svc.start();
      const n = { id, svc, kernel, path };
      nodes.set(id, n);
      return n;
    },
    async kill(id) {
      const n = nodes.get(id);
      nodes.delete(id);
      await n?.svc.stop();
    },
    async converge(group, maxMs = 20_000) {
      const ids = [...(group ?? nodes.keys())].sort((a, b) => (a > b ? -1 : 1));
      const start = clock.now();
      const agreed = (): boolean => {
        const views = ids.map((id) => nodes.get(id)?.svc.view());
        const first = views[0];
        if (first === undefined) return false;
        return views.every((v) => v !== undefined && v.clusterKey === first.clusterKey && v.succession.map((m) => m.id).join() === ids.join())
          && ids.every((id) => nodes.get(id)?.svc.state() === 'online');
      };
      // time moves in small steps with the event loop turning between them, so that the data
      // path's asynchronous work (migrations) progresses as it would in real time
      while (!agreed()) {
        if (clock.now() - start >= maxMs) return -1;
        clock.advance(5);
        await new Promise((r) => setImmediate(r));
      }
      return clock.now() - start;
    },
    async drive(ps, maxMs = 30_000) {
      const out: Array<{ ok: true; value: (typeof ps)[number] extends Promise<infer T> ? T : never } | { ok: false; error: unknown }> = [];
      let left = ps.length;
      ps.forEach((p, i) => p.then((value) => { out[i] = { ok: true, value: value as never }; left--; }, (error: unknown) => { out[i] = { ok: false, error }; left--; }));
      const end = clock.now() + maxMs;
      while (left > 0 && clock.now() < end) {
        await new Promise((r) => setImmediate(r));
        if (left > 0) clock.advance(1);
      }
      for (let i = 0; i < ps.length; i++) out[i] ??= { ok: false, error: new Error('did not settle in simulated time') };
      return out as never;
    },
    async idle(ms) {
      const end = clock.now() + ms;
      while (clock.now() < end) {
        clock.advance(5);
        await new Promise((r) => setImmediate(r));
      }
    },
    async stopAll() {
      for (const id of [...nodes.keys()]) await c.kill(id);
    },
  };
  return c;
}
