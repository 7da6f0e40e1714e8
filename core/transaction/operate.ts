/** The operate interpreter: several record, list and map operations applied to one record atomically. */
import { DbError } from '../errors/index.ts';
import { checkBinName, checkInt64, valueType, type Bins, type BinValue, type DbRecord, type RecordKey } from '../model/index.ts';
import { checkExists, DEFAULT_WRITE_POLICY, type WritePolicy } from './policy.ts';
import { isWriteOperation, type Operation } from './operations.ts';
import { applyCdtOperation } from './cdt/context.ts';
import { applyHllOp } from './hll-ops.ts';
import { expRead, expWrite, type ExpressionCompiler } from './expression-ops.ts';
import { notFound, type KernelState } from './kernel-state.ts';
import type { CurrentRecord, Mutation, OperateResult } from './kernel-types.ts';
import { get } from './read-path.ts';
import { mutate } from './write-path.ts';

/** Applies several operations to one record atomically. */
export async function operate(s: KernelState, key: RecordKey, ops: readonly Operation[], policy: WritePolicy = DEFAULT_WRITE_POLICY): Promise<OperateResult> {
  if (ops.length === 0) throw new DbError('PARAMETER', 'operate needs at least one operation');
  const writes = ops.some(isWriteOperation);
  if (!writes) {
    // read-only: no lock, no generation bump
    const rec = await get(s, key, policy.filter === undefined ? {} : { filter: policy.filter });
    const out = readResults(rec, ops, s.expressions);
    return { meta: rec.meta, bins: out.bins, perOp: out.perOp };
  }
  const { meta, value } = await mutate(s, key, policy, (cur) => {
    if (cur === undefined) checkExists(policy, false);
    else if (policy.exists === 'createOnly') checkExists(policy, true);
    return runOperations(key, cur, ops, s.expressions, s.clock.now());
  });
  return { meta, bins: value.bins, perOp: value.perOp };
}

/**
 * Collects operation results by bin. As in Aerospike, a bin that several operations return
 * comes back as a list of their results, in operation order.
 */
class Results {
  readonly bins: Bins = {};
  /** Per operation, what it returned. */
  readonly perOp: Array<Array<readonly [string, BinValue]>> = [];
  private readonly counts = new Map<string, number>();
  /** Starts the next operation's results. */
  next(): void {
    this.perOp.push([]);
  }
  add(bin: string, v: BinValue | undefined): void {
    if (v === undefined) return;
    this.perOp[this.perOp.length - 1]?.push([bin, v]);
    const n = this.counts.get(bin) ?? 0;
    this.counts.set(bin, n + 1);
    if (n === 0) this.bins[bin] = v;
    else if (n === 1) this.bins[bin] = [this.bins[bin] as BinValue, v];
    else this.bins[bin] = [...(this.bins[bin] as BinValue[]), v];
  }
  addAll(bins: Bins): void {
    for (const [k, v] of Object.entries(bins)) this.add(k, v);
  }
}

function readResults(rec: DbRecord, ops: readonly Operation[], expressions: ExpressionCompiler | undefined): Results {
  const bins = rec.bins;
  const out = new Results();
  for (const op of ops) {
    out.next();
    if (op.op === 'read') {
      if (op.bin === undefined) out.addAll(bins);
      else out.add(op.bin, ownBin(bins, op.bin) ?? null);
    } else if (op.op === 'list') {
      out.add(op.bin, applyCdtOperation(ownBin(bins, op.bin), op).result);
    } else if (op.op === 'map') {
      out.add(op.bin, applyCdtOperation(ownBin(bins, op.bin), op).result);
    } else if (op.op === 'bit') {
      out.add(op.bin, applyCdtOperation(ownBin(bins, op.bin), op).result);
    } else if (op.op === 'hll') {
      out.add(op.bin, applyHllOp(ownBin(bins, op.bin), op).result);
    } else if (op.op === 'expRead') {
      out.add(op.name, expRead(op, rec, expressions));
    }
  }
  return out;
}

