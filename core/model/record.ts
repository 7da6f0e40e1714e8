import { GeoJson, Hll, type BinValue, type Bins } from './values.ts';
import type { RecordKey } from './key.ts';

/** Seconds since the Unix epoch when the record expires; 0 means never. */
export type VoidTime = number;

export interface RecordMeta {
  readonly generation: number;
  readonly voidTime: VoidTime;
  /** Last update time, milliseconds since the Unix epoch. */
  readonly lastUpdateMs: number;
}

/** A record as the kernel hands it out. */
export interface DbRecord {
  readonly key: RecordKey;
  readonly meta: RecordMeta;
  readonly bins: Bins;
}

/**
 * The stored size (encoded bins, bytes) of records read from storage, kept beside the record
 * rather than in it (records are compared and copied field by field in many places). The record
 * size expression reads it; a record built any other way has none and the size is computed from
 * its bins.
 */
const storedSizes = new WeakMap<DbRecord, number>();

export function setStoredSize(rec: DbRecord, bytes: number): DbRecord {
  storedSizes.set(rec, bytes);
  return rec;
}

export function storedSizeOf(rec: DbRecord): number | undefined {
  return storedSizes.get(rec);
}

/** TTL special values as Aerospike has them. */
export const TTL_NEVER_EXPIRE = -1;
export const TTL_DONT_UPDATE = -2;
export const TTL_NAMESPACE_DEFAULT = 0;

/** Remaining seconds to live for a void time: -1 for never. */
export function ttlOf(voidTime: VoidTime, nowMs: number): number {
  if (voidTime === 0) return -1;
  return Math.max(0, voidTime - Math.floor(nowMs / 1000));
}

export function isExpired(voidTime: VoidTime, nowMs: number): boolean {
  return voidTime !== 0 && voidTime * 1000 <= nowMs;
}

/** A cheap estimate of a value's encoded size, bytes. */
export function approxValueBytes(v: BinValue): number {
  if (typeof v === 'string') return 8 + v.length;
  if (v instanceof Uint8Array) return 8 + v.length;
  if (v instanceof GeoJson) return 8 + v.text.length;
  if (v instanceof Hll) return 8 + v.bytes.length;
  if (Array.isArray(v)) { let s = 4; for (const x of v as readonly BinValue[]) s += approxValueBytes(x); return s; }
  if (v instanceof Map) { let s = 4; for (const [k, x] of v as ReadonlyMap<BinValue, BinValue>) s += approxValueBytes(k) + approxValueBytes(x); return s; }
  return 12;
}

/** A cheap estimate of a record's encoded size, bytes (for packing stream messages, bounding what a query holds). */
export function approxRecordBytes(rec: { readonly bins: Bins }): number {
  let n = 64;
  for (const name in rec.bins) n += name.length + 4 + approxValueBytes(rec.bins[name] as BinValue);
  return n;
}
