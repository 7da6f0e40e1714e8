/**
 * The numeric, bitwise and boolean functions of filter expressions (Aerospike's exp.pow, log,
 * abs, floor, ceil, toInt, toFloat, min, max, the int* bit functions and exclusive), with
 * Aerospike's argument counts and types: integers are 64-bit (bit functions work on the two's
 * complement bits, bit 0 the most significant for the scans), floats are doubles. A wrong type,
 * a mixed min/max, a shift outside 0–63 or a non-finite result makes the value unknown.
 */
import type { BinValue } from '../../model/index.ts';
import type { FunctionName } from './ast.ts';

/** Fewest and most arguments of each function (Infinity: any number). */
export const FUNCTION_ARITY: Readonly<Record<FunctionName, readonly [number, number]>> = {
  pow: [2, 2], log: [2, 2], abs: [1, 1], floor: [1, 1], ceil: [1, 1], toInt: [1, 1], toFloat: [1, 1],
  min: [1, Infinity], max: [1, Infinity],
  intAnd: [1, Infinity], intOr: [1, Infinity], intXor: [1, Infinity], intNot: [1, 1],
  intLshift: [2, 2], intRshift: [2, 2], intArshift: [2, 2], intCount: [1, 1], intLscan: [2, 2], intRscan: [2, 2],
  exclusive: [1, Infinity],
};

type Value = BinValue | undefined;

const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const isInt = (v: Value): v is bigint => typeof v === 'bigint';
const isFloat = (v: Value): v is number => typeof v === 'number';
const finite = (x: number): Value => (Number.isFinite(x) ? x : undefined);

function ints(args: readonly Value[]): bigint[] | undefined {
  return args.every(isInt) ? (args as bigint[]) : undefined;
}

function extreme(args: readonly Value[], max: boolean): Value {
  const is = ints(args);
  if (is !== undefined) return is.reduce((a, b) => ((max ? b > a : b < a) ? b : a));
  if (!args.every(isFloat)) return undefined;
  const fs = args as number[];
  return max ? Math.max(...fs) : Math.min(...fs);
}

/** Index (bit 0 = most significant) of the first bit equal to `bit` scanning from the left, or the last from the right; -1 when none. */
function scan(v: bigint, bit: boolean, fromLeft: boolean): bigint {
  const u = u64(v);
  for (let k = 0; k < 64; k++) {
    const index = fromLeft ? k : 63 - k;
    if ((((u >> BigInt(63 - index)) & 1n) === 1n) === bit) return BigInt(index);
  }
  return -1n;
}

export function applyFunction(name: FunctionName, args: readonly Value[]): Value {
  const [a, b] = args;
  switch (name) {
    case 'pow': return isFloat(a) && isFloat(b) ? finite(a ** b) : undefined;
    case 'log': return isFloat(a) && isFloat(b) ? finite(Math.log(a) / Math.log(b)) : undefined;
    case 'abs': return isInt(a) ? (a === -(2n ** 63n) ? undefined : a < 0n ? -a : a) : isFloat(a) ? Math.abs(a) : undefined;
    case 'floor': return isFloat(a) ? Math.floor(a) : undefined;
    case 'ceil': return isFloat(a) ? Math.ceil(a) : undefined;
    case 'toInt': return isFloat(a) && Number.isFinite(a) && Math.abs(a) < 2 ** 63 ? BigInt(Math.trunc(a)) : undefined;
    case 'toFloat': return isInt(a) ? Number(a) : undefined;
    case 'min': return extreme(args, false);
    case 'max': return extreme(args, true);
    case 'intAnd': return ints(args)?.reduce((x, y) => i64(x & y));
    case 'intOr': return ints(args)?.reduce((x, y) => i64(x | y));
    case 'intXor': return ints(args)?.reduce((x, y) => i64(x ^ y));
    case 'intNot': return isInt(a) ? i64(~a) : undefined;
    case 'intLshift': case 'intRshift': case 'intArshift': {
      if (!isInt(a) || !isInt(b) || b < 0n || b > 63n) return undefined;
      if (name === 'intLshift') return i64(a << b);
      return name === 'intArshift' ? a >> b : i64(u64(a) >> b);
    }
    case 'intCount': {
      if (!isInt(a)) return undefined;
      let u = u64(a);
      let n = 0n;
      while (u !== 0n) { n += u & 1n; u >>= 1n; }
      return n;
    }
    case 'intLscan': case 'intRscan': return isInt(a) && typeof b === 'boolean' ? scan(a, b, name === 'intLscan') : undefined;
    case 'exclusive': return args.every((x) => typeof x === 'boolean') ? args.filter((x) => x === true).length === 1 : undefined;
  }
}
