/**
 * The fast path of whole-record reads: a stored record's payload transcoded straight into an
 * AS_MSG answer (one READ op per bin; lists and maps as Aerospike msgpack), without building
 * bin values. Checked against the ordinary encoder (decode, then ResponseWriter) by tests.
 */
import { walkBins, type BinVisitor, type ListOrder, type MapOrder } from '../../model/index.ts';
import { LIST_ORDERED_FLAG, MAP_ORDER_FLAGS } from './msgpack.ts';
import type { StoredRecord } from '../../plugin-api/index.ts';
import { MSG_HEADER_BYTES, MessageType, PROTO_HEADER_BYTES, PROTO_VERSION, Particle, wireVoidTime } from './protocol.ts';

class Transcoder implements BinVisitor {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;
  private opStart = -1;
  private depth = 0;
  ops = 0;

  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  reset(at: number): void {
    this.pos = at;
    this.opStart = -1;
    this.depth = 0;
    this.ops = 0;
  }

  finishOp(): void {
    if (this.opStart >= 0) this.buf.writeUInt32BE(this.pos - this.opStart - 4, this.opStart);
    this.opStart = -1;
  }

  bin(name: string): void {
    this.finishOp();
    const n = Buffer.byteLength(name, 'utf8');
    this.room(8 + n);
    this.opStart = this.pos;
    this.buf[this.pos + 4] = 1; // READ
    this.buf[this.pos + 5] = Particle.NULL;
    this.buf[this.pos + 6] = 0;
    this.buf[this.pos + 7] = n;
    this.buf.write(name, this.pos + 8, 'utf8');
    this.pos += 8 + n;
    this.depth = 0;
    this.ops++;
  }

  private particle(type: number): void {
    this.buf[this.opStart + 5] = type;
  }

  nil(): void {
    if (this.depth === 0) return;
    this.room(1); this.buf[this.pos++] = 0xc0;
  }

  int(v: bigint): void {
    if (this.depth === 0) { this.particle(Particle.INTEGER); this.room(8); this.buf.writeBigInt64BE(v, this.pos); this.pos += 8; return; }
    this.room(9);
    if (v >= 0n && v < 128n) this.buf[this.pos++] = Number(v);
    else if (v >= -32n && v < 0n) this.buf[this.pos++] = Number(v) & 0xff;
    else if (v >= -2147483648n && v <= 2147483647n) { this.buf[this.pos++] = 0xd2; this.buf.writeInt32BE(Number(v), this.pos); this.pos += 4; }
    else { this.buf[this.pos++] = 0xd3; this.buf.writeBigInt64BE(v, this.pos); this.pos += 8; }
  }

  double(v: number): void {
    if (this.depth === 0) { this.particle(Particle.FLOAT); this.room(8); this.buf.writeDoubleBE(v, this.pos); this.pos += 8; return; }
    this.room(9); this.buf[this.pos++] = 0xcb; this.buf.writeDoubleBE(v, this.pos); this.pos += 8;
  }

