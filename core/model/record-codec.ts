import { DbError } from '../errors/index.ts';
import { GeoJson, Hll, type BinValue, type Bins, type MapKey } from './values.ts';
import { listOrder, mapOrder, withListOrder, withMapOrder, type ListOrder, type MapOrder } from './container-order.ts';

/**
 * The bin codec: bins ⇄ bytes. Engines never parse payloads. A tagged binary format
 * rather than msgpack, because msgpack cannot tell the integer 1 from the double 1.0 and
 * Slipstream keeps the two distinct (and integers exact to 64 bits).
 *
 * record  := u16 binCount, binCount × (u8 nameLen, name utf8, value)
 * value   := tag, body
 */
const T_NIL = 0, T_INT = 1, T_DOUBLE = 2, T_STR = 3, T_BYTES = 4, T_TRUE = 5, T_FALSE = 6,
  T_GEO = 7, T_LIST = 8, T_MAP = 9, T_INT_SMALL = 10,
  // ordered containers (tags added later; records written before them hold only unordered ones)
  T_LIST_ORDERED = 11, T_MAP_KEY_ORDERED = 12, T_MAP_KEY_VALUE_ORDERED = 13,
  // an HLL (Aerospike's bytes)
  T_HLL = 14;

const MAP_TAG: Record<MapOrder, number> = { unordered: T_MAP, keyOrdered: T_MAP_KEY_ORDERED, keyValueOrdered: T_MAP_KEY_VALUE_ORDERED };
const TAG_MAP_ORDER: Record<number, MapOrder> = { [T_MAP]: 'unordered', [T_MAP_KEY_ORDERED]: 'keyOrdered', [T_MAP_KEY_VALUE_ORDERED]: 'keyValueOrdered' };

class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.pos); this.pos += 4; }
  str(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.u32(len);
    this.ensure(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  value(v: BinValue): void {
    if (v === null) return this.u8(T_NIL);
    switch (typeof v) {
      case 'bigint':
        if (v >= -2147483648n && v <= 2147483647n) {
          this.ensure(5); this.buf[this.pos++] = T_INT_SMALL; this.buf.writeInt32LE(Number(v), this.pos); this.pos += 4;
        } else {
          this.ensure(9); this.buf[this.pos++] = T_INT; this.buf.writeBigInt64LE(v, this.pos); this.pos += 8;
        }
        return;
      case 'number':
        this.ensure(9); this.buf[this.pos++] = T_DOUBLE; this.buf.writeDoubleLE(v, this.pos); this.pos += 8;
        return;
      case 'string': this.u8(T_STR); return this.str(v);
      case 'boolean': return this.u8(v ? T_TRUE : T_FALSE);
      default:
        if (v instanceof Uint8Array) { this.u8(T_BYTES); return this.bytes(v); }
        if (v instanceof GeoJson) { this.u8(T_GEO); return this.str(v.text); }
        if (v instanceof Hll) { this.u8(T_HLL); return this.bytes(v.bytes); }
        if (Array.isArray(v)) {
          this.u8(listOrder(v as readonly BinValue[]) === 'ordered' ? T_LIST_ORDERED : T_LIST); this.u32(v.length);
          for (const item of v as readonly BinValue[]) this.value(item);
          return;
        }
        if (v instanceof Map) {
          this.u8(MAP_TAG[mapOrder(v as ReadonlyMap<MapKey, BinValue>)]); this.u32(v.size);
          for (const [k, item] of v as ReadonlyMap<MapKey, BinValue>) { this.value(k); this.value(item); }
          return;
        }
        throw new DbError('PARAMETER', `cannot store a value of type ${Object.prototype.toString.call(v)}`);
    }
  }
}

class Reader {
  readonly buf: Buffer;
  pos = 0;
  constructor(buf: Buffer) { this.buf = buf; }
  u8(): number { return this.buf[this.pos++] as number; }
  u32(): number { const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  str(): string { const n = this.u32(); const s = this.buf.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
  value(): BinValue {
    const tag = this.u8();
    switch (tag) {
      case T_NIL: return null;
      case T_INT_SMALL: { const v = this.buf.readInt32LE(this.pos); this.pos += 4; return BigInt(v); }
      case T_INT: { const v = this.buf.readBigInt64LE(this.pos); this.pos += 8; return v; }
      case T_DOUBLE: { const v = this.buf.readDoubleLE(this.pos); this.pos += 8; return v; }
      case T_STR: return this.str();
      case T_TRUE: return true;
      case T_FALSE: return false;
      case T_BYTES: { const n = this.u32(); const b = new Uint8Array(this.buf.subarray(this.pos, this.pos + n)); this.pos += n; return b; }
      case T_GEO: return new GeoJson(this.str());
      case T_HLL: { const n = this.u32(); const b = new Uint8Array(this.buf.subarray(this.pos, this.pos + n)); this.pos += n; return new Hll(b); }
      case T_LIST: case T_LIST_ORDERED: {
        const n = this.u32(); const out: BinValue[] = new Array(n); for (let i = 0; i < n; i++) out[i] = this.value();
        return tag === T_LIST ? out : withListOrder(out, 'ordered');
      }
      case T_MAP: case T_MAP_KEY_ORDERED: case T_MAP_KEY_VALUE_ORDERED: {
        const n = this.u32(); const out = new Map<MapKey, BinValue>();
        for (let i = 0; i < n; i++) { const k = this.value() as MapKey; out.set(k, this.value()); }
        return tag === T_MAP ? out : withMapOrder(out, TAG_MAP_ORDER[tag] as MapOrder);
      }
      default: throw new DbError('SERVER_ERROR', `corrupt record payload: unknown value tag ${tag} at byte ${this.pos - 1}`);
    }
  }
}

/** The most bins a record holds (the stored count is 16 bits). */
export const MAX_BINS = 65_535;

export function encodeBins(bins: Bins): Uint8Array {
  const w = new Writer();
  const names = Object.keys(bins);
  if (names.length > MAX_BINS) {
    throw new DbError('PARAMETER', `the record would have ${names.length} bins; a record holds at most ${MAX_BINS}`, {
      hint: 'Store fewer bins per record (a map bin can hold many values)',
    });
  }
  w.ensure(2);
  w.buf.writeUInt16LE(names.length, 0);
  w.pos = 2;
  for (const name of names) {
    const nameLen = Buffer.byteLength(name, 'utf8');
    w.u8(nameLen);
    w.ensure(nameLen);
    w.buf.write(name, w.pos, 'utf8');
    w.pos += nameLen;
    w.value(bins[name] as BinValue);
  }
  return w.buf.subarray(0, w.pos);
}

export function decodeBins(payload: Uint8Array, only?: ReadonlySet<string>): Bins {
  const r = new Reader(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length));
  const count = r.buf.readUInt16LE(0);
  r.pos = 2;
  const bins: Bins = {};
  for (let i = 0; i < count; i++) {
    const nameLen = r.u8();
    const name = r.buf.toString('utf8', r.pos, r.pos + nameLen);
    r.pos += nameLen;
    const v = r.value();
    if (only === undefined || only.has(name)) bins[name] = v;
  }
  return bins;
}

/** Encodes one value (used for index keys, UDF arguments and wire-independent hashing). */
export function encodeValue(v: BinValue): Uint8Array {
  const w = new Writer(64);
  w.value(v);
  return w.buf.subarray(0, w.pos);
}

export function decodeValue(bytes: Uint8Array): BinValue {
  return new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)).value();
}

