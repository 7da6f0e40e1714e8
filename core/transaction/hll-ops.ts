/**
 * HyperLogLog operations on HLL bins — Aerospike's HLL operations with its policies, results
 * and failures (server `particle_hll.c`; the sketch itself is model/hll.ts):
 *
 * - writes: `init` (a new empty HLL; on an existing bin the bits default to its own), `add`
 *   (creates the HLL when missing, with the given bits; returns how many values changed a
 *   register), `setUnion` (merges HLLs into the bin), `refreshCount` (caches and returns the
 *   count), `fold` (fewer index bits; only without min-hash bits);
 * - reads: `getCount`, `getUnion` (an HLL), `getUnionCount`, `getIntersectCount`,
 *   `getSimilarity` (a double), `describe` ([indexBits, minhashBits]), `mayContain` (1 when
 *   every value may be in the HLL — no false negatives — else 0); on a missing bin: nil;
 * - policy: `createOnly` (an existing bin fails with BIN_EXISTS 6), `updateOnly` (a missing bin
 *   fails with BIN_NOT_FOUND 17), `noFail` (either of those does nothing instead), `allowFold`
 *   (setUnion may lower the bin's index bits / drop its min-hash bits instead of failing with
 *   OP_NOT_APPLICABLE 26); each operation takes the flags Aerospike allows it, others PARAMETER;
 * - index bits 4–16, min-hash bits 0 or 4–51, together ≤ 64, else PARAMETER; creating without
 *   index bits, folding up, folding an HLL with min-hash bits, lowering bits without allowFold:
 *   OP_NOT_APPLICABLE; refreshCount or fold on a missing bin: BIN_NOT_FOUND; a bin that is not
 *   an HLL: BIN_TYPE (12).
 */
import { DbError } from '../errors/index.ts';
import {
  Hll, Sketch, hllElementBytes, intersectCount, similarity, template, unionCount, unionOf, validHllBits, validIndexBits, validMinhashBits,
  parseHll, valueType, type BinValue,
} from '../model/index.ts';

export type HllOpKind =
  | 'init' | 'add' | 'setUnion' | 'refreshCount' | 'fold'
  | 'getCount' | 'getUnion' | 'getUnionCount' | 'getIntersectCount' | 'getSimilarity' | 'describe' | 'mayContain';

export const HLL_OP_KINDS: readonly HllOpKind[] = [
  'init', 'add', 'setUnion', 'refreshCount', 'fold', 'getCount', 'getUnion', 'getUnionCount', 'getIntersectCount', 'getSimilarity', 'describe',
  'mayContain',
];

/** Aerospike's HLLWriteFlags. */
export interface HllPolicy {
  readonly createOnly?: boolean;
  readonly updateOnly?: boolean;
  readonly noFail?: boolean;
  readonly allowFold?: boolean;
}

/** One HLL operation on a bin. */
export interface HllOperation {
  readonly op: 'hll';
  readonly bin: string;
  readonly kind: HllOpKind;
  /** init/add (bits of an HLL they create; init on an existing bin: its new bits), fold (the new index bits). */
  readonly indexBits?: number;
  readonly minhashBits?: number;
  /** add, mayContain: the values. */
  readonly values?: readonly BinValue[];
  /** setUnion and the get… reads that combine: the other HLLs. */
  readonly hlls?: readonly Hll[];
  readonly policy?: HllPolicy;
}

const READS: ReadonlySet<HllOpKind> = new Set(['getCount', 'getUnion', 'getUnionCount', 'getIntersectCount', 'getSimilarity', 'describe', 'mayContain']);

export function isHllRead(kind: HllOpKind): boolean {
  return READS.has(kind);
}

type Field = 'indexBits' | 'minhashBits' | 'values' | 'hlls' | 'policy';
/** The fields each kind takes, and its allowed policy flags (server op tables). */
const SPEC: Readonly<Record<HllOpKind, { fields: readonly Field[]; flags: readonly (keyof HllPolicy)[] }>> = {
  init: { fields: ['indexBits', 'minhashBits', 'policy'], flags: ['createOnly', 'updateOnly', 'noFail'] },
  add: { fields: ['values', 'indexBits', 'minhashBits', 'policy'], flags: ['createOnly', 'noFail'] },
  setUnion: { fields: ['hlls', 'policy'], flags: ['createOnly', 'updateOnly', 'allowFold', 'noFail'] },
  refreshCount: { fields: [], flags: [] },
  fold: { fields: ['indexBits'], flags: [] },
  getCount: { fields: [], flags: [] },
  getUnion: { fields: ['hlls'], flags: [] },
  getUnionCount: { fields: ['hlls'], flags: [] },
  getIntersectCount: { fields: ['hlls'], flags: [] },
  getSimilarity: { fields: ['hlls'], flags: [] },
  describe: { fields: [], flags: [] },
  mayContain: { fields: ['values'], flags: [] },
};

