/**
 * Bit operations on blob (bytes) bins — Aerospike's bitwise operations, with its policies,
 * offsets, overflow actions and failures (server `particle_blob.c`):
 *
 * - offsets are in bits (bytes for resize, insert and remove); a negative offset counts back
 *   from the end of the blob; bit 0 is the most significant bit of byte 0;
 * - a write on a missing bin fails with BIN_NOT_FOUND (17) except resize and insert, which
 *   create it (not with `updateOnly`); `createOnly` on an existing bin fails with BIN_EXISTS (6);
 *   a bin that is not bytes fails with BIN_TYPE (12);
 * - a range that starts past the end fails with OP_NOT_APPLICABLE (26) (remove: PARAMETER); a
 *   range that runs past the end fails the same way unless `partial` clips it (set, or, xor,
 *   and, not, lshift, rshift, remove); integer operations and reads never clip;
 * - `noFail` turns each of those failures into doing nothing;
 * - add and subtract on `size` bits (1 to 64), unsigned or `signed`, on overflow `fail`
 *   (OP_NOT_APPLICABLE), `saturate` or `wrap`.
 *
 * Writes return nothing; get returns bytes (the bits left-aligned, the last byte padded with
 * zeros), count the number of set bits, lscan/rscan the position of the first/last bit equal
 * to the value within the range (-1: none), getInt the integer.
 */
import { DbError } from '../errors/index.ts';
import type { BinValue } from '../model/index.ts';
import type { CdtContextItem } from './cdt/context-item.ts';

export type BitOpKind =
  | 'resize' | 'insert' | 'remove' | 'set' | 'or' | 'xor' | 'and' | 'not' | 'lshift' | 'rshift'
  | 'add' | 'subtract' | 'setInt' | 'get' | 'count' | 'lscan' | 'rscan' | 'getInt';

export const BIT_OP_KINDS: readonly BitOpKind[] = [
  'resize', 'insert', 'remove', 'set', 'or', 'xor', 'and', 'not', 'lshift', 'rshift',
  'add', 'subtract', 'setInt', 'get', 'count', 'lscan', 'rscan', 'getInt',
];

/** Aerospike's BitWriteFlags. */
export interface BitPolicy {
  /** Fail (BIN_EXISTS) when the bin exists. */
  readonly createOnly?: boolean;
  /** Fail (BIN_NOT_FOUND) when the bin does not exist. */
  readonly updateOnly?: boolean;
  /** Do nothing instead of failing. */
  readonly noFail?: boolean;
  /** Clip a range that runs past the end of the blob instead of failing. */
  readonly partial?: boolean;
}

/** Aerospike's BitResizeFlags. */
export interface BitResizeFlags {
  /** Add or remove bytes at the front instead of the end. */
  readonly fromFront?: boolean;
  /** Fail (PARAMETER) rather than shrink. */
  readonly growOnly?: boolean;
  /** Fail (PARAMETER) rather than grow. */
  readonly shrinkOnly?: boolean;
}

/** What add and subtract do when the result does not fit (Aerospike's BitOverflowAction). */
export type BitOverflowAction = 'fail' | 'saturate' | 'wrap';

/** One bit operation on a bytes bin. */
export interface BitOperation {
  readonly op: 'bit';
  readonly bin: string;
  readonly kind: BitOpKind;
  /** Bit offset (byte offset for insert and remove); negative counts from the end. */
  readonly offset?: number;
  /** Bits (bytes for resize and remove). */
  readonly size?: number;
  /** The bytes of set, or, xor, and and insert. */
  readonly value?: Uint8Array;
  /** lshift/rshift: bits to shift by. */
  readonly shift?: number;
  /** add/subtract/setInt: the integer. */
  readonly integer?: bigint;
  /** add/subtract/getInt: treat the bits as a two's-complement signed integer. */
  readonly signed?: boolean;
  /** add/subtract: on overflow (default fail). */
  readonly overflow?: BitOverflowAction;
  /** lscan/rscan: the bit value to look for. */
  readonly scanFor?: boolean;
  readonly resizeFlags?: BitResizeFlags;
  readonly policy?: BitPolicy;
  /** The path to a bytes value nested in lists and maps; absent or empty: the bin itself. */
  readonly ctx?: readonly CdtContextItem[];
}

