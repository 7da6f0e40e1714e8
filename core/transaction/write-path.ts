/**
 * The kernel's write path: the one read-modify-write step under the record's lock (policies,
 * generation, TTL, send-key, durable delete), and put, delete and touch on top of it.
 */
import { DbError } from '../errors/index.ts';
import type { StoredRecord, WriteExpectation } from '../plugin-api/index.ts';
import { checkBinName, checkValueDepth, decodeBins, encodeBins, encodeUserKey, type BinValue, type Bins, type RecordKey, type RecordMeta } from '../model/index.ts';
import type { Namespace } from '../storage/namespace.ts';
import { checkDeadline, checkExists, checkGeneration, DEFAULT_WRITE_POLICY, type WritePolicy } from './policy.ts';
import { emit, filteredOut, lockKeyOf, notFound, route, settleCopy, storedKey, type KernelState } from './kernel-state.ts';
import type { CurrentRecord, Mutation } from './kernel-types.ts';
import type { ReplicaChange, ReplicaWriter } from '../replication/replica-writes.ts';
import { andThen, Later, settled, type Maybe } from './maybe-async.ts';

/**
 * The one read-modify-write path: reads the record under its lock, applies the policy's
 * checks, lets `step` decide the mutation, then writes it. Each step runs as soon as the one
 * before it is done (maybe-async.ts): with an engine that answers at once, a write is read,
 * decided and stored in the caller's turn. A write with replicas then waits for one promise,
 * their confirmation, and what follows it (the lock's release, the caller's answer) is composed
 * onto that promise (a Later): it all runs in the microtask the confirmation comes in.
 */
export function mutate<T>(
  s: KernelState,
  key: RecordKey,
  policy: WritePolicy,
  step: (current: CurrentRecord | undefined) => Maybe<{ mutation: Mutation; value: T }>,
): Promise<{ meta: RecordMeta | undefined; value: T }> {
  return settled(() => mutateMaybe(s, key, policy, step));
}

/**
 * `mutate` answering directly when every step did (a free record in a memory namespace): its
 * outcome, or its throw, in the caller's turn; a promise otherwise.
 */
export function mutateMaybe<T>(
  s: KernelState,
  key: RecordKey,
  policy: WritePolicy,
  step: (current: CurrentRecord | undefined) => Maybe<{ mutation: Mutation; value: T }>,
): Maybe<{ meta: RecordMeta | undefined; value: T }> {
  const ns = route(s, key);
  const locked = (): Maybe<{ meta: RecordMeta | undefined; value: T }> => mutateLocked(s, ns, key, policy, step);
  const settling = settleCopy(s, key);
  if (settling === undefined) return s.locks.run(lockKeyOf(key.namespace, key.digest), locked);
  return settling.then(() => s.locks.run(lockKeyOf(key.namespace, key.digest), locked));
}

function mutateLocked<T>(
  s: KernelState,
  ns: Namespace,
  key: RecordKey,
  policy: WritePolicy,
  step: (current: CurrentRecord | undefined) => Maybe<{ mutation: Mutation; value: T }>,
): Maybe<{ meta: RecordMeta | undefined; value: T }> {
  checkDeadline(policy.deadline, s.clock.now());
  return andThen(ns.engine.get(key.digest), (stored) => {
    const now = s.clock.now();
    const live = stored !== undefined && ns.isVisible(stored, now) ? stored : undefined;
    if (stored !== undefined && live === undefined && !stored.tombstone) {
      // an expired or truncated record is still stored: listeners (indexes) drop what it held
      emit(s, { namespace: ns.name, set: stored.set, digest: key.digest, before: decodeBins(stored.payload), after: undefined, meta: undefined, cause: 'expire' });
    }
    checkGeneration(policy, live?.meta.generation);
    const current: CurrentRecord | undefined = live === undefined ? undefined : {
      key: storedKey(key, live),
      bins: decodeBins(live.payload),
      meta: live.meta,
    };
    if (policy.filter !== undefined && current !== undefined && !policy.filter(current)) throw filteredOut();
    return andThen(step(current), ({ mutation, value }) => {
      if (mutation.kind !== 'none') checkDeadline(policy.deadline, s.clock.now());
      return andThen(apply(s, ns, key, policy, stored, current, mutation, now), ({ meta, written }) => {
        if (s.replicas === undefined || mutation.kind === 'none') return { meta, value };
        return Later.of(replicate(s.replicas, ns, key, policy, stored, written)).map(() => ({ meta, value }));
      });
    });
  });
}

