/**
 * HyperLogLog operations as the clients encode them (op 15 HLL_READ, 16 HLL_MODIFY; msgpack
 * `[opcode, args…]`, `aerospike-client-c` as_hll_operations.c) mapped onto the kernel's HLL
 * operations. Index and min-hash bits of -1 mean "not given"; HLL arguments are blobs whose
 * first byte is the particle type (18).
 */
import { DbError } from '../../errors/index.ts';
import { isList, parseHll, type BinValue, type Hll } from '../../model/index.ts';
import type { HllOperation, HllOpKind, HllPolicy } from '../../transaction/hll-ops.ts';
import { isHllRead } from '../../transaction/hll-ops.ts';
import { MsgpackReader, toBinValue, type WireValue } from './msgpack.ts';

const KINDS: Readonly<Record<number, HllOpKind>> = {
  0: 'init', 1: 'add', 2: 'setUnion', 3: 'refreshCount', 4: 'fold',
  50: 'getCount', 51: 'getUnion', 52: 'getUnionCount', 53: 'getIntersectCount', 54: 'getSimilarity', 55: 'describe', 56: 'mayContain',
};

function int(v: WireValue | undefined, what: string): number {
  if (typeof v !== 'bigint') throw new DbError('PARAMETER', `${what} must be an integer`);
  return Number(v);
}

/** Index or min-hash bits: -1 (or absent) is "not given". */
function bits(v: WireValue | undefined, name: 'indexBits' | 'minhashBits', what: string): { indexBits?: number } | { minhashBits?: number } {
  if (v === undefined) return {};
  const n = int(v, `${what}: the ${name === 'indexBits' ? 'index' : 'min-hash'} bits`);
  return n === -1 ? {} : { [name]: n };
}

function policy(v: WireValue | undefined, what: string): { policy?: HllPolicy } {
  if (v === undefined) return {};
  const n = int(v, `${what}: the HLL write flags`);
  if (n & ~0x0f) throw new DbError('PARAMETER', `${what}: HLL write flags ${n} are not known`);
  return n === 0 ? {} : { policy: { createOnly: (n & 1) !== 0, updateOnly: (n & 2) !== 0, noFail: (n & 4) !== 0, allowFold: (n & 8) !== 0 } };
}

function values(v: WireValue | undefined, what: string): BinValue[] {
  const x = v === undefined ? undefined : toBinValue(v);
  if (x === undefined || !isList(x)) throw new DbError('PARAMETER', `${what}: the values must be a list`);
  return [...x];
}

/** A list of HLLs, or one HLL (as the server also accepts). */
function hlls(v: WireValue | undefined, what: string): Hll[] {
  const one = (x: WireValue, i: number): Hll => {
    if (!(x instanceof Uint8Array)) throw new DbError('PARAMETER', `${what}: HLL ${i} must be an HLL blob`);
    return parseHll(x, `${what}: HLL ${i}`);
  };
  if (Array.isArray(v)) return (v as readonly WireValue[]).map(one);
  if (v === undefined) throw new DbError('PARAMETER', `${what}: the HLLs are missing`);
  return [one(v, 0)];
}

/** Refuses arguments beyond those the operation takes. */
function most(a: readonly WireValue[], n: number, what: string): void {
  if (a.length > n) throw new DbError('PARAMETER', `${what} takes at most ${n} argument${n === 1 ? '' : 's'}, not ${a.length}`);
}

/** One HLL operation payload as a kernel operation on `bin`; `modify` says which op type carried it. */
export function hllOperation(bin: string, payload: Buffer, modify: boolean): HllOperation {
  const all = new MsgpackReader(payload).read();
  if (!Array.isArray(all) || all.length === 0) throw new DbError('PARAMETER', `the HLL operation on bin '${bin}' is not an array`);
  const [code, ...a] = all as readonly WireValue[];
  const opcode = int(code, 'the HLL opcode');
  const kind = KINDS[opcode];
  if (kind === undefined) throw new DbError('PARAMETER', `HLL opcode ${opcode} is not known`, { hint: 'send operations the Aerospike clients send' });
  if (isHllRead(kind) === modify) throw new DbError('PARAMETER', `HLL opcode ${opcode} (${kind}) sent as an HLL ${modify ? 'modify' : 'read'} operation`);
  const w = `hll ${kind} on bin '${bin}'`;
  const base = { op: 'hll' as const, bin, kind };
  switch (kind) {
    case 'init': most(a, 3, w); return { ...base, ...bits(a[0], 'indexBits', w), ...bits(a[1], 'minhashBits', w), ...policy(a[2], w) };
    case 'add': most(a, 4, w); return { ...base, values: values(a[0], w), ...bits(a[1], 'indexBits', w), ...bits(a[2], 'minhashBits', w), ...policy(a[3], w) };
    case 'setUnion': most(a, 2, w); return { ...base, hlls: hlls(a[0], w), ...policy(a[1], w) };
    case 'fold': most(a, 1, w); return { ...base, indexBits: int(a[0], `${w}: the index bits`) };
    case 'refreshCount': case 'getCount': case 'describe': most(a, 0, w); return base;
    case 'mayContain': most(a, 1, w); return { ...base, values: values(a[0], w) };
    default: most(a, 1, w); return { ...base, hlls: hlls(a[0], w) };
  }
}