export interface BitResult {
  /** The bin's new value (undefined: unchanged). */
  readonly next: Uint8Array | undefined;
  /** What a read returns; undefined for writes. */
  readonly result: BinValue | undefined;
}

const READS: ReadonlySet<BitOpKind> = new Set<BitOpKind>(['get', 'count', 'lscan', 'rscan', 'getInt']);

export function isBitRead(kind: BitOpKind): boolean {
  return READS.has(kind);
}

/** Largest blob a bit operation may produce (a record is far smaller anyway). */
const MAX_BLOB_BYTES = 128 * 1024 * 1024;

const UNCHANGED: BitResult = { next: undefined, result: undefined };

function fail(op: BitOperation, code: 'PARAMETER' | 'OP_NOT_APPLICABLE' | 'BIN_NOT_FOUND' | 'BIN_EXISTS', message: string, hint?: string): BitResult {
  if (op.policy?.noFail === true && !isBitRead(op.kind)) return UNCHANGED;
  throw new DbError(code, `bit ${op.kind} on bin '${op.bin}': ${message}`, hint === undefined ? {} : { hint });
}

function int(op: BitOperation, v: number | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' needs ${name} as an integer from ${min} to ${max}${v === undefined ? '' : `, not ${v}`}`);
  }
  return v;
}

function toBig(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
}

function fromBig(v: bigint, length: number): Uint8Array {
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(Buffer.from(v.toString(16).padStart(length * 2, '0'), 'hex'));
}

/** The bits [offset, offset + size) of `buf` as an unsigned integer, and a way to write them back. */
class BitRange {
  private readonly first: number;
  private readonly last: number;
  private readonly trail: bigint;
  private readonly mask: bigint;
  private readonly whole: bigint;
  private readonly buf: Uint8Array;
  readonly size: number;
  constructor(buf: Uint8Array, offset: number, size: number) {
    this.buf = buf;
    this.size = size;
    this.first = offset >> 3;
    this.last = (offset + size + 7) >> 3;
    const total = (this.last - this.first) * 8;
    this.trail = BigInt(total - (offset - this.first * 8) - size);
    this.mask = ((1n << BigInt(size)) - 1n) << this.trail;
    this.whole = toBig(buf.subarray(this.first, this.last));
  }
  get(): bigint {
    return (this.whole & this.mask) >> this.trail;
  }
  /** A copy of the blob with these bits replaced by the low `size` bits of `v`. */
  with(v: bigint): Uint8Array {
    const next = new Uint8Array(this.buf);
    const whole = (this.whole & ~this.mask) | ((v << this.trail) & this.mask);
    next.set(fromBig(whole, this.last - this.first), this.first);
    return next;
  }
}

/** The write flags each bit write takes (the server's op table, `particle_blob.c`); others: PARAMETER. */
const POLICY_FLAGS: Readonly<Partial<Record<BitOpKind, readonly (keyof BitPolicy)[]>>> = {
  resize: ['createOnly', 'updateOnly', 'noFail'], insert: ['createOnly', 'updateOnly', 'noFail'], remove: ['updateOnly', 'noFail', 'partial'],
  set: ['updateOnly', 'noFail', 'partial'], or: ['updateOnly', 'noFail', 'partial'], xor: ['updateOnly', 'noFail', 'partial'],
  and: ['updateOnly', 'noFail', 'partial'], not: ['updateOnly', 'noFail', 'partial'], lshift: ['updateOnly', 'noFail', 'partial'],
  rshift: ['updateOnly', 'noFail', 'partial'], add: ['updateOnly', 'noFail'], subtract: ['updateOnly', 'noFail'], setInt: ['updateOnly', 'noFail'],
};

