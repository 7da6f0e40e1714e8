/**
 * MessagePack as Aerospike uses it inside lists, maps, CDT arguments, UDF arguments and
 * expressions (aerospike-common as_msgpack.c): a string's payload begins with its particle
 * type (0x03 string, 0x04 bytes, 0x17 GeoJSON), an ordered map or list carries a leading ext
 * element with its order flags, and fixext1 type 0xff values are the WILDCARD / INFINITY
 * sentinels of value ranges. A general msgpack library would need a pass over its output for
 * each of these, so this small codec reads and writes them directly.
 */
import { DbError } from '../../errors/index.ts';
import { GeoJson, Hll, listOrder, mapOrder, parseGeoJson, withListOrder, withMapOrder, type BinValue, type ListOrder, type MapKey, type MapOrder } from '../../model/index.ts';

/** A value range sentinel: WILDCARD (matches anything) or INFINITY (above everything). */
export class Sentinel {
  readonly kind: 'wildcard' | 'infinity';
  constructor(kind: 'wildcard' | 'infinity') {
    this.kind = kind;
  }
}

/** A string's bytes as they came (bin names, variable names and regexes in expressions have no type prefix). */
export class RawString {
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
  /** The value it is when read as an Aerospike-typed string (prefix byte = particle type). */
  typed(): BinValue {
    if (this.bytes.length === 0) return '';
    const type = this.bytes[0] as number;
    if (type === 3) return this.bytes.toString('utf8', 1);
    if (type === 0x17) return parseGeoJson(this.bytes.toString('utf8', 1));
    return new Uint8Array(this.bytes.subarray(1));
  }
}

/**
 * An ext value other than the sentinels. As the first element of a list or the key of a map's
 * first pair it is the container's order header (ext type = flags, length 0); elsewhere it is refused.
 */
export class ExtMarker {
  readonly ext = true;
  readonly type: number;
  constructor(type = -1) {
    this.type = type;
  }
}

/** Order header flags (aerospike-common as_msgpack_ext.h / the server's AS_PACKED_*). */
export const LIST_ORDERED_FLAG = 0x01;
const PERSIST_INDEX_FLAG = 0x10;
const PRESERVE_ORDER_FLAG = 0x08;
export const MAP_ORDER_FLAGS: Readonly<Record<MapOrder, number>> = { unordered: 0, keyOrdered: 0x01, keyValueOrdered: 0x03 };

export function mapOrderOfFlags(flags: number): MapOrder {
  const f = flags & ~(PERSIST_INDEX_FLAG | PRESERVE_ORDER_FLAG);
  if (f === 0) return 'unordered';
  if (f === 0x01) return 'keyOrdered';
  if (f === 0x03) return 'keyValueOrdered';
  return bad(`map order flags 0x${flags.toString(16)} are not known`);
}

export function listOrderOfFlags(flags: number): ListOrder {
  const f = flags & ~PERSIST_INDEX_FLAG;
  if (f === 0) return 'unordered';
  if (f === LIST_ORDERED_FLAG) return 'ordered';
  return bad(`list order flags 0x${flags.toString(16)} are not known`);
}

/** What decoding yields: bin values plus the two sentinels and raw strings. */
export type WireValue = BinValue | Sentinel | RawString | ExtMarker | readonly WireValue[] | ReadonlyMap<WireValue, WireValue>;

function bad(what: string): never {
  throw new DbError('PARAMETER', `malformed msgpack: ${what}`, { hint: 'send values encoded as the Aerospike clients encode them' });
}

