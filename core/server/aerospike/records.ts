/**
 * Single-record AS_MSG commands (read, exists, write, delete, touch, operate) mapped onto the
 * kernel: the key from the namespace/set/digest/key fields, the write policy from the header
 * flags, operations from the ops; answered in the shapes the official clients parse.
 */
import { DbError } from '../../errors/index.ts';
import type { Bins, BinValue, DbRecord, RecordKey, RecordMeta, UserKey } from '../../model/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { Operation } from '../../transaction/operations.ts';
import { andThen, type Maybe } from '../../transaction/maybe-async.ts';
import { readBy, type ExistsAction, type GenerationPolicy, type ReadPolicy, type RecordPredicate, type WritePolicy } from '../../transaction/policy.ts';
import { fieldString, malformed, type MsgFields, type Msg, type MsgHeader, type MsgOp, type OutBin, type OutMsg } from './message.ts';
import { readParticle } from './particles.ts';
import { Field, Info1, Info2, Info3, Op, Particle, wireVoidTime } from './protocol.ts';
import { cdtOperation } from './cdt.ts';
import { compileWireFilter, expOperation } from './expressions.ts';
import { bitOperation } from './bit-ops.ts';
import { hllOperation } from './hll-ops.ts';

const MAX_TTL_SECONDS = 315_360_000;

/** The record TTL of a request header: -1 never, -2 keep, 0 namespace default, or seconds. */
export function ttlOf(recordTtl: number): number {
  if (recordTtl === 0xffffffff) return -1;
  if (recordTtl === 0xfffffffe) return -2;
  if (recordTtl > MAX_TTL_SECONDS) {
    throw new DbError('PARAMETER', `TTL ${recordTtl} is out of range`, { hint: `use -1 (never expire), -2 (keep), 0 (namespace default) or 1 to ${MAX_TTL_SECONDS} seconds` });
  }
  return recordTtl;
}

/** The user key of a KEY field (particle type byte + value). */
export function userKeyOf(f: Buffer): UserKey {
  if (f.length < 1) throw malformed('the key field is empty');
  const type = f[0] as number;
  const data = f.subarray(1);
  if (type === Particle.INTEGER) {
    if (data.length !== 8) throw malformed('an integer key needs 8 bytes');
    return data.readBigInt64BE(0);
  }
  if (type === Particle.STRING) return data.toString('utf8');
  if (type === Particle.BLOB) return new Uint8Array(data);
  throw new DbError('PARAMETER', `a key of particle type ${type} is not supported`, { hint: 'use integer, string or bytes keys' });
}

/** The record key of a keyed message (namespace, set, digest; the user key when sent). */
export function keyOf(kernel: Kernel, fields: MsgFields, inherited?: { namespace: string; set: string }): RecordKey {
  const namespace = fields.name(Field.NAMESPACE) ?? inherited?.namespace;
  if (namespace === undefined) throw new DbError('PARAMETER', 'the message has no namespace field', { hint: 'send field 0 (namespace)' });
  const set = fields.name(Field.SET) ?? inherited?.set ?? '';
  const keyField = fields.get(Field.KEY);
  if (keyField !== undefined) {
    const key = kernel.key(namespace, set, userKeyOf(keyField));
    const digest = fields.get(Field.DIGEST);
    if (digest !== undefined && !digest.equals(key.digest)) {
      throw new DbError('KEY_MISMATCH', 'the digest does not match the key and set', { hint: 'compute the digest from the set and key as the clients do' });
    }
    return key;
  }
  // a copy: the key outlives the request's buffer
  const digest = fields.copy(Field.DIGEST);
  if (digest === undefined || digest.length !== 20) throw new DbError('PARAMETER', 'the message has no 20-byte digest field', { hint: 'send field 4 (digest)' });
  return kernel.keyFromDigest(namespace, set, digest);
}

/** The filter expression of a message (field 43), as a record predicate. */
export function filterOf(kernel: Kernel, fields: MsgFields): RecordPredicate | undefined {
  const f = fields.get(Field.FILTER);
  return f === undefined || f.length === 0 ? undefined : compileWireFilter(f, () => kernel.clock.now());
}

/** How reads that arrive over this protocol may be served. */
export const WIRE_READ: ReadPolicy = { replica: 'any' };

/** The client's server-side timeout (transaction_ttl) as a time on the node's clock; none when it sent 0. */
export function deadlineOf(kernel: Kernel, h: MsgHeader): number | undefined {
  return h.transactionTtl > 0 ? kernel.clock.now() + h.transactionTtl : undefined;
}

/**
 * A single-record read's policy: WIRE_READ with the client's server-side timeout as the read's
 * deadline — a read forwarded to its master waits no longer than the client does.
 */
export function readPolicyOf(kernel: Kernel, h: MsgHeader, filter: RecordPredicate | undefined): ReadPolicy {
  return readBy(filter === undefined ? WIRE_READ : { ...WIRE_READ, filter }, deadlineOf(kernel, h));
}

