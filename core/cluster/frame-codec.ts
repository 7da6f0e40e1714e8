/**
 * The cluster's frame codec: how the messages of messages.ts travel, and the total decoder.
 *
 * Heartbeat pulses and clustering (Paxos) messages are JSON, with 64-bit integers (node ids,
 * cluster keys) carried as `{"$n":"…"}`. The fabric's hot frames — data-path messages (a request
 * or a reply with its body bytes) and acknowledgements, nearly every frame under load — are a flat
 * binary layout (fabric protocol version 5). A binary frame starts with a byte that is never the first byte of UTF-8 text
 * (0xF5 or 0xF6), so it is never mistaken for a JSON frame (which starts with `{`), and the
 * sender's node id always follows it (bytes 1–8), where relays and captures read it.
 *
 * All integers big-endian. `i64`: a safe integer as a signed 64-bit integer (high 32 bits signed,
 * low 32 unsigned); a value that is not a safe integer is written as −2^63, which no reader takes.
 * `str`: u32 byte length, then UTF-8.
 *
 *   message  0xF5 | from u64 | clusterKey u64 | clusterName str | inc i64 | id i64 | kind u8 |
 *            flags u8 (1 needsAck, 2 acks follow, 4 reply — else request) |
 *            [acks: inc i64 | count u32 | count × id i64] | rid i64 |
 *            request: kind str
 *            reply:   flags u8 (1 ok, 2 code, 4 resultCode, 8 message, 16 hint, 32 inDoubt, 64 inDoubt is true) |
 *                     [code str] [resultCode i64] [message str] [hint str]
 *            | body length u32 | body bytes — and nothing after.
 *   ack      0xF6 | from u64 | inc i64 | flags u8 (1 refused: stale-cluster-key) | count u32 (≥ 1) |
 *            count × id i64 (the first is `id`, the others `more`) — and nothing after.
 *
 * Decoding is total: every input gives a frame or a reason, nothing throws, nothing is half-used.
 * Reading the binary layout checks every length against the bytes left before it reads, refuses
 * unknown flags and kinds, invalid UTF-8 and bytes after the end; the values read are then judged
 * as their schemas (messages.ts) judge them — by hand when plainly valid, else by the schemas,
 * which give the reason. A JSON frame is judged by its schemas; a data-path message or an ack in
 * JSON is refused (they travel binary).
 */
import type { z } from 'zod';
import type { FabricMessageKind, NodeId } from '../plugin-api/index.ts';
import {
  DATA_PATH_BYTES, ENVELOPE_BYTES, FABRIC_BODIES, FRAME_SPECS, MAX_ACKS_PER_FRAME, TEXT_BYTES,
  type Channel, type DataPathMessage, type FabricAck, type FabricMessage, type FabricPayload, type Frame, type MessageSpec, type PiggybackedAcks,
} from './messages.ts';

/** First byte of a binary data-path message. */
export const BINARY_MESSAGE = 0xf5;
/** First byte of a binary ack frame. */
export const BINARY_ACK = 0xf6;

/** The fabric kinds' codes on the wire (every kind: the compiler insists). */
const KIND_CODE: { readonly [K in FabricMessageKind]: number } = { 'replica-write': 0, migration: 1, xdr: 2, proxy: 3, control: 4 };
const KIND_CODES = new Map(Object.entries(KIND_CODE) as [FabricMessageKind, number][]);
/** The fabric kinds by their code (the index). */
const KINDS: readonly FabricMessageKind[] = [...KIND_CODES].sort((a, b) => a[1] - b[1]).map(([k]) => k);

const MSG_NEEDS_ACK = 1;
const MSG_ACKS = 2;
const MSG_REPLY = 4;
const MSG_FLAGS = MSG_NEEDS_ACK | MSG_ACKS | MSG_REPLY;
const REPLY_OK = 1;
const REPLY_CODE = 2;
const REPLY_RESULT_CODE = 4;
const REPLY_MESSAGE = 8;
const REPLY_HINT = 16;
const REPLY_IN_DOUBT = 32;
const REPLY_IN_DOUBT_TRUE = 64;
const REPLY_FLAGS = 127;
const ACK_REFUSED = 1;

