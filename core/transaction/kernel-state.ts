/**
 * What the kernel's paths (read, write, operate, batch/scan, record removal) share: the node's
 * namespaces, clock, router, record locks, change listeners and counters, and the small steps
 * every path takes (route a key to its namespace, decode a stored record, tell listeners).
 */
import type { ExpressionCompiler } from './expression-ops.ts';
import { DbError } from '../errors/index.ts';
import type { Clock, Logger, NodeId, StoredRecord } from '../plugin-api/index.ts';
import { decodeBins, decodeUserKey, digestString, setStoredSize, type DbRecord, type RecordKey } from '../model/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import type { RecordLocks } from './record-lock.ts';
import type { PartitionRouter } from './routing.ts';
import type { Forwarding } from './forwarding.ts';
import type { ReplicaWriter } from '../replication/replica-writes.ts';
import type { ChangeListener, KernelCounters, RecordChange } from './kernel-types.ts';
import { replicaMayServe, type ReadPolicy } from './policy.ts';

export interface KernelState {
  readonly namespaces: Map<string, Namespace>;
  readonly clock: Clock;
  /** Replaced when a cluster's partition map takes over (Kernel.useRouting). */
  router: PartitionRouter;
  /** Proxying to masters elsewhere and cluster-wide scans; undefined on a single node. */
  forwarding: Forwarding | undefined;
  /** Replica writes of mastered records; undefined on a single node. */
  replicas: ReplicaWriter | undefined;
  /** Partitions being filled after a membership change; undefined on a single node. */
  migration: MigrationGate | undefined;
  readonly logger: Logger;
  readonly locks: RecordLocks;
  readonly listeners: ChangeListener[];
  /** Bin names seen per namespace (for SHOW BINS). */
  readonly binNameSets: Map<string, Set<string>>;
  readonly counters: KernelCounters;
  /** Compiles expression operations' source text (set by the node from its expression engine). */
  expressions: ExpressionCompiler | undefined;
}

/** What the request paths ask of migrations (migration.ts). */
export interface MigrationGate {
  filling(namespace: string, partition: number): boolean;
  /** Resolves the record against the copies still to be pulled for its partition. */
  settle(key: RecordKey): Promise<void>;
  waitFilled(namespace: string, partitions: readonly number[]): Promise<void>;
  progress(): {
    readonly partitionsRemaining: number; readonly recordsReceived: number; readonly recordsRemaining: number; readonly recordsSent: number; readonly lastRate: number; readonly recordsDropped: number;
    readonly requestsRefused: number;
    readonly receiveRate: number; readonly sendRate: number;
  };
  /** Every member's progress (members that do not answer are left out). */
  clusterProgress(): Promise<ReadonlyMap<NodeId, { readonly partitionsRemaining: number; readonly recordsRemaining: number; readonly receiveRate: number; readonly sendRate: number }>>;
}

/** Before a request on `key`: while its partition is being filled here, bring the newest copy in. */
export function settleCopy(s: KernelState, key: RecordKey): Promise<void> | undefined {
  return s.migration?.filling(key.namespace, key.partition) === true ? s.migration.settle(key) : undefined;
}

export function namespaceNames(s: KernelState): string[] {
  return [...s.namespaces.keys()];
}

export function namespaceOf(s: KernelState, name: string): Namespace {
  const ns = s.namespaces.get(name);
  if (ns === undefined) {
    throw new DbError('NAMESPACE', `namespace '${name}' is not configured on this node`, {
      hint: `use one of: ${namespaceNames(s).join(', ') || '(none)'}`,
    });
  }
  return ns;
}

/**
 * Whether a read of `key` may be served here although another node masters its partition: the
 * policy lets a replica serve it, this node holds a copy of the partition under the current
 * map, and that copy is not being filled by a migration (Aerospike serves a read at a replica
 * with no pending immigration the same way).
 */
