/**
 * The write flags of list and map writes (Aerospike's ListWriteFlags and MapWriteFlags), as the
 * server applies them (`packed_list_insert`, `map_add`):
 *
 * Lists (append, appendItems, insert, insertItems, set):
 * - `addUnique`: a value already in the list fails with ELEMENT_EXISTS (24); among several
 *   values, one given twice fails with OP_NOT_APPLICABLE (26);
 * - `insertBounded`: inserting (or setting) past the end fails with OP_NOT_APPLICABLE instead
 *   of padding with nils;
 * - `noFail`: each of those failures does nothing instead (the result is the list's size);
 * - `partial` (with `noFail`): of several values, the ones that pass are added.
 *
 * Maps (put, putItems, increment):
 * - `createOnly`: a key that exists fails with ELEMENT_EXISTS (24);
 * - `updateOnly`: a key that does not exist fails with ELEMENT_NOT_FOUND (23);
 * - `noFail` and `partial`: as for lists.
 */
import { DbError } from '../../errors/index.ts';
import type { BinValue, MapKey } from '../../model/index.ts';
import { cdtCompare } from '../../model/value-order.ts';
import type { ListWriteFlags, MapWriteFlags } from '../operations.ts';
import type { CdtResult, ListOp, MapOp } from './common.ts';

const LIST_FLAG_KINDS = new Set(['append', 'appendItems', 'insert', 'insertItems', 'set']);
const MAP_FLAG_KINDS = new Set(['put', 'putItems', 'increment']);

/** Refuses write flags on an operation that does not take them (they would be ignored). */
export function checkFlagsApply(op: ListOp | MapOp): void {
  if (op.flags === undefined) return;
  const kinds = op.op === 'list' ? LIST_FLAG_KINDS : MAP_FLAG_KINDS;
  if (!kinds.has(op.kind)) {
    throw new DbError('PARAMETER', `${op.op} ${op.kind} on bin '${op.bin}' takes no write flags`, { hint: `write flags apply to ${[...kinds].join(', ')}` });
  }
  if (op.op === 'map' && (op.flags as MapWriteFlags).createOnly === true && (op.flags as MapWriteFlags).updateOnly === true) {
    throw new DbError('PARAMETER', `map ${op.kind} on bin '${op.bin}': createOnly and updateOnly exclude each other`);
  }
}

/**
 * Adds `items` to a copy of `list` at position `at` (may be past the end: nils pad the gap
 * unless `insertBounded`), under the list write flags; the result is the new size.
 */
export function listAdd(list: readonly BinValue[], at: number, items: readonly BinValue[], op: ListOp): CdtResult {
  const f: ListWriteFlags = op.flags ?? {};
  const noop: CdtResult = { next: undefined, result: BigInt(list.length) };
  const what = `list ${op.kind} on bin '${op.bin}'`;
  if (f.insertBounded === true && at > list.length) {
    if (f.noFail === true) return noop;
    throw new DbError('OP_NOT_APPLICABLE', `${what}: index ${at} is past the end of a list of ${list.length} and insertBounded is set`, { hint: 'insert within the list, or drop insertBounded to pad with nils' });
  }
  let add = items;
  if (f.addUnique === true) {
    const partial = f.noFail === true && f.partial === true;
    const kept: BinValue[] = [];
    for (const [i, v] of items.entries()) {
      if (items.slice(0, i).some((x) => cdtCompare(x, v) === 0)) {
        if (f.noFail !== true) throw new DbError('OP_NOT_APPLICABLE', `${what}: a value is given twice and addUnique is set`);
        if (!partial) return noop;
        continue;
      }
      if (list.some((x) => cdtCompare(x, v) === 0)) {
        if (!partial) {
          if (f.noFail === true) return noop;
          throw new DbError('ELEMENT_EXISTS', `${what}: the value is already in the list and addUnique is set`, { hint: 'use noFail (and partial for several values) to skip values already there' });
        }
        continue;
      }
      kept.push(v);
    }
    if (kept.length === 0 && items.length > 0) {
      if (f.noFail === true) return noop;
      throw new DbError('ELEMENT_EXISTS', `${what}: every value is already in the list and addUnique is set`);
    }
    add = kept;
  }
  const next = [...list];
  while (next.length < at) next.push(null);
  next.splice(at, 0, ...add);
  return { next, result: BigInt(next.length) };
}

/** Whether a list set of `value` at position `i` may go ahead under the list write flags; throws when it fails. */
export function listMaySet(list: readonly BinValue[], i: number, value: BinValue, op: ListOp): boolean {
  const f: ListWriteFlags = op.flags ?? {};
  const what = `list set on bin '${op.bin}'`;
  if (f.insertBounded === true && i > list.length) {
    if (f.noFail === true) return false;
    throw new DbError('OP_NOT_APPLICABLE', `${what}: index ${i} is past the end of a list of ${list.length} and insertBounded is set`);
  }
  if (f.addUnique === true && list.some((x, j) => j !== i && cdtCompare(x, value) === 0)) {
    if (f.noFail === true) return false;
    throw new DbError('ELEMENT_EXISTS', `${what}: the value is already in the list and addUnique is set`);
  }
  return true;
}

/** Whether a map put of `key` may go ahead under the map write flags; throws when it fails. */
function mapMayWrite(map: ReadonlyMap<MapKey, BinValue>, key: MapKey, op: MapOp): boolean {
  const f: MapWriteFlags = op.flags ?? {};
  const has = map.has(key);
  const what = `map ${op.kind} on bin '${op.bin}'`;
  if (f.createOnly === true && has) {
    if (f.noFail === true) return false;
    throw new DbError('ELEMENT_EXISTS', `${what}: key ${String(key)} exists and createOnly is set`, { hint: 'use noFail to skip keys that exist' });
  }
  if (f.updateOnly === true && !has) {
    if (f.noFail === true) return false;
    throw new DbError('ELEMENT_NOT_FOUND', `${what}: key ${String(key)} does not exist and updateOnly is set`, { hint: 'use noFail to skip keys that do not exist' });
  }
  return true;
}

/**
 * Puts `entries` into `map` (a working copy) under the map write flags; returns false when the
 * whole operation is a no-op (noFail without partial and an entry failed).
 */
export function mapPut(map: Map<MapKey, BinValue>, entries: ReadonlyArray<readonly [MapKey, BinValue]>, op: MapOp): boolean {
  const f: MapWriteFlags = op.flags ?? {};
  const allowed = entries.filter(([k]) => mapMayWrite(map, k, op));
  if (allowed.length < entries.length && !(f.noFail === true && f.partial === true)) return false;
  for (const [k, v] of allowed) map.set(k, v);
  return true;
}

/** Whether an increment of `key` may go ahead under the map write flags. */
export function mapMayIncrement(map: ReadonlyMap<MapKey, BinValue>, key: MapKey, op: MapOp): boolean {
  return mapMayWrite(map, key, op);
}
