/**
 * gRPC requests → kernel terms: a request's key as a kernel key (digest and partition computed
 * by the kernel that serves it), a request's write policy with its filter expression compiled,
 * a read policy's replica choice.
 * The model-level conversions both sides share are in core/wire/convert.ts.
 */
import { DbError } from '../../errors/index.ts';
import type { RecordKey } from '../../model/index.ts';
import type { Key, ReadPolicy as PbReadPolicy, WritePolicy as PbWritePolicy } from '../../wire/generated/slipstream/v1/types.ts';
import { readBy, writeBy, writePolicy, type WritePolicy, type ExistsAction, type GenerationPolicy, type ReplicaPolicy } from '../../transaction/policy.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import { recordFilter } from '../../query/record-filter.ts';

/** A request key as a kernel key. */
export function fromPbKey(kernel: Kernel, key: Key | undefined): RecordKey {
  if (key === undefined) throw new DbError('PARAMETER', 'the request has no key', { hint: 'set key.namespace, key.set and one of int_key, string_key, bytes_key or digest' });
  const id = key.id;
  if (id === undefined) throw new DbError('PARAMETER', 'the key has no id', { hint: 'set one of int_key, string_key, bytes_key or digest' });
  switch (id.$case) {
    case 'digest': return kernel.keyFromDigest(key.namespace, key.set, id.value);
    case 'intKey': case 'stringKey': case 'bytesKey': return kernel.key(key.namespace, key.set, id.value);
  }
}

const EXISTS: Record<number, ExistsAction> = { 0: 'update', 1: 'update', 2: 'updateOnly', 3: 'replace', 4: 'replaceOnly', 5: 'createOnly' };
const GEN: Record<number, GenerationPolicy> = { 0: 'none', 1: 'expectEqual', 2: 'expectGreater' };

/**
 * The write policy of a request with the call's deadline (`call.getDeadline()`) as the write's
 * (see WritePolicy.deadline): a write the client has given up on never runs after it.
 */
export function callWritePolicy(p: PbWritePolicy | undefined, deadline: Date | number, now: () => number = Date.now): WritePolicy {
  return writeBy(fromPbWritePolicy(p, now), callDeadline(deadline, now));
}

/** The call's deadline on the node's clock (the one the kernel checks it with); Infinity without one. */
export function callDeadline(deadline: Date | number, now: () => number = Date.now): number {
  return now() + (deadline instanceof Date ? deadline.getTime() : deadline) - Date.now();
}

/**
 * The read policy of a request with the call's deadline as the read's (see ReadPolicy.deadline):
 * a read forwarded to its master waits no longer than the client does.
 */
export function callReadPolicy(p: PbReadPolicy | undefined, deadline: Date | number, now: () => number = Date.now): { replica?: ReplicaPolicy; deadline?: number } {
  return readBy(fromPbReadPolicy(p), callDeadline(deadline, now));
}

export function fromPbWritePolicy(p: PbWritePolicy | undefined, now: () => number = Date.now): WritePolicy {
  if (p === undefined) return writePolicy();
  const exists = EXISTS[p.exists];
  if (exists === undefined) throw new DbError('PARAMETER', `unknown exists action ${p.exists}`, { hint: 'use one of the ExistsAction values' });
  const generationPolicy = GEN[p.generationPolicy];
  if (generationPolicy === undefined) throw new DbError('PARAMETER', `unknown generation policy ${p.generationPolicy}`);
  if (p.ttl < -2n || p.ttl > 0xffffffffn) throw new DbError('PARAMETER', `TTL ${p.ttl} is out of range`, { hint: 'use -1, -2, 0 or a number of seconds' });
  const commitLevel = COMMIT[p.commitLevel];
  if (commitLevel === undefined) throw new DbError('PARAMETER', `unknown commit level ${p.commitLevel}`, { hint: 'use COMMIT_LEVEL_ALL or COMMIT_LEVEL_MASTER (or leave it unset for the namespace\'s writeCommitLevel)' });
  if (p.generation !== 0 && generationPolicy === 'none') {
    throw new DbError('PARAMETER', `generation ${p.generation} is sent without a generation policy, so it would not be compared`, {
      hint: 'set generation_policy (EXPECT_EQUAL or EXPECT_GREATER) with the generation, or leave generation out',
    });
  }
  const filter = recordFilter(p.filterJson, now);
  return writePolicy({
    exists, generationPolicy, generation: p.generation, ttl: Number(p.ttl), sendKey: p.sendKey, durableDelete: p.durableDelete,
    ...(filter === undefined ? {} : { filter }), ...(commitLevel === 'namespace' ? {} : { commitLevel }),
  });
}

/**
 * The write policy fields, as their proto names, and whether a request set them to something
 * other than the default (an exists action of UPDATE is the default, which clients send).
 */
const POLICY_FIELDS: ReadonlyArray<readonly [WritePolicyField, (p: PbWritePolicy) => boolean]> = [
  ['exists', (p) => p.exists > 1], ['generation_policy', (p) => p.generationPolicy !== 0], ['generation', (p) => p.generation !== 0],
  ['ttl', (p) => p.ttl !== 0n], ['send_key', (p) => p.sendKey], ['durable_delete', (p) => p.durableDelete],
  ['filter_json', (p) => p.filterJson !== ''], ['commit_level', (p) => p.commitLevel !== 0],
];

export type WritePolicyField = 'exists' | 'generation_policy' | 'generation' | 'ttl' | 'send_key' | 'durable_delete' | 'filter_json' | 'commit_level';

/**
 * Refuses the write-policy fields a request cannot honour (an exists action on a delete, a TTL
 * on a delete, a send-key on a job that visits records without their keys …): set, they would
 * be ignored, so they fail with PARAMETER naming them.
 */
export function refusePolicyFields(p: PbWritePolicy | undefined, refused: readonly WritePolicyField[], what: string): void {
  if (p === undefined) return;
  const set = POLICY_FIELDS.filter(([name, isSet]) => refused.includes(name) && isSet(p)).map(([name]) => name);
  if (set.length > 0) {
    throw new DbError('PARAMETER', `${what} takes no ${set.join(', ')} in its policy`, { hint: `leave ${set.join(', ')} out of the policy: ${what} would not use ${set.length === 1 ? 'it' : 'them'}` });
  }
}

/** What a background job (operations or UDF) cannot use: no generation to compare across records, no key to send. */
export const JOB_REFUSES: readonly WritePolicyField[] = ['generation_policy', 'generation', 'send_key'];
/** What a record UDF cannot use: the function decides whether it creates the record. */
export const RECORD_UDF_REFUSES: readonly WritePolicyField[] = ['exists'];

const COMMIT: Record<number, 'all' | 'master' | 'namespace'> = { 0: 'namespace', 1: 'all', 2: 'master' };
const REPLICA: Record<number, ReplicaPolicy> = { 0: 'master', 1: 'master', 2: 'any', 3: 'sequence', 4: 'preferRack' };

/** The replica choice of a read policy (absent: the master only). */
export function fromPbReadPolicy(p: PbReadPolicy | undefined): { replica?: ReplicaPolicy } {
  if (p === undefined || p.replica === 0) return {};
  const replica = REPLICA[p.replica];
  if (replica === undefined) throw new DbError('PARAMETER', `unknown replica policy ${p.replica}`, { hint: 'use one of the Replica values (REPLICA_MASTER, REPLICA_ANY, REPLICA_SEQUENCE, REPLICA_PREFER_RACK)' });
  return { replica };
}