export class MsgpackReader {
  private readonly buf: Buffer;
  pos: number;
  private readonly end: number;
  /** Keep strings without a particle-type prefix as RawString (expressions). */
  rawStrings = false;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) bad('value runs past the end of its field');
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  /** The header of the next value if it is an array, its element count; otherwise undefined. */
  peekArrayLength(): number | undefined {
    this.need(1);
    const b = this.buf[this.pos] as number;
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xdc) { this.need(3); return this.buf.readUInt16BE(this.pos + 1); }
    if (b === 0xdd) { this.need(5); return this.buf.readUInt32BE(this.pos + 1); }
    return undefined;
  }

  /** Reads an array header, returning its element count. */
  readArrayHeader(): number {
    const b = this.u8();
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xdc) { this.need(2); const n = this.buf.readUInt16BE(this.pos); this.pos += 2; return n; }
    if (b === 0xdd) { this.need(4); const n = this.buf.readUInt32BE(this.pos); this.pos += 4; return n; }
    return bad(`expected an array, found byte 0x${b.toString(16)}`);
  }

  /** Skips one value. */
  skip(): void {
    this.read();
  }

  /** The bytes of the next value, undecoded. */
  rawValue(): Buffer {
    const start = this.pos;
    this.skip();
    return this.buf.subarray(start, this.pos);
  }

  read(): WireValue {
    const b = this.u8();
    if (b <= 0x7f) return BigInt(b);
    if (b >= 0xe0) return BigInt(b - 256);
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    const buf = this.buf;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: { this.need(1); return this.bin(this.u8()); }
      case 0xc5: { this.need(2); const n = buf.readUInt16BE(this.pos); this.pos += 2; return this.bin(n); }
      case 0xc6: { this.need(4); const n = buf.readUInt32BE(this.pos); this.pos += 4; return this.bin(n); }
      case 0xc7: { this.need(2); const n = this.u8(); const type = this.u8(); this.need(n); this.pos += n; return new ExtMarker(n === 0 ? type : -1); }
      case 0xc8: { this.need(3); const n = buf.readUInt16BE(this.pos); this.pos += 3; this.need(n); this.pos += n; return new ExtMarker(); }
      case 0xc9: { this.need(5); const n = buf.readUInt32BE(this.pos); this.pos += 5; this.need(n); this.pos += n; return new ExtMarker(); }
      case 0xca: { this.need(4); const v = buf.readFloatBE(this.pos); this.pos += 4; return v; }
      case 0xcb: { this.need(8); const v = buf.readDoubleBE(this.pos); this.pos += 8; return v; }
      case 0xcc: return BigInt(this.u8());
      case 0xcd: { this.need(2); const v = buf.readUInt16BE(this.pos); this.pos += 2; return BigInt(v); }
      case 0xce: { this.need(4); const v = buf.readUInt32BE(this.pos); this.pos += 4; return BigInt(v); }
      case 0xcf: {
        this.need(8); const v = buf.readBigUInt64BE(this.pos); this.pos += 8;
        // Aerospike packs every integer as signed; a uint64 above int64 wraps as the C client's does
        return BigInt.asIntN(64, v);
      }
      case 0xd0: { this.need(1); return BigInt(buf.readInt8(this.pos++)); }
      case 0xd1: { this.need(2); const v = buf.readInt16BE(this.pos); this.pos += 2; return BigInt(v); }
      case 0xd2: { this.need(4); const v = buf.readInt32BE(this.pos); this.pos += 4; return BigInt(v); }
      case 0xd3: { this.need(8); const v = buf.readBigInt64BE(this.pos); this.pos += 8; return v; }
      case 0xd4: {
        this.need(2);
        const type = buf.readInt8(this.pos);
        const data = buf[this.pos + 1] as number;
        this.pos += 2;
        if (type === -1) return new Sentinel(data === 1 ? 'infinity' : 'wildcard');
        return new ExtMarker();
      }
      case 0xd5: this.need(3); this.pos += 3; return new ExtMarker();
      case 0xd6: this.need(5); this.pos += 5; return new ExtMarker();
      case 0xd7: this.need(9); this.pos += 9; return new ExtMarker();
      case 0xd8: this.need(17); this.pos += 17; return new ExtMarker();
      case 0xd9: return this.str(this.u8());
      case 0xda: { this.need(2); const n = buf.readUInt16BE(this.pos); this.pos += 2; return this.str(n); }
      case 0xdb: { this.need(4); const n = buf.readUInt32BE(this.pos); this.pos += 4; return this.str(n); }
      case 0xdc: { this.need(2); const n = buf.readUInt16BE(this.pos); this.pos += 2; return this.array(n); }
      case 0xdd: { this.need(4); const n = buf.readUInt32BE(this.pos); this.pos += 4; return this.array(n); }
      case 0xde: { this.need(2); const n = buf.readUInt16BE(this.pos); this.pos += 2; return this.map(n); }
      case 0xdf: { this.need(4); const n = buf.readUInt32BE(this.pos); this.pos += 4; return this.map(n); }
      default: return bad(`unknown type byte 0x${b.toString(16)}`);
    }
  }

  private str(n: number): WireValue {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    if (this.rawStrings) return new RawString(this.buf.subarray(start, start + n));
    if (n === 0) return '';
    const type = this.buf[start] as number;
    if (type === 3) return this.buf.toString('utf8', start + 1, start + n);
    if (type === 0x17) return parseGeoJson(this.buf.toString('utf8', start + 1, start + n));
    // 4 bytes, 7..12 language blobs
    return new Uint8Array(this.buf.subarray(start + 1, start + n));
  }

  private bin(n: number): WireValue {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    if (n === 0) return new Uint8Array(0);
    // the C client writes a particle-type byte first in bin payloads too
    return new Uint8Array(this.buf.subarray(start + 1, start + n));
  }

  private array(n: number): WireValue {
    if (n > this.end - this.pos) bad(`an array of ${n} elements cannot fit`);
    const out: WireValue[] = [];
    let order: ListOrder = 'unordered';
    for (let i = 0; i < n; i++) {
      const v = this.read();
      if (v instanceof ExtMarker) {
        // the order header: first element only
        if (i !== 0 || v.type < 0) bad('an ext value inside a list is not a value Aerospike stores');
        order = listOrderOfFlags(v.type);
        continue;
      }
      out.push(v);
    }
    if (order === 'ordered') ORDERED_WIRE_LISTS.add(out);
    return out;
  }

  private map(n: number): WireValue {
    if (n > this.end - this.pos) bad(`a map of ${n} entries cannot fit`);
    const out = new Map<WireValue, WireValue>();
    let order: MapOrder = 'unordered';
    for (let i = 0; i < n; i++) {
      const k = this.read();
      const v = this.read();
      if (k instanceof ExtMarker) {
        // the order header: the key of the first pair (its value is nil)
        if (i !== 0 || k.type < 0) bad('an ext value as a map key is not a value Aerospike stores');
        order = mapOrderOfFlags(k.type);
        continue;
      }
      out.set(k, v);
    }
    if (order !== 'unordered') WIRE_MAP_ORDERS.set(out, order);
    return out;
  }
}


