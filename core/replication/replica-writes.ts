/**
 * Replica writes: after the master's write (under the record lock), the new version of the
 * record — or its removal — goes to every replica of the partition over the fabric
 * (message kind 'replica-write', resent under the RetransmitStrategy). With commit level
 * 'all' the master answers only when every replica confirmed; when the map changes on the way
 * (a replica refuses a message of the old membership, or a replica the write waits on leaves
 * the cluster) the write goes to the replicas of the new map. A replica that does not confirm by
 * the deadline fails the write with TIMEOUT marked in doubt: the master has it, some replicas
 * may not. The copies one turn sends to one replica travel in one request (FabricCalls' batches),
 * each applied and answered on its own. With commit level 'master' the copies are sent and not waited for. A copy a replica
 * did not confirm is sent again in the background (backing off to 2 s, for about two minutes)
 * while that node stays a replica of the partition, so copies do not stay apart until the next
 * write; a replica ignores a copy older than its own, so late copies never roll a record back.
 */
import { DbError } from '../errors/index.ts';
import { DIGEST_BYTES, partitionOf, utf8Name } from '../model/index.ts';
import type { Clock, NodeId, StoredRecord } from '../plugin-api/index.ts';
import type { CallOptions, RemoteCalls } from './remote-calls.ts';
import { hexId } from '../cluster/messages.ts';
import { asBuffer, decodeOneRecord, PAGE_HEADER, readName, recordBytes, writePageHeader, writeRecord } from './record-page.ts';

/** The new state of one record, as a replica applies it. */
export type ReplicaChange =
  | { readonly kind: 'put'; readonly record: StoredRecord }
  | { readonly kind: 'remove'; readonly digest: Uint8Array; readonly partition: number; readonly generation: number };

const PUT = 1;
const EMPTY = new Uint8Array(0);
const REMOVE = 2;

/**
 * A replica write as bytes: kind u8 (1 put, 2 remove) | namespace length u8 | namespace (UTF-8) |
 * put: the record as a one-record page (record-page.ts) | remove: digest (20) | generation u32.
 * A flat layout rather than a structured clone: this is sent once per replica for every write,
 * so it is written in one pass into one buffer (the names' bytes made once per name) and read
 * without a page object in between.
 */
export function encodeReplicaChange(namespace: string, change: ReplicaChange): Uint8Array {
  const ns = utf8Name(namespace);
  if (ns.length > 255) throw new DbError('SERVER_ERROR', `namespace name of ${ns.length} bytes cannot be sent to another node`, { hint: 'this is a bug' });
  const at = 2 + ns.length;
  if (change.kind === 'put') {
    const record = change.record;
    const set = utf8Name(record.set);
    const out = Buffer.allocUnsafe(at + PAGE_HEADER + recordBytes(record, set));
    out[0] = PUT;
    out[1] = ns.length;
    ns.copy(out, 2);
    writeRecord(out, writePageHeader(out, at, 1, true), record, set);
    return out;
  }
  if (change.digest.length !== DIGEST_BYTES) throw new DbError('SERVER_ERROR', `a digest of ${change.digest.length} bytes`, { hint: 'this is a bug' });
  const out = Buffer.allocUnsafe(at + DIGEST_BYTES + 4);
  out[0] = REMOVE;
  out[1] = ns.length;
  ns.copy(out, 2);
  out.set(change.digest, at);
  out.writeUInt32BE(change.generation, at + DIGEST_BYTES);
  return out;
}

/** The inverse of encodeReplicaChange; a record's digest, key and payload are views into `bytes`. */
export function decodeReplicaChange(bytes: Uint8Array): { namespace: string; change: ReplicaChange } {
  const buf = asBuffer(bytes);
  if (buf.length < 2 || buf.length < 2 + (buf[1] as number)) throw badChange(`${buf.length} bytes`);
  const namespace = readName(buf, 2, buf[1] as number);
  const at = 2 + (buf[1] as number);
  if (buf[0] === PUT) return { namespace, change: { kind: 'put', record: decodeOneRecord(buf, at) } };
  if (buf[0] !== REMOVE) throw badChange(`kind ${buf[0]}`);
  if (buf.length !== at + DIGEST_BYTES + 4) throw badChange(`a removal of ${buf.length} bytes`);
  const digest = new Uint8Array(buf.buffer, buf.byteOffset + at, DIGEST_BYTES);
  return { namespace, change: { kind: 'remove', digest, partition: partitionOf(digest), generation: buf.readUInt32BE(at + DIGEST_BYTES) } };
}

function badChange(why: string): DbError {
  return new DbError('SERVER_ERROR', `a replica write from another node does not decode: ${why}`, { hint: 'run the same version on every node' });
}