/**
 * The new version (what the write stored: `written`, a tombstone included) or the record's
 * removal goes to every replica before the client hears of it.
 */
function replicate(replicas: ReplicaWriter, ns: Namespace, key: RecordKey, policy: WritePolicy, stored: StoredRecord | undefined, written: StoredRecord | undefined): Promise<void> {
  const change: ReplicaChange = written !== undefined
    ? { kind: 'put', record: written }
    : { kind: 'remove', digest: key.digest, partition: key.partition, generation: stored?.meta.generation ?? 0 };
  return replicas.write(ns.name, change, policy.commitLevel ?? ns.config.writeCommitLevel ?? 'all');
}

/** What a mutation left: the record's metadata (undefined once removed) and the record it stored (undefined when it removed it or changed nothing). */
interface Applied {
  readonly meta: RecordMeta | undefined;
  readonly written?: StoredRecord;
}

function apply(
  s: KernelState, ns: Namespace, key: RecordKey, policy: WritePolicy, stored: StoredRecord | undefined,
  current: CurrentRecord | undefined, mutation: Mutation, now: number,
): Maybe<Applied> {
  // Under the record lock the engine's check is a safety net: a stored record that is
  // invisible (expired, truncated, tombstone) is replaced as if absent.
  const casExpect: WriteExpectation = stored === undefined
    ? { kind: 'absent' }
    : current === undefined ? { kind: 'any' } : { kind: 'generation', equals: stored.meta.generation };
  switch (mutation.kind) {
    case 'none':
      return { meta: current?.meta };
    case 'touch': {
      if (current === undefined || stored === undefined) throw notFound();
      const meta: RecordMeta = {
        generation: nextGeneration(current.meta.generation),
        voidTime: ns.voidTimeFor(mutation.ttl ?? policy.ttl, now, current.meta.voidTime),
        lastUpdateMs: now,
      };
      const written: StoredRecord = { ...stored, meta };
      return andThen(store(ns, written, casExpect), () => {
        s.counters.writes++;
        emit(s, { namespace: ns.name, set: stored.set, digest: key.digest, before: current.bins, after: current.bins, meta, cause: 'write' });
        return { meta, written };
      });
    }
    case 'delete': {
      if (current === undefined || stored === undefined) throw notFound();
      const removed = (written?: StoredRecord): Applied => {
        s.counters.deletes++;
        emit(s, { namespace: ns.name, set: stored.set, digest: key.digest, before: current.bins, after: undefined, meta: undefined, cause: 'delete' });
        return written === undefined ? { meta: undefined } : { meta: undefined, written };
      };
      if (policy.durableDelete) {
        const meta: RecordMeta = { generation: nextGeneration(current.meta.generation), voidTime: 0, lastUpdateMs: now };
        const tombstone: StoredRecord = { ...stored, meta, payload: new Uint8Array(0), tombstone: true };
        return andThen(store(ns, tombstone, casExpect), () => removed(tombstone));
      }
      return andThen(ns.engine.remove(key.digest, casExpect), (out) => {
        if (!out.ok) throw new DbError('SERVER_ERROR', `storage refused a locked delete (${out.reason})`);
        return removed();
      });
    }
    case 'write': {
      const bins: Bins = {};
      let kept = 0;
      for (const name in mutation.bins) {
        const v = mutation.bins[name] as BinValue | null;
        checkBinName(name);
        if (v !== null) {
          checkValueDepth(v, `bin '${name}'`);
          bins[name] = v;
          kept++;
        }
      }
      if (kept === 0) {
        // Aerospike: a write that leaves no bins deletes the record.
        if (current === undefined) {
          throw new DbError('PARAMETER', 'the write has no bins with values, so there is no record to create', { hint: 'give at least one bin a non-nil value' });
        }
        return apply(s, ns, key, policy, stored, current, { kind: 'delete' }, now);
      }
      const payload = encodeBins(bins);
      const limit = Math.min(ns.config.maxRecordBytes, ns.engine.capabilities.maxRecordBytes);
      if (payload.length > limit) {
        throw new DbError('RECORD_TOO_BIG', `the record would be ${payload.length} bytes; namespace '${ns.name}' allows ${limit}`, {
          hint: 'store less per record (split it over several keys) or raise max-record-size',
        });
      }
      // Generations stay monotonic across a durable delete: the tombstone's generation counts.
      const base = current !== undefined ? current.meta.generation : stored?.tombstone === true ? stored.meta.generation : 0;
      // A restore writes the metadata it was given (restore.ts); every other write computes it.
      const meta: RecordMeta = mutation.meta ?? {
        generation: nextGeneration(base),
        voidTime: ns.voidTimeFor(mutation.ttl ?? policy.ttl, now, current?.meta.voidTime),
        lastUpdateMs: now,
      };
      const storedKey = policy.sendKey && key.userKey !== undefined
        ? encodeUserKey(key.userKey)
        : (current !== undefined ? stored?.key : undefined);
      const set = current !== undefined ? (stored as StoredRecord).set : key.set;
      const written: StoredRecord = { digest: key.digest, partition: key.partition, set, meta, key: storedKey, payload, tombstone: false };
      return andThen(store(ns, written, casExpect), () => {
        s.counters.writes++;
        let names = s.binNameSets.get(ns.name);
        if (names === undefined) s.binNameSets.set(ns.name, names = new Set());
        for (const b in bins) names.add(b);
        emit(s, { namespace: ns.name, set, digest: key.digest, before: current?.bins, after: bins, meta, cause: 'write' });
        return { meta, written };
      });
    }
  }
}

