/**
 * AS_MSG (message type 3): the 22-byte header, fields (`u32 size, u8 type, data`) and
 * operations (`u32 size, u8 op, u8 particle type, u8 flags, u8 name length, name, value`),
 * read from a request body and written into responses.
 */
import { DbError } from '../../errors/index.ts';
import type { BinValue } from '../../model/index.ts';
import { MSG_HEADER_BYTES, MessageType, PROTO_HEADER_BYTES, PROTO_VERSION } from './protocol.ts';
import { particleOf, writeParticle, particleBytes } from './particles.ts';

export interface MsgOp {
  readonly op: number;
  readonly particle: number;
  readonly name: string;
  /** The value bytes (a view into the request). */
  readonly value: Buffer;
}

export interface MsgHeader {
  readonly info1: number;
  readonly info2: number;
  readonly info3: number;
  readonly info4: number;
  readonly generation: number;
  readonly recordTtl: number;
  readonly transactionTtl: number;
}

export interface Msg extends MsgHeader {
  /** Fields by type (the last one wins when a type repeats). */
  readonly fields: MsgFields;
  readonly ops: MsgOp[];
}

/**
 * A message's fields by type, the last one winning when a type repeats. They are kept as
 * spans of the request: a field becomes a Buffer (a view of the request) only when asked for,
 * and names and the digest are read straight off the request — a keyed request makes no Map and
 * no view per field. Fields set after parsing (a batch row's digest, its parent's filter) win
 * over the parsed ones.
 */
export class MsgFields {
  private readonly body: Buffer;
  /** Type, start and end of each parsed field, in request order. */
  private readonly spans: readonly number[];
  private added: Array<readonly [number, Buffer]> | undefined;

  constructor(body: Buffer, spans: readonly number[], added?: Array<readonly [number, Buffer]>) {
    this.body = body;
    this.spans = spans;
    this.added = added;
  }

  /** Where the field's bytes are: a set field's buffer, or the request with an index into spans (-1: none). */
  private find(type: number): Buffer | number {
    const added = this.added;
    if (added !== undefined) {
      for (let i = added.length - 1; i >= 0; i--) if ((added[i] as readonly [number, Buffer])[0] === type) return (added[i] as readonly [number, Buffer])[1];
    }
    const spans = this.spans;
    for (let i = spans.length - 3; i >= 0; i -= 3) if (spans[i] === type) return i;
    return -1;
  }

  /** The field's bytes (a view of the request), or undefined when absent. */
  get(type: number): Buffer | undefined {
    const at = this.find(type);
    if (typeof at !== 'number') return at;
    return at < 0 ? undefined : this.body.subarray(this.spans[at + 1] as number, this.spans[at + 2] as number);
  }

  has(type: number): boolean {
    return this.find(type) !== -1;
  }

  /** The field's UTF-8 text through the name cache (namespace, set), or undefined when absent. */
  name(type: number): string | undefined {
    const at = this.find(type);
    if (typeof at !== 'number') return nameText(at, 0, at.length);
    return at < 0 ? undefined : nameText(this.body, this.spans[at + 1] as number, this.spans[at + 2] as number);
  }

  /** A copy of the field's bytes (not a view of the request), or undefined when absent. */
  copy(type: number): Uint8Array | undefined {
    const at = this.find(type);
    if (typeof at !== 'number') return new Uint8Array(at);
    if (at < 0) return undefined;
    const start = this.spans[at + 1] as number;
    const out = new Uint8Array((this.spans[at + 2] as number) - start);
    for (let i = 0; i < out.length; i++) out[i] = this.body[start + i] as number;
    return out;
  }

  /** Sets a field (it wins over a parsed one of the same type). */
  set(type: number, value: Buffer): void {
    (this.added ??= []).push([type, value]);
  }

  /** A copy of these fields with one set (the original is unchanged). */
  with(type: number, value: Buffer): MsgFields {
    return new MsgFields(this.body, this.spans, [...(this.added ?? []), [type, value]]);
  }
}

/**
 * Texts of short, repeating names (namespaces, sets, bin names): the bytes of the last name
 * seen in each of 256 slots (by a hash of the bytes) and its decoded text, so that a request
 * naming what the previous thousand named does not decode (and allocate) the same string
 * again. A hit compares every byte, so the text is always what `toString('utf8')` gives.
 */