/** Runs operations in order over a working copy of the bins. */
function runOperations(key: RecordKey, cur: CurrentRecord | undefined, ops: readonly Operation[], expressions: ExpressionCompiler | undefined, nowMs: number): { mutation: Mutation; value: Results } {
  const bins: Bins = { ...(cur?.bins ?? {}) };
  // what an expression sees: the record as the operations so far have left it
  const view = (): DbRecord => ({ key: cur?.key ?? key, meta: cur?.meta ?? { generation: 0, voidTime: 0, lastUpdateMs: nowMs }, bins });
  const out = new Results();
  let dirty = false;
  let touched = false;
  let deleted = false;
  for (const op of ops) {
    out.next();
    switch (op.op) {
      case 'read':
        if (op.bin === undefined) out.addAll(bins);
        else out.add(op.bin, ownBin(bins, op.bin) ?? null);
        break;
      case 'readHeader':
        break;
      case 'write':
        checkBinName(op.bin);
        if (op.value === null) delete bins[op.bin];
        else bins[op.bin] = op.value;
        dirty = true; deleted = false;
        break;
      case 'add': {
        checkBinName(op.bin);
        const old = ownBin(bins, op.bin);
        if (old === undefined || old === null) bins[op.bin] = op.value;
        else if (typeof old === 'bigint' && typeof op.value === 'bigint') bins[op.bin] = checkInt64(old + op.value, `bin '${op.bin}'`);
        else if (typeof old === 'number' && typeof op.value === 'number') bins[op.bin] = old + op.value;
        else throw new DbError('BIN_TYPE', `cannot add a ${typeof op.value === 'bigint' ? 'integer' : 'double'} to bin '${op.bin}', which holds a ${valueType(old)}`, { hint: 'add integers to integer bins and doubles to double bins' });
        dirty = true; deleted = false;
        break;
      }
      case 'append':
      case 'prepend': {
        checkBinName(op.bin);
        const old = ownBin(bins, op.bin);
        if (old === undefined || old === null) bins[op.bin] = op.value;
        else if (typeof old === 'string' && typeof op.value === 'string') bins[op.bin] = op.op === 'append' ? old + op.value : op.value + old;
        else if (old instanceof Uint8Array && op.value instanceof Uint8Array) bins[op.bin] = new Uint8Array(Buffer.concat(op.op === 'append' ? [old, op.value] : [op.value, old]));
        else throw new DbError('BIN_TYPE', `cannot ${op.op} to bin '${op.bin}', which holds a ${valueType(old)}`, { hint: `${op.op} strings to string bins and bytes to bytes bins` });
        dirty = true; deleted = false;
        break;
      }
      case 'touch':
        touched = true;
        break;
      case 'delete':
        for (const k of Object.keys(bins)) delete bins[k];
        deleted = true; dirty = false;
        break;
      case 'list': {
        checkBinName(op.bin);
        const r = applyCdtOperation(ownBin(bins, op.bin), op);
        if (r.next !== undefined) { if (r.next === null) delete bins[op.bin]; else bins[op.bin] = r.next; dirty = true; deleted = false; }
        out.add(op.bin, r.result);
        break;
      }
      case 'map': {
        checkBinName(op.bin);
        const r = applyCdtOperation(ownBin(bins, op.bin), op);
        if (r.next !== undefined) { if (r.next === null) delete bins[op.bin]; else bins[op.bin] = r.next; dirty = true; deleted = false; }
        out.add(op.bin, r.result);
        break;
      }
      case 'expRead':
        out.add(op.name, expRead(op, view(), expressions));
        break;
      case 'expWrite': {
        checkBinName(op.bin);
        const r = expWrite(op, view(), expressions);
        if (r?.write !== undefined) { bins[op.bin] = r.write; dirty = true; deleted = false; }
        else if (r?.remove === true) { delete bins[op.bin]; dirty = true; deleted = false; }
        break;
      }
      case 'bit': {
        checkBinName(op.bin);
        const r = applyCdtOperation(ownBin(bins, op.bin), op);
        if (r.next !== undefined && r.next !== null) { bins[op.bin] = r.next; dirty = true; deleted = false; }
        if (r.result !== undefined) out.add(op.bin, r.result);
        break;
      }
      case 'hll': {
        checkBinName(op.bin);
        const r = applyHllOp(ownBin(bins, op.bin), op);
        if (r.next !== undefined) { bins[op.bin] = r.next; dirty = true; deleted = false; }
        if (r.result !== undefined) out.add(op.bin, r.result);
        break;
      }
    }
  }
  if (deleted && !dirty) {
    if (cur === undefined) throw notFound();
    return { mutation: { kind: 'delete' }, value: out };
  }
  if (dirty) return { mutation: { kind: 'write', bins }, value: out };
  if (touched) {
    if (cur === undefined) throw notFound();
    return { mutation: { kind: 'touch' }, value: out };
  }
  return { mutation: { kind: 'none' }, value: out };
}

/** A bin's value; never an inherited property such as 'constructor'. */
function ownBin(bins: Bins, name: string): BinValue | undefined {
  return Object.prototype.hasOwnProperty.call(bins, name) ? bins[name] : undefined;
}
