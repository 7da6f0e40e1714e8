/**
 * A page of stored records (records and tombstones, with their metadata) as bytes: what a node
 * sends another node's migration fill, or the one record a filling node asks a source for, and
 * the record of a replica write (replica-writes.ts: a one-record page after the namespace).
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
import { DIGEST_BYTES, partitionOf, utf8Name } from '../model/index.ts';
import type { StoredRecord } from '../plugin-api/index.ts';

const VERSION = 1;
/** Bytes of a page's header. */
export const PAGE_HEADER = 1 + 1 + 4;
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

/** Bytes `r` takes in a page (its set's UTF-8 bytes are `set`); refuses a set or key too long to send. */
export function recordBytes(r: StoredRecord, set: Buffer): number {
  if (set.length > MAX_SET_BYTES) throw new DbError('SERVER_ERROR', `set name of ${set.length} bytes cannot be sent to another node`, { hint: 'set names are at most 63 bytes; this is a bug' });
  if (r.key !== undefined && r.key.length > MAX_KEY_BYTES) throw new DbError('SERVER_ERROR', `user key of ${r.key.length} bytes cannot be sent to another node`, { hint: 'this is a bug' });
  return FIXED + set.length + (r.key === undefined ? 0 : 2 + r.key.length) + r.payload.length;
}

/** Writes a page's header at `pos`; returns where its first record goes. */
export function writePageHeader(out: Buffer, pos: number, count: number, done: boolean): number {
  out[pos] = VERSION;
  out[pos + 1] = done ? F_DONE : 0;
  out.writeUInt32BE(count, pos + 2);
  return pos + PAGE_HEADER;
}

/** Writes `r` at `pos` (room for recordBytes(r, set) bytes); returns the position after it. */
export function writeRecord(out: Buffer, pos: number, r: StoredRecord, set: Buffer): number {
  if (r.digest.length !== DIGEST_BYTES) throw new DbError('SERVER_ERROR', `a stored record has a digest of ${r.digest.length} bytes`, { hint: 'this is a storage engine bug' });
  out.set(r.digest, pos);
  pos += DIGEST_BYTES;
  const key = r.key;
  out[pos++] = (r.tombstone ? F_TOMBSTONE : 0) | (key === undefined ? 0 : F_KEY);
  const meta = r.meta;
  out.writeUInt32BE(meta.generation, pos);
  out.writeUInt32BE(meta.voidTime, pos + 4);
  out.writeDoubleBE(meta.lastUpdateMs, pos + 8);
  pos += 16;
  out[pos++] = set.length;
  if (set.length !== 0) {
    set.copy(out, pos);
    pos += set.length;
  }
  if (key !== undefined) {
    out.writeUInt16BE(key.length, pos);
    out.set(key, pos + 2);
    pos += 2 + key.length;
  }
  const payload = r.payload;
  out.writeUInt32BE(payload.length, pos);
  pos += 4;
  if (payload.length !== 0) {
    out.set(payload, pos);
    pos += payload.length;
  }
  return pos;
}

export function encodeRecordPage(page: RecordPage): Uint8Array {
  const records = page.records;
  let size = PAGE_HEADER;
  for (const r of records) size += recordBytes(r, utf8Name(r.set));
  const out = Buffer.allocUnsafe(size);
  let pos = writePageHeader(out, 0, records.length, page.done);
  for (const r of records) pos = writeRecord(out, pos, r, utf8Name(r.set));
  return out;
}

function malformed(why: string): DbError {
  return new DbError('SERVER_ERROR', `a page of records from another node does not decode: ${why}`, { hint: 'run the same version on every node' });
}

/** The bytes as a Buffer (a view, no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Names read off pages: the same bytes give the same string without decoding them again (a node has few set and namespace names). */
const seenNames: { bytes: Buffer; name: string }[] = [];
const MAX_SEEN = 16;