export interface HllResult {
  /** The bin's new value (undefined: unchanged). */
  readonly next: Hll | undefined;
  /** What the operation returns (undefined: nothing). */
  readonly result: BinValue | undefined;
}

function fail(code: 'PARAMETER' | 'OP_NOT_APPLICABLE' | 'BIN_EXISTS' | 'BIN_NOT_FOUND' | 'BIN_TYPE', what: string, message: string, hint?: string): never {
  throw new DbError(code, `${what}: ${message}`, hint === undefined ? {} : { hint });
}

/** Refuses what the operation does not take, or takes malformed. */
function check(op: HllOperation, what: string): void {
  const spec = SPEC[op.kind];
  if (spec === undefined) fail('PARAMETER', what, `unknown HLL operation ${JSON.stringify(op.kind)}`, `use one of ${HLL_OP_KINDS.join(', ')}`);
  const given: Array<[Field, boolean]> = [
    ['indexBits', op.indexBits !== undefined], ['minhashBits', op.minhashBits !== undefined], ['values', op.values !== undefined],
    ['hlls', op.hlls !== undefined], ['policy', op.policy !== undefined],
  ];
  const stray = given.filter(([f, set]) => set && !spec.fields.includes(f)).map(([f]) => f);
  if (stray.length > 0) fail('PARAMETER', what, `takes no ${stray.join(', ')}`, spec.fields.length === 0 ? 'send it without arguments' : `it takes ${spec.fields.join(', ')}`);
  if (op.indexBits !== undefined && !validIndexBits(op.indexBits)) fail('PARAMETER', what, `index bits ${op.indexBits} are out of range`, 'use 4 to 16 index bits');
  if (op.minhashBits !== undefined) {
    if (!validMinhashBits(op.minhashBits)) fail('PARAMETER', what, `min-hash bits ${op.minhashBits} are out of range`, 'use 0 or 4 to 51 min-hash bits');
    if (op.indexBits !== undefined && !validHllBits(op.indexBits, op.minhashBits)) fail('PARAMETER', what, `index bits ${op.indexBits} and min-hash bits ${op.minhashBits} add up to more than 64`);
  }
  if (op.kind === 'fold' && op.indexBits === undefined) fail('PARAMETER', what, 'needs the index bits to fold to');
  if ((op.kind === 'add' || op.kind === 'mayContain') && (op.values === undefined || op.values.length === 0)) fail('PARAMETER', what, 'needs at least one value');
  if (op.kind === 'mayContain') for (const v of op.values as readonly BinValue[]) hllElementBytes(v, what);
  if (spec.fields.includes('hlls')) {
    if (op.hlls === undefined || op.hlls.length === 0) fail('PARAMETER', what, 'needs at least one HLL');
    op.hlls.forEach((h, i) => {
      if (!(h instanceof Hll)) fail('PARAMETER', what, `HLL ${i} is not an HLL value`);
      parseHll(h.bytes, `${what}: HLL ${i}`);
    });
  }
  const p = op.policy;
  if (p !== undefined) {
    const set = (Object.keys(p) as (keyof HllPolicy)[]).filter((k) => p[k] === true);
    const bad = set.filter((k) => !spec.flags.includes(k));
    if (bad.length > 0) fail('PARAMETER', what, `takes no ${bad.join(', ')} flag`, spec.flags.length === 0 ? 'send it without a policy' : `its flags are ${spec.flags.join(', ')}`);
    if (p.createOnly === true && p.updateOnly === true) fail('PARAMETER', what, 'createOnly and updateOnly exclude each other');
  }
  if ((op.kind === 'getIntersectCount' || op.kind === 'getSimilarity') && (op.hlls as readonly Hll[]).length > 2) {
    // more than three sketches in all: only with the same, non-zero min-hash bits
    const mb = (op.hlls as readonly Hll[])[0]?.minhashBits;
    if (mb === 0 || (op.hlls as readonly Hll[]).some((h) => h.minhashBits !== mb)) {
      fail('PARAMETER', what, 'intersecting more than two other HLLs needs them all to have the same, non-zero min-hash bits');
    }
  }
}

