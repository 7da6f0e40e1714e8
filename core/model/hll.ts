/**
 * HyperLogLog values, byte for byte Aerospike's (server `as/src/base/particle_hll.c`): a
 * HyperMinHash sketch (Yu & Weber, arXiv:1710.08436) of 2^indexBits registers, each a 6-bit
 * HyperLogLog value followed by `minhashBits` bits of MinHash, with Ertl's cardinality estimator
 * (arXiv:1702.01284, algorithm 6). Ported, not reinvented, so that counts, unions and the stored
 * bytes match Aerospike's: the Aerospike protocol carries them as they are (particle type 18).
 *
 * Layout: u8 flags (0), u8 indexBits (4–16), u8 minhashBits (0 or 4–51, indexBits +
 * minhashBits ≤ 64), u64 cached count (little-endian; 0 = not cached), then the registers,
 * packed big-endian bit after bit. An element is hashed with MurmurHash3 x64-128 (seed 0) over its
 * compact Aerospike msgpack form: the low `indexBits` of the first half pick the register, the
 * next `minhashBits` are the MinHash, and the trailing zeros of the second half plus one are
 * the HyperLogLog value.
 */
import murmur from 'murmurhash3js-revisited';
import { DbError } from '../errors/index.ts';
import { GeoJson, Hll, type BinValue } from './values.ts';

export const HLL_MIN_INDEX_BITS = 4;
export const HLL_MAX_INDEX_BITS = 16;
export const HLL_MIN_MINHASH_BITS = 4;
export const HLL_MAX_MINHASH_BITS = 51;
const HLL_BITS = 6;
const HLL_MAX_VALUE = 1 << HLL_BITS;
const HEADER = 11;

export function validIndexBits(n: number): boolean {
  return Number.isInteger(n) && n >= HLL_MIN_INDEX_BITS && n <= HLL_MAX_INDEX_BITS;
}

export function validMinhashBits(n: number): boolean {
  return n === 0 || (Number.isInteger(n) && n >= HLL_MIN_MINHASH_BITS && n <= HLL_MAX_MINHASH_BITS);
}

export function validHllBits(indexBits: number, minhashBits: number): boolean {
  return validIndexBits(indexBits) && validMinhashBits(minhashBits) && indexBits + minhashBits <= 64;
}

function registersSize(indexBits: number, minhashBits: number): number {
  return Math.floor(((HLL_BITS + minhashBits) * 2 ** indexBits + 7) / 8);
}

export function hllSize(indexBits: number, minhashBits: number): number {
  return HEADER + registersSize(indexBits, minhashBits);
}

/** The bytes as an HLL, checked as Aerospike checks HLLs it receives (PARAMETER otherwise). */
export function parseHll(bytes: Uint8Array, what: string): Hll {
  const ok = bytes.length >= HEADER && bytes[0] === 0 && validHllBits(bytes[1] as number, bytes[2] as number)
    && bytes.length === hllSize(bytes[1] as number, bytes[2] as number);
  if (!ok) {
    throw new DbError('PARAMETER', `${what} is not a valid HLL (flags 0, index bits 4–16, min-hash bits 0 or 4–51, index + min-hash ≤ 64, and the size those bits need)`, {
      hint: 'send HLL values as the server returned them (hll init/add, get-union)',
    });
  }
  return new Hll(bytes);
}

/** A working sketch over a copy of HLL bytes. */
export class Sketch {
  readonly buf: Buffer;
  readonly indexBits: number;
  readonly minhashBits: number;
  private readonly nBits: number;
  private readonly mask: bigint;
  private readonly maxOffset: number;

  private constructor(buf: Buffer) {
    this.buf = buf;
    this.indexBits = buf[1] as number;
    this.minhashBits = buf[2] as number;
    this.nBits = HLL_BITS + this.minhashBits;
    this.mask = (1n << BigInt(this.nBits)) - 1n;
    this.maxOffset = Math.floor((this.nBits * this.registers + 7) / 8) - 8;
  }

  /** An empty sketch (hmh_init). */
  static empty(indexBits: number, minhashBits: number): Sketch {
    const buf = Buffer.alloc(hllSize(indexBits, minhashBits));
    buf[1] = indexBits;
    buf[2] = minhashBits;
    return new Sketch(buf);
  }