/** The UTF-8 name at buf[start, start + len), from the names seen when it is one of them. */
export function readName(buf: Buffer, start: number, len: number): string {
  if (len === 0) return '';
  for (let i = 0; i < seenNames.length; i++) {
    const seen = seenNames[i] as { bytes: Buffer; name: string };
    const b = seen.bytes;
    if (b.length !== len) continue;
    let j = 0;
    while (j < len && b[j] === buf[start + j]) j++;
    if (j === len) return seen.name;
  }
  const name = buf.toString('utf8', start, start + len);
  if (seenNames.length >= MAX_SEEN) seenNames.pop();
  seenNames.unshift({ bytes: Buffer.from(buf.subarray(start, start + len)), name });
  return name;
}

/** Where the record readRecord read last ends (set by each call; read it at once). */
let recordEnd = 0;

/** A view of `len` bytes of `buf` at `start` (a plain Uint8Array: cheaper to make than a Buffer's subarray). */
function view(buf: Buffer, start: number, len: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, len);
}

/** Reads the record at `pos`, not past `end`; where it ends is left in recordEnd. `what` names it in an error. */
function readRecord(buf: Buffer, pos: number, end: number, what: string): StoredRecord {
  if (pos + FIXED > end) throw malformed(`${what} runs past the end`);
  const digest = view(buf, pos, DIGEST_BYTES);
  pos += DIGEST_BYTES;
  const flags = buf[pos++] as number;
  const meta = { generation: buf.readUInt32BE(pos), voidTime: buf.readUInt32BE(pos + 4), lastUpdateMs: buf.readDoubleBE(pos + 8) };
  pos += 16;
  const setLen = buf[pos++] as number;
  if (pos + setLen + 4 > end) throw malformed(`${what} runs past the end`);
  const set = readName(buf, pos, setLen);
  pos += setLen;
  let key: Uint8Array | undefined;
  if ((flags & F_KEY) !== 0) {
    if (pos + 2 + 4 > end) throw malformed(`${what} runs past the end`);
    const n = buf.readUInt16BE(pos);
    if (pos + 2 + n + 4 > end) throw malformed(`${what} runs past the end`);
    key = view(buf, pos + 2, n);
    pos += 2 + n;
  }
  const n = buf.readUInt32BE(pos);
  pos += 4;
  if (pos + n > end) throw malformed(`${what} runs past the end`);
  recordEnd = pos + n;
  return { digest, partition: partitionOf(digest), set, meta, key, payload: view(buf, pos, n), tombstone: (flags & F_TOMBSTONE) !== 0 };
}

export function decodeRecordPage(bytes: Uint8Array): RecordPage {
  const buf = asBuffer(bytes);
  if (buf.length < PAGE_HEADER) throw malformed(`${buf.length} bytes`);
  if (buf[0] !== VERSION) throw malformed(`version ${buf[0]}`);
  const done = ((buf[1] as number) & F_DONE) !== 0;
  const count = buf.readUInt32BE(2);
  if (count > (buf.length - PAGE_HEADER) / FIXED) throw malformed(`${count} records in ${buf.length} bytes`);
  const records: StoredRecord[] = new Array(count);
  let pos = PAGE_HEADER;
  for (let i = 0; i < count; i++) {
    records[i] = readRecord(buf, pos, buf.length, `record ${i}`);
    pos = recordEnd;
  }
  if (pos !== buf.length) throw malformed(`${buf.length - pos} bytes after the last record`);
  return { records, done };
}

/**
 * The one record of a one-record page that fills `buf` from `at` to its end (a replica write's),
 * read without the page's object and array.
 */
export function decodeOneRecord(buf: Buffer, at: number): StoredRecord {
  if (buf.length < at + PAGE_HEADER) throw malformed(`${buf.length - at} bytes`);
  if (buf[at] !== VERSION) throw malformed(`version ${buf[at]}`);
  const count = buf.readUInt32BE(at + 2);
  if (count !== 1) throw malformed(`${count} records where one was expected`);
  const record = readRecord(buf, at + PAGE_HEADER, buf.length, 'record 0');
  if (recordEnd !== buf.length) throw malformed(`${buf.length - recordEnd} bytes after the last record`);
  return record;
}
