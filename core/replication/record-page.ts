/**
 * A page of stored records (records and tombstones, with their metadata) as bytes: what a node
 * sends another node's migration fill, or the one record a filling node asks a source for.
 * A flat binary layout, written and read in one pass each way, instead of a structured clone
 * of the same objects (which costs several times more per record on both ends, and in garbage).
 *
 * layout: version u8 (1) | flags u8 (bit 0: done) | count u32 | count × record
 * record: digest (20) | flags u8 (bit 0: tombstone, bit 1: user key) | generation u32 |
 *         voidTime u32 | lastUpdateMs f64 | set length u8 | set (UTF-8) |
 *         [key length u16 | key] | payload length u32 | payload
 * (integers big-endian). The partition is the digest's.
 *
 * A decoded record's digest, key and payload are views into `bytes`: the storage engines copy
 * what they keep; keep the bytes unchanged while the records are used. Bytes that do not
 * decode (truncated, another version, lengths past the end) are refused with a DbError,
 * never half-read.
 */
import { DbError } from '../errors/index.ts';
import { DIGEST_BYTES, partitionOf } from '../model/index.ts';
import type { StoredRecord } from '../plugin-api/index.ts';

const VERSION = 1;
const HEADER = 1 + 1 + 4;
const F_DONE = 1;
const F_TOMBSTONE = 1;
const F_KEY = 2;
/** Fixed bytes of a record: digest, flags, generation, voidTime, lastUpdateMs, set length, payload length. */
const FIXED = DIGEST_BYTES + 1 + 4 + 4 + 8 + 1 + 4;
const MAX_SET_BYTES = 255;
const MAX_KEY_BYTES = 0xffff;

export interface RecordPage {
  readonly records: readonly StoredRecord[];
  /** No record follows this page (the last page of a stream). */
  readonly done: boolean;
}

export function encodeRecordPage(page: RecordPage): Uint8Array {
  const sets = new Map<string, Buffer>();
  let size = HEADER;
  for (const r of page.records) {
    let set = sets.get(r.set);
    if (set === undefined) {
      set = Buffer.from(r.set, 'utf8');
      if (set.length > MAX_SET_BYTES) throw new DbError('SERVER_ERROR', `set name of ${set.length} bytes cannot be sent to another node`, { hint: 'set names are at most 63 bytes; this is a bug' });
      sets.set(r.set, set);
    }
    if (r.key !== undefined && r.key.length > MAX_KEY_BYTES) throw new DbError('SERVER_ERROR', `user key of ${r.key.length} bytes cannot be sent to another node`, { hint: 'this is a bug' });
    size += FIXED + set.length + (r.key === undefined ? 0 : 2 + r.key.length) + r.payload.length;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = VERSION;
  out[1] = page.done ? F_DONE : 0;
  out.writeUInt32BE(page.records.length, 2);
  let pos = HEADER;
  for (const r of page.records) {
    if (r.digest.length !== DIGEST_BYTES) throw new DbError('SERVER_ERROR', `a stored record has a digest of ${r.digest.length} bytes`, { hint: 'this is a storage engine bug' });
    out.set(r.digest, pos);
    pos += DIGEST_BYTES;
    out[pos++] = (r.tombstone ? F_TOMBSTONE : 0) | (r.key === undefined ? 0 : F_KEY);
    out.writeUInt32BE(r.meta.generation, pos);
    out.writeUInt32BE(r.meta.voidTime, pos + 4);
    out.writeDoubleBE(r.meta.lastUpdateMs, pos + 8);
    pos += 16;
    const set = sets.get(r.set) as Buffer;
    out[pos++] = set.length;
    set.copy(out, pos);
    pos += set.length;
    if (r.key !== undefined) {
      out.writeUInt16BE(r.key.length, pos);
      out.set(r.key, pos + 2);
      pos += 2 + r.key.length;
    }
    out.writeUInt32BE(r.payload.length, pos);
    out.set(r.payload, pos + 4);
    pos += 4 + r.payload.length;
  }
  return out;
}

function malformed(why: string): DbError {
  return new DbError('SERVER_ERROR', `a page of records from another node does not decode: ${why}`, { hint: 'run the same version on every node' });
}

export function decodeRecordPage(bytes: Uint8Array): RecordPage {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER) throw malformed(`${buf.length} bytes`);
  if (buf[0] !== VERSION) throw malformed(`version ${buf[0]}`);
  const done = ((buf[1] as number) & F_DONE) !== 0;
  const count = buf.readUInt32BE(2);
  if (count > (buf.length - HEADER) / FIXED) throw malformed(`${count} records in ${buf.length} bytes`);
  const records: StoredRecord[] = new Array(count);
  let pos = HEADER;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw malformed(`record ${records.length} runs past the end`);
  };
  let lastSet = '';
  let lastSetBytes: Buffer | undefined;
  for (let i = 0; i < count; i++) {
    need(FIXED);
    const digest = buf.subarray(pos, pos + DIGEST_BYTES);
    pos += DIGEST_BYTES;
    const flags = buf[pos++] as number;
    const meta = { generation: buf.readUInt32BE(pos), voidTime: buf.readUInt32BE(pos + 4), lastUpdateMs: buf.readDoubleBE(pos + 8) };
    pos += 16;
    const setLen = buf[pos++] as number;
    need(setLen);
    const setBytes = buf.subarray(pos, pos + setLen);
    // records of a page mostly share their set: decode a name once
    let set = lastSet;
    if (lastSetBytes === undefined || !setBytes.equals(lastSetBytes)) {
      set = setBytes.toString('utf8');
      lastSet = set;
      lastSetBytes = setBytes;
    }
    pos += setLen;
    let key: Uint8Array | undefined;
    if ((flags & F_KEY) !== 0) {
      need(2);
      const n = buf.readUInt16BE(pos);
      need(2 + n);
      key = buf.subarray(pos + 2, pos + 2 + n);
      pos += 2 + n;
    }
    need(4);
    const n = buf.readUInt32BE(pos);
    need(4 + n);
    const payload = buf.subarray(pos + 4, pos + 4 + n);
    pos += 4 + n;
    records[i] = { digest, partition: partitionOf(digest), set, meta, key, payload, tombstone: (flags & F_TOMBSTONE) !== 0 };
  }
  if (pos !== buf.length) throw malformed(`${buf.length - pos} bytes after the last record`);
  return { records, done };
}