function checkPolicyFlags(op: BitOperation, policy: BitPolicy): void {
  const allowed = POLICY_FLAGS[op.kind] ?? [];
  const stray = (['createOnly', 'updateOnly', 'noFail', 'partial'] as const).filter((f) => policy[f] === true && !allowed.includes(f));
  if (stray.length > 0) {
    throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' takes no ${stray.join(', ')} write flag${stray.length === 1 ? '' : 's'}`, {
      hint: `${op.kind} takes ${allowed.join(', ')}`,
    });
  }
}

/** Runs a bit operation on a bin's current value. */
export function applyBitOp(current: BinValue | undefined, op: BitOperation): BitResult {
  if (!BIT_OP_KINDS.includes(op.kind)) {
    throw new DbError('PARAMETER', `unknown bit operation ${JSON.stringify(op.kind)} on bin '${op.bin}'`, { hint: `use one of ${BIT_OP_KINDS.join(', ')}` });
  }
  const exists = current !== undefined && current !== null;
  if (exists && !(current instanceof Uint8Array)) {
    throw new DbError('BIN_TYPE', `bit ${op.kind} on bin '${op.bin}': the bin does not hold bytes`, { hint: 'bit operations work on bytes (blob) bins' });
  }
  const blob = exists ? current as Uint8Array : undefined;
  if (isBitRead(op.kind)) {
    if (op.policy !== undefined) throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' is a read and takes no policy`);
    return read(blob, op);
  }
  const policy = op.policy ?? {};
  checkPolicyFlags(op, policy);
  if (blob !== undefined && policy.createOnly === true) return fail(op, 'BIN_EXISTS', 'the bin exists and the policy is createOnly');
  if (blob === undefined && ((op.kind !== 'insert' && op.kind !== 'resize') || policy.updateOnly === true)) {
    return fail(op, 'BIN_NOT_FOUND', 'the bin does not exist', 'only resize and insert create a bytes bin');
  }
  const old = blob ?? new Uint8Array(0);
  const r = modify(old, op);
  if (r.next !== undefined && r.next.length > MAX_BLOB_BYTES) throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}': the blob would be ${r.next.length} bytes`);
  return r;
}

/** A bit (or byte) offset made absolute; negative counts from the end. */
function absolute(op: BitOperation, offset: number, limit: number, unit: string): number | BitResult {
  if (offset >= 0) return offset;
  if (-offset > limit) return fail(op, 'PARAMETER', `${unit} offset ${offset} reaches before the start of a ${limit}-${unit} blob`);
  return limit + offset;
}

