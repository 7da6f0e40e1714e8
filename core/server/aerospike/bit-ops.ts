/**
 * Bit operations as the clients encode them (ops 12/13, msgpack `[opcode, args…]`, or with a
 * context `[0xff, ctx, [opcode, args…]]`) mapped onto the kernel's bit operations.
 */
import { DbError } from '../../errors/index.ts';
import type { BitOperation, BitOpKind, BitPolicy } from '../../transaction/bit-ops.ts';
import type { Operation } from '../../transaction/operations.ts';
import { contextOf } from './cdt.ts';
import { MsgpackReader, type WireValue } from './msgpack.ts';

const KINDS: Readonly<Record<number, BitOpKind>> = {
  0: 'resize', 1: 'insert', 2: 'remove', 3: 'set', 4: 'or', 5: 'xor', 6: 'and', 7: 'not', 8: 'lshift', 9: 'rshift',
  10: 'add', 11: 'subtract', 12: 'setInt', 50: 'get', 51: 'count', 52: 'lscan', 53: 'rscan', 54: 'getInt',
};

function int(v: WireValue | undefined, what: string): number {
  if (typeof v !== 'bigint') throw new DbError('PARAMETER', `${what} must be an integer`);
  return Number(v);
}

function bytes(v: WireValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new DbError('PARAMETER', `${what} must be bytes`);
  return v;
}

/** The most arguments each opcode takes (the server's op tables, `particle_blob.c`). */
const MAX_ARGS: Readonly<Record<BitOpKind, number>> = {
  resize: 3, insert: 3, remove: 3, set: 4, or: 4, xor: 4, and: 4, not: 3, lshift: 4, rshift: 4, add: 5, subtract: 5, setInt: 4,
  get: 2, count: 2, lscan: 3, rscan: 3, getInt: 3,
};

function policy(v: WireValue | undefined): { policy?: BitPolicy } {
  if (v === undefined || v === null) return {};
  const n = int(v, 'the bit write flags');
  if (n & ~0x0f) throw new DbError('PARAMETER', `bit write flags ${n} are not known`);
  return n === 0 ? {} : { policy: { createOnly: (n & 1) !== 0, updateOnly: (n & 2) !== 0, noFail: (n & 4) !== 0, partial: (n & 8) !== 0 } };
}

/** One bit operation payload as a kernel operation on `bin`. */
export function bitOperation(bin: string, payload: Buffer): Operation {
  const all = new MsgpackReader(payload).read();
  if (!Array.isArray(all) || all.length === 0) throw new DbError('PARAMETER', `the bit operation on bin '${bin}' is not an array`);
  let [code, ...a] = all as readonly WireValue[];
  let ctx: ReturnType<typeof contextOf> | undefined;
  if (code === 0xffn) {
    const inner = a[1];
    if (a.length !== 2 || !Array.isArray(inner) || inner.length === 0) throw new DbError('PARAMETER', `the context operation on bin '${bin}' must be [0xff, ctx, [opcode, …]]`);
    ctx = contextOf(a[0] as WireValue);
    [code, ...a] = inner as readonly WireValue[];
  }
  const opcode = int(code, 'the bit opcode');
  const kind = KINDS[opcode];
  if (kind === undefined) throw new DbError('PARAMETER', `bit opcode ${opcode} is not known`, { hint: 'send operations the Aerospike clients send' });
  const w = `bit ${kind} on bin '${bin}'`;
  if (a.length > MAX_ARGS[kind]) {
    throw new DbError('PARAMETER', `${w} takes at most ${MAX_ARGS[kind]} arguments, not ${a.length}`, { hint: 'send the arguments the Aerospike clients send for this operation' });
  }
  const base = { op: 'bit' as const, bin, kind, ...(ctx === undefined || ctx.length === 0 ? {} : { ctx }) };
  let op: BitOperation;
  switch (kind) {
    case 'resize': {
      const f = a[2] === undefined ? 0 : int(a[2], `${w}: resize flags`);
      op = { ...base, size: int(a[0], `${w}: the byte size`), ...policy(a[1]), resizeFlags: { fromFront: (f & 1) !== 0, growOnly: (f & 2) !== 0, shrinkOnly: (f & 4) !== 0 } };
      break;
    }
    case 'insert': op = { ...base, offset: int(a[0], `${w}: the byte offset`), value: bytes(a[1], `${w}: the bytes`), ...policy(a[2]) }; break;
    case 'remove': op = { ...base, offset: int(a[0], `${w}: the byte offset`), size: int(a[1], `${w}: the byte size`), ...policy(a[2]) }; break;
    case 'set': case 'or': case 'xor': case 'and':
      op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), value: bytes(a[2], `${w}: the bytes`), ...policy(a[3]) };
      break;
    case 'not': op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), ...policy(a[2]) }; break;
    case 'lshift': case 'rshift':
      op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), shift: int(a[2], `${w}: the shift`), ...policy(a[3]) };
      break;
    case 'add': case 'subtract': {
      const action = a[4] === undefined ? 0 : int(a[4], `${w}: the overflow action`);
      const overflow = (action & 6) === 2 ? 'saturate' : (action & 6) === 4 ? 'wrap' : 'fail';
      const v = a[2];
      if (typeof v !== 'bigint') throw new DbError('PARAMETER', `${w}: the value must be an integer`);
      op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), integer: v, ...policy(a[3]), signed: (action & 1) !== 0, overflow };
      break;
    }
    case 'setInt': {
      const v = a[2];
      if (typeof v !== 'bigint') throw new DbError('PARAMETER', `${w}: the value must be an integer`);
      op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), integer: v, ...policy(a[3]) };
      break;
    }
    case 'get': case 'count': op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`) }; break;
    case 'lscan': case 'rscan':
      if (typeof a[2] !== 'boolean') throw new DbError('PARAMETER', `${w}: the value to look for must be a boolean`);
      op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), scanFor: a[2] };
      break;
    case 'getInt': op = { ...base, offset: int(a[0], `${w}: the bit offset`), size: int(a[1], `${w}: the bit size`), signed: a[2] !== undefined && int(a[2], `${w}: signed`) === 1 }; break;
  }
  return op;
}