const TWO_32 = 0x1_0000_0000;
const U64_MAX = (1n << 64n) - 1n;

// ---- frames ------------------------------------------------------------------------------------

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $n: value.toString() } : value;
}

/**
 * The last message frame encoded and its bytes: the fabric encodes a message for its size and
 * the transport right after for the wire, and a resend encodes it again; a message is immutable,
 * so its bytes are reused instead of encoding it twice.
 */
let lastEncoded: { frame: Frame; bytes: Uint8Array } | undefined;

export function encodeFrame(frame: Frame): Uint8Array {
  if (lastEncoded?.frame === frame) return lastEncoded.bytes;
  const bytes = encodeFrameOnce(frame);
  if (frame.t === 'msg') lastEncoded = { frame, bytes };
  return bytes;
}

/** Data-path messages and acks in the binary layout; pulses and clustering messages as JSON. */
function encodeFrameOnce(frame: Frame): Uint8Array {
  if (frame.t === 'ack') return encodeBinaryAck(frame);
  if (frame.t === 'msg' && (frame.body.type === 'request' || frame.body.type === 'reply')) return encodeBinaryMessage(frame, frame.body);
  return Buffer.from(JSON.stringify(frame, replacer), 'utf8');
}

// ---- writing ------------------------------------------------------------------------------------

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

function putI64(out: Uint8Array, at: number, v: number): void {
  if (!Number.isSafeInteger(v)) {
    putU32(out, at, 0x8000_0000); // −2^63: refused by every reader
    putU32(out, at + 4, 0);
    return;
  }
  const hi = Math.floor(v / TWO_32);
  putU32(out, at, hi | 0);
  putU32(out, at + 4, v - hi * TWO_32);
}

/** A u64 as two u32 (high, low); outside [0, 2^64 − 1] undefined. */
function u64Parts(v: bigint): [number, number] | undefined {
  if (v < 0n || v > U64_MAX) return undefined;
  return [Number(v >> 32n), Number(v & 0xffff_ffffn)];
}

const strLength = (s: string): number => 4 + Buffer.byteLength(s, 'utf8');

function putStr(out: Buffer, at: number, s: string): number {
  const n = out.write(s, at + 4, 'utf8');
  putU32(out, at, n);
  return at + 4 + n;
}

/**
 * The start of a message (magic, sender, cluster key, cluster name) of the last sender rendered:
 * the same on nearly every frame a node sends, so it is made once per change. A sender or key
 * out of range gives a sender of 0, which every reader refuses.
 */
let lastHead: { from: bigint; clusterKey: bigint; clusterName: string; bytes: Buffer } | undefined;

function headBytes(msg: FabricMessage): Buffer {
  const h = lastHead;
  if (h !== undefined && h.from === msg.from && h.clusterKey === msg.clusterKey && h.clusterName === msg.clusterName) return h.bytes;
  const from = u64Parts(msg.from);
  const key = u64Parts(msg.clusterKey);
  const bytes = Buffer.alloc(17 + strLength(msg.clusterName));
  bytes[0] = BINARY_MESSAGE;
  if (from !== undefined && key !== undefined) {
    putU32(bytes, 1, from[0]);
    putU32(bytes, 5, from[1]);
    putU32(bytes, 9, key[0]);
    putU32(bytes, 13, key[1]);
  }
  putStr(bytes, 17, msg.clusterName);
  lastHead = { from: msg.from, clusterKey: msg.clusterKey, clusterName: msg.clusterName, bytes };
  return bytes;
}

/** Request kinds' encodings (`str`), made once per kind (a node uses a handful). */
const kindStrings = new Map<string, Buffer>();

function kindBytes(kind: string): Buffer {
  let b = kindStrings.get(kind);
  if (b === undefined) {
    if (kindStrings.size >= 64) kindStrings.clear();
    b = Buffer.alloc(strLength(kind));
    putStr(b, 0, kind);
    kindStrings.set(kind, b);
  }
  return b;
}

