import { DbError } from '../errors/index.ts';
import type { DbRecord } from '../model/index.ts';

export type ExistsAction = 'update' | 'updateOnly' | 'replace' | 'replaceOnly' | 'createOnly';
export type GenerationPolicy = 'none' | 'expectEqual' | 'expectGreater';

/**
 * A predicate on a record, evaluated before a single-record operation (filter expression).
 * `source` is the expression's JSON text, when it has one: a request forwarded to another node
 * carries the filter as that text.
 */
export type RecordPredicate = ((rec: DbRecord) => boolean) & { readonly source?: string };

export interface WritePolicy {
  readonly exists: ExistsAction;
  readonly generationPolicy: GenerationPolicy;
  /** The generation to compare with, for expectEqual / expectGreater. */
  readonly generation: number;
  /** -1 never expire, -2 keep the current TTL, 0 namespace default, >0 seconds. */
  readonly ttl: number;
  /** Store the user key with the record. */
  readonly sendKey: boolean;
  /** Deletes leave a tombstone so that older copies cannot come back. */
  readonly durableDelete: boolean;
  /** When given and false for an existing record, the operation fails with FILTERED_OUT. */
  readonly filter?: RecordPredicate;
  /** When the write is answered in a cluster (see NamespaceConfig.writeCommitLevel); the namespace's setting when absent. */
  readonly commitLevel?: 'all' | 'master';
  /**
   * The time (ms since the epoch, the node's clock) after which the write must not run: the
   * client has given up on it and counts it as in doubt. Without it, a write held up (a
   * forwarded request retried through a map change, a long wait for the record's lock) could
   * land after writes the same client made later, and overwrite them. A request forwarded to
   * another node carries it (cluster nodes' clocks are assumed synchronised, as last-update-time
   * conflict resolution assumes too).
   */
  readonly deadline?: number;
}

export const DEFAULT_WRITE_POLICY: WritePolicy = {
  exists: 'update',
  generationPolicy: 'none',
  generation: 0,
  ttl: 0,
  sendKey: false,
  durableDelete: false,
};

export function writePolicy(p: Partial<WritePolicy> = {}): WritePolicy {
  return { ...DEFAULT_WRITE_POLICY, ...p };
}

/**
 * Which copy of a record may serve a read (Aerospike's replica policy). The node only asks
 * whether a replica may: any value but 'master' lets a node that holds a full copy of the
 * partition (a replica not being filled by a migration) answer from it instead of forwarding
 * to the master. Which node the read goes to — round robin, in sequence, same rack first — is
 * the client's choice.
 */
export type ReplicaPolicy = 'master' | 'any' | 'sequence' | 'preferRack';

export interface ReadPolicy {
  readonly filter?: RecordPredicate;
  /** Which copy may serve the read; the master only when absent. */
  readonly replica?: ReplicaPolicy;
  /**
   * The time (ms since the epoch, the node's clock) after which the client no longer waits for
   * the answer (its call's deadline): a read forwarded to the master is not sent (again) past it
   * and waits for the master no longer than until then. Without it, the node's proxy deadline.
   */
  readonly deadline?: number;
}

/** `policy` with the time after which the client no longer waits for its read (none when `deadline` is not a finite time). */
export function readBy<P extends ReadPolicy>(policy: P, deadline: number | undefined): P {
  return deadline === undefined || !Number.isFinite(deadline) ? policy : { ...policy, deadline };
}

/** Whether the policy lets a replica serve the read. */
export function replicaMayServe(policy: ReadPolicy): boolean {
  return policy.replica !== undefined && policy.replica !== 'master';
}

/** `policy` with the time after which its write must not run (none when `deadline` is not a finite time). */
export function writeBy(policy: WritePolicy, deadline: number | undefined): WritePolicy {
  return deadline === undefined || !Number.isFinite(deadline) ? policy : { ...policy, deadline };
}

/** Refuses to run a write (or a read) whose deadline has passed (nothing was written, so it is not in doubt). */
export function checkDeadline(deadline: number | undefined, now: number, what: 'write' | 'read' = 'write'): void {
  if (deadline === undefined || now <= deadline) return;
  throw new DbError('TIMEOUT', `the request's deadline passed ${Math.round(now - deadline)} ms before its ${what} could run; ${what === 'write' ? 'nothing was written' : 'the client no longer waits for it'}`, {
    hint: 'retry (with a longer timeout if this repeats): the node was busy or the cluster was changing', inDoubt: false,
  });
}

/**
 * When a long request (an index query, an aggregation) that the client waits for until
 * `deadline` gives up, so that its own TIMEOUT — with the reason — reaches the client before the
 * client's timer fires: the deadline less a quarter of the time left, at most 1 s (the answer's
 * way back on a busy machine). The UDF calls of the gRPC API stop by the same rule.
 */
export function answerBy(deadline: number, now: number): number {
  return deadline - Math.min(1000, Math.max(0, deadline - now) / 4);
}

/**
 * The TIMEOUT of a query or aggregation whose client's deadline passed: it stopped, asked no node
 * for more, and answered nothing (a read: not in doubt).
 */
export function deadlinePassed(what: string, partial?: string): DbError {
  return new DbError('TIMEOUT', `the ${what}'s deadline passed before it finished${partial === undefined ? '' : ` (${partial})`}; its remaining work was stopped`, {
    hint: 'retry with a longer timeout, or narrow the query (a filter the index answers, fewer partitions, a LIMIT)', inDoubt: false,
  });
}

/** Checks the generation policy against an existing record's generation. */
export function checkGeneration(policy: WritePolicy, current: number | undefined): void {
  if (policy.generationPolicy === 'none' || current === undefined) return;
  if (policy.generationPolicy === 'expectEqual' && current !== policy.generation) {
    throw new DbError('GENERATION', `record generation is ${current}, expected ${policy.generation}`, {
      hint: 'read the record again and retry with its current generation',
    });
  }
  if (policy.generationPolicy === 'expectGreater' && !(policy.generation > current)) {
    throw new DbError('GENERATION', `record generation is ${current}; the write's generation ${policy.generation} is not greater`, {
      hint: 'send a generation greater than the stored one',
    });
  }
}

/** Checks the exists action against whether the record exists. */
export function checkExists(policy: WritePolicy, exists: boolean): void {
  if (policy.exists === 'createOnly' && exists) {
    throw new DbError('RECORD_EXISTS', 'the record already exists and the write is create-only', {
      hint: 'use exists action update or replace to overwrite it',
    });
  }
  if ((policy.exists === 'updateOnly' || policy.exists === 'replaceOnly') && !exists) {
    throw new DbError('NOT_FOUND', `the record does not exist and the write is ${policy.exists === 'updateOnly' ? 'update-only' : 'replace-only'}`, {
      hint: 'use exists action update or createOnly to create it',
    });
  }
}
