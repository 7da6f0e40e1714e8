/** Helpers the statement families share: the key a statement names, the write policy of the settings, records as rows. */
import { DbError } from '../../errors/index.ts';
import { ttlOf, type BinValue, type DbRecord, type RecordKey } from '../../model/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import { writePolicy, type WritePolicy } from '../../transaction/policy.ts';
import type { KeyRef, Target } from '../language/ast.ts';
import type { Cells } from '../language/results.ts';
import type { Settings } from '../language/settings.ts';
import type { ExecContext } from './executor.ts';

/** The key a statement names by PK or digest. */
export function keyOf(kernel: Kernel, target: Target, ref: KeyRef): RecordKey {
  const set = target.set ?? '';
  if (ref.kind === 'pk') return kernel.key(target.namespace, set, ref.value);
  return kernel.keyFromDigest(target.namespace, set, new Uint8Array(Buffer.from(ref.hex, 'hex')));
}

/** The write policy of the session's settings (RECORD_TTL, KEY_SEND, DURABLE_DELETE), with overrides. */
export function policy(s: Settings, p: Partial<WritePolicy> = {}): WritePolicy {
  return writePolicy({ ttl: s.RECORD_TTL, sendKey: s.KEY_SEND, durableDelete: s.DURABLE_DELETE, ...p });
}

/** A record as a row: PK (when stored), bins (selected ones in order), metadata columns. */
export function recordCells(rec: DbRecord, ctx: ExecContext, opts: { bins?: readonly string[] | null; scan: boolean }): Cells {
  const cells: Array<readonly [string, BinValue]> = [];
  const keyCell = rec.key.userKey === undefined ? undefined : (['PK', rec.key.userKey] as const);
  if (keyCell !== undefined && (opts.bins === null || opts.bins === undefined)) cells.push(keyCell);
  if (ctx.settings.NO_BINS && opts.scan) {
    cells.push(['{digest}', Buffer.from(rec.key.digest).toString('hex').toUpperCase()]);
  } else if (opts.bins === null || opts.bins === undefined) {
    for (const [name, v] of Object.entries(rec.bins)) cells.push([name, v]);
  } else {
    for (const name of opts.bins) if (Object.hasOwn(rec.bins, name)) cells.push([name, rec.bins[name] as BinValue]);
    if (keyCell !== undefined) cells.push(keyCell);
  }
  if (ctx.settings.RECORD_PRINT_METADATA) {
    if (opts.scan) cells.push(['{edigest}', Buffer.from(rec.key.digest).toString('base64')]);
    cells.push(['{set}', rec.key.set]);
    cells.push(['{ttl}', BigInt(ttlOf(rec.meta.voidTime, ctx.now()))]);
    cells.push(['{gen}', BigInt(rec.meta.generation)]);
  }
  return cells;
}

/** NAMESPACE (aql's "Invalid namespace") unless the kernel has the namespace. */
export function checkNamespace(ctx: ExecContext, ns: string): void {
  if (!ctx.kernel.namespaceNames().includes(ns)) throw new DbError('NAMESPACE', `Invalid namespace: ${ns}`, { hint: 'SHOW NAMESPACES lists them' });
}
