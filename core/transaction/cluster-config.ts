/**
 * Live configuration changes for the whole cluster (AQL SET CONFIG): the node that takes the
 * statement applies the changes itself first (a change its own start-up rules refuse goes
 * nowhere), then sends them over the fabric to every other member, each of which applies them
 * as its own SetConfig would. The answer has one result per node: what changed there, or why
 * not. Nothing is written to the nodes' config files (as Aerospike's set-config).
 */
import { DbError } from '../errors/index.ts';
import type { NodeId } from '../plugin-api/index.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';
import type { ConfigControl } from './config-control.ts';

type Change = { readonly name: string; readonly value: unknown };
type Applied = { readonly name: string; readonly from: unknown; readonly to: unknown };

/** What one node made of a change set. */
export interface NodeConfigResult {
  readonly nodeId: string;
  readonly applied?: readonly Applied[];
  readonly error?: DbError;
}

/** Applies a change set on every node of the cluster. */
export interface ClusterConfig {
  set(changes: readonly Change[]): Promise<NodeConfigResult[]>;
}

/**
 * Fails when some node did not apply the change set, saying per node what was applied and what
 * was not (and why): the nodes that applied it keep it, so a half-applied change is never
 * silent. A node that did not answer in time may have applied it: that failure is in doubt.
 */
export function assertAppliedEverywhere(results: readonly NodeConfigResult[]): void {
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length === 0) return;
  const applied = results.filter((r) => r.error === undefined);
  const changes = (r: NodeConfigResult): string => (r.applied ?? []).map((a) => `${a.name} ${JSON.stringify(a.from)} -> ${JSON.stringify(a.to)}`).join(', ') || 'nothing to change';
  const why = (r: NodeConfigResult): string => {
    const e = r.error as DbError;
    return e.code === 'TIMEOUT' ? `${r.nodeId} (did not answer in time: it may or may not have applied it; ${e.message})` : `${r.nodeId} (${e.code}: ${e.message})`;
  };
  const first = failed[0]?.error as DbError;
  throw new DbError(first.code, `the configuration change was applied on ${applied.length} of ${results.length} nodes${applied.length === 0 ? '' : ` (${applied.map((r) => `${r.nodeId}: ${changes(r)}`).join('; ')})`}; NOT applied on ${failed.map(why).join('; ')}`, {
    hint: 'the nodes that applied it keep the new value; fix the cause on the others and send the change again (applying it twice is harmless)',
    inDoubt: failed.some((r) => r.error?.code === 'TIMEOUT'),
  });
}

const KIND = 'config.set';
const DEADLINE_MS = 5000;

const hex = (id: NodeId): string => id.toString(16).toUpperCase();

export function clusterConfig(control: ConfigControl, calls: RemoteCalls, members: () => readonly NodeId[]): ClusterConfig {
  calls.serve(KIND, async (_from, body) => {
    const changes = JSON.parse(Buffer.from(body).toString('utf8')) as Change[];
    return Buffer.from(JSON.stringify(control.set(changes)), 'utf8');
  });
  return {
    async set(changes) {
      const here = control.set(changes); // throws, and nothing is sent, when this node refuses
      const body = Buffer.from(JSON.stringify(changes), 'utf8');
      const others = members().filter((m) => m !== calls.localNode);
      const results = await Promise.all(others.map(async (m): Promise<NodeConfigResult> => {
        try {
          const out = await calls.call(m, KIND, body, { deadlineMs: DEADLINE_MS, fabricKind: 'control' });
          return { nodeId: hex(m), applied: JSON.parse(Buffer.from(out).toString('utf8')) as Applied[] };
        } catch (err) {
          return { nodeId: hex(m), error: err instanceof DbError ? err : new DbError('SERVER_ERROR', String(err)) };
        }
      }));
      return [{ nodeId: hex(calls.localNode), applied: here }, ...results];
    },
  };
}
