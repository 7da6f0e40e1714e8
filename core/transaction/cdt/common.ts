/** What list and map operations share: their result type, their operation types, argument checks. */
import { DbError } from '../../errors/index.ts';
import { checkInt64, type BinValue } from '../../model/index.ts';
import type { Operation } from '../operations.ts';

export type ListOp = Extract<Operation, { op: 'list' }>;
export type MapOp = Extract<Operation, { op: 'map' }>;

export interface CdtResult {
  /** The bin's new value (undefined: unchanged; null: remove the bin). */
  readonly next: BinValue | undefined;
  /** What the operation returns to the caller; undefined for operations that return nothing (set, clear, sort). */
  readonly result: BinValue | undefined;
}

export function needValue<T extends { readonly value?: BinValue; readonly kind: string; readonly bin: string }>(op: T): BinValue {
  if (op.value === undefined) throw new DbError('PARAMETER', `${op.kind} on bin '${op.bin}' needs a value`);
  return op.value;
}

export function addNumbers(a: BinValue, b: BinValue, where: string): bigint | number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return checkInt64(a + b, `${where} result`);
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  throw new DbError('BIN_TYPE', `${where}: cannot add a ${typeof b === 'bigint' ? 'integer' : typeof b} to a ${typeof a === 'bigint' ? 'integer' : typeof a}`, {
    hint: 'increment integers by integers and doubles by doubles',
  });
}