/** Runs an HLL operation on the bin's current value. */
export function applyHllOp(current: BinValue | undefined, op: HllOperation): HllResult {
  const what = `hll ${op.kind} on bin '${op.bin}'`;
  check(op, what);
  const exists = current !== undefined && current !== null;
  if (exists && !(current instanceof Hll)) {
    fail('BIN_TYPE', what, `the bin holds a ${valueType(current)}, not an HLL`, 'HLL operations need an HLL bin (or a missing one, for init, add and setUnion)');
  }
  const old = exists ? Sketch.of(current as Hll) : undefined;
  if (isHllRead(op.kind)) return { next: undefined, result: old === undefined ? null : read(op, old, what) };
  const f = op.policy ?? {};
  const noop: HllResult = { next: undefined, result: undefined };
  if (old !== undefined && f.createOnly === true) {
    if (f.noFail === true) return noop;
    fail('BIN_EXISTS', what, 'the bin exists and createOnly is set', 'use noFail to leave an existing HLL alone');
  }
  if (old === undefined && f.updateOnly === true) {
    if (f.noFail === true) return noop;
    fail('BIN_NOT_FOUND', what, 'the bin does not exist and updateOnly is set', 'use noFail to skip a missing HLL');
  }
  switch (op.kind) {
    case 'init': {
      let ib = op.indexBits;
      let mb = op.minhashBits;
      if (old === undefined) {
        if (ib === undefined) fail('OP_NOT_APPLICABLE', what, 'cannot create an HLL without index bits', 'pass indexBits (4 to 16)');
        mb ??= 0;
      } else {
        ib ??= old.indexBits;
        mb ??= old.minhashBits;
        if (!validHllBits(ib, mb)) fail('OP_NOT_APPLICABLE', what, `index bits ${ib} with min-hash bits ${mb} is not a valid HLL`);
      }
      return { next: Sketch.empty(ib, mb).toHll(), result: undefined };
    }
    case 'add': {
      let s: Sketch;
      if (old === undefined) {
        if (op.indexBits === undefined) fail('OP_NOT_APPLICABLE', what, 'cannot create an HLL without index bits', 'pass indexBits (4 to 16), or init the bin first');
        s = Sketch.empty(op.indexBits, op.minhashBits ?? 0);
      } else s = old;
      let added = 0n;
      for (const v of op.values as readonly BinValue[]) if (s.add(hllElementBytes(v, what))) added++;
      return { next: s.toHll(), result: added };
    }
    case 'setUnion': {
      const given = (op.hlls as readonly Hll[]).map((h) => Sketch.of(h));
      let minIb = 0xff;
      let minMb = 0xff;
      for (const h of given) {
        if (h.indexBits < minIb) minIb = h.indexBits;
        if (h.minhashBits !== minMb) minMb = minMb === 0xff ? h.minhashBits : 0;
      }
      if (old !== undefined && f.allowFold !== true) {
        if (old.indexBits > minIb) fail('OP_NOT_APPLICABLE', what, `the bin's HLL has ${old.indexBits} index bits, more than the ${minIb} of an HLL to merge`, 'set allowFold to fold the bin down to the fewest index bits');
        if (old.minhashBits !== 0 && old.minhashBits !== minMb) fail('OP_NOT_APPLICABLE', what, 'merging would drop the bin\'s min-hash bits', 'set allowFold to allow it, or merge HLLs with the same min-hash bits');
      }
      const all = old === undefined ? given : [...given, old];
      return { next: unionOf(all, template(all)).toHll(), result: undefined };
    }
    case 'refreshCount': {
      if (old === undefined) fail('BIN_NOT_FOUND', what, 'the bin does not exist', 'init or add to the bin first');
      old.cache = 0n;
      old.cache = old.count();
      return { next: old.toHll(), result: old.cache };
    }
    case 'fold': {
      if (old === undefined) fail('BIN_NOT_FOUND', what, 'the bin does not exist', 'init or add to the bin first');
      const ib = op.indexBits as number;
      if (old.minhashBits > 0) fail('OP_NOT_APPLICABLE', what, 'an HLL with min-hash bits cannot be folded');
      if (old.indexBits < ib) fail('OP_NOT_APPLICABLE', what, `the bin's HLL has ${old.indexBits} index bits, fewer than ${ib}`, 'fold to fewer index bits only');
      if (old.indexBits === ib) return { next: old.toHll(), result: undefined };
      const s = Sketch.empty(ib, 0);
      s.union(old);
      return { next: s.toHll(), result: undefined };
    }
    default:
      return fail('PARAMETER', what, 'unknown HLL operation');
  }
}

function read(op: HllOperation, local: Sketch, what: string): BinValue {
  const others = (op.hlls ?? []).map((h) => Sketch.of(h));
  switch (op.kind) {
    case 'getCount': return local.count();
    case 'describe': return [BigInt(local.indexBits), BigInt(local.minhashBits)];
    case 'mayContain': return (op.values as readonly BinValue[]).every((v) => local.mayContain(hllElementBytes(v, what))) ? 1n : 0n;
    case 'getUnion': return unionOf([...others, local]).toHll();
    case 'getUnionCount': return unionCount([...others, local]);
    case 'getIntersectCount': case 'getSimilarity': {
      if (others.length > 2 && (local.minhashBits === 0 || local.minhashBits !== others[0]?.minhashBits)) {
        fail('OP_NOT_APPLICABLE', what, 'the bin\'s HLL needs the same, non-zero min-hash bits as the others to intersect more than three');
      }
      const all = [...others, local];
      return op.kind === 'getIntersectCount' ? intersectCount(all) : similarity(all);
    }
    default: return fail('PARAMETER', what, 'not a read');
  }
}