const NAME_SLOTS = 256;
const MAX_CACHED_NAME = 64;
const nameBytes: Array<Buffer | undefined> = new Array<Buffer | undefined>(NAME_SLOTS).fill(undefined);
const nameTexts: string[] = new Array<string>(NAME_SLOTS).fill('');

/** The UTF-8 text of `buf[start, end)`, from the cache of short names when it is there. */
export function nameText(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > MAX_CACHED_NAME) return buf.toString('utf8', start, end);
  let h = n;
  for (let i = start; i < end; i++) h = (h * 31 + (buf[i] as number)) | 0;
  const slot = (h ^ (h >>> 8)) & (NAME_SLOTS - 1);
  const known = nameBytes[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) if (known[i] !== buf[start + i]) { same = false; break; }
    if (same) return nameTexts[slot] as string;
  }
  const text = buf.toString('utf8', start, end);
  nameBytes[slot] = Buffer.from(buf.subarray(start, end));
  nameTexts[slot] = text;
  return text;
}

export function malformed(what: string): DbError {
  return new DbError('PARAMETER', `malformed message: ${what}`, { hint: 'send messages as the Aerospike clients build them' });
}

/** Parses one AS_MSG starting at `at` (its header); returns it and where the next byte is. */
export function parseMsg(body: Buffer, at = 0, end = body.length): { msg: Msg; next: number } {
  if (end - at < MSG_HEADER_BYTES) throw malformed(`the message header needs ${MSG_HEADER_BYTES} bytes, ${end - at} came`);
  const headerSize = body[at] as number;
  if (headerSize < MSG_HEADER_BYTES || at + headerSize > end) throw malformed(`header size ${headerSize}`);
  const nFields = body.readUInt16BE(at + 18);
  const nOps = body.readUInt16BE(at + 20);
  const { fields, ops, next } = parseOpsAndFields(body, at + headerSize, nFields, nOps, end);
  const p = next;
  return {
    msg: {
      info1: body[at + 1] as number, info2: body[at + 2] as number, info3: body[at + 3] as number, info4: body[at + 4] as number,
      generation: body.readUInt32BE(at + 6), recordTtl: body.readUInt32BE(at + 10), transactionTtl: body.readUInt32BE(at + 14),
      fields, ops,
    },
    next: p,
  };
}

/** Reads `nFields` fields then `nOps` operations starting at `p`. */
export function parseOpsAndFields(body: Buffer, p: number, nFields: number, nOps: number, end = body.length): { fields: MsgFields; ops: MsgOp[]; next: number } {
  const spans: number[] = [];
  for (let i = 0; i < nFields; i++) {
    if (p + 5 > end) throw malformed(`field ${i + 1} of ${nFields} is cut off`);
    const size = body.readUInt32BE(p);
    if (size < 1 || p + 4 + size > end) throw malformed(`field ${i + 1} of ${nFields} claims ${size} bytes`);
    spans.push(body[p + 4] as number, p + 5, p + 4 + size);
    p += 4 + size;
  }
  const fields = new MsgFields(body, spans);
  const ops: MsgOp[] = [];
  for (let i = 0; i < nOps; i++) {
    if (p + 8 > end) throw malformed(`operation ${i + 1} of ${nOps} is cut off`);
    const size = body.readUInt32BE(p);
    const nameLen = body[p + 7] as number;
    if (size < 4 + nameLen || p + 4 + size > end) throw malformed(`operation ${i + 1} of ${nOps} claims ${size} bytes`);
    ops.push({
      op: body[p + 4] as number,
      particle: body[p + 5] as number,
      name: nameText(body, p + 8, p + 8 + nameLen),
      value: body.subarray(p + 8 + nameLen, p + 4 + size),
    });
    p += 4 + size;
  }
  return { fields, ops, next: p };
}

/** A field's text, or undefined when absent. */
export function fieldString(msg: Msg, type: number): string | undefined {
  const f = msg.fields.get(type);
  return f === undefined ? undefined : f.toString('utf8');
}

/** One bin (or op result) of a response: its name and value (undefined: an entry with no value). */
export interface OutBin {
  readonly name: string;
  readonly value: BinValue | undefined;
  /** The op code to answer with (READ by default). */
  readonly op?: number;
}

export interface OutMsg {
  readonly resultCode: number;
  readonly generation?: number;
  /** Wire void time. */
  readonly voidTime?: number;
  readonly info1?: number;
  /** Write flags: 0 in answers; set when the writer builds a request (a load generator, a test). */
  readonly info2?: number;
  readonly info3?: number;
  /** transaction_ttl: the row index in batch answers. */
  readonly transactionTtl?: number;
  readonly fields?: ReadonlyArray<readonly [number, Buffer]>;
  readonly bins?: readonly OutBin[];
}