export interface ReplicaWriterOptions {
  readonly calls: RemoteCalls;
  readonly clock: Clock;
  /** The nodes that must get a copy of the partition's writes under the current map (never this node). */
  replicasOf(namespace: string, partition: number): readonly NodeId[];
  /** Time for every replica to confirm (default 1000 ms). */
  readonly deadlineMs?: number;
}

export interface ReplicaCounters {
  /** Writes sent to replicas (one per replica). */
  sent: number;
  /** Writes that did not reach every replica by the deadline (answered TIMEOUT, in doubt). */
  timedOut: number;
  /** Copies this node applied as a replica. */
  applied: number;
  /** Copies this node received that were older than its own (ignored). */
  stale: number;
  /** Copies confirmed late, by a background resend after the write's deadline. */
  resent: number;
  /** Copies given up on (the resend budget was full, or the replica never answered). */
  abandoned: number;
}

function firstOptions(deadlineMs: number): CallOptions {
  return { deadlineMs, fabricKind: 'replica-write', batch: true };
}

/** Copies resent in the background at once, at most. */
const MAX_RESENDING = 10_000;
/** Attempts of a background resend (backing off to 2 s: about two minutes). */
const RESEND_ATTEMPTS = 64;

export class ReplicaWriter {
  readonly counters: ReplicaCounters = { sent: 0, timedOut: 0, applied: 0, stale: 0, resent: 0, abandoned: 0 };
  readonly #o: ReplicaWriterOptions;
  #deadlineMs: number;
  /** The options of a write's first copies (the same for every write, made once). */
  #firstOptions: CallOptions;
  #resending = 0;

  constructor(options: ReplicaWriterOptions) {
    this.#o = options;
    this.#deadlineMs = options.deadlineMs ?? 1000;
    this.#firstOptions = firstOptions(this.#deadlineMs);
  }

  /** Time every replica has to confirm a write (ms). */
  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  set deadlineMs(ms: number) {
    this.#deadlineMs = ms;
    this.#firstOptions = firstOptions(ms);
  }