  static of(h: Hll): Sketch {
    return new Sketch(Buffer.from(h.bytes));
  }

  get registers(): number {
    return 2 ** this.indexBits;
  }

  toHll(): Hll {
    return new Hll(new Uint8Array(this.buf));
  }

  get cache(): bigint {
    return this.buf.readBigUInt64LE(3);
  }

  set cache(v: bigint) {
    this.buf.writeBigUInt64LE(v, 3);
  }

  private locate(r: number): [number, number] {
    const bitOffset = this.nBits * r;
    let byteOffset = Math.floor(bitOffset / 8);
    let lBit = bitOffset % 8;
    if (byteOffset > this.maxOffset) {
      lBit += (byteOffset - this.maxOffset) * 8;
      byteOffset = this.maxOffset;
    }
    return [HEADER + byteOffset, lBit];
  }

  get(r: number): bigint {
    const [at, lBit] = this.locate(r);
    const v = this.buf.readBigUInt64BE(at);
    return (v >> BigInt(64 - (lBit + this.nBits))) & this.mask;
  }

  set(r: number, value: bigint): void {
    const [at, shift] = this.locate(r);
    const n = BigInt(this.nBits);
    const mask = ((this.mask << (64n - n)) & 0xffffffffffffffffn) >> BigInt(shift);
    const v = (((value << (64n - n)) & 0xffffffffffffffffn) >> BigInt(shift));
    const dword = this.buf.readBigUInt64BE(at);
    this.buf.writeBigUInt64BE((dword & ~mask & 0xffffffffffffffffn) | v, at);
  }

  /** The HyperLogLog part of a register value. */
  hllValue(v: bigint): number {
    return Number(v >> BigInt(this.minhashBits));
  }

  /** hmh_hash: the register an element goes to and its value there. */
  hash(element: Uint8Array): [number, bigint] {
    const hex = murmur.x64.hash128(element, 0);
    const h1 = BigInt(`0x${hex.slice(0, 16)}`);
    const h2 = BigInt(`0x${hex.slice(16, 32)}`);
    const r = Number(h1 & BigInt(this.registers - 1));
    const minhash = (h1 >> BigInt(this.indexBits)) & ((1n << BigInt(this.minhashBits)) - 1n);
    const hllVal = BigInt(ctz64(h2) + 1);
    return [r, (hllVal << BigInt(this.minhashBits)) | minhash];
  }

  /** hmh_add: whether the element changed a register. */
  add(element: Uint8Array): boolean {
    const [r, v] = this.hash(element);
    if (this.get(r) < v) {
      this.set(r, v);
      this.cache = 0n;
      return true;
    }
    return false;
  }

  /**
   * hmh_may_contain: whether the element may have been added — its register holds at least the
   * value the element would put there. Never false for an added element; true for others at the
   * sketch's collision rate.
   */
  mayContain(element: Uint8Array): boolean {
    const [r, v] = this.hash(element);
    return v <= this.get(r);
  }

  /** hmh_estimate_cardinality (the cached count when there is one). */
  count(): bigint {
    const cached = this.cache;
    if (cached !== 0n) return cached;
    const m = this.registers;
    const c = new Array<number>(HLL_MAX_VALUE + 1).fill(0);
    for (let r = 0; r < m; r++) {
      const k = this.hllValue(this.get(r));
      c[k] = (c[k] ?? 0) + 1;
    }
    let z = m * tau((c[HLL_MAX_VALUE] as number) / m);
    for (let k = HLL_MAX_VALUE; k > 0; k--) z = 0.5 * (z + (c[k] as number));
    z += m * sigma((c[0] as number) / m);
    return BigInt(Math.round(alpha(this.indexBits) * m * m / z));
  }

  /** hmh_union: merges `h` into this sketch (index bits ≤ h's; same min-hash bits or none). */
  union(h: Sketch): void {
    const mask = this.registers - 1;
    const max = h.registers;
    if (this.minhashBits === 0) {
      for (let r = 0; r < max; r++) {
        const u = r & mask;
        const v0 = this.hllValue(this.get(u));
        const v1 = h.hllValue(h.get(r));
        if (v0 < v1) this.set(u, BigInt(v1));
      }
      return;
    }
    for (let r = 0; r < max; r++) {
      const u = r & mask;
      const v1 = h.get(r);
      if (this.get(u) < v1) this.set(u, v1);
    }
    this.cache = 0n;
  }