/**
 * Builds response messages into one growing buffer: one proto (type 3) holding one or more
 * AS_MSG rows (batch and scan answers hold many).
 */
export class ResponseWriter {
  private buf: Buffer;
  private pos = PROTO_HEADER_BYTES;

  constructor(size = 512) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 64));
  }

  get length(): number {
    return this.pos - PROTO_HEADER_BYTES;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  add(m: OutMsg): void {
    const fields = m.fields ?? [];
    const bins = m.bins ?? [];
    this.room(MSG_HEADER_BYTES);
    const b = this.buf;
    const at = this.pos;
    b[at] = MSG_HEADER_BYTES;
    b[at + 1] = m.info1 ?? 0;
    b[at + 2] = m.info2 ?? 0;
    b[at + 3] = m.info3 ?? 0;
    b[at + 4] = 0;
    b[at + 5] = m.resultCode & 0xff;
    b.writeUInt32BE((m.generation ?? 0) >>> 0, at + 6);
    b.writeUInt32BE((m.voidTime ?? 0) >>> 0, at + 10);
    b.writeUInt32BE((m.transactionTtl ?? 0) >>> 0, at + 14);
    b.writeUInt16BE(fields.length, at + 18);
    b.writeUInt16BE(bins.length, at + 20);
    this.pos += MSG_HEADER_BYTES;
    for (const [type, data] of fields) {
      this.room(5 + data.length);
      this.buf.writeUInt32BE(data.length + 1, this.pos);
      this.buf[this.pos + 4] = type;
      this.buf.set(data, this.pos + 5);
      this.pos += 5 + data.length;
    }
    for (const bin of bins) this.addBin(bin);
  }

  private addBin(bin: OutBin): void {
    const name = Buffer.from(bin.name, 'utf8');
    const particle = bin.value === undefined ? 0 : particleOf(bin.value);
    const size = bin.value === undefined ? 0 : particleBytes(bin.value);
    this.room(8 + name.length + size);
    const b = this.buf;
    const at = this.pos;
    b[at + 4] = bin.op ?? 1;
    b[at + 5] = particle;
    b[at + 6] = 0;
    b[at + 7] = name.length;
    b.set(name, at + 8);
    let end = at + 8 + name.length;
    if (bin.value !== undefined) end = writeParticle(b, end, bin.value);
    b.writeUInt32BE(end - at - 4, at);
    this.pos = end;
  }

  /** The finished proto: header plus rows. The writer must not be used afterwards. */
  finish(): Buffer {
    const size = this.pos - PROTO_HEADER_BYTES;
    this.buf.writeUInt16BE((PROTO_VERSION << 8) | MessageType.MESSAGE, 0);
    this.buf.writeUInt16BE(Math.floor(size / 0x100000000), 2);
    this.buf.writeUInt32BE(size >>> 0, 4);
    return this.buf.subarray(0, this.pos);
  }
}

/** One response message (a single row). */
export function response(m: OutMsg): Buffer {
  if (m.bins === undefined && m.fields === undefined) return headerAnswer(m);
  const w = new ResponseWriter();
  w.add(m);
  return w.finish();
}

/** An answer of a header alone (a write's, a failure's): 30 bytes written in place, no writer. */
function headerAnswer(m: OutMsg): Buffer {
  const b = Buffer.allocUnsafe(PROTO_HEADER_BYTES + MSG_HEADER_BYTES);
  b[0] = PROTO_VERSION;
  b[1] = MessageType.MESSAGE;
  b.writeUInt16BE(0, 2);
  b.writeUInt32BE(MSG_HEADER_BYTES, 4);
  b[8] = MSG_HEADER_BYTES;
  b[9] = m.info1 ?? 0;
  b[10] = m.info2 ?? 0;
  b[11] = m.info3 ?? 0;
  b[12] = 0;
  b[13] = m.resultCode & 0xff;
  b.writeUInt32BE((m.generation ?? 0) >>> 0, 14);
  b.writeUInt32BE((m.voidTime ?? 0) >>> 0, 18);
  b.writeUInt32BE((m.transactionTtl ?? 0) >>> 0, 22);
  b.writeUInt32BE(0, 26); // no fields, no operations
  return b;
}