  /** Keeps sending a copy that `nodes` did not confirm, while they stay replicas of the partition. */
  #resend(namespace: string, partition: number, body: Uint8Array, nodes: readonly NodeId[]): void {
    if (nodes.length === 0) return;
    if (this.#resending >= MAX_RESENDING) {
      this.counters.abandoned += nodes.length;
      return;
    }
    this.#resending++;
    const { clock, calls } = this.#o;
    const run = async (): Promise<void> => {
      let todo = [...nodes];
      for (let attempt = 0; todo.length > 0 && attempt < RESEND_ATTEMPTS; attempt++) {
        await new Promise<void>((r) => clock.setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
        // a node no longer a replica gets the partition (or drops it) by migration
        const replicas = this.#o.replicasOf(namespace, partition);
        todo = todo.filter((n) => replicas.includes(n));
        const results = await Promise.allSettled(todo.map((r) => calls.call(r, 'replica.write', body, { deadlineMs: Math.max(this.#deadlineMs, 1000), fabricKind: 'replica-write' })));
        const left = todo.filter((_, i) => results[i]?.status === 'rejected');
        this.counters.resent += todo.length - left.length;
        todo = left;
      }
      this.counters.abandoned += todo.length;
    };
    run().finally(() => { this.#resending--; }).catch(() => {});
  }

  /**
   * Sends `change` to the partition's replicas; with 'all', resolves once every one has it.
   * The usual write — one replica, which confirms the first copy — takes a lean path (one call,
   * no per-write set, list or settle-all); anything else goes on with #retry, which keeps every
   * rule: another look at the map after UNAVAILABLE or a replica leaving, TIMEOUT in doubt at the
   * deadline, the copy resent in the background to whoever did not confirm.
   */
  write(namespace: string, change: ReplicaChange, commitLevel: 'all' | 'master'): Promise<void> {
    try {
      return this.#write(namespace, change, commitLevel);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #write(namespace: string, change: ReplicaChange, commitLevel: 'all' | 'master'): Promise<void> {
    const partition = change.kind === 'put' ? change.record.partition : change.partition;
    const self = this.#o.calls.localNode;
    let first = this.#o.replicasOf(namespace, partition);
    if (first.includes(self)) first = first.filter((n) => n !== self);
    if (first.length === 0) return DONE;
    const body = encodeReplicaChange(namespace, change);
    const calls = this.#o.calls;
    if (commitLevel === 'master') {
      for (const r of first) {
        this.counters.sent++;
        calls.callThen(r, 'replica.write', body, this.#firstOptions, (error) => {
          if (error === undefined) return;
          this.counters.timedOut++;
          this.#resend(namespace, partition, body, [r]);
        });
      }
      return DONE;
    }
    // the first copies take the whole deadline, the same for every write: the copies of one turn
    // to one replica then travel together (one request, one reply)
    const deadline = this.#o.clock.now() + this.#deadlineMs;
    this.counters.sent += first.length;
    if (first.length === 1) {
      const r = first[0] as NodeId;
      return new Promise<void>((resolve, reject) => {
        calls.callThen(r, 'replica.write', body, this.#firstOptions, (error) => {
          if (error === undefined) resolve();
          else this.#retry(namespace, partition, body, deadline, new Set(), [r], [error], 0).then(resolve, reject);
        });
      });
    }
    return this.#all(first, body, this.#firstOptions).then((failures) => {
      if (failures === undefined) return undefined;
      const done = new Set(first.filter((n) => !failures.nodes.includes(n)));
      return this.#retry(namespace, partition, body, deadline, done, failures.nodes, failures.reasons, 0);
    });
  }

  /** Sends `body` to every node of `todo`; the nodes that did not confirm and why, or undefined when all did. */
  async #all(todo: readonly NodeId[], body: Uint8Array, options: CallOptions): Promise<{ nodes: NodeId[]; reasons: unknown[] } | undefined> {
    const results = await Promise.allSettled(todo.map((r) => this.#o.calls.call(r, 'replica.write', body, options)));
    let failures: { nodes: NodeId[]; reasons: unknown[] } | undefined;
    results.forEach((x, i) => {
      if (x.status === 'fulfilled') return;
      failures ??= { nodes: [], reasons: [] };
      failures.nodes.push(todo[i] as NodeId);
      failures.reasons.push(x.reason);
    });
    return failures;
  }

  /**
   * After attempt `attempt` left `missing` (failed for `reasons`) and `done` confirmed: another
   * attempt on the map of the moment while it is worth one and the deadline allows, else TIMEOUT
   * in doubt, the copy resent in the background to the replicas that did not confirm.
   */
  async #retry(namespace: string, partition: number, body: Uint8Array, deadline: number, done: Set<NodeId>, missing: NodeId[], reasons: unknown[], attempt: number): Promise<void> {
    const { clock } = this.#o;
    const self = this.#o.calls.localNode;
    let lastError = asDbError(reasons[0]);
    for (;;) {
      // UNAVAILABLE (another membership) is worth another look at the map, and so is a replica
      // that left the map (it died and the cluster re-formed without it: the new map's replicas
      // get the copy instead); a TIMEOUT of a replica still in the map used the whole deadline
      const now = this.#o.replicasOf(namespace, partition);
      if (lastError.code !== 'UNAVAILABLE' && missing.every((n) => now.includes(n))) break;
      await new Promise<void>((r) => clock.setTimeout(r, Math.min(10 * 2 ** attempt, 100)));
      attempt++;
      const todo = this.#o.replicasOf(namespace, partition).filter((n) => n !== self && !done.has(n));
      if (todo.length === 0) return;
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      this.counters.sent += todo.length;
      const failures = await this.#all(todo, body, { deadlineMs: remaining, fabricKind: 'replica-write', batch: true });
      for (const n of todo) if (failures?.nodes.includes(n) !== true) done.add(n);
      if (failures === undefined) return;
      missing = failures.nodes;
      lastError = asDbError(failures.reasons[0]);
    }
    this.counters.timedOut++;
    this.#resend(namespace, partition, body, missing);
    const names = missing.map(hexId);
    throw new DbError('TIMEOUT', `the write is on the master but replica${names.length === 1 ? '' : 's'} ${names.join(', ') || '(of the previous map)'} did not confirm it within ${this.#deadlineMs} ms (${lastError.message})`, {
      hint: 'the write may or may not be kept; read the record again before retrying a non-idempotent write', inDoubt: true,
    });
  }

  /** Serves copies the masters send, applying each with `apply` (true when it changed the copy). */
  serve(apply: (namespace: string, change: ReplicaChange) => Promise<boolean>): void {
    this.#o.calls.serve('replica.write', (_from, bytes) => {
      const { namespace, change } = decodeReplicaChange(bytes);
      return apply(namespace, change).then(this.#counted);
    });
  }

  /** Counts an applied (or stale) copy and answers it: one function for every copy, not a closure each. */
  readonly #counted = (changed: boolean): Uint8Array => {
    if (changed) this.counters.applied++;
    else this.counters.stale++;
    return EMPTY;
  };
}

const DONE: Promise<void> = Promise.resolve();

function asDbError(reason: unknown): DbError {
  return reason instanceof DbError ? reason : new DbError('SERVER_ERROR', String(reason));
}