function modify(old: Uint8Array, op: BitOperation): BitResult {
  const bits = old.length * 8;
  switch (op.kind) {
    case 'resize': {
      const size = int(op, op.size, 'size (bytes)', 0, MAX_BLOB_BYTES);
      const f = op.resizeFlags ?? {};
      if (size === old.length) return UNCHANGED;
      if (size < old.length && f.growOnly === true) return fail(op, 'PARAMETER', `cannot shrink ${old.length} bytes to ${size} with growOnly`);
      if (size > old.length && f.shrinkOnly === true) return fail(op, 'PARAMETER', `cannot grow ${old.length} bytes to ${size} with shrinkOnly`);
      const next = new Uint8Array(size);
      if (size > old.length) next.set(old, f.fromFront === true ? size - old.length : 0);
      else next.set(f.fromFront === true ? old.subarray(old.length - size) : old.subarray(0, size));
      return { next, result: undefined };
    }
    case 'insert': {
      if (op.value === undefined || op.value.length === 0) throw new DbError('PARAMETER', `bit insert on bin '${op.bin}' needs bytes to insert`);
      const at = absolute(op, int(op, op.offset, 'offset (bytes)', -MAX_BLOB_BYTES, MAX_BLOB_BYTES), old.length, 'byte');
      if (typeof at !== 'number') return at;
      const head = Math.min(at, old.length);
      const next = new Uint8Array(Math.max(at, old.length) + op.value.length);
      next.set(old.subarray(0, head));
      next.set(op.value, at);
      next.set(old.subarray(head), at + op.value.length);
      return { next, result: undefined };
    }
    case 'remove': {
      const at = absolute(op, int(op, op.offset, 'offset (bytes)', -MAX_BLOB_BYTES, MAX_BLOB_BYTES), old.length, 'byte');
      if (typeof at !== 'number') return at;
      let size = int(op, op.size, 'size (bytes)', 1, MAX_BLOB_BYTES);
      if (at >= old.length) return fail(op, 'PARAMETER', `byte offset ${at} is past the end of a ${old.length}-byte blob`);
      if (at + size > old.length) {
        if (op.policy?.partial !== true) return fail(op, 'PARAMETER', `removing ${size} bytes from ${at} runs past the end of a ${old.length}-byte blob`, 'use the partial policy to remove to the end');
        size = old.length - at;
      }
      const next = new Uint8Array(old.length - size);
      next.set(old.subarray(0, at));
      next.set(old.subarray(at + size), at);
      return { next, result: undefined };
    }
    default: break;
  }
  // bit-range operations
  const offset = absolute(op, int(op, op.offset, 'offset (bits)', -MAX_BLOB_BYTES * 8, MAX_BLOB_BYTES * 8), bits, 'bit');
  if (typeof offset !== 'number') return offset;
  const integerOp = op.kind === 'add' || op.kind === 'subtract' || op.kind === 'setInt';
  let size = int(op, op.size, 'size (bits)', 1, integerOp ? 64 : MAX_BLOB_BYTES * 8);
  if (offset >= bits) return fail(op, 'OP_NOT_APPLICABLE', `bit offset ${offset} is past the end of a ${old.length}-byte blob`, 'resize or insert to grow the blob first');
  if (offset + size > bits) {
    if (integerOp || op.policy?.partial !== true) {
      return fail(op, 'OP_NOT_APPLICABLE', `${size} bits from bit ${offset} run past the end of a ${old.length}-byte blob`, integerOp ? 'grow the blob first' : 'use the partial policy to stop at the end, or grow the blob');
    }
    size = bits - offset;
  }
  const range = new BitRange(old, offset, size);
  const full = (1n << BigInt(size)) - 1n;
  const operand = (): bigint => {
    const v = op.value;
    const need = Math.ceil(int(op, op.size, 'size (bits)', 1) / 8);
    if (v === undefined || v.length < need) throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' needs at least ${need} bytes of value for ${op.size} bits`);
    // the value's bits are left-aligned: its first `size` bits apply
    return new BitRange(v, 0, size).get();
  };
  switch (op.kind) {
    case 'set': return { next: range.with(operand()), result: undefined };
    case 'or': return { next: range.with(range.get() | operand()), result: undefined };
    case 'xor': return { next: range.with(range.get() ^ operand()), result: undefined };
    case 'and': return { next: range.with(range.get() & operand()), result: undefined };
    case 'not': return { next: range.with(~range.get() & full), result: undefined };
    case 'lshift': case 'rshift': {
      const shift = BigInt(int(op, op.shift, 'shift', 0, MAX_BLOB_BYTES * 8));
      const v = range.get();
      return { next: range.with(op.kind === 'lshift' ? (v << shift) & full : v >> shift), result: undefined };
    }
    case 'setInt': {
      if (op.integer === undefined) throw new DbError('PARAMETER', `bit setInt on bin '${op.bin}' needs an integer`);
      return { next: range.with(BigInt.asUintN(size, op.integer)), result: undefined };
    }
    case 'add': case 'subtract': {
      if (op.integer === undefined) throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' needs an integer`);
      const overflow = op.overflow ?? 'fail';
      if (overflow !== 'fail' && overflow !== 'saturate' && overflow !== 'wrap') throw new DbError('PARAMETER', `overflow must be fail, saturate or wrap, not ${JSON.stringify(overflow)}`);
      const n = BigInt(size);
      const load = range.get();
      const value = BigInt.asUintN(size, op.integer);
      const wrapped = BigInt.asUintN(size, op.kind === 'add' ? load + value : load - value);
      if (overflow === 'wrap') return { next: range.with(wrapped), result: undefined };
      let out = wrapped;
      if (op.signed === true) {
        const sl = BigInt.asIntN(size, load);
        const sv = BigInt.asIntN(size, op.kind === 'add' ? value : BigInt.asUintN(size, -BigInt.asIntN(64, value)));
        const exact = sl + sv;
        const max = (1n << (n - 1n)) - 1n;
        const min = -(1n << (n - 1n));
        if (exact > max || exact < min) {
          if (overflow === 'fail') return fail(op, 'OP_NOT_APPLICABLE', `${op.kind} overflows a signed ${size}-bit integer`, 'use overflow saturate or wrap');
          out = BigInt.asUintN(size, exact > max ? max : min);
        }
      } else {
        const exact = op.kind === 'add' ? load + value : load - value;
        if (exact > full || exact < 0n) {
          if (overflow === 'fail') return fail(op, 'OP_NOT_APPLICABLE', `${op.kind} overflows an unsigned ${size}-bit integer`, 'use overflow saturate or wrap');
          out = exact > full ? full : 0n;
        }
      }
      return { next: range.with(out), result: undefined };
    }
    default:
      throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' is not a write`);
  }
}

