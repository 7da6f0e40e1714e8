/**
 * In-process simulated clusters for deterministic tests: FakeClock + SimNetwork + real cluster
 * services, with invariant checks on every change.
 */
import { strict as assert } from 'node:assert';
import { createClusterService, type ClusterService } from '../../core/cluster/cluster-service.ts';
import { FakeClock, seededRandom } from '../../core/cluster/clock.ts';
import { SimNetwork, type SimFaults, NO_FAULTS } from '../../core/cluster/sim-network.ts';
import { tableFingerprint } from '../../core/cluster/partition-table.ts';
import { silentLogger, type NodeId, type PluginContext } from '../../core/plugin-api/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { rackAwareReplication } from '../../plugins/replication-rack-aware/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';

export interface SimNodeSpec {
  readonly id: NodeId;
  readonly rackId?: number;
  readonly clusterName?: string;
}

export interface SimCluster {
  readonly clock: FakeClock;
  readonly net: SimNetwork;
  readonly services: Map<NodeId, ClusterService>;
  host(id: NodeId): string;
  start(id: NodeId): Promise<void>;
  kill(id: NodeId): Promise<void>;
  running(): NodeId[];
  /** Advances simulated time until every running node (or the given group) agrees; returns ms taken or -1. */
  converge(group?: readonly NodeId[], maxMs?: number): number;
  /** Every violation seen so far (empty when all invariants held). */
  readonly violations: string[];
  stopAll(): Promise<void>;
}

export const HB_MS = 150;
export const HB_TIMEOUT = 10;

export function simCluster(seed: number, specs: readonly SimNodeSpec[], faults: SimFaults = NO_FAULTS, opts: { rackAware?: boolean; namespaces?: number } = {}): SimCluster {
  const clock = new FakeClock();
  const net = new SimNetwork(clock, seed, faults);
  const rand = seededRandom(seed ^ 0x9e3779b9);
  const services = new Map<NodeId, ClusterService>();
  const violations: string[] = [];
  const keyLists = new Map<bigint, string>();
  const keyTables = new Map<string, string>();
  const host = (id: NodeId): string => `n${id.toString(16)}`;
  const allSeeds = specs.map((s) => `${host(s.id)}:3002`);
  const namespaces = [{ name: 'test', replicationFactor: 2 }, { name: 'bar', replicationFactor: 3 }].slice(0, opts.namespaces ?? 2);

  function record(svc: ClusterService): void {
    const view = svc.view();
    if (view === undefined) return;
    const list = view.succession.map((m) => `${m.id.toString(16)}/${m.rackId}`).join(',');
    const prev = keyLists.get(view.clusterKey);
    if (prev === undefined) keyLists.set(view.clusterKey, list);
    else if (prev !== list) violations.push(`cluster key ${view.clusterKey.toString(16)} has two member lists: ${prev} vs ${list}`);
    if (!view.succession.some((m) => m.id === svc.nodeId)) violations.push(`node ${svc.nodeId} is in a cluster without itself`);
    for (const ns of namespaces) {
      const t = svc.partitionTable(ns.name);
      if (t === undefined) {
        violations.push(`node ${svc.nodeId} has a view but no table for ${ns.name}`);
        continue;
      }
      const fp = tableFingerprint(t);
      const k = `${view.clusterKey}:${ns.name}`;
      const p = keyTables.get(k);
      if (p === undefined) keyTables.set(k, fp);
      else if (p !== fp) violations.push(`members of cluster ${view.clusterKey.toString(16)} computed different tables for ${ns.name}`);
    }
  }

  const ctx = (id: NodeId): PluginContext => ({ nodeId: id, logger: silentLogger, clock, signal: new AbortController().signal });

  const cluster: SimCluster = {
    clock, net, services, violations, host,
    async start(id) {
      const spec = specs.find((s) => s.id === id);
      assert.ok(spec !== undefined);
      const replication = (opts.rackAware === true ? rackAwareReplication() : globalKeyReplication()).create(ctx(id), {});
      const svc = createClusterService({
        nodeId: id, clusterName: spec.clusterName ?? 'sim', rackId: spec.rackId ?? 0,
        heartbeatAddress: `${host(id)}:3002`, fabricAddress: `${host(id)}:3001`,
        seeds: allSeeds.filter((s) => s !== `${host(id)}:3002`),
        heartbeatIntervalMs: HB_MS, heartbeatTimeout: HB_TIMEOUT,
        transport: net.factory(host(id)), clock,
        replication, retransmit: basicRetransmit().create(ctx(id), { intervalMs: 100 }),
        namespaces, random: rand,
      });
      svc.on('change', () => record(svc));
      services.set(id, svc);
      await svc.start();
    },
    async kill(id) {
      const svc = services.get(id);
      services.delete(id);
      await svc?.stop();
    },
    running: () => [...services.keys()],
    converge(group, maxMs = 20_000) {
      const ids = [...(group ?? services.keys())].sort((a, b) => (a > b ? -1 : 1));
      const start = clock.now();
      const ok = clock.advanceUntil(() => {
        const views = ids.map((id) => services.get(id)?.view());
        const first = views[0];
        if (first === undefined) return false;
        return views.every((v) => v !== undefined && v.clusterKey === first.clusterKey && v.succession.map((m) => m.id).join() === ids.join())
          && ids.every((id) => services.get(id)?.state() === 'online');
      }, maxMs, 10);
      return ok ? clock.now() - start : -1;
    },
    async stopAll() {
      for (const id of [...services.keys()]) await cluster.kill(id);
    },
  };
  return cluster;
}

export const ids = (...xs: number[]): NodeId[] => xs.map((x) => BigInt(x));