/**
 * Events of a walk over an encoded record, in stored order, without building bin values:
 * what a transcoder to another format (the gRPC wire form) needs. Strings and GeoJSON come
 * as their UTF-8 bytes.
 */
export interface BinVisitor {
  bin(name: string): void;
  nil(): void;
  int(v: bigint): void;
  double(v: number): void;
  string(utf8: Uint8Array): void;
  bytes(v: Uint8Array): void;
  bool(v: boolean): void;
  geojson(utf8: Uint8Array): void;
  hll(bytes: Uint8Array): void;
  listStart(length: number, order: ListOrder): void;
  listEnd(): void;
  mapStart(size: number, order: MapOrder): void;
  /** Before each map key; the key's value event follows, then the entry's value. */
  mapKey(): void;
  mapValue(): void;
  mapEnd(): void;
}

/** Walks an encoded record (see encodeBins), calling the visitor for every bin and value. */
export function walkBins(payload: Uint8Array, v: BinVisitor): void {
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  let pos = 2;
  const slice = (): Uint8Array => {
    const n = buf.readUInt32LE(pos);
    pos += 4;
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const value = (): void => {
    const tag = buf[pos++];
    switch (tag) {
      case T_NIL: v.nil(); return;
      case T_INT_SMALL: v.int(BigInt(buf.readInt32LE(pos))); pos += 4; return;
      case T_INT: v.int(buf.readBigInt64LE(pos)); pos += 8; return;
      case T_DOUBLE: v.double(buf.readDoubleLE(pos)); pos += 8; return;
      case T_STR: v.string(slice()); return;
      case T_BYTES: v.bytes(slice()); return;
      case T_TRUE: v.bool(true); return;
      case T_FALSE: v.bool(false); return;
      case T_GEO: v.geojson(slice()); return;
      case T_HLL: v.hll(slice()); return;
      case T_LIST: case T_LIST_ORDERED: {
        const n = buf.readUInt32LE(pos); pos += 4;
        v.listStart(n, tag === T_LIST ? 'unordered' : 'ordered');
        for (let i = 0; i < n; i++) value();
        v.listEnd();
        return;
      }
      case T_MAP: case T_MAP_KEY_ORDERED: case T_MAP_KEY_VALUE_ORDERED: {
        const n = buf.readUInt32LE(pos); pos += 4;
        v.mapStart(n, TAG_MAP_ORDER[tag] as MapOrder);
        for (let i = 0; i < n; i++) { v.mapKey(); value(); v.mapValue(); value(); }
        v.mapEnd();
        return;
      }
      default: throw new DbError('SERVER_ERROR', `corrupt record payload: unknown value tag ${tag} at byte ${pos - 1}`);
    }
  };
  const count = buf.readUInt16LE(0);
  for (let i = 0; i < count; i++) {
    const nameLen = buf[pos++] as number;
    v.bin(buf.toString('utf8', pos, pos + nameLen));
    pos += nameLen;
    value();
  }
}
