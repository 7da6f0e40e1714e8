/**
 * Expression operations (Aerospike's ExpOperation.read / ExpOperation.write): an expression
 * evaluated against the record as the operations so far have left it, its value returned
 * under a result name or written to a bin. Semantics as the server's `expop.c`:
 *
 * - an expression that does not evaluate to a bin value (unknown: a missing bin, a type
 *   mismatch …) fails with OP_NOT_APPLICABLE (26), or does nothing with `evalNoFail`;
 * - write `createOnly`: the bin exists → BIN_EXISTS (6); `updateOnly`: it does not →
 *   BIN_NOT_FOUND (17); `policyNoFail` turns those into doing nothing;
 * - a nil value removes the bin only with `allowDelete`; otherwise removing an existing bin
 *   fails with OP_NOT_APPLICABLE (or does nothing with `policyNoFail`).
 *
 * The kernel holds expressions as their source text (the JSON form) and compiles them with the
 * compiler the node gives it (the query layer's expression engine), so operations stay plain
 * data that can be forwarded to another node.
 */
import { DbError } from '../errors/index.ts';
import type { BinValue, DbRecord } from '../model/index.ts';

/** An expression compiled for one record: its value, or undefined when unknown. */
export type RecordExpression = (rec: DbRecord) => BinValue | undefined;

/** Compiles an expression's source text; throws PARAMETER for a bad one. */
export type ExpressionCompiler = (source: string) => RecordExpression;

/** Aerospike's ExpWriteFlags. */
export interface ExpWriteFlags {
  readonly createOnly?: boolean;
  readonly updateOnly?: boolean;
  readonly allowDelete?: boolean;
  readonly policyNoFail?: boolean;
  readonly evalNoFail?: boolean;
}

export interface ExpReadOperation {
  readonly op: 'expRead';
  /** The name the result comes back under. */
  readonly name: string;
  /** The expression's source (its JSON form, docs/queries.md). */
  readonly expression: string;
  readonly evalNoFail?: boolean;
}

export interface ExpWriteOperation {
  readonly op: 'expWrite';
  readonly bin: string;
  readonly expression: string;
  readonly flags?: ExpWriteFlags;
}

function compiled(compile: ExpressionCompiler | undefined, source: string): RecordExpression {
  if (compile === undefined) {
    throw new DbError('UNSUPPORTED_FEATURE', 'this node has no expression engine, so it cannot run expression operations', { hint: 'run the node with its query subsystem' });
  }
  return compile(source);
}

/** The value of an expression read; undefined when it evaluates to unknown with evalNoFail. */
export function expRead(op: ExpReadOperation, rec: DbRecord, compile: ExpressionCompiler | undefined): BinValue | undefined {
  const v = compiled(compile, op.expression)(rec);
  if (v !== undefined) return v;
  if (op.evalNoFail === true) return undefined;
  throw new DbError('OP_NOT_APPLICABLE', `expression read '${op.name}': the expression does not evaluate to a value for this record`, {
    hint: 'check the bins it reads exist with the types it expects, or set evalNoFail',
  });
}

/**
 * What an expression write does to its bin: `{ write: value }`, `{ remove: true }`, or
 * nothing (undefined) when a no-fail flag swallowed a failure or there was nothing to remove.
 */
export function expWrite(op: ExpWriteOperation, rec: DbRecord, compile: ExpressionCompiler | undefined): { readonly write?: BinValue; readonly remove?: true } | undefined {
  const f = op.flags ?? {};
  const exists = Object.prototype.hasOwnProperty.call(rec.bins, op.bin);
  if (exists && f.createOnly === true) {
    if (f.policyNoFail === true) return undefined;
    throw new DbError('BIN_EXISTS', `expression write to bin '${op.bin}': the bin exists and createOnly is set`);
  }
  if (!exists && f.updateOnly === true) {
    if (f.policyNoFail === true) return undefined;
    throw new DbError('BIN_NOT_FOUND', `expression write to bin '${op.bin}': the bin does not exist and updateOnly is set`);
  }
  const v = compiled(compile, op.expression)(rec);
  if (v === undefined) {
    if (f.evalNoFail === true) return undefined;
    throw new DbError('OP_NOT_APPLICABLE', `expression write to bin '${op.bin}': the expression does not evaluate to a value for this record`, {
      hint: 'check the bins it reads exist with the types it expects, or set evalNoFail',
    });
  }
  if (v !== null) return { write: v };
  if (!exists) return undefined;
  if (f.allowDelete === true) return { remove: true };
  if (f.policyNoFail === true) return undefined;
  throw new DbError('OP_NOT_APPLICABLE', `expression write to bin '${op.bin}': the expression is nil, which would remove the bin`, { hint: 'set allowDelete to let it remove the bin' });
}