export function replicaServesHere(s: KernelState, key: RecordKey, policy: ReadPolicy): boolean {
  if (!replicaMayServe(policy)) return false;
  const copies = s.router.copiesOf?.(key.namespace, key.partition);
  if (copies === undefined || !copies.includes(s.router.localNode)) return false;
  return s.migration?.filling(key.namespace, key.partition) !== true;
}

/** route() for a read: a replica that may serve it (replicaServesHere) is as good as the master. */
export function routeRead(s: KernelState, key: RecordKey, policy: ReadPolicy): Namespace {
  if (s.router.masterOf(key.namespace, key.partition) !== s.router.localNode && replicaServesHere(s, key, policy)) {
    s.counters.replicaReads++;
    return namespaceOf(s, key.namespace);
  }
  return route(s, key);
}

export function route(s: KernelState, key: RecordKey): Namespace {
  const ns = namespaceOf(s, key.namespace);
  const master = s.router.masterOf(key.namespace, key.partition);
  if (master === undefined) {
    throw new DbError('UNAVAILABLE', `partition ${key.partition} of namespace '${key.namespace}' has no master`, { hint: 'wait for the cluster to settle and retry' });
  }
  if (master !== s.router.localNode) {
    throw new DbError('UNAVAILABLE', `partition ${key.partition} of namespace '${key.namespace}' is mastered by node ${master.toString(16).toUpperCase()}`, {
      hint: 'send the request to the master node (use the partition map)',
    });
  }
  return ns;
}

/** The key as stored: the record's set, and a user key only when the record keeps one. */
export function storedKey(key: RecordKey, stored: StoredRecord): RecordKey {
  const base = { namespace: key.namespace, set: stored.set, digest: key.digest, partition: key.partition };
  return stored.key === undefined ? base : { ...base, userKey: key.userKey ?? decodeUserKey(stored.key) };
}

export function toRecord(key: RecordKey, stored: StoredRecord, only?: ReadonlySet<string>, noBins = false): DbRecord {
  return setStoredSize({
    key: storedKey(key, stored),
    meta: stored.meta,
    bins: noBins ? {} : decodeBins(stored.payload, only),
  }, stored.payload.length);
}

/** The stored record if readers may see it now (not a tombstone, expired or truncated). */
export function visible(s: KernelState, ns: Namespace, stored: StoredRecord | undefined): StoredRecord | undefined {
  return stored !== undefined && ns.isVisible(stored, s.clock.now()) ? stored : undefined;
}

export function emit(s: KernelState, change: RecordChange): void {
  for (const l of s.listeners) {
    try {
      l.onChange?.(change);
    } catch (err) {
      s.logger.error({ err }, 'a change listener failed');
    }
  }
}

/** A small number per namespace name, for lock keys (namespaces are few and fixed by the config). */
const namespaceIds = new Map<string, number>();

/**
 * The key a record's lock is held under: the namespace's number and the 20 digest bytes as one
 * flat 21-character string, made in one call. (A template string made a cons string that the
 * lock map had to flatten — one more string — before hashing it.)
 */
export function lockKeyOf(namespace: string, digest: Uint8Array): string {
  let id = namespaceIds.get(namespace);
  if (id === undefined) namespaceIds.set(namespace, id = namespaceIds.size + 1);
  // (any other shape of key starts with char 0, which no namespace number is)
  if (digest.length !== 20 || id > 0xffff) return `\0${namespace}\0${digestString(digest)}`;
  const d = digest;
  return String.fromCharCode(id, d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!, d[6]!, d[7]!, d[8]!, d[9]!,
    d[10]!, d[11]!, d[12]!, d[13]!, d[14]!, d[15]!, d[16]!, d[17]!, d[18]!, d[19]!);
}

export function notFound(): DbError {
  return new DbError('NOT_FOUND', 'record not found');
}

export function filteredOut(): DbError {
  return new DbError('FILTERED_OUT', 'the record did not match the filter expression');
}