/**
 * A single-record command's write policy: the header's, with the client's server-side timeout
 * (transaction_ttl) as the write's deadline — past it the client has its TIMEOUT, and the write
 * must not run after writes it makes next.
 */
export function commandPolicyOf(kernel: Kernel, h: MsgHeader, sendKey: boolean, filter: RecordPredicate | undefined): WritePolicy {
  return headerPolicy(h, sendKey, filter, deadlineOf(kernel, h));
}

/** The write policy of a header (exists action, generation, TTL, durable delete) plus send-key and filter. */
export function policyOf(h: MsgHeader, sendKey: boolean, filter: RecordPredicate | undefined): WritePolicy {
  return headerPolicy(h, sendKey, filter, undefined);
}

/** policyOf with a deadline (writeBy's), built as one object: this runs for every write. */
function headerPolicy(h: MsgHeader, sendKey: boolean, filter: RecordPredicate | undefined, deadline: number | undefined): WritePolicy {
  let exists: ExistsAction = 'update';
  if (h.info2 & Info2.CREATE_ONLY) exists = 'createOnly';
  else if (h.info3 & Info3.UPDATE_ONLY) exists = 'updateOnly';
  else if (h.info3 & Info3.CREATE_OR_REPLACE) exists = 'replace';
  else if (h.info3 & Info3.REPLACE_ONLY) exists = 'replaceOnly';
  const generationPolicy: GenerationPolicy = h.info2 & Info2.GENERATION ? 'expectEqual' : h.info2 & Info2.GENERATION_GT ? 'expectGreater' : 'none';
  const policy: { -readonly [K in keyof WritePolicy]: WritePolicy[K] } = {
    exists, generationPolicy, generation: h.generation, ttl: ttlOf(h.recordTtl), sendKey, durableDelete: (h.info2 & Info2.DURABLE_DELETE) !== 0,
  };
  if (filter !== undefined) policy.filter = filter;
  // the client's commit level: the bit asks for commit-to-master; without it the namespace's writeCommitLevel applies
  if ((h.info3 & Info3.COMMIT_MASTER) !== 0) policy.commitLevel = 'master';
  if (deadline !== undefined && Number.isFinite(deadline)) policy.deadline = deadline;
  return policy;
}

function binName(op: MsgOp): string {
  if (op.name === '__proto__') {
    // records hold their bins in plain objects, where this name is the prototype
    throw new DbError('BIN_NAME', "the bin name '__proto__' is not supported", { hint: 'choose another bin name' });
  }
  // five UTF-16 units are at most 15 UTF-8 bytes: only longer names need counting
  if (op.name.length > 5 && Buffer.byteLength(op.name, 'utf8') > 15) {
    throw new DbError('BIN_NAME', `bin name '${op.name}' is longer than 15 bytes`, { hint: 'use bin names of at most 15 bytes' });
  }
  return op.name;
}

/** A wire operation as a kernel operation. */
export function operationOf(op: MsgOp): Operation {
  switch (op.op) {
    case Op.READ: return op.name === '' ? { op: 'read' } : { op: 'read', bin: binName(op) };
    case Op.WRITE: return { op: 'write', bin: binName(op), value: readParticle(op.particle, op.value, `bin '${op.name}'`) };
    case Op.INCR: {
      const v = readParticle(op.particle, op.value, `increment of bin '${op.name}'`);
      if (typeof v !== 'bigint' && typeof v !== 'number') throw new DbError('PARAMETER', `increment of bin '${op.name}' needs an integer or a double`);
      return { op: 'add', bin: binName(op), value: v };
    }
    case Op.APPEND: case Op.PREPEND: {
      const v = readParticle(op.particle, op.value, `${op.op === Op.APPEND ? 'append' : 'prepend'} to bin '${op.name}'`);
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new DbError('PARAMETER', `append/prepend to bin '${op.name}' needs a string or bytes`);
      return { op: op.op === Op.APPEND ? 'append' : 'prepend', bin: binName(op), value: v };
    }
    case Op.TOUCH: return { op: 'touch' };
    case Op.DELETE: return { op: 'delete' };
    case Op.CDT_READ: case Op.CDT_MODIFY: return cdtOperation(binName(op), op.value);
    case Op.EXP_READ: case Op.EXP_MODIFY: return expOperation(op.op === Op.EXP_MODIFY, binName(op), op.value);
    case Op.BIT_READ: case Op.BIT_MODIFY: return bitOperation(binName(op), op.value);
    case Op.HLL_READ: case Op.HLL_MODIFY: return hllOperation(binName(op), op.value, op.op === Op.HLL_MODIFY);
    default:
      throw new DbError('PARAMETER', `operation type ${op.op} is not known`, { hint: 'send operations the Aerospike clients send' });
  }
}