/** Decoded lists and maps that came with an order header (kept until they become bin values). */
const ORDERED_WIRE_LISTS = new WeakSet<readonly WireValue[]>();
const WIRE_MAP_ORDERS = new WeakMap<ReadonlyMap<WireValue, WireValue>, MapOrder>();

/** The order header a decoded map came with. */
export function wireMapOrder(v: ReadonlyMap<WireValue, WireValue>): MapOrder {
  return WIRE_MAP_ORDERS.get(v) ?? 'unordered';
}

/** A decoded wire value as a bin value (ordered containers sorted and marked); sentinels and raw strings are refused. */
export function toBinValue(v: WireValue): BinValue {
  if (v instanceof Sentinel || v instanceof RawString || v instanceof ExtMarker) {
    throw new DbError('PARAMETER', 'a WILDCARD/INFINITY value is only allowed as a bound of a value range', { hint: 'store plain values' });
  }
  if (Array.isArray(v)) {
    const list = (v as readonly WireValue[]).map(toBinValue);
    return ORDERED_WIRE_LISTS.has(v) ? withListOrder(list, 'ordered') : list;
  }
  if (v instanceof Map) {
    const m = new Map<MapKey, BinValue>();
    for (const [k, x] of v as ReadonlyMap<WireValue, WireValue>) m.set(toMapKey(k), toBinValue(x));
    return withMapOrder(m, wireMapOrder(v as ReadonlyMap<WireValue, WireValue>));
  }
  return v as BinValue;
}

export function toMapKey(k: WireValue): MapKey {
  if (typeof k === 'string' || typeof k === 'bigint' || typeof k === 'number') return k;
  throw new DbError('PARAMETER', 'map keys must be strings, integers or doubles', { hint: 'use scalar map keys' });
}

/** Decodes one value of a whole buffer. */
export function unpack(buf: Buffer): WireValue {
  const r = new MsgpackReader(buf);
  const v = r.read();
  return v;
}