/** A data-path message (request or reply) in the binary layout. */
function encodeBinaryMessage(msg: FabricMessage, body: DataPathMessage): Buffer {
  const head = headBytes(msg);
  const acks = msg.acks;
  let size = head.length + 8 + 8 + 2 + 8 + 4 + body.body.length;
  if (acks !== undefined) size += 12 + 8 * acks.ids.length;
  let kind: Buffer | undefined;
  let replyFlags = 0;
  if (body.type === 'request') {
    kind = kindBytes(body.kind);
    size += kind.length;
  } else {
    size += 1;
    if (body.ok) replyFlags |= REPLY_OK;
    if (body.code !== undefined) { replyFlags |= REPLY_CODE; size += strLength(body.code); }
    if (body.resultCode !== undefined) { replyFlags |= REPLY_RESULT_CODE; size += 8; }
    if (body.message !== undefined) { replyFlags |= REPLY_MESSAGE; size += strLength(body.message); }
    if (body.hint !== undefined) { replyFlags |= REPLY_HINT; size += strLength(body.hint); }
    if (body.inDoubt !== undefined) replyFlags |= REPLY_IN_DOUBT | (body.inDoubt ? REPLY_IN_DOUBT_TRUE : 0);
  }
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let at = head.length;
  putI64(out, at, msg.inc);
  putI64(out, at + 8, msg.id);
  // an unknown kind is written as a code no reader knows (the JSON form's schema refused it too)
  out[at + 16] = KIND_CODES.get(msg.kind) ?? 0xff;
  out[at + 17] = (msg.needsAck ? MSG_NEEDS_ACK : 0) | (acks !== undefined ? MSG_ACKS : 0) | (body.type === 'reply' ? MSG_REPLY : 0);
  at += 18;
  if (acks !== undefined) at = putIds(out, at, acks);
  putI64(out, at, body.rid);
  at += 8;
  if (kind !== undefined) {
    out.set(kind, at);
    at += kind.length;
  } else if (body.type === 'reply') {
    out[at++] = replyFlags;
    if (body.code !== undefined) at = putStr(out, at, body.code);
    if (body.resultCode !== undefined) { putI64(out, at, body.resultCode); at += 8; }
    if (body.message !== undefined) at = putStr(out, at, body.message);
    if (body.hint !== undefined) at = putStr(out, at, body.hint);
  }
  putU32(out, at, body.body.length);
  out.set(body.body, at + 4);
  return out;
}

function putIds(out: Uint8Array, at: number, acks: PiggybackedAcks): number {
  putI64(out, at, acks.inc);
  putU32(out, at + 8, acks.ids.length);
  at += 12;
  for (const id of acks.ids) {
    putI64(out, at, id);
    at += 8;
  }
  return at;
}

/** An ack frame in the binary layout. */
function encodeBinaryAck(ack: FabricAck): Buffer {
  const more = ack.more ?? [];
  const out = Buffer.allocUnsafe(22 + 8 * (1 + more.length));
  out[0] = BINARY_ACK;
  const from = u64Parts(ack.from) ?? [0, 0];
  putU32(out, 1, from[0]);
  putU32(out, 5, from[1]);
  putI64(out, 9, ack.inc);
  out[17] = ack.refused === undefined ? 0 : ACK_REFUSED;
  putU32(out, 18, 1 + more.length);
  putI64(out, 22, ack.id);
  let at = 30;
  for (const id of more) {
    putI64(out, at, id);
    at += 8;
  }
  return out;
}

// ---- reading ------------------------------------------------------------------------------------

/** What a binary frame holds, as read (not yet judged), or why it could not be read. */
type BinaryRead =
  | { readonly ok: true; readonly frame: FabricMessage | FabricAck }
  | { readonly ok: false; readonly reason: string };

/** A reader over one frame: every read checks its length first (`fail` holds the first problem). */
class Reader {
  at: number;
  fail: string | undefined;
  readonly b: Uint8Array;

  constructor(b: Uint8Array, at: number) {
    this.b = b;
    this.at = at;
  }

