/**
 * The read fast path: stored records transcoded straight into GetResponse, ScanResponse and
 * BatchGetResponse protobuf bytes, without building bin values or protobuf objects in
 * between (a read is the hottest call; see docs/benchmarks.md). It writes into one reusable scratch buffer and copies the result
 * out once: a nested message gets a one-byte length slot, and the rare message of 128 bytes
 * or more moves its body right to make room for a longer length. Strings, bin names and
 * bytes are copied as the stored UTF-8 bytes, never decoded.
 *
 * The output decodes exactly as GetResponse.encode(toPbRecord(...)) would (and the same for
 * the other two); test/server/get-response.test.ts checks that for random records.
 */
import type { StoredRecord } from '../../plugin-api/index.ts';
import { DbError } from '../../errors/index.ts';
import { KeyType, ttlOf, writeUtf8 } from '../../model/index.ts';

/** Wire types. */
const VARINT = 0, I64 = 1, LEN = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;

// GetResponse.record = 1, ScanResponse.record = 1 and .records = 2; BatchGetResponse.results = 1;
// BatchGetResult: result_code = 1, record = 2, message = 3
const T_RESPONSE_RECORD = tag(1, LEN), T_PAGE_RECORD = tag(2, LEN), T_RESULT = tag(1, LEN), T_RESULT_CODE = tag(1, VARINT), T_RESULT_RECORD = tag(2, LEN), T_RESULT_MESSAGE = tag(3, LEN);
// Record: key = 1, meta = 2, bins = 3
const T_KEY = tag(1, LEN), T_META = tag(2, LEN), T_BIN = tag(3, LEN);
// RecordKey: namespace = 1, set = 2, digest = 3, partition = 4, user_key = 5
const T_NS = tag(1, LEN), T_SET = tag(2, LEN), T_DIGEST = tag(3, LEN), T_PARTITION = tag(4, VARINT), T_USER_KEY = tag(5, LEN);
// RecordMeta: generation = 1, ttl = 2, last_update_ms = 3, void_time = 4
const T_GEN = tag(1, VARINT), T_TTL = tag(2, VARINT), T_LUT = tag(3, VARINT), T_VOID = tag(4, VARINT);
// Bin: name = 1, value = 2; ListValue.items = 1; MapValue.entries = 1; MapEntry: key = 1, value = 2
const T_BIN_NAME = tag(1, LEN), T_BIN_VALUE = tag(2, LEN), T_ITEM = tag(1, LEN), T_ENTRY = tag(1, LEN), T_ENTRY_KEY = tag(1, LEN), T_ENTRY_VALUE = tag(2, LEN);
// Value's oneof (types.proto)
const V_NIL = tag(1, LEN), V_INT = tag(2, VARINT), V_DOUBLE = tag(3, I64), V_STRING = tag(4, LEN), V_BYTES = tag(5, LEN),
  V_BOOL = tag(6, VARINT), V_LIST = tag(7, LEN), V_MAP = tag(8, LEN), V_GEO = tag(9, LEN), V_HLL = tag(10, LEN);

/** Stored value tags (core/model/record-codec.ts). */
const S_NIL = 0, S_INT = 1, S_DOUBLE = 2, S_STR = 3, S_BYTES = 4, S_TRUE = 5, S_FALSE = 6, S_GEO = 7, S_LIST = 8, S_MAP = 9, S_INT_SMALL = 10,
  S_LIST_ORDERED = 11, S_MAP_KEY_ORDERED = 12, S_MAP_KEY_VALUE_ORDERED = 13, S_HLL = 14;
// ListValue.order = 2, MapValue.order = 2 (ListOrder ORDERED = 1; MapOrder KEY_ORDERED = 1, KEY_VALUE_ORDERED = 2)
const T_ORDER = tag(2, VARINT);

let out = Buffer.allocUnsafe(16 * 1024);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= out.length) return;
  let size = out.length * 2;
  while (size < pos + n) size *= 2;
  const next = Buffer.allocUnsafe(size);
  out.copy(next, 0, 0, pos);
  out = next;
}

/** An unsigned varint below 2^32. */
function varint32(v: number): void {
  while (v > 127) {
    out[pos++] = (v & 127) | 128;
    v >>>= 7;
  }
  out[pos++] = v;
}