export class MsgpackWriter {
  private buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  arrayHeader(n: number): void {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) { this.buf[this.pos++] = 0xdc; this.buf.writeUInt16BE(n, this.pos); this.pos += 2; }
    else { this.buf[this.pos++] = 0xdd; this.buf.writeUInt32BE(n, this.pos); this.pos += 4; }
  }

  mapHeader(n: number): void {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = 0x80 | n;
    else if (n < 0x10000) { this.buf[this.pos++] = 0xde; this.buf.writeUInt16BE(n, this.pos); this.pos += 2; }
    else { this.buf[this.pos++] = 0xdf; this.buf.writeUInt32BE(n, this.pos); this.pos += 4; }
  }

  int(v: bigint): void {
    this.room(9);
    if (v >= 0n) {
      if (v < 128n) this.buf[this.pos++] = Number(v);
      else if (v < 256n) { this.buf[this.pos++] = 0xcc; this.buf[this.pos++] = Number(v); }
      else if (v < 65536n) { this.buf[this.pos++] = 0xcd; this.buf.writeUInt16BE(Number(v), this.pos); this.pos += 2; }
      else if (v < 4294967296n) { this.buf[this.pos++] = 0xce; this.buf.writeUInt32BE(Number(v), this.pos); this.pos += 4; }
      else { this.buf[this.pos++] = 0xcf; this.buf.writeBigUInt64BE(v, this.pos); this.pos += 8; }
    } else if (v >= -32n) this.buf[this.pos++] = Number(v) & 0xff;
    else if (v >= -128n) { this.buf[this.pos++] = 0xd0; this.buf.writeInt8(Number(v), this.pos); this.pos += 1; }
    else if (v >= -32768n) { this.buf[this.pos++] = 0xd1; this.buf.writeInt16BE(Number(v), this.pos); this.pos += 2; }
    else if (v >= -2147483648n) { this.buf[this.pos++] = 0xd2; this.buf.writeInt32BE(Number(v), this.pos); this.pos += 4; }
    else { this.buf[this.pos++] = 0xd3; this.buf.writeBigInt64BE(v, this.pos); this.pos += 8; }
  }

  /** A string payload with its particle-type prefix (Aerospike strings, bytes, GeoJSON). */
  typedString(type: number, payload: Buffer | Uint8Array): void {
    const n = payload.length + 1;
    this.room(n + 5);
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 256) { this.buf[this.pos++] = 0xd9; this.buf[this.pos++] = n; }
    else if (n < 0x10000) { this.buf[this.pos++] = 0xda; this.buf.writeUInt16BE(n, this.pos); this.pos += 2; }
    else { this.buf[this.pos++] = 0xdb; this.buf.writeUInt32BE(n, this.pos); this.pos += 4; }
    this.buf[this.pos++] = type;
    this.buf.set(payload, this.pos);
    this.pos += payload.length;
  }

  write(v: BinValue): void {
    if (v === null) { this.room(1); this.buf[this.pos++] = 0xc0; return; }
    switch (typeof v) {
      case 'bigint': this.int(v); return;
      case 'number': this.room(9); this.buf[this.pos++] = 0xcb; this.buf.writeDoubleBE(v, this.pos); this.pos += 8; return;
      case 'string': this.typedString(3, Buffer.from(v, 'utf8')); return;
      case 'boolean': this.room(1); this.buf[this.pos++] = v ? 0xc3 : 0xc2; return;
      default: break;
    }
    if (v instanceof Uint8Array) { this.typedString(4, v); return; }
    if (v instanceof GeoJson) { this.typedString(0x17, Buffer.from(v.text, 'utf8')); return; }
    // an HLL inside a collection: a blob of subtype 18, as Aerospike's msgpack writes as_bytes of type HLL
    if (v instanceof Hll) { this.typedString(18, v.bytes); return; }
    if (Array.isArray(v)) {
      const list = v as readonly BinValue[];
      if (listOrder(list) === 'ordered') {
        this.arrayHeader(list.length + 1);
        this.orderExt(LIST_ORDERED_FLAG);
      } else this.arrayHeader(list.length);
      for (const x of list) this.write(x);
      return;
    }
    const map = v as ReadonlyMap<MapKey, BinValue>;
    const order = mapOrder(map);
    if (order === 'unordered') this.mapHeader(map.size);
    else {
      this.mapHeader(map.size + 1);
      this.orderExt(MAP_ORDER_FLAGS[order]);
      this.room(1);
      this.buf[this.pos++] = 0xc0;
    }
    for (const [k, x] of map) { this.write(k); this.write(x); }
  }

  /** An order header element: ext8 of length 0 whose type byte is the flags. */
  orderExt(flags: number): void {
    this.room(3);
    this.buf[this.pos++] = 0xc7;
    this.buf[this.pos++] = 0;
    this.buf[this.pos++] = flags;
  }
}

/** Encodes one bin value. */
export function pack(v: BinValue): Buffer {
  const w = new MsgpackWriter();
  w.write(v);
  return w.bytes();
}