export function store(ns: Namespace, rec: StoredRecord, expect: WriteExpectation): Maybe<void> {
  return andThen(ns.engine.put(rec, expect), (out) => {
    if (!out.ok) throw new DbError('SERVER_ERROR', `storage refused a locked write (${out.reason})`, { hint: 'this is a storage engine bug; report it' });
  });
}

/**
 * Writes bins with the policy's exists action (update merges, replace replaces). Returns
 * the new metadata, or undefined when the write left no bins and so deleted the record.
 */
export function put(s: KernelState, key: RecordKey, bins: Bins, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta | undefined> {
  return settled(() => putMaybe(s, key, bins, policy));
}

/** `put` answering directly when the engine does (see mutateMaybe); a throw is thrown. */
export function putMaybe(s: KernelState, key: RecordKey, bins: Bins, policy: WritePolicy = DEFAULT_WRITE_POLICY): Maybe<RecordMeta | undefined> {
  for (const name in bins) checkBinName(name);
  return andThen(mutateMaybe(s, key, policy, (cur) => {
    checkExists(policy, cur !== undefined);
    const merged: Bins = policy.exists === 'replace' || policy.exists === 'replaceOnly' || policy.exists === 'createOnly' || cur === undefined
      ? { ...bins }
      : { ...cur.bins, ...bins };
    return { mutation: { kind: 'write', bins: merged }, value: undefined };
  }), metaOf);
}

/** Deletes a record; throws NOT_FOUND when there is none. */
export function remove(s: KernelState, key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<void> {
  return mutate(s, key, policy, () => ({ mutation: { kind: 'delete' }, value: undefined })).then(() => undefined);
}

/** Resets the TTL and bumps the generation; throws NOT_FOUND when there is no record. */
export function touch(s: KernelState, key: RecordKey, policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<RecordMeta> {
  return mutate(s, key, policy, () => ({ mutation: { kind: 'touch' }, value: undefined })).then((r) => metaOf(r) as RecordMeta);
}

const metaOf = (r: { meta: RecordMeta | undefined }): RecordMeta | undefined => r.meta;

/** Generations count up and skip 0 when they wrap (0 means "no record"). */
function nextGeneration(gen: number): number {
  return gen >= 0xffffffff ? 1 : gen + 1;
}
