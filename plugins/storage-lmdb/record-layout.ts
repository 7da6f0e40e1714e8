import type { StoredMeta, StoredRecord } from 'slipstream/plugin-api';
import { partitionOf } from 'slipstream/plugin-api';

/**
 * On-disk layout of the LMDB engine.
 *
 * key   (22 bytes): partition u16 big-endian ‖ digest (20 bytes). LMDB orders keys by memcmp,
 *                   so a range read yields partition-then-ascending-digest order, and one
 *                   partition is one contiguous key range.
 * value           : version u8 (1) | flags u8 | generation u32 | voidTime u32 | lastUpdateMs f64 |
 *                   setLen u8 | set (utf8) | [keyLen u16 | key] | payload      (little-endian)
 */
export const KEY_BYTES = 22;
export const FORMAT_VERSION = 1;
const F_TOMBSTONE = 1;
const F_KEY = 2;
/** Bytes before the set name. */
export const HEADER = 1 + 1 + 4 + 4 + 8 + 1;

export function recordKey(digest: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(KEY_BYTES);
  k.writeUInt16BE(partitionOf(digest), 0);
  k.set(digest.subarray(0, 20), 2);
  return k;
}

/** The first key of a partition, or of the partition after the last one (4096). */
export function partitionStart(pid: number): Buffer {
  const k = Buffer.alloc(2);
  k.writeUInt16BE(pid, 0);
  return k;
}

export function encodeValue(rec: StoredRecord): Buffer {
  const set = Buffer.from(rec.set, 'utf8');
  const keyLen = rec.key === undefined ? 0 : 2 + rec.key.length;
  const payload = rec.tombstone ? EMPTY : rec.payload;
  const buf = Buffer.allocUnsafe(HEADER + set.length + keyLen + payload.length);
  buf[0] = FORMAT_VERSION;
  buf[1] = (rec.tombstone ? F_TOMBSTONE : 0) | (rec.key === undefined ? 0 : F_KEY);
  buf.writeUInt32LE(rec.meta.generation >>> 0, 2);
  buf.writeUInt32LE(rec.meta.voidTime >>> 0, 6);
  buf.writeDoubleLE(rec.meta.lastUpdateMs, 10);
  buf[18] = set.length;
  set.copy(buf, HEADER);
  let pos = HEADER + set.length;
  if (rec.key !== undefined) {
    buf.writeUInt16LE(rec.key.length, pos);
    buf.set(rec.key, pos + 2);
    pos += keyLen;
  }
  buf.set(payload, pos);
  return buf;
}

const EMPTY = new Uint8Array(0);

/** Decodes a stored value; `value` must not be a buffer LMDB will reuse. */
export function decodeRecord(key: Uint8Array, value: Buffer): StoredRecord {
  checkVersion(value);
  const digest = new Uint8Array(key.subarray(2, KEY_BYTES));
  const flags = value[1] as number;
  const setLen = value[18] as number;
  let pos = HEADER + setLen;
  let userKey: Uint8Array | undefined;
  if ((flags & F_KEY) !== 0) {
    const n = value.readUInt16LE(pos);
    userKey = new Uint8Array(value.buffer, value.byteOffset + pos + 2, n);
    pos += 2 + n;
  }
  return {
    digest,
    partition: partitionOf(digest),
    set: value.toString('utf8', HEADER, HEADER + setLen),
    meta: { generation: value.readUInt32LE(2), voidTime: value.readUInt32LE(6), lastUpdateMs: value.readDoubleLE(10) },
    key: userKey,
    payload: new Uint8Array(value.buffer, value.byteOffset + pos, value.length - pos),
    tombstone: (flags & F_TOMBSTONE) !== 0,
  };
}

/** A stored value's set, metadata and tombstone flag; `value` may be a buffer LMDB reuses (nothing of it is kept). */
export function decodeMeta(value: Buffer): StoredMeta {
  checkVersion(value);
  const setLen = value[18] as number;
  return {
    set: setLen === 0 ? '' : value.toString('utf8', HEADER, HEADER + setLen),
    meta: { generation: value.readUInt32LE(2), voidTime: value.readUInt32LE(6), lastUpdateMs: value.readDoubleLE(10) },
    tombstone: isTombstone(value),
  };
}

/** What conditional writes, truncate and statistics need, without building a record. */
export interface ValueInfo {
  readonly tombstone: boolean;
  readonly generation: number;
  readonly lastUpdateMs: number;
  readonly set: string;
  readonly bytes: number;
}

export function valueInfo(value: Uint8Array): ValueInfo {
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
  checkVersion(buf);
  const setLen = buf[18] as number;
  return {
    tombstone: isTombstone(buf),
    generation: buf.readUInt32LE(2),
    lastUpdateMs: lastUpdateMs(buf),
    set: buf.toString('utf8', HEADER, HEADER + setLen),
    bytes: KEY_BYTES + buf.length,
  };
}

/** Whether a stored value is a tombstone, read off its header. */
export function isTombstone(value: Buffer): boolean {
  return ((value[1] as number) & F_TOMBSTONE) !== 0;
}

/** A stored value's last-update time (ms), read off its header. */
export function lastUpdateMs(value: Buffer): number {
  return value.readDoubleLE(10);
}

/** Whether a stored value belongs to the set whose utf8 name is `set`, compared in place. */
export function setIs(value: Buffer, set: Buffer): boolean {
  return value[18] === set.length && value.compare(set, 0, set.length, HEADER, HEADER + set.length) === 0;
}

function checkVersion(value: Uint8Array): void {
  if (value.length < HEADER || value[0] !== FORMAT_VERSION) {
    throw new Error(`unreadable record (format byte ${value[0] ?? 'missing'}, ${value.length} bytes)`);
  }
}