  /** Whether `n` more bytes are there; else notes the truncation (of `what` + `of`: the text is made only then). */
  has(n: number, what: string, of = ''): boolean {
    if (this.fail !== undefined) return false;
    if (n <= this.b.length - this.at) return true;
    this.fail = `truncated at byte ${this.at}: ${what}${of} needs ${n} bytes, ${this.b.length - this.at} left`;
    return false;
  }

  u8(what: string): number {
    if (!this.has(1, what)) return 0;
    return this.b[this.at++] as number;
  }

  u32(what: string, of = ''): number {
    if (!this.has(4, what, of)) return 0;
    const b = this.b;
    const at = this.at;
    this.at += 4;
    return (b[at] as number) * 0x100_0000 + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
  }

  /** A signed 64-bit integer as a number: exact for safe integers (the only ones judged valid). */
  i64(what: string): number {
    if (!this.has(8, what)) return 0;
    const hi = this.u32(what) | 0;
    return hi * TWO_32 + this.u32(what);
  }

  u64(what: string): bigint {
    if (!this.has(8, what)) return 0n;
    return u64Of(this.u32(what), this.u32(what));
  }

  str(what: string): string {
    const n = this.u32(what, '\'s length');
    if (!this.has(n, what)) return '';
    const at = this.at;
    this.at += n;
    return textOf(this.b, at, n, what, this);
  }
}

/** Recently read u64s (senders, cluster keys: a few values over and over), by their two halves. */
const u64Cache: { hi: number; lo: number; v: bigint }[] = [];

function u64Of(hi: number, lo: number): bigint {
  for (let i = 0; i < u64Cache.length; i++) {
    const c = u64Cache[i] as { hi: number; lo: number; v: bigint };
    if (c.lo === lo && c.hi === hi) return c.v;
  }
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  if (u64Cache.length >= 16) u64Cache.shift();
  u64Cache.push({ hi, lo, v });
  return v;
}

/** Recently read short texts (cluster names, request kinds) by their bytes. */
const textCache: { bytes: Uint8Array; text: string }[] = [];

function textOf(b: Uint8Array, at: number, n: number, what: string, r: Reader): string {
  if (n <= 64) {
    for (const c of textCache) {
      const cb = c.bytes;
      if (cb.length !== n) continue;
      let i = 0;
      while (i < n && cb[i] === b[at + i]) i++;
      if (i === n) return c.text;
    }
  }
  let text: string;
  try {
    text = utf8.decode(b.subarray(at, at + n));
  } catch {
    r.fail = `${what} is not UTF-8`;
    return '';
  }
  if (n <= 64) {
    if (textCache.length >= 32) textCache.shift();
    textCache.push({ bytes: b.slice(at, at + n), text });
  }
  return text;
}