function binsOut(bins: Bins): OutBin[] {
  const out: OutBin[] = [];
  for (const name in bins) out.push({ name, value: bins[name] as BinValue });
  return out;
}

function metaOut(meta: RecordMeta | undefined): { generation: number; voidTime: number } {
  return meta === undefined ? { generation: 0, voidTime: 0 } : { generation: meta.generation, voidTime: wireVoidTime(meta.voidTime) };
}

/** A read answer: header and bins. */
export function recordOut(rec: DbRecord, headerOnly = false): OutMsg {
  return { resultCode: 0, ...metaOut(rec.meta), bins: headerOnly ? [] : binsOut(rec.bins) };
}

/** Whether the message is a write (or delete) rather than a read. */
export function isWrite(msg: MsgHeader): boolean {
  return (msg.info2 & Info2.WRITE) !== 0;
}

/**
 * The answer to operate results: one entry per result an operation returned, in operation
 * order (a bin several operations return appears several times, as Aerospike answers); with
 * RESPOND_ALL_OPS also an entry without a value for each operation that returned nothing.
 */
export function operateOut(msg: Msg, meta: RecordMeta | undefined, perOp: ReadonlyArray<ReadonlyArray<readonly [string, BinValue]>> | undefined, bins: Bins): OutMsg {
  const all = (msg.info2 & Info2.RESPOND_ALL_OPS) !== 0;
  if (perOp === undefined) return { resultCode: 0, ...metaOut(meta), bins: binsOut(bins) }; // an answer from another node: by bin
  const out: OutBin[] = [];
  for (let i = 0; i < msg.ops.length; i++) {
    const results = perOp[i] ?? [];
    if (results.length === 0) {
      if (all) out.push({ name: (msg.ops[i] as MsgOp).name, value: undefined });
      continue;
    }
    for (const [name, value] of results) out.push({ name, value });
  }
  return { resultCode: 0, ...metaOut(meta), bins: out };
}

/** A write's answer: the header with the new generation and void time. */
function writtenOut(meta: RecordMeta | undefined): OutMsg {
  return meta === undefined ? { resultCode: 0, generation: 0, voidTime: 0 } : { resultCode: 0, generation: meta.generation, voidTime: wireVoidTime(meta.voidTime) };
}

/**
 * Runs one keyed command; the answer (errors are thrown as DbError, or reject). Not an async
 * function: a put stored in memory in this turn answers directly (no promise), any other
 * command with the kernel's promise and one step after it, no frame of its own.
 */
export function runRecordCommand(kernel: Kernel, msg: Msg, key: RecordKey): Maybe<OutMsg> {
  const filter = filterOf(kernel, msg.fields);
  const sendKey = msg.fields.has(Field.KEY);
  if (isWrite(msg)) {
    const policy = commandPolicyOf(kernel, msg, sendKey, filter);
    if (msg.info2 & Info2.DELETE) return kernel.delete(key, policy).then(() => ({ resultCode: 0 }));
    if (msg.ops.length === 0) throw new DbError('PARAMETER', 'a write needs at least one operation', { hint: 'send the bins to write' });
    let plain = true;
    for (const o of msg.ops) if (o.op !== Op.WRITE) { plain = false; break; }
    if (plain) {
      const bins: Bins = {};
      for (const o of msg.ops) bins[binName(o)] = readParticle(o.particle, o.value, `bin '${o.name}'`);
      return andThen(kernel.putMaybe(key, bins, policy), writtenOut);
    }
    return kernel.operate(key, msg.ops.map(operationOf), policy).then((res) => operateOut(msg, res.meta, res.perOp, res.bins));
  }
  return readCommand(kernel, msg, key, filter);
}

async function readCommand(kernel: Kernel, msg: Msg, key: RecordKey, filter: RecordPredicate | undefined): Promise<OutMsg> {
  // the official clients choose the node by their replica policy: a node holding a full copy
  // serves the read from it (as Aerospike's servers do), any other forwards it to the master
  const readPolicy = readPolicyOf(kernel, msg, filter);
  if (msg.info1 & Info1.NOBINDATA) {
    const meta = await kernel.exists(key, readPolicy);
    if (meta === undefined) throw new DbError('NOT_FOUND', 'record not found');
    return { resultCode: 0, ...metaOut(meta) };
  }
  if ((msg.info1 & Info1.GET_ALL) !== 0 || msg.ops.length === 0) {
    return recordOut(await kernel.get(key, readPolicy));
  }
  if (msg.ops.every((o) => o.op === Op.READ && o.name !== '')) {
    return recordOut(await kernel.get(key, { ...readPolicy, bins: msg.ops.map(binName) }));
  }
  const res = await kernel.operate(key, msg.ops.map(operationOf), commandPolicyOf(kernel, msg, false, filter));
  return operateOut(msg, res.meta, res.perOp, res.bins);
}

export { fieldString };