  private typed(type: number, bytes: Uint8Array): void {
    const n = bytes.length + 1;
    this.room(n + 5);
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 256) { this.buf[this.pos++] = 0xd9; this.buf[this.pos++] = n; }
    else if (n < 0x10000) { this.buf[this.pos++] = 0xda; this.buf.writeUInt16BE(n, this.pos); this.pos += 2; }
    else { this.buf[this.pos++] = 0xdb; this.buf.writeUInt32BE(n, this.pos); this.pos += 4; }
    this.buf[this.pos++] = type;
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private raw(type: number, bytes: Uint8Array): void {
    this.particle(type);
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  string(utf8: Uint8Array): void {
    if (this.depth === 0) this.raw(Particle.STRING, utf8); else this.typed(3, utf8);
  }

  bytes(v: Uint8Array): void {
    if (this.depth === 0) this.raw(Particle.BLOB, v); else this.typed(4, v);
  }

  /** An HLL bin: particle type 18 with the HLL bytes; inside a collection a blob of subtype 18. */
  hll(v: Uint8Array): void {
    if (this.depth === 0) this.raw(Particle.HLL, v); else this.typed(Particle.HLL, v);
  }

  bool(v: boolean): void {
    if (this.depth === 0) { this.particle(Particle.BOOL); this.room(1); this.buf[this.pos++] = v ? 1 : 0; return; }
    this.room(1); this.buf[this.pos++] = v ? 0xc3 : 0xc2;
  }

  geojson(utf8: Uint8Array): void {
    if (this.depth > 0) { this.typed(0x17, utf8); return; }
    this.particle(Particle.GEOJSON);
    this.room(3 + utf8.length);
    this.buf[this.pos] = 0;
    this.buf.writeUInt16BE(0, this.pos + 1);
    this.buf.set(utf8, this.pos + 3);
    this.pos += 3 + utf8.length;
  }

  private header(fix: number, b16: number, n: number): void {
    this.room(5);
    if (n < 16) this.buf[this.pos++] = fix | n;
    else if (n < 0x10000) { this.buf[this.pos++] = b16; this.buf.writeUInt16BE(n, this.pos); this.pos += 2; }
    else { this.buf[this.pos++] = b16 + 1; this.buf.writeUInt32BE(n, this.pos); this.pos += 4; }
  }

  listStart(length: number, order: ListOrder): void {
    if (this.depth === 0) this.particle(Particle.LIST);
    if (order === 'ordered') {
      // the order ext element counts as one element
      this.header(0x90, 0xdc, length + 1);
      this.orderExt(LIST_ORDERED_FLAG);
    } else this.header(0x90, 0xdc, length);
    this.depth++;
  }

  /** Aerospike's order header element: ext8 of length 0 whose type byte is the flags. */
  private orderExt(flags: number): void {
    this.room(3);
    this.buf[this.pos++] = 0xc7;
    this.buf[this.pos++] = 0;
    this.buf[this.pos++] = flags;
  }

  listEnd(): void {
    this.depth--;
  }

  mapStart(size: number, order: MapOrder): void {
    if (this.depth === 0) this.particle(Particle.MAP);
    if (order === 'unordered') this.header(0x80, 0xde, size);
    else {
      // one extra leading pair: the order ext as key, nil as value
      this.header(0x80, 0xde, size + 1);
      this.orderExt(MAP_ORDER_FLAGS[order]);
      this.room(1);
      this.buf[this.pos++] = 0xc0;
    }
    this.depth++;
  }

  mapKey(): void { /* the key's value follows */ }
  mapValue(): void { /* the value follows */ }

  mapEnd(): void {
    this.depth--;
  }
}

const scratch = new Transcoder();

/** The whole AS_MSG answer (proto header included) to a read of every bin of `stored`. */
export function encodeRecordAnswer(stored: StoredRecord): Buffer {
  const t = scratch;
  t.reset(PROTO_HEADER_BYTES + MSG_HEADER_BYTES);
  walkBins(stored.payload, t);
  t.finishOp();
  const out = Buffer.allocUnsafe(t.pos);
  t.buf.copy(out, 0, 0, t.pos);
  const size = t.pos - PROTO_HEADER_BYTES;
  out[0] = PROTO_VERSION;
  out[1] = MessageType.MESSAGE;
  out.writeUInt16BE(Math.floor(size / 0x100000000), 2);
  out.writeUInt32BE(size >>> 0, 4);
  const h = PROTO_HEADER_BYTES;
  out[h] = MSG_HEADER_BYTES;
  out.fill(0, h + 1, h + 6);
  out.writeUInt32BE(stored.meta.generation >>> 0, h + 6);
  out.writeUInt32BE(wireVoidTime(stored.meta.voidTime), h + 10);
  out.writeUInt32BE(0, h + 14);
  out.writeUInt16BE(0, h + 18);
  out.writeUInt16BE(t.ops, h + 20);
  return out;
}