function readMessage(b: Uint8Array): BinaryRead {
  const r = new Reader(b, 1);
  const from = r.u64('the sender');
  const clusterKey = r.u64('the cluster key');
  const clusterName = r.str('the cluster name');
  const inc = r.i64('the incarnation');
  const id = r.i64('the message id');
  const kindCode = r.u8('the fabric kind');
  const flags = r.u8('the flags');
  if (r.fail !== undefined) return { ok: false, reason: r.fail };
  const kind = KINDS[kindCode];
  if (kind === undefined) return { ok: false, reason: `unknown fabric kind code ${kindCode}` };
  if ((flags & ~MSG_FLAGS) !== 0) return { ok: false, reason: `unknown message flags 0x${flags.toString(16)}` };
  let acks: PiggybackedAcks | undefined;
  if ((flags & MSG_ACKS) !== 0) {
    const ackInc = r.i64('the acks\' incarnation');
    const ids = readIds(r, 'acks');
    if (ids === undefined) return { ok: false, reason: r.fail ?? 'bad acks' };
    acks = { inc: ackInc, ids };
  }
  const rid = r.i64('the request id');
  let body: DataPathMessage;
  if ((flags & MSG_REPLY) === 0) {
    const requestKind = r.str('the request kind');
    const bytes = readBody(r);
    if (bytes === undefined) return { ok: false, reason: r.fail ?? 'bad body' };
    body = { type: 'request', rid, kind: requestKind, body: bytes };
  } else {
    const rf = r.u8('the reply flags');
    if (r.fail !== undefined) return { ok: false, reason: r.fail };
    if ((rf & ~REPLY_FLAGS) !== 0 || ((rf & REPLY_IN_DOUBT_TRUE) !== 0 && (rf & REPLY_IN_DOUBT) === 0)) {
      return { ok: false, reason: `unknown reply flags 0x${rf.toString(16)}` };
    }
    const code = (rf & REPLY_CODE) !== 0 ? r.str('the reply\'s code') : undefined;
    const resultCode = (rf & REPLY_RESULT_CODE) !== 0 ? r.i64('the reply\'s result code') : undefined;
    const message = (rf & REPLY_MESSAGE) !== 0 ? r.str('the reply\'s message') : undefined;
    const hint = (rf & REPLY_HINT) !== 0 ? r.str('the reply\'s hint') : undefined;
    const bytes = readBody(r);
    if (bytes === undefined) return { ok: false, reason: r.fail ?? 'bad body' };
    // the usual reply (ok, nothing else) without building its optional fields
    body = (rf & ~REPLY_OK) === 0 ? { type: 'reply', rid, ok: (rf & REPLY_OK) !== 0, body: bytes } : {
      type: 'reply', rid, ok: (rf & REPLY_OK) !== 0, body: bytes,
      ...(code === undefined ? {} : { code }), ...(resultCode === undefined ? {} : { resultCode }),
      ...(message === undefined ? {} : { message }), ...(hint === undefined ? {} : { hint }),
      ...((rf & REPLY_IN_DOUBT) === 0 ? {} : { inDoubt: (rf & REPLY_IN_DOUBT_TRUE) !== 0 }),
    };
  }
  const needsAck = (flags & MSG_NEEDS_ACK) !== 0;
  return {
    ok: true,
    frame: acks === undefined
      ? { t: 'msg', from, clusterName, clusterKey, inc, id, needsAck, kind, body }
      : { t: 'msg', from, clusterName, clusterKey, inc, id, needsAck, kind, body, acks },
  };
}

/** The body: its length, its bytes (a view into the frame), and the frame's end right after. */
function readBody(r: Reader): Uint8Array | undefined {
  const n = r.u32('the body\'s length');
  if (!r.has(n, 'the body')) return undefined;
  const bytes = r.b.subarray(r.at, r.at + n);
  r.at += n;
  if (r.at !== r.b.length) {
    r.fail = `${r.b.length - r.at} bytes after the end of the message`;
    return undefined;
  }
  return bytes;
}

/** A count and that many ids; the count is checked against the bytes left before anything is read. */
function readIds(r: Reader, what: string): number[] | undefined {
  const count = r.u32(what, '\' count');
  if (!r.has(count * 8, what)) return undefined;
  const ids = new Array<number>(count);
  for (let i = 0; i < count; i++) ids[i] = r.i64(what);
  return ids;
}

function readAck(b: Uint8Array): BinaryRead {
  const r = new Reader(b, 1);
  const from: NodeId = r.u64('the sender');
  const inc = r.i64('the incarnation');
  const flags = r.u8('the flags');
  if (r.fail !== undefined) return { ok: false, reason: r.fail };
  if ((flags & ~ACK_REFUSED) !== 0) return { ok: false, reason: `unknown ack flags 0x${flags.toString(16)}` };
  const ids = readIds(r, 'acks');
  if (ids === undefined) return { ok: false, reason: r.fail ?? 'bad acks' };
  if (ids.length === 0) return { ok: false, reason: 'an ack frame acknowledging nothing' };
  if (r.at !== b.length) return { ok: false, reason: `${b.length - r.at} bytes after the end of the ack` };
  const [id, ...more] = ids as [number, ...number[]];
  return {
    ok: true,
    frame: { t: 'ack', from, inc, id, ...(more.length === 0 ? {} : { more }), ...((flags & ACK_REFUSED) === 0 ? {} : { refused: 'stale-cluster-key' as const }) },
  };
}

