/**
 * Stream UDFs (aggregations) across a cluster, as Aerospike runs them: the partitions a target
 * covers are split by master; each master runs the partial phase of the pipeline (the stages up
 * to and including the first reduce/groupBy) over the records of the partitions it masters, and
 * the node that received the request runs the final phase over all partials. Only partials cross
 * the fabric, never the records.
 *
 * - Never an older module: a share request carries the receiving node's digest of its UDF
 *   modules; a master whose digest differs first takes that node's modules (system metadata
 *   catch-up) and waits until they are installed, so no node runs an older module than the node
 *   that received the request (which itself waits until it holds the cluster's modules).
 * - Never a silently partial result: a master answers only for partitions it masters and has
 *   filled, and checks that again after its partial phase; a share refused (UNAVAILABLE) or lost
 *   with a node that left the map is run again, whole, by the map of the moment (a share's
 *   partial is all or nothing, so nothing is counted twice). Past the aggregation's time limit
 *   the call fails.
 */
import { deserialize, serialize } from 'node:v8';
import { DbError } from '../errors/index.ts';
import { fromFabric, toFabric } from '../model/fabric-values.ts';
import type { BinValue } from '../model/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import { groupByMasterWhenKnown, unlessMoved } from '../transaction/cluster-scan.ts';
import type { UdfCall } from '../udf/engine.ts';

export const AGGREGATE_SHARE_KIND = 'udf.aggregateShare';

/** What one master is asked for. */
export interface AggregateShareRequest {
  /** The call (without the receiving node's `runBy`: the master bounds it by its own clock). */
  readonly call: Omit<UdfCall, 'runBy'>;
  readonly namespace: string;
  readonly set?: string;
  /** The target's filter as expression JSON text. */
  readonly where?: string;
  readonly partitions: readonly number[];
  /** The receiving node and its digest of the UDF modules (absent without system metadata). */
  readonly modules?: { readonly node: NodeId; readonly digest: string };
}

export function encodeAggregateShare(req: AggregateShareRequest): Uint8Array {
  return serialize(toFabric(req));
}

export function decodeAggregateShare(bytes: Uint8Array): AggregateShareRequest {
  return fromFabric(deserialize(bytes)) as AggregateShareRequest;
}

export function encodePartials(values: readonly BinValue[]): Uint8Array {
  return serialize(toFabric(values));
}

export function decodePartials(bytes: Uint8Array): BinValue[] {
  return fromFabric(deserialize(bytes)) as BinValue[];
}

/** How the receiving node reaches the masters. */
export interface AggregateShareAccess {
  readonly localNode: NodeId;
  masterOf(namespace: string, partition: number): NodeId | undefined;
  /** One master's partials (this node's own without the fabric). */
  share(node: NodeId, req: AggregateShareRequest): Promise<BinValue[]>;
  pause(ms: number): Promise<void>;
  now(): number;
}

/**
 * Every master's partials of an aggregation over `partitions`, each share run again by the map
 * of the moment when it was refused or lost with its node, until `deadlineAt`.
 */
export async function clusterPartials(
  template: Omit<AggregateShareRequest, 'partitions'>, partitions: readonly number[], access: AggregateShareAccess, deadlineAt: number,
): Promise<BinValue[]> {
  const out: BinValue[] = [];
  const run = async (parts: readonly number[], attempt: number): Promise<void> => {
    const byNode = await groupByMasterWhenKnown(template.namespace, parts, access, deadlineAt);
    await Promise.all([...byNode].map(async ([node, ps]) => {
      const moved = (): boolean => ps.some((p) => access.masterOf(template.namespace, p) !== node);
      let partials: BinValue[] | 'moved';
      try {
        // a node that leaves the map while its share runs is not waited for: its share runs again elsewhere
        const answer = access.share(node, { ...template, partitions: ps });
        partials = node === access.localNode ? await answer : await unlessMoved(answer, moved, (ms) => access.pause(ms));
      } catch (e) {
        if (!(e instanceof DbError) || access.now() > deadlineAt) throw e;
        // refused (not mastered there any more, still filling), or lost with a node the map no longer names
        if (e.code !== 'UNAVAILABLE' && !(e.code === 'TIMEOUT' && moved())) throw e;
        partials = 'moved';
      }
      if (partials !== 'moved') {
        out.push(...partials);
        return;
      }
      if (access.now() > deadlineAt) {
        throw new DbError('TIMEOUT', `the aggregation's share on node ${node.toString(16).toUpperCase()} did not finish before the map changed and its time ran out`, { hint: 'retry once the cluster has settled' });
      }
      await access.pause(Math.min(20 * 2 ** attempt, 500));
      await run(ps, attempt + 1);
    }));
  };
  await run(partitions, 0);
  return out;
}
