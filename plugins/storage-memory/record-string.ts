import type { StoredMeta, StoredRecord } from 'slipstream/plugin-api';
import { partitionOf, utf8Name } from 'slipstream/plugin-api';

/**
 * A stored record packed into one one-byte (latin1) string. V8 keeps such a string in
 * 16 bytes of header plus its length, which is far cheaper than an object holding a
 * Uint8Array (a typed array alone costs ~100 bytes of V8 bookkeeping).
 *
 * layout: flags u8 | generation u32 | voidTime u32 | lastUpdateMs f64 | setLen u8 | set |
 *         [keyLen u16 | key] | payload
 */
const F_TOMBSTONE = 1;
const F_KEY = 2;
const HEADER = 1 + 4 + 4 + 8 + 1;

/** Where a record of up to SCRATCH_BYTES is laid out before it becomes a string (reused; larger ones get their own). */
const SCRATCH_BYTES = 64 * 1024;
const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

export function packRecord(rec: StoredRecord): string {
  const set = utf8Name(rec.set);
  const keyLen = rec.key === undefined ? 0 : 2 + rec.key.length;
  const size = HEADER + set.length + keyLen + rec.payload.length;
  const buf = size <= SCRATCH_BYTES ? scratch : Buffer.allocUnsafe(size);
  buf[0] = (rec.tombstone ? F_TOMBSTONE : 0) | (rec.key === undefined ? 0 : F_KEY);
  buf.writeUInt32LE(rec.meta.generation, 1);
  buf.writeUInt32LE(rec.meta.voidTime, 5);
  buf.writeDoubleLE(rec.meta.lastUpdateMs, 9);
  buf[17] = set.length;
  set.copy(buf, HEADER);
  let pos = HEADER + set.length;
  if (rec.key !== undefined) {
    buf.writeUInt16LE(rec.key.length, pos);
    buf.set(rec.key, pos + 2);
    pos += keyLen;
  }
  buf.set(rec.payload, pos);
  return buf.toString('latin1', 0, size);
}

/** A packed record as a StoredRecord; `digest` is the caller's (not copied) when it has one. */
export function unpackRecord(digestKey: string, packed: string, digestBytes?: Uint8Array): StoredRecord {
  const buf = Buffer.from(packed, 'latin1');
  const digest = digestBytes ?? new Uint8Array(Buffer.from(digestKey, 'latin1'));
  const flags = buf[0] as number;
  const setLen = buf[17] as number;
  let pos = HEADER + setLen;
  let key: Uint8Array | undefined;
  if ((flags & F_KEY) !== 0) {
    const n = buf.readUInt16LE(pos);
    key = buf.subarray(pos + 2, pos + 2 + n);
    pos += 2 + n;
  }
  return {
    digest,
    partition: partitionOf(digest),
    set: packedSet(packed),
    meta: { generation: buf.readUInt32LE(1), voidTime: buf.readUInt32LE(5), lastUpdateMs: buf.readDoubleLE(9) },
    key,
    payload: buf.subarray(pos),
    tombstone: (flags & F_TOMBSTONE) !== 0,
  };
}

/** Where packedMeta reads the unsigned and floating-point fields (8 bytes, reused). */
const fields = Buffer.allocUnsafe(8);

/** A packed record's u32 at `at` (little-endian), read off the string. */
function packedU32(packed: string, at: number): number {
  return (packed.charCodeAt(at) | (packed.charCodeAt(at + 1) << 8) | (packed.charCodeAt(at + 2) << 16)) + packed.charCodeAt(at + 3) * 0x1000000;
}

/** A packed record's set, metadata and tombstone flag, read off the string: no copy of the record, its key or its payload. */
export function packedMeta(packed: string): StoredMeta {
  for (let i = 0; i < 8; i++) fields[i] = packed.charCodeAt(9 + i);
  return {
    set: packedSet(packed),
    meta: { generation: packedU32(packed, 1), voidTime: packedU32(packed, 5), lastUpdateMs: fields.readDoubleLE(0) },
    tombstone: packedTombstone(packed),
  };
}

/**
 * Whether two packed records count alike in the per-set statistics: both records (not
 * tombstones) of the same set, compared in place.
 */
export function sameSetRecord(a: string, b: string): boolean {
  if (packedTombstone(a) || packedTombstone(b)) return false;
  const setLen = a.charCodeAt(17);
  if (b.charCodeAt(17) !== setLen) return false;
  for (let i = HEADER; i < HEADER + setLen; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

/** Whether a packed record is a tombstone (read off the string, no copy). */
export function packedTombstone(packed: string): boolean {
  return (packed.charCodeAt(0) & F_TOMBSTONE) !== 0;
}

/** A packed record's generation (read off the string, no copy). */
export function packedGeneration(packed: string): number {
  return packedU32(packed, 1);
}

/** A packed record's set name (an ASCII name is the string's own slice, no decode). */
export function packedSet(packed: string): string {
  const setLen = packed.charCodeAt(17);
  if (setLen === 0) return '';
  for (let i = HEADER; i < HEADER + setLen; i++) {
    if (packed.charCodeAt(i) >= 128) return Buffer.from(packed.slice(HEADER, HEADER + setLen), 'latin1').toString('utf8');
  }
  return packed.slice(HEADER, HEADER + setLen);
}

/** Reads only what truncate and stats need, without building a record. */
export function packedInfo(packed: string): { tombstone: boolean; generation: number; lastUpdateMs: number; set: string } {
  const head = Buffer.from(packed.slice(9, 17), 'latin1');
  return {
    tombstone: packedTombstone(packed),
    generation: packedGeneration(packed),
    lastUpdateMs: head.readDoubleLE(0),
    set: packedSet(packed),
  };
}