/** Reads a binary frame (its first byte BINARY_MESSAGE or BINARY_ACK). Total: never throws. */
function readBinaryFrame(b: Uint8Array): BinaryRead {
  return b[0] === BINARY_MESSAGE ? readMessage(b) : readAck(b);
}

// ---- decoding ----------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The largest frame each channel carries (and any channel: `all`), computed once. */
const MAX_FRAME_BYTES: { readonly [C in Channel | 'all']: number } = (() => {
  const specs = Object.values(FRAME_SPECS) as (MessageSpec<unknown> & { channel: Channel })[];
  const max = (c: Channel | undefined): number => Math.max(...specs.filter((s) => c === undefined || s.channel === c).map((s) => s.maxBytes));
  return { heartbeat: max('heartbeat'), fabric: max('fabric'), all: max(undefined) };
})();

/** The largest frame a channel carries (the transport refuses longer ones before reading them). */
export function maxFrameBytes(channel: Channel | undefined): number {
  return MAX_FRAME_BYTES[channel ?? 'all'];
}

export type DecodeResult = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly reason: string };

/** A short, safe rendering of any decoded value, for reasons. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (v === null || typeof v !== 'object') return String(v).slice(0, 40);
  return Array.isArray(v) ? 'an array' : 'an object';
}

function refuse(reason: string): DecodeResult {
  return { ok: false, reason: reason.length > 300 ? `${reason.slice(0, 300)}…` : reason };
}

function schemaReason(what: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.map(String).join('.')}`;
  return `${what} does not match its schema${path}: ${issue?.message ?? 'invalid'}`;
}

// ---- the binary frames' values, judged as their schemas judge them -------------------------------
// readBinaryFrame reads the layout (lengths, flags, kinds, UTF-8, nothing after the end); what it
// read is then judged by hand when it is plainly valid (the usual frame), else by the schemas,
// which give the reason. A hand check accepts only what the schema accepts
// (test/hostile/cluster-frames.test.ts compares the two on fuzzed frames).

const isInt = Number.isSafeInteger as (v: unknown) => v is number;
const validIds = (ids: readonly number[], min: number, max: number): boolean => {
  if (ids.length < min || ids.length > max) return false;
  for (const id of ids) if (!isInt(id) || id < 0) return false;
  return true;
};
const optionalText = (v: string | undefined, max: number): boolean => v === undefined || v.length <= max;

function validMessage(m: FabricMessage): boolean {
  if (m.from < 1n || m.clusterName.length > 64 || !isInt(m.inc) || !isInt(m.id) || m.id < 0) return false;
  if (m.acks !== undefined && (!isInt(m.acks.inc) || !validIds(m.acks.ids, 1, MAX_ACKS_PER_FRAME))) return false;
  const b = m.body as DataPathMessage;
  if (!isInt(b.rid) || b.body.length > DATA_PATH_BYTES) return false;
  if (b.type === 'request') return b.kind.length <= 64;
  return optionalText(b.code, 64) && (b.resultCode === undefined || isInt(b.resultCode)) && optionalText(b.message, TEXT_BYTES) && optionalText(b.hint, TEXT_BYTES);
}

function validAck(a: FabricAck): boolean {
  return a.from >= 1n && isInt(a.inc) && isInt(a.id) && a.id >= 0 && (a.more === undefined || validIds(a.more, 0, MAX_ACKS_PER_FRAME - 1));
}

function decodeBinary(bytes: Uint8Array, channel: Channel | undefined, schemaOnly: boolean): DecodeResult {
  const t = bytes[0] === BINARY_MESSAGE ? 'msg' : 'ack';
  if (channel !== undefined && channel !== 'fabric') return refuse(`a ${t} frame on the ${channel} channel`);
  const max = t === 'msg' ? DATA_PATH_BYTES + ENVELOPE_BYTES : FRAME_SPECS.ack.maxBytes;
  if (bytes.length > max) return refuse(`${t} frame of ${bytes.length} bytes exceeds ${max}`);
  const read = readBinaryFrame(bytes);
  if (!read.ok) return refuse(`binary ${t} frame: ${read.reason}`);
  const frame = read.frame;
  if (frame.t === 'ack') {
    if (!schemaOnly && validAck(frame)) return read;
    const parsed = FRAME_SPECS.ack.schema.safeParse(frame);
    return parsed.success ? { ok: true, frame: parsed.data } : refuse(schemaReason('ack frame', parsed.error));
  }
  if (!schemaOnly && validMessage(frame)) return read;
  const head = FRAME_SPECS.msg.schema.safeParse(frame);
  if (!head.success) return refuse(schemaReason('msg frame', head.error));
  const type = frame.body.type as DataPathMessage['type'];
  const body = (FABRIC_BODIES[type] as MessageSpec<FabricPayload>).schema.safeParse(frame.body);
  if (!body.success) return refuse(schemaReason(`fabric ${type} message`, body.error));
  return { ok: true, frame: { ...head.data, body: body.data } };
}

export interface DecodeOptions {
  /** Check with the schemas alone, without the hand checks (their reference, for tests). */
  readonly schemaOnly?: boolean;
}

