/** Client values to and from their protobuf messages: keys (read keys hashed here), write policies, records, metadata. */
import { DbError } from '../errors/index.ts';
import type { Expr } from '../query/expr/ast.ts';
import { exprToJsonText } from '../query/expr/json.ts';
import { checkInt64, computeDigest } from '../model/index.ts';
import type { Key as PbKey, RecordMeta as PbRecordMeta, Record as PbRecord, WritePolicy as PbWritePolicy, ReadPolicy as PbReadPolicy } from '../wire/generated/slipstream/v1/types.ts';
import { fromPbValue, toPbValue, fromPbBins } from '../wire/convert.ts';
import type { ExistsAction, GenerationPolicy } from '../transaction/policy.ts';
import type { ClientKey, ClientRecord, ClientRecordMeta, ClientReplica, ClientWritePolicy } from './types.ts';

/** A client key as its protobuf message (for calls through {@link SlipstreamClient.unary}). */
export function toPbKey(k: ClientKey): PbKey {
  const base = { namespace: k.namespace, set: k.set ?? '' };
  if (k.digest !== undefined) return { ...base, id: { $case: 'digest', value: k.digest } };
  const key = k.key;
  if (key === undefined) throw new DbError('CLIENT_PARAM', 'a key needs key or digest');
  if (typeof key === 'bigint') return { ...base, id: { $case: 'intKey', value: checkInt64(key, 'integer key') } };
  if (typeof key === 'number') return { ...base, id: { $case: 'intKey', value: checkInt64(BigInt(key), 'integer key') } };
  if (typeof key === 'string') return { ...base, id: { $case: 'stringKey', value: key } };
  return { ...base, id: { $case: 'bytesKey', value: key } };
}

const EXISTS_PB: Record<ExistsAction, number> = { update: 1, updateOnly: 2, replace: 3, replaceOnly: 4, createOnly: 5 };
const GEN_PB: Record<GenerationPolicy, number> = { none: 0, expectEqual: 1, expectGreater: 2 };

/**
 * The key of a read: its digest, computed here as Aerospike's clients do, so the server does
 * not hash (reads need no user key; writes send it, for send-key).
 */
export function toPbReadKey(k: ClientKey): PbKey {
  if (k.digest !== undefined || k.key === undefined) return toPbKey(k);
  const key = typeof k.key === 'number' ? BigInt(k.key) : k.key;
  if (typeof key === 'bigint') checkInt64(key, 'integer key');
  if (typeof key === 'string' && key.length === 0) return toPbKey(k); // let the server explain
  return { namespace: k.namespace, set: k.set ?? '', id: { $case: 'digest', value: computeDigest(k.set ?? '', key) } };
}

export function filterText(e: Expr | undefined): string {
  return e === undefined ? '' : exprToJsonText(e);
}

export function toPbPolicy(p: ClientWritePolicy): PbWritePolicy {
  return {
    exists: EXISTS_PB[p.exists ?? 'update'] as PbWritePolicy['exists'],
    generationPolicy: GEN_PB[p.generationPolicy ?? 'none'] as PbWritePolicy['generationPolicy'],
    generation: p.generation ?? 0,
    ttl: BigInt(p.ttl ?? 0),
    sendKey: p.sendKey ?? false,
    durableDelete: p.durableDelete ?? false,
    filterJson: filterText(p.filter),
    commitLevel: p.commitLevel === undefined ? 0 : COMMIT_PB[p.commitLevel] ?? badCommitLevel(p.commitLevel),
  };
}

const COMMIT_PB: Record<string, PbWritePolicy['commitLevel']> = { all: 1, master: 2 };
const REPLICA_PB: Record<string, PbReadPolicy['replica']> = { master: 1, any: 2, sequence: 3, preferRack: 4 };

function badCommitLevel(v: unknown): never {
  throw new DbError('CLIENT_PARAM', `unknown commit level ${JSON.stringify(v)}`, { hint: "use 'all' or 'master'" });
}

/** A replica choice as its protobuf read policy (undefined: the server's default, the master). */
export function toPbReadPolicy(replica: ClientReplica | undefined): PbReadPolicy | undefined {
  if (replica === undefined) return undefined;
  const r = REPLICA_PB[replica];
  if (r === undefined) throw new DbError('CLIENT_PARAM', `unknown replica policy ${JSON.stringify(replica)}`, { hint: "use 'master', 'any', 'sequence' or 'preferRack'" });
  return { replica: r };
}

export function fromPbMeta(m: PbRecordMeta | undefined): ClientRecordMeta {
  return { generation: m?.generation ?? 0, ttl: Number(m?.ttl ?? 0n), lastUpdateMs: Number(m?.lastUpdateMs ?? 0n), voidTime: m?.voidTime ?? 0 };
}

export function fromPbRecord(r: PbRecord | undefined): ClientRecord {
  if (r === undefined || r.key === undefined) throw new DbError('CLIENT_ERROR', 'the server sent a record without a key');
  return {
    namespace: r.key.namespace,
    set: r.key.set,
    digest: r.key.digest,
    partition: r.key.partition,
    userKey: r.key.userKey === undefined ? undefined : fromPbValue(r.key.userKey),
    meta: fromPbMeta(r.meta),
    bins: fromPbBins(r.bins),
  };
}

export { toPbValue, fromPbValue };