/** A 64-bit varint from its two 32-bit halves (two's complement). */
function varint64(lo: number, hi: number): void {
  while (hi !== 0) {
    out[pos++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  varint32(lo);
}

/** An int64 field's varint from a safe integer (negative numbers as 10 bytes). */
function int64(v: number): void {
  varint64(v >>> 0, Math.floor(v / 4294967296) >>> 0);
}

/** A sint64 field's varint (zigzag) from a bigint. */
function sint64(v: bigint): void {
  const z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  varint64(Number(z & 0xffffffffn), Number(z >> 32n));
}

/** Opens a length-delimited field: its tag and a one-byte length slot. Returns the body's start. */
function open(t: number): number {
  ensure(2);
  out[pos++] = t;
  return ++pos;
}

/** Closes what open() started, widening the length slot when the body is 128 bytes or more. */
function close(start: number): void {
  const len = pos - start;
  if (len < 128) {
    out[start - 1] = len;
    return;
  }
  const extra = (len < 1 << 14 ? 2 : len < 1 << 21 ? 3 : len < 1 << 28 ? 4 : 5) - 1;
  ensure(extra);
  out.copyWithin(start + extra, start, pos);
  pos += extra;
  const end = pos;
  pos = start - 1;
  varint32(len);
  pos = end;
}

/** A length-delimited field holding `src[from, to)`. */
function bytesField(t: number, src: Uint8Array, from: number, to: number): void {
  const n = to - from;
  if (to > src.length) throw new RangeError(`a ${n}-byte field runs past the ${src.length}-byte payload`);
  ensure(n + 6);
  out[pos++] = t;
  varint32(n);
  if (n <= 64) {
    for (let i = from; i < to; i++) out[pos++] = src[i] as number;
  } else {
    out.set(src.subarray(from, to), pos);
    pos += n;
  }
}

/** A string field (its UTF-8 bytes, written by the model's writeUtf8). */
function stringField(t: number, s: string): void {
  ensure(s.length * 3 + 2);
  const start = open(t);
  pos = writeUtf8(out, pos, s);
  close(start);
}

/**
 * Writes the stored value at `p[at]` as the body of a Value message; returns the position
 * after it.
 */
function value(p: Buffer, at: number): number {
  const t = p[at++];
  switch (t) {
    case S_INT_SMALL: {
      const n = p.readInt32LE(at);
      ensure(6);
      out[pos++] = V_INT;
      varint32(((n << 1) ^ (n >> 31)) >>> 0);
      return at + 4;
    }
    case S_STR: case S_BYTES: case S_GEO: case S_HLL: {
      const n = p.readUInt32LE(at);
      bytesField(t === S_STR ? V_STRING : t === S_BYTES ? V_BYTES : t === S_GEO ? V_GEO : V_HLL, p, at + 4, at + 4 + n);
      return at + 4 + n;
    }
    case S_DOUBLE:
      ensure(9);
      out[pos++] = V_DOUBLE;
      for (let i = at; i < at + 8; i++) out[pos++] = p[i] as number;
      return at + 8;
    case S_INT:
      ensure(11);
      out[pos++] = V_INT;
      sint64(p.readBigInt64LE(at));
      return at + 8;
    case S_NIL:
      ensure(2);
      out[pos++] = V_NIL;
      out[pos++] = 0;
      return at;
    case S_TRUE: case S_FALSE:
      ensure(2);
      out[pos++] = V_BOOL;
      out[pos++] = t === S_TRUE ? 1 : 0;
      return at;
    case S_LIST: case S_LIST_ORDERED: {
      const n = p.readUInt32LE(at);
      at += 4;
      const list = open(V_LIST);
      for (let i = 0; i < n; i++) {
        const item = open(T_ITEM);
        at = value(p, at);
        close(item);
      }
      if (t === S_LIST_ORDERED) { ensure(2); out[pos++] = T_ORDER; out[pos++] = 1; }
      close(list);
      return at;
    }
    case S_MAP: case S_MAP_KEY_ORDERED: case S_MAP_KEY_VALUE_ORDERED: {
      const n = p.readUInt32LE(at);
      at += 4;
      const map = open(V_MAP);
      for (let i = 0; i < n; i++) {
        const entry = open(T_ENTRY);
        const k = open(T_ENTRY_KEY);
        at = value(p, at);
        close(k);
        const v = open(T_ENTRY_VALUE);
        at = value(p, at);
        close(v);
        close(entry);
      }
      if (t !== S_MAP) { ensure(2); out[pos++] = T_ORDER; out[pos++] = t === S_MAP_KEY_ORDERED ? 1 : 2; }
      close(map);
      return at;
    }
    default:
      throw new DbError('SERVER_ERROR', `corrupt record payload: unknown value tag ${t} at byte ${at - 1}`);
  }
}

/** The stored user key (type byte, then the key) as a Value message. */
function userKey(key: Uint8Array): void {
  const start = open(T_USER_KEY);
  const body = Buffer.from(key.buffer, key.byteOffset, key.length);
  switch (key[0]) {
    case KeyType.INTEGER: ensure(11); out[pos++] = V_INT; sint64(body.readBigInt64BE(1)); break;
    case KeyType.STRING: bytesField(V_STRING, key, 1, key.length); break;
    case KeyType.BYTES: bytesField(V_BYTES, key, 1, key.length); break;
    default: throw new DbError('SERVER_ERROR', `stored key has unknown type ${key[0]}`);
  }
  close(start);
}

/** Writes `rec` as a Record message in field `t` of the message being written. */
function record(t: number, namespace: string, rec: StoredRecord, nowMs: number): void {
  const record = open(t);
  // key
  const key = open(T_KEY);
  if (namespace !== '') stringField(T_NS, namespace);
  if (rec.set !== '') stringField(T_SET, rec.set);
  bytesField(T_DIGEST, rec.digest, 0, rec.digest.length);
  if (rec.partition !== 0) { ensure(4); out[pos++] = T_PARTITION; varint32(rec.partition); }
  if (rec.key !== undefined) userKey(rec.key);
  close(key);
  // meta
  const meta = open(T_META);
  ensure(39);
  if (rec.meta.generation !== 0) { out[pos++] = T_GEN; varint32(rec.meta.generation >>> 0); }
  const ttl = ttlOf(rec.meta.voidTime, nowMs);
  if (ttl !== 0) { out[pos++] = T_TTL; int64(ttl); }
  const lut = Math.floor(rec.meta.lastUpdateMs);
  if (lut !== 0) { out[pos++] = T_LUT; int64(lut); }
  if (rec.meta.voidTime !== 0) { out[pos++] = T_VOID; varint32(rec.meta.voidTime >>> 0); }
  close(meta);
  // bins: u16 count, then per bin u8 name length, name, value
  const p = Buffer.isBuffer(rec.payload) ? rec.payload : Buffer.from(rec.payload.buffer, rec.payload.byteOffset, rec.payload.length);
  const count = p.readUInt16LE(0);
  let at = 2;
  for (let i = 0; i < count; i++) {
    const bin = open(T_BIN);
    const nameLen = p[at++] as number;
    bytesField(T_BIN_NAME, p, at, at + nameLen);
    at += nameLen;
    const v = open(T_BIN_VALUE);
    at = value(p, at);
    close(v);
    close(bin);
  }
  close(record);
}

/** Runs `write` from an empty scratch buffer and returns a copy of what it wrote. */
function encode(write: () => void): Uint8Array {
  pos = 0;
  try {
    write();
    const bytes = Buffer.allocUnsafe(pos);
    out.copy(bytes, 0, 0, pos);
    return bytes;
  } catch (err) {
    if (err instanceof RangeError) throw new DbError('SERVER_ERROR', `corrupt record payload: ${err.message}`);
    throw err;
  } finally {
    if (out.length > 1024 * 1024) out = Buffer.allocUnsafe(16 * 1024); // give a huge record's scratch back
  }
}

/** GetResponse (and ScanResponse, the same message) bytes for a visible stored record of `namespace`. */
export function encodeGetResponse(namespace: string, rec: StoredRecord, nowMs: number): Uint8Array {
  return encode(() => record(T_RESPONSE_RECORD, namespace, rec, nowMs));
}

/** ScanResponse bytes holding `records` in its repeated `records` field (a packed scan message). */
export function encodeScanPage(namespace: string, records: readonly StoredRecord[], nowMs: number): Uint8Array {
  return encode(() => {
    for (const r of records) record(T_PAGE_RECORD, namespace, r, nowMs);
  });
}

/** One batch result: a visible stored record of `namespace`, or why there is none. */
export type BatchStored = { readonly namespace: string; readonly record: StoredRecord } | DbError;

/** BatchGetResponse bytes: one BatchGetResult per key, in order. */
export function encodeBatchGetResponse(results: readonly BatchStored[], nowMs: number): Uint8Array {
  return encode(() => {
    for (const r of results) {
      const result = open(T_RESULT);
      if (r instanceof DbError) {
        ensure(11);
        out[pos++] = T_RESULT_CODE;
        int64(r.resultCode);
        if (r.message !== '') stringField(T_RESULT_MESSAGE, r.message);
      } else {
        record(T_RESULT_RECORD, r.namespace, r.record, nowMs);
      }
      close(result);
    }
  });
}