function read(blob: Uint8Array | undefined, op: BitOperation): BitResult {
  if (blob === undefined) return { next: undefined, result: null };
  const bits = blob.length * 8;
  const offset = absolute(op, int(op, op.offset, 'offset (bits)', -MAX_BLOB_BYTES * 8, MAX_BLOB_BYTES * 8), bits, 'bit');
  if (typeof offset !== 'number') return offset;
  const size = int(op, op.size, 'size (bits)', 1, op.kind === 'getInt' ? 64 : MAX_BLOB_BYTES * 8);
  if (offset >= bits || offset + size > bits) {
    throw new DbError('OP_NOT_APPLICABLE', `bit ${op.kind} on bin '${op.bin}': ${size} bits from bit ${offset} are not all inside a ${blob.length}-byte blob`);
  }
  const v = new BitRange(blob, offset, size).get();
  switch (op.kind) {
    case 'get': {
      const bytes = Math.ceil(size / 8);
      return { next: undefined, result: fromBig(v << BigInt(bytes * 8 - size), bytes) };
    }
    case 'count': {
      let n = 0n;
      for (let x = v; x > 0n; x &= x - 1n) n++;
      return { next: undefined, result: n };
    }
    case 'lscan': case 'rscan': {
      if (typeof op.scanFor !== 'boolean') throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' needs scanFor (the bit value to look for)`);
      const target = op.scanFor ? v : ~v & ((1n << BigInt(size)) - 1n);
      if (target === 0n) return { next: undefined, result: -1n };
      const highest = target.toString(2).length - 1; // position from the right
      if (op.kind === 'lscan') return { next: undefined, result: BigInt(size - 1 - highest) };
      let low = 0;
      while (((target >> BigInt(low)) & 1n) === 0n) low++;
      return { next: undefined, result: BigInt(size - 1 - low) };
    }
    case 'getInt': return { next: undefined, result: op.signed === true ? BigInt.asIntN(size, v) : v };
    default: throw new DbError('PARAMETER', `bit ${op.kind} on bin '${op.bin}' is not a read`);
  }
}