/**
 * Decodes and validates a frame. Total: every input gives a frame or a reason, nothing throws.
 * With a channel, only the frame types of that channel are accepted. A frame starting with
 * BINARY_MESSAGE or BINARY_ACK is in the binary layout (data-path messages, acks), any other is
 * JSON (pulses, clustering messages).
 */
export function decodeFrame(bytes: Uint8Array, channel?: Channel, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = MAX_FRAME_BYTES[channel ?? 'all'];
  if (bytes.length > maxBytes) return refuse(`frame of ${bytes.length} bytes exceeds ${maxBytes}`);
  if (bytes[0] === BINARY_MESSAGE || bytes[0] === BINARY_ACK) return decodeBinary(bytes, channel, options.schemaOnly === true);
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    return refuse(`not a JSON frame: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return refuse('not a cluster frame (not an object)');
  const t = (v as { t?: unknown }).t;
  if (typeof t !== 'string' || !Object.hasOwn(FRAME_SPECS, t)) return refuse(`not a cluster frame (type ${show(t)})`);
  const spec = FRAME_SPECS[t as Frame['t']] as MessageSpec<unknown> & { channel: Channel };
  if (channel !== undefined && spec.channel !== channel) return refuse(`a ${t} frame on the ${channel} channel`);
  if (t === 'ack') return refuse('an ack frame in JSON (acks travel in the binary layout)');
  const head = spec.schema.safeParse(v);
  if (!head.success) return refuse(schemaReason(`${t} frame`, head.error));
  if (t !== 'msg') {
    if (bytes.length > spec.maxBytes) return refuse(`${t} frame of ${bytes.length} bytes exceeds ${spec.maxBytes}`);
    return { ok: true, frame: head.data as Frame };
  }
  const body = (v as { body?: unknown }).body;
  const type = body !== null && typeof body === 'object' ? (body as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.hasOwn(FABRIC_BODIES, type)) {
    return refuse(`fabric message of unknown type ${show(type)}`);
  }
  if (type === 'request' || type === 'reply') return refuse(`fabric ${type} message in JSON (data-path messages travel in the binary layout)`);
  const bodySpec = FABRIC_BODIES[type as FabricPayload['type']] as MessageSpec<FabricPayload>;
  if (bytes.length > bodySpec.maxBytes + ENVELOPE_BYTES) return refuse(`fabric ${type} message of ${bytes.length} bytes exceeds ${bodySpec.maxBytes + ENVELOPE_BYTES}`);
  const parsed = bodySpec.schema.safeParse(body);
  if (!parsed.success) return refuse(schemaReason(`fabric ${type} message`, parsed.error));
  return { ok: true, frame: { ...(head.data as Omit<FabricMessage, 'body'>), body: parsed.data } };
}