  /** hmh_intersect_one: keeps the registers equal in both. */
  intersectOne(h: Sketch): void {
    const mask = this.registers - 1;
    for (let r = 0; r < h.registers; r++) {
      const s = r & mask;
      const v0 = this.get(s);
      this.set(s, v0 === h.get(r) ? v0 : 0n);
    }
  }

  usedRegisters(): number {
    let n = 0;
    for (let r = 0; r < this.registers; r++) if (this.get(r) !== 0n) n++;
    return n;
  }

  /** hmh_has_data (as the server checks it: the first 2^indexBits / 8 words of the registers). */
  hasData(): boolean {
    const words = Math.floor(this.registers / 8);
    for (let i = 0; i < words * 8; i++) if (this.buf[HEADER + i] !== 0) return true;
    return false;
  }
}

function ctz64(x: bigint): number {
  if (x === 0n) return 64;
  let n = 0;
  while ((x & 1n) === 0n) { x >>= 1n; n++; }
  return n;
}

function tau(val: number): number {
  if (val === 0 || val === 1) return 0;
  let zPrime: number;
  let y = 1;
  let z = 1 - val;
  do {
    val = Math.sqrt(val);
    zPrime = z;
    y *= 0.5;
    z -= (1 - val) ** 2 * y;
  } while (zPrime !== z);
  return z / 3;
}

