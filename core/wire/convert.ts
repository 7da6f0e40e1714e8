import { DbError } from '../errors/index.ts';
import { checkBinName, GeoJson, parseGeoJson, ttlOf, type BinValue, type Bins, type DbRecord, type MapKey, type RecordKey, type RecordMeta } from '../model/index.ts';
import type { Bin, Key, Record as PbRecord, RecordMeta as PbRecordMeta, Value, WritePolicy as PbWritePolicy, ReadPolicy as PbReadPolicy } from './generated/slipstream/v1/types.ts';
import { writePolicy, type WritePolicy, type ExistsAction, type GenerationPolicy, type ReplicaPolicy } from '../transaction/policy.ts';
import type { Kernel } from '../transaction/kernel.ts';
import { recordFilter } from '../query/record-filter.ts';

const MAX_DEPTH = 64;

/** A protobuf value as a bin value. Missing values are nil. */
export function fromPbValue(v: Value | undefined, depth = 0): BinValue {
  if (depth > MAX_DEPTH) throw new DbError('PARAMETER', `values nest deeper than ${MAX_DEPTH} levels`, { hint: 'flatten the value' });
  const k = v?.kind;
  if (k === undefined) return null;
  switch (k.$case) {
    case 'nil': return null;
    case 'int': return k.value;
    case 'double': return k.value;
    case 'string': return k.value;
    case 'bytes': return new Uint8Array(k.value.buffer, k.value.byteOffset, k.value.length);
    case 'bool': return k.value;
    case 'geojson': return parseGeoJson(k.value);
    case 'list': return k.value.items.map((x) => fromPbValue(x, depth + 1));
    case 'map': {
      const m = new Map<MapKey, BinValue>();
      for (const e of k.value.entries) {
        const key = fromPbValue(e.key, depth + 1);
        if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'number') {
          throw new DbError('PARAMETER', 'map keys must be strings, integers or doubles', { hint: 'use a scalar map key' });
        }
        m.set(key, fromPbValue(e.value, depth + 1));
      }
      return m;
    }
  }
}

export function toPbValue(v: BinValue): Value {
  if (v === null) return { kind: { $case: 'nil', value: {} } };
  switch (typeof v) {
    case 'bigint': return { kind: { $case: 'int', value: v } };
    case 'number': return { kind: { $case: 'double', value: v } };
    case 'string': return { kind: { $case: 'string', value: v } };
    case 'boolean': return { kind: { $case: 'bool', value: v } };
    default:
      if (v instanceof Uint8Array) return { kind: { $case: 'bytes', value: v } };
      if (v instanceof GeoJson) return { kind: { $case: 'geojson', value: v.text } };
      if (Array.isArray(v)) return { kind: { $case: 'list', value: { items: (v as readonly BinValue[]).map(toPbValue) } } };
      return { kind: { $case: 'map', value: { entries: [...(v as ReadonlyMap<MapKey, BinValue>)].map(([key, value]) => ({ key: toPbValue(key), value: toPbValue(value) })) } } };
  }
}

export function fromPbBins(bins: readonly Bin[]): Bins {
  const out: Bins = {};
  for (const b of bins) {
    if (Object.prototype.hasOwnProperty.call(out, b.name)) {
      throw new DbError('PARAMETER', `bin '${b.name}' appears twice in the request`, { hint: 'send each bin once' });
    }
    out[checkBinName(b.name)] = fromPbValue(b.value);
  }
  return out;
}

export function toPbBins(bins: Bins): Bin[] {
  return Object.entries(bins).map(([name, value]) => ({ name, value: toPbValue(value) }));
}

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

export function toPbMeta(meta: RecordMeta, nowMs: number): PbRecordMeta {
  return { generation: meta.generation, ttl: BigInt(ttlOf(meta.voidTime, nowMs)), lastUpdateMs: BigInt(Math.floor(meta.lastUpdateMs)), voidTime: meta.voidTime };
}

export function toPbRecord(rec: DbRecord, nowMs: number): PbRecord {
  return {
    key: {
      namespace: rec.key.namespace,
      set: rec.key.set,
      digest: rec.key.digest,
      partition: rec.key.partition,
      ...(rec.key.userKey === undefined ? {} : { userKey: toPbValue(rec.key.userKey) }),
    },
    meta: toPbMeta(rec.meta, nowMs),
    bins: toPbBins(rec.bins),
  };
}

const EXISTS: Record<number, ExistsAction> = { 0: 'update', 1: 'update', 2: 'updateOnly', 3: 'replace', 4: 'replaceOnly', 5: 'createOnly' };
const GEN: Record<number, GenerationPolicy> = { 0: 'none', 1: 'expectEqual', 2: 'expectGreater' };

export function fromPbWritePolicy(p: PbWritePolicy | undefined, now: () => number = Date.now): WritePolicy {
  if (p === undefined) return writePolicy();
  const exists = EXISTS[p.exists];
  if (exists === undefined) throw new DbError('PARAMETER', `unknown exists action ${p.exists}`, { hint: 'use one of the ExistsAction values' });
  const generationPolicy = GEN[p.generationPolicy];
  if (generationPolicy === undefined) throw new DbError('PARAMETER', `unknown generation policy ${p.generationPolicy}`);
  if (p.ttl < -2n || p.ttl > 0xffffffffn) throw new DbError('PARAMETER', `TTL ${p.ttl} is out of range`, { hint: 'use -1, -2, 0 or a number of seconds' });
  const commitLevel = COMMIT[p.commitLevel];
  if (commitLevel === undefined) throw new DbError('PARAMETER', `unknown commit level ${p.commitLevel}`, { hint: 'use COMMIT_LEVEL_ALL or COMMIT_LEVEL_MASTER (or leave it unset for the namespace\'s writeCommitLevel)' });
  const filter = recordFilter(p.filterJson, now);
  return writePolicy({
    exists, generationPolicy, generation: p.generation, ttl: Number(p.ttl), sendKey: p.sendKey, durableDelete: p.durableDelete,
    ...(filter === undefined ? {} : { filter }), ...(commitLevel === 'namespace' ? {} : { commitLevel }),
  });
}

const COMMIT: Record<number, 'all' | 'master' | 'namespace'> = { 0: 'namespace', 1: 'all', 2: 'master' };
const REPLICA: Record<number, ReplicaPolicy> = { 0: 'master', 1: 'master', 2: 'any', 3: 'sequence', 4: 'preferRack' };

/** The replica choice of a read policy (absent: the master only). */
export function fromPbReadPolicy(p: PbReadPolicy | undefined): { replica?: ReplicaPolicy } {
  if (p === undefined || p.replica === 0) return {};
  const replica = REPLICA[p.replica];
  if (replica === undefined) throw new DbError('PARAMETER', `unknown replica policy ${p.replica}`, { hint: 'use one of the Replica values (REPLICA_MASTER, REPLICA_ANY, REPLICA_SEQUENCE, REPLICA_PREFER_RACK)' });
  return { replica };
}