function sigma(val: number): number {
  if (val === 1) return Infinity;
  let zPrime: number;
  let y = 1;
  let z = val;
  do {
    val *= val;
    zPrime = z;
    z += val * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function alpha(indexBits: number): number {
  switch (indexBits) {
    case 4: return 0.673;
    case 5: return 0.697;
    case 6: return 0.709;
    default: return 0.7213 / (1.0 + 1.079 / 2 ** indexBits);
  }
}

/** hmh_compatible_template: the smallest index bits; the shared min-hash bits, or 0 when they differ. */
export function template(hs: readonly Sketch[]): { indexBits: number; minhashBits: number } {
  const first = hs[0] as Sketch;
  let indexBits = first.indexBits;
  let minhashBits = first.minhashBits;
  for (const h of hs.slice(1)) {
    if (indexBits > h.indexBits) indexBits = h.indexBits;
    if (minhashBits !== 0 && minhashBits !== h.minhashBits) minhashBits = 0;
  }
  return { indexBits, minhashBits };
}

/** The union sketch of several (hll_read_op_union / the set-union write). */
export function unionOf(hs: readonly Sketch[], into?: { indexBits: number; minhashBits: number }): Sketch {
  const t = into ?? template(hs);
  const u = Sketch.empty(t.indexBits, t.minhashBits);
  for (const h of hs) u.union(h);
  return u;
}

export function unionCount(hs: readonly Sketch[]): bigint {
  return unionOf(hs).count();
}

/** hmh_estimate_intersect_cardinality. */
export function intersectCount(hs: readonly Sketch[]): bigint {
  const t = template(hs);
  if (t.minhashBits === 0) return hllIntersectCount(hs);
  const j = similarity(hs);
  if (Number.isNaN(j)) return 0n;
  return BigInt(Math.round(Number(unionCount(hs)) * j));
}

function hllIntersectCount(hs: readonly Sketch[]): bigint {
  const cu = unionCount(hs);
  let sum = 0n;
  for (const h of hs) {
    sum += h.count();
    if (sum > 0xffffffffffffffffn) { sum = 0xffffffffffffffffn; break; }
  }
  if (hs.length === 2) return sum > cu ? sum - cu : 0n;
  // three sketches: inclusion–exclusion
  const [a, b, c] = hs as [Sketch, Sketch, Sketch];
  const sumIntersect = intersectCount([a, b]) + intersectCount([b, c]) + intersectCount([a, c]);
  const result = BigInt.asIntN(64, cu) - (BigInt.asIntN(64, sum) - BigInt.asIntN(64, sumIntersect));
  return result < 0n ? 0n : result;
}

/** hmh_estimate_similarity (Jaccard); NaN when every sketch is empty. */
export function similarity(hs: readonly Sketch[]): number {
  const t = template(hs);
  if (t.minhashBits === 0) {
    return Number(hllIntersectCount(hs)) / Number(unionCount(hs));
  }
  let oneHasData = false;
  let oneIsEmpty = false;
  for (const h of hs) {
    if (h.hasData()) oneHasData = true;
    else oneIsEmpty = true;
  }
  if (oneIsEmpty) return oneHasData ? 0 : NaN;
  const agg = unionOf(hs, t);
  const nUnion = agg.usedRegisters();
  const inter = Sketch.empty(t.indexBits, t.minhashBits);
  inter.union(hs[0] as Sketch);
  for (const h of hs.slice(1)) inter.intersectOne(h);
  const nIntersect = inter.usedRegisters();
  let ec = 0;
  if (hs.length === 2) ec = collisions(t, Number((hs[0] as Sketch).count()), Number((hs[1] as Sketch).count()));
  const result = (nIntersect - ec) / nUnion;
  return result < 0 ? 0 : result;
}

/** hmh_jaccard_estimate_collisions. */
function collisions(t: { indexBits: number; minhashBits: number }, card0: number, card1: number): number {
  let cp = 0;
  const m = 2 ** t.indexBits;
  const buckets = 2 ** HLL_BITS;
  for (let i = 1; i <= buckets; i++) {
    let b1 = i !== buckets ? 2 ** -i : 0;
    let b2 = 2 ** (-i + 1);
    b1 /= m;
    b2 /= m;
    const prX = (1 - b1) ** card0 - (1 - b2) ** card0;
    const prY = (1 - b1) ** card1 - (1 - b2) ** card1;
    cp += prX * prY;
  }
  return cp * m / 2 ** t.minhashBits;
}

/**
 * An element's bytes as Aerospike hashes them: its compact msgpack form, strings and blobs with
 * their particle-type byte. Lists and maps are refused (PARAMETER), as by the server.
 */
export function hllElementBytes(v: BinValue, what: string): Uint8Array {
  if (v === null) return Uint8Array.of(0xc0);
  switch (typeof v) {
    case 'boolean': return Uint8Array.of(v ? 0xc3 : 0xc2);
    case 'bigint': return packInt(v);
    case 'number': { const b = Buffer.alloc(9); b[0] = 0xcb; b.writeDoubleBE(v, 1); return b; }
    case 'string': return typedString(3, Buffer.from(v, 'utf8'));
    default: break;
  }
  if (v instanceof Uint8Array) return typedString(4, v);
  if (v instanceof GeoJson) return typedString(0x17, Buffer.from(v.text, 'utf8'));
  throw new DbError('PARAMETER', `${what}: HLL elements are strings, integers, doubles, booleans, bytes or nil, not lists, maps or HLLs`, {
    hint: 'add scalar values to an HLL',
  });
}

function packInt(v: bigint): Uint8Array {
  const b = Buffer.alloc(9);
  if (v >= 0n) {
    if (v < 128n) return Uint8Array.of(Number(v));
    if (v < 256n) return Uint8Array.of(0xcc, Number(v));
    if (v < 65536n) { b[0] = 0xcd; b.writeUInt16BE(Number(v), 1); return b.subarray(0, 3); }
    if (v < 4294967296n) { b[0] = 0xce; b.writeUInt32BE(Number(v), 1); return b.subarray(0, 5); }
    b[0] = 0xcf; b.writeBigUInt64BE(v, 1); return b;
  }
  if (v >= -32n) return Uint8Array.of(Number(v) & 0xff);
  if (v >= -128n) { b[0] = 0xd0; b.writeInt8(Number(v), 1); return b.subarray(0, 2); }
  if (v >= -32768n) { b[0] = 0xd1; b.writeInt16BE(Number(v), 1); return b.subarray(0, 3); }
  if (v >= -2147483648n) { b[0] = 0xd2; b.writeInt32BE(Number(v), 1); return b.subarray(0, 5); }
  b[0] = 0xd3; b.writeBigInt64BE(v, 1); return b;
}

function typedString(type: number, payload: Uint8Array): Uint8Array {
  const n = payload.length + 1;
  let head: number[];
  if (n < 32) head = [0xa0 | n];
  else if (n < 256) head = [0xd9, n];
  else if (n < 0x10000) head = [0xda, n >> 8, n & 0xff];
  else head = [0xdb, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from(head), Buffer.from([type]), payload]);
}
