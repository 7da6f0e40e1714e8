/**
 * The typed messages nodes exchange, their schemas and their wire codec. Every message is
 * readonly data; the codec is JSON with 64-bit integers (node ids, cluster keys) carried as
 * `{"$n":"…"}`.
 *
 * A data-path message (request or reply) carries its body as bytes after the JSON rather than
 * inside it: `JSON envelope | body bytes | JSON length (u32 big-endian) | 0x00`. A JSON frame
 * ends with `}`, so the last byte tells the two apart, and every frame still starts with its
 * JSON (`{"t":…,"from":…`), which is what relays and captures read.
 *
 * Each message type declares here, once, its schema and the largest encoded size it may have
 * (FRAME_SPECS for frames, FABRIC_BODIES for what the fabric carries). Decoding is total: a frame
 * that is too large, not UTF-8, not JSON, of a type the channel does not carry, or that does
 * not match its schema is refused with a reason, never thrown and never half-used. A new fabric
 * message type adds its schema and size cap to FABRIC_BODIES (the compiler insists).
 */
import { z } from 'zod';
import type { NodeId } from '../plugin-api/index.ts';
import type { FabricMessageKind } from '../plugin-api/index.ts';

/** The two channels a node runs a transport for; each frame type belongs to one (FRAME_SPECS). */
export type Channel = 'heartbeat' | 'fabric';

/** A node's clustering state, as the design names them. */
export type NodeState = 'bootstrap' | 'full-sync' | 'partial-sync' | 'online';

/** Paxos proposal number: a round (HLC-like ms timestamp) and the proposer's id as tie-break. */
export interface ProposalNumber {
  readonly round: number;
  readonly node: NodeId;
}

export interface AdjacentNode {
  readonly id: NodeId;
  readonly hb: string;
}

/**
 * The fabric protocol version: how data-path bodies, migration pages and replica writes are laid
 * out. Nodes announce it in every heartbeat pulse and ignore peers of another version (a rolling
 * upgrade across versions is not possible: see docs/cluster.md). A pulse without one comes from
 * a build before versions were announced, taken as version 1. Version 3: acknowledgements ride
 * on messages (FabricMessage.acks), which a node of version 2 would not read. Version 4: a request
 * may carry several calls of one kind (`batch:<kind>`, remote-calls.ts), which a node of version
 * 3 would refuse.
 */
export const FABRIC_PROTOCOL_VERSION = 4;

/** Heartbeat pulse, sent every interval to every known heartbeat endpoint. */
export interface Pulse {
  readonly t: 'pulse';
  readonly node: NodeId;
  readonly clusterName: string;
  /** The sender's FABRIC_PROTOCOL_VERSION (absent: 1, a build before versions were announced). */
  readonly fabricVersion?: number;
  /** The sender gives up its partitions: it is listed last in every row, so it masters and replicates none (Aerospike's quiesce). */
  readonly quiesced?: boolean;
  /** The sender is stopping: the others re-form without it at once (no heartbeat timeout). */
  readonly leaving?: boolean;
  /** Sender's heartbeat and fabric addresses (host:port). */
  readonly hb: string;
  readonly fabric: string;
  /** Sender's client-facing (gRPC) address; empty when it has none yet. */
  readonly service: string;
  readonly rack: number;
  readonly zone: number;
  readonly state: NodeState;
  /** 0 when the node is not in a cluster (orphan). */
  readonly clusterKey: bigint;
  readonly principal: NodeId;
  readonly succession: readonly NodeId[];
  /** The nodes the sender currently hears, with their heartbeat addresses (mesh discovery). */
  readonly adjacency: readonly AdjacentNode[];
}

/** A member of an agreed cluster, with the placement facts every node must agree on. */
export interface MemberDesc {
  readonly id: NodeId;
  readonly rack: number;
  readonly zone: number;
  /** A quiesced member holds no partition (its copies migrate to the others) until it leaves or is un-quiesced. */
  readonly quiesced?: boolean;
}

/** Clustering (Paxos) messages carried by the fabric. */
export type ClusteringMessage =
  | { readonly type: 'prepare'; readonly n: ProposalNumber }
  | { readonly type: 'promise'; readonly n: ProposalNumber }
  | { readonly type: 'prepare-nack'; readonly n: ProposalNumber; readonly reason: string }
  | { readonly type: 'accept'; readonly n: ProposalNumber; readonly clusterKey: bigint; readonly members: readonly MemberDesc[] }
  | { readonly type: 'accepted'; readonly n: ProposalNumber }
  | { readonly type: 'accept-nack'; readonly n: ProposalNumber; readonly reason: string }
  | { readonly type: 'learn'; readonly n: ProposalNumber; readonly clusterKey: bigint; readonly members: readonly MemberDesc[] };

/**
 * The data path's messages: a request forwarded to another node (a proxied client request, a
 * replica write, a migration batch…) and its reply, correlated by `rid`. `kind` names what the
 * receiving node's handler does with `body`, an opaque encoded request (carried as bytes after
 * the frame's JSON). A reply carries either an encoded result or an error (result code name,
 * message, hint). A received body may be a view into the frame: read it, do not keep it.
 */
export type DataPathMessage =
  | { readonly type: 'request'; readonly rid: number; readonly kind: string; readonly body: Uint8Array }
  | {
    readonly type: 'reply'; readonly rid: number; readonly ok: boolean; readonly body: Uint8Array;
    readonly code?: string; readonly resultCode?: number; readonly message?: string; readonly hint?: string; readonly inDoubt?: boolean;
  };

/** Everything the fabric carries: clustering (control) and the data path. */
export type FabricPayload = ClusteringMessage | DataPathMessage;

export interface FabricMessage {
  readonly t: 'msg';
  readonly from: NodeId;
  readonly clusterName: string;
  /**
   * The cluster key the sender is in (0 when in none). Data-path messages from a sender whose
   * key differs from the receiver's are refused: they were addressed under another map.
   */
  readonly clusterKey: bigint;
  /** Sender incarnation (distinguishes a restarted sender's message ids). */
  readonly inc: number;
  readonly id: number;
  readonly needsAck: boolean;
  readonly kind: FabricMessageKind;
  readonly body: FabricPayload;
  /**
   * Acknowledgements riding on this message: ids of the receiver's messages (of its incarnation
   * `inc`) that the sender got. A reply then acknowledges its request itself, instead of an
   * ack frame of its own; acks with no message to ride on leave in ack frames (FabricAck).
   */
  readonly acks?: PiggybackedAcks;
}

export interface PiggybackedAcks {
  readonly inc: number;
  readonly ids: readonly number[];
}

export interface FabricAck {
  readonly t: 'ack';
  readonly from: NodeId;
  readonly inc: number;
  readonly id: number;
  /** More messages of the same sender incarnation acknowledged by this frame (acks are batched). */
  readonly more?: readonly number[];
  /** Set when the receiver refused the message instead of taking it (never delivered). */
  readonly refused?: 'stale-cluster-key';
}

export type Frame = Pulse | FabricMessage | FabricAck;

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $n: value.toString() } : value;
}

/**
 * `{"$n":"…"}` with a decimal integer becomes a bigint; anything else stays as it is (the schema
 * judges it). Applied by the schema only where a 64-bit integer is expected, not to every value
 * of a frame (a JSON reviver over the whole tree costs far more on a frame of many small objects).
 */
function fromWire(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const n = o['$n'];
    if (typeof n === 'string' && /^-?\d{1,20}$/.test(n) && Object.keys(o).length === 1) return BigInt(n);
  }
  return value;
}

/** The byte that ends a frame whose body follows its JSON (a JSON frame ends with `}`). */
const BODY_TRAILER = 0;
const TRAILER_BYTES = 5;

/** The bytes body of a data-path message, which travels after the frame's JSON. */
function bytesBody(frame: Frame): Uint8Array | undefined {
  return frame.t === 'msg' && (frame.body.type === 'request' || frame.body.type === 'reply') ? frame.body.body : undefined;
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

const wireU64 = (n: bigint): string => `{"$n":"${n}"}`;

/**
 * The envelope text of the last sender, cluster name and key rendered (`"from":…,"clusterName":…,
 * "clusterKey":…,`): the same on nearly every frame a node sends, so it is made once per change.
 */
let lastHead: { from: bigint; clusterName: string; clusterKey: bigint; text: string } | undefined;

function headText(msg: FabricMessage): string {
  const h = lastHead;
  if (h !== undefined && h.from === msg.from && h.clusterName === msg.clusterName && h.clusterKey === msg.clusterKey) return h.text;
  const text = `"from":${wireU64(msg.from)},"clusterName":${JSON.stringify(msg.clusterName)},"clusterKey":${wireU64(msg.clusterKey)},`;
  lastHead = { from: msg.from, clusterName: msg.clusterName, clusterKey: msg.clusterKey, text };
  return text;
}

/** A request's or an ok reply's fields written directly (the usual frames); anything else through JSON.stringify. */
function fieldsJson(body: DataPathMessage): string {
  if (Number.isSafeInteger(body.rid)) {
    if (body.type === 'request') return `{"type":"request","rid":${body.rid},"kind":${JSON.stringify(body.kind)}}`;
    if (body.ok && body.code === undefined && body.resultCode === undefined && body.message === undefined && body.hint === undefined && body.inDoubt === undefined) {
      return `{"type":"reply","rid":${body.rid},"ok":true}`;
    }
  }
  const { body: _bytes, ...fields } = body;
  return JSON.stringify(fields);
}

function acksJson(acks: PiggybackedAcks): string {
  return Number.isSafeInteger(acks.inc) && acks.ids.every((id) => Number.isSafeInteger(id)) ? `{"inc":${acks.inc},"ids":[${acks.ids.join(',')}]}` : JSON.stringify(acks);
}

/**
 * The JSON of a data-path message (its body's bytes left out) or of an ack, written field by
 * field: the same text as JSON.stringify with the bigint replacer, whose call per value was the
 * larger part of encoding these frames. Field order as in the objects (`t`, then `from` first).
 */
function dataPathJson(msg: FabricMessage, body: DataPathMessage): string {
  return `{"t":"msg",${headText(msg)}"inc":${msg.inc},"id":${msg.id},"needsAck":${msg.needsAck},"kind":${JSON.stringify(msg.kind)},"body":${fieldsJson(body)}`
    + `${msg.acks === undefined ? '' : `,"acks":${acksJson(msg.acks)}`}}`;
}

function ackJson(ack: FabricAck): string {
  return `{"t":"ack","from":${wireU64(ack.from)},"inc":${ack.inc},"id":${ack.id}${ack.more === undefined ? '' : `,"more":${JSON.stringify(ack.more)}`}`
    + `${ack.refused === undefined ? '' : `,"refused":${JSON.stringify(ack.refused)}`}}`;
}

function encodeFrameOnce(frame: Frame): Uint8Array {
  const body = bytesBody(frame);
  if (frame.t === 'ack') return Buffer.from(ackJson(frame), 'utf8');
  if (body === undefined) return new TextEncoder().encode(JSON.stringify(frame, replacer));
  const msg = frame as FabricMessage;
  const json = dataPathJson(msg, msg.body as DataPathMessage);
  // the JSON is written straight into the frame (no buffer of its own to copy)
  const jsonLength = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(jsonLength + body.length + TRAILER_BYTES);
  out.write(json, 0, 'utf8');
  out.set(body, jsonLength);
  out.writeUInt32BE(jsonLength, jsonLength + body.length);
  out[out.length - 1] = BODY_TRAILER;
  return out;
}

// ---- schemas ---------------------------------------------------------------------------------

/** Message ids one ack frame may acknowledge. */
export const MAX_ACKS_PER_FRAME = 1024;
/** The most nodes a cluster may have; lists of nodes in messages are capped by it. */
export const MAX_CLUSTER_NODES = 256;
const U64_MAX = (1n << 64n) - 1n;
const nodeIdSchema = z.preprocess(fromWire, z.bigint().min(1n).max(U64_MAX));
/** Principal and cluster key: 0 when there is none. */
const u64Schema = z.preprocess(fromWire, z.bigint().min(0n).max(U64_MAX));
/** "host:port" (a bracketed IPv6 host fits), or empty. */
const addressSchema = z.string().max(300);
const u32Schema = z.int().min(0).max(0xffff_ffff);
const reasonSchema = z.string().max(1024);
const clusterNameSchema = z.string().max(64);
const nodeListSchema = z.array(nodeIdSchema).max(MAX_CLUSTER_NODES);

/** Every value of a string union, checked complete by the compiler. */
function enumOf<T extends string>(all: Record<T, true>): z.ZodType<T> {
  return z.enum(Object.keys(all) as [T, ...T[]]) as unknown as z.ZodType<T>;
}
const nodeStateSchema = enumOf<NodeState>({ bootstrap: true, 'full-sync': true, 'partial-sync': true, online: true });
const fabricKindSchema = enumOf<FabricMessageKind>({ 'replica-write': true, migration: true, xdr: true, proxy: true, control: true });

// rounds are clock readings (ms), which a simulated clock may give with fractions
const proposalSchema: z.ZodType<ProposalNumber> = z.object({ round: z.number().min(0), node: nodeIdSchema });
const memberSchema: z.ZodType<MemberDesc> = z.object({ id: nodeIdSchema, rack: u32Schema, zone: u32Schema, quiesced: z.boolean().optional() });
const memberListSchema = z.array(memberSchema).min(1).max(MAX_CLUSTER_NODES);

/** A message type's schema and the most bytes its encoding may take. */
export interface MessageSpec<T> {
  readonly schema: z.ZodType<T>;
  readonly maxBytes: number;
}

type BodyOf<K extends FabricPayload['type']> = Extract<FabricPayload, { type: K }>;
type FrameOf<K extends Frame['t']> = Extract<Frame, { t: K }>;

const CONTROL_BYTES = 64 * 1024;
/**
 * A data-path body: a client request or answer forwarded between nodes, at most the gRPC
 * message cap (16 MiB), with room to spare.
 */
const DATA_PATH_BYTES = 24 * 1024 * 1024;
/** A data-path body: the bytes after the frame's JSON (never a field of the JSON itself). */
const bodyBytesSchema = z.instanceof(Uint8Array).refine((b) => b.length <= DATA_PATH_BYTES, { message: `body over ${DATA_PATH_BYTES} bytes` });
/** Error messages and hints carried in replies. */
const TEXT_BYTES = 64 * 1024;

/** What the fabric carries, per `type`: the schema of the body and its size cap. */
export const FABRIC_BODIES: { readonly [K in FabricPayload['type']]: MessageSpec<BodyOf<K>> } = {
  prepare: { maxBytes: 1024, schema: z.object({ type: z.literal('prepare'), n: proposalSchema }) },
  promise: { maxBytes: 1024, schema: z.object({ type: z.literal('promise'), n: proposalSchema }) },
  'prepare-nack': { maxBytes: 2048, schema: z.object({ type: z.literal('prepare-nack'), n: proposalSchema, reason: reasonSchema }) },
  accept: {
    maxBytes: CONTROL_BYTES,
    schema: z.object({ type: z.literal('accept'), n: proposalSchema, clusterKey: nodeIdSchema, members: memberListSchema }),
  },
  accepted: { maxBytes: 1024, schema: z.object({ type: z.literal('accepted'), n: proposalSchema }) },
  'accept-nack': { maxBytes: 2048, schema: z.object({ type: z.literal('accept-nack'), n: proposalSchema, reason: reasonSchema }) },
  learn: {
    maxBytes: CONTROL_BYTES,
    schema: z.object({ type: z.literal('learn'), n: proposalSchema, clusterKey: nodeIdSchema, members: memberListSchema }),
  },
  request: {
    maxBytes: DATA_PATH_BYTES,
    schema: z.object({ type: z.literal('request'), rid: z.int(), kind: z.string().max(64), body: bodyBytesSchema }),
  },
  reply: {
    maxBytes: DATA_PATH_BYTES,
    schema: z.object({
      type: z.literal('reply'), rid: z.int(), ok: z.boolean(), body: bodyBytesSchema,
      code: z.string().max(64).optional(), resultCode: z.int().optional(), message: z.string().max(TEXT_BYTES).optional(),
      hint: z.string().max(TEXT_BYTES).optional(), inDoubt: z.boolean().optional(),
    }),
  },
};

/** Room for a fabric message's envelope around its body. */
const ENVELOPE_BYTES = 1024;

/** The frame types, the channel each travels on, their schema (a message's body apart) and size cap. */
export const FRAME_SPECS: { readonly [K in Frame['t']]: MessageSpec<K extends 'msg' ? Omit<FrameOf<K>, 'body'> : FrameOf<K>> & { readonly channel: Channel } } = {
  pulse: {
    channel: 'heartbeat',
    maxBytes: 64 * 1024,
    schema: z.object({
      t: z.literal('pulse'), node: nodeIdSchema, clusterName: clusterNameSchema, fabricVersion: z.int().min(1).max(0xffff).optional(),
      quiesced: z.boolean().optional(), leaving: z.boolean().optional(), hb: addressSchema, fabric: addressSchema,
      service: addressSchema, rack: u32Schema, zone: u32Schema, state: nodeStateSchema, clusterKey: u64Schema,
      principal: u64Schema, succession: nodeListSchema,
      adjacency: z.array(z.object({ id: nodeIdSchema, hb: addressSchema })).max(MAX_CLUSTER_NODES),
    }),
  },
  msg: {
    channel: 'fabric',
    maxBytes: Math.max(...Object.values(FABRIC_BODIES).map((b: MessageSpec<unknown>) => b.maxBytes)) + ENVELOPE_BYTES,
    schema: z.object({
      t: z.literal('msg'), from: nodeIdSchema, clusterName: clusterNameSchema, clusterKey: u64Schema, inc: z.int(), id: z.int().min(0),
      needsAck: z.boolean(), kind: fabricKindSchema,
      acks: z.object({ inc: z.int(), ids: z.array(z.int().min(0)).min(1).max(MAX_ACKS_PER_FRAME) }).optional(),
    }),
  },
  ack: {
    channel: 'fabric',
    maxBytes: 32 * 1024,
    schema: z.object({
      t: z.literal('ack'), from: nodeIdSchema, inc: z.int(), id: z.int().min(0),
      more: z.array(z.int().min(0)).max(MAX_ACKS_PER_FRAME - 1).optional(), refused: z.literal('stale-cluster-key').optional(),
    }),
  },
};

/** The largest frame a channel carries (the transport refuses longer ones before reading them). */
export function maxFrameBytes(channel: Channel | undefined): number {
  let max = 0;
  for (const spec of Object.values(FRAME_SPECS) as (MessageSpec<unknown> & { channel: Channel })[]) {
    if (channel === undefined || spec.channel === channel) max = Math.max(max, spec.maxBytes);
  }
  return max;
}

export type DecodeResult = { readonly ok: true; readonly frame: Frame } | { readonly ok: false; readonly reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

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

// ---- fast checks of the data path's frames ------------------------------------------------------
// A message envelope, a request, a reply and an ack are checked by hand before their schemas: the
// schemas' generic walk was the largest part of decoding these frames, and a replicated write is
// four of them. A fast check accepts only what the schema accepts and gives what it would give
// (unknown keys left out); anything it does not recognise goes to the schema, which decides and
// gives the reason (test/hostile/cluster-frames.test.ts compares the two on fuzzed frames).

const isInt = Number.isSafeInteger as (v: unknown) => v is number;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const FABRIC_KINDS: ReadonlySet<unknown> = new Set<FabricMessageKind>(['replica-write', 'migration', 'xdr', 'proxy', 'control']);

/** A 64-bit integer as the wire carries it (`{"$n":"…"}`), within [min, 2^64 − 1]. */
function fastU64(v: unknown, min: bigint): bigint | undefined {
  if (!isObject(v)) return undefined;
  const n = v['$n'];
  if (typeof n !== 'string' || !/^-?\d{1,20}$/.test(n) || Object.keys(v).length !== 1) return undefined;
  const b = BigInt(n);
  return b >= min && b <= U64_MAX ? b : undefined;
}

const fastIds = (v: unknown, max: number): v is number[] => Array.isArray(v) && v.length <= max && v.every((x) => isInt(x) && x >= 0);

function fastMsgHead(v: Record<string, unknown>): Omit<FabricMessage, 'body'> | undefined {
  const { clusterName, inc, id, needsAck, kind, acks } = v;
  const from = fastU64(v['from'], 1n);
  const clusterKey = fastU64(v['clusterKey'], 0n);
  if (from === undefined || clusterKey === undefined || typeof clusterName !== 'string' || clusterName.length > 64) return undefined;
  if (!isInt(inc) || !isInt(id) || id < 0 || typeof needsAck !== 'boolean' || !FABRIC_KINDS.has(kind)) return undefined;
  const head = { t: 'msg' as const, from, clusterName, clusterKey, inc, id, needsAck, kind: kind as FabricMessageKind };
  if (acks === undefined) return head;
  if (!isObject(acks) || !isInt(acks['inc']) || !fastIds(acks['ids'], MAX_ACKS_PER_FRAME) || acks['ids'].length === 0) return undefined;
  return { ...head, acks: { inc: acks['inc'], ids: acks['ids'] } };
}

function fastAck(v: Record<string, unknown>): FabricAck | undefined {
  const { inc, id, more, refused } = v;
  const from = fastU64(v['from'], 1n);
  if (from === undefined || !isInt(inc) || !isInt(id) || id < 0) return undefined;
  if (more !== undefined && !fastIds(more, MAX_ACKS_PER_FRAME - 1)) return undefined;
  if (refused !== undefined && refused !== 'stale-cluster-key') return undefined;
  return { t: 'ack', from, inc, id, ...(more === undefined ? {} : { more }), ...(refused === undefined ? {} : { refused }) };
}

const optionalText = (v: unknown, max: number): boolean => v === undefined || (typeof v === 'string' && v.length <= max);

/** A request or reply body (its bytes are the frame's trailer). */
function fastDataPath(v: Record<string, unknown>, bytes: Uint8Array): DataPathMessage | undefined {
  const { type, rid } = v;
  if (!isInt(rid) || bytes.length > DATA_PATH_BYTES) return undefined;
  if (type === 'request') {
    const kind = v['kind'];
    return typeof kind === 'string' && kind.length <= 64 ? { type, rid, kind, body: bytes } : undefined;
  }
  if (type !== 'reply') return undefined;
  const { ok, code, resultCode, message, hint, inDoubt } = v;
  if (typeof ok !== 'boolean' || !optionalText(code, 64) || !optionalText(message, TEXT_BYTES) || !optionalText(hint, TEXT_BYTES)) return undefined;
  if ((resultCode !== undefined && !isInt(resultCode)) || (inDoubt !== undefined && typeof inDoubt !== 'boolean')) return undefined;
  return {
    type, rid, ok, body: bytes,
    ...(code === undefined ? {} : { code: code as string }), ...(resultCode === undefined ? {} : { resultCode }),
    ...(message === undefined ? {} : { message: message as string }), ...(hint === undefined ? {} : { hint: hint as string }),
    ...(inDoubt === undefined ? {} : { inDoubt }),
  };
}

export interface DecodeOptions {
  /** Check with the schemas alone, without the fast checks (their reference, for tests). */
  readonly schemaOnly?: boolean;
}

/**
 * Decodes and validates a frame. Total: every input gives a frame or a reason, nothing throws.
 * With a channel, only the frame types of that channel are accepted.
 */
export function decodeFrame(bytes: Uint8Array, channel?: Channel, options: DecodeOptions = {}): DecodeResult {
  if (bytes.length > maxFrameBytes(channel)) return refuse(`frame of ${bytes.length} bytes exceeds ${maxFrameBytes(channel)}`);
  let json = bytes;
  let tail: Uint8Array | undefined;
  if (bytes.length > 0 && bytes[bytes.length - 1] === BODY_TRAILER) {
    if (bytes.length < TRAILER_BYTES) return refuse('frame too short for its body trailer');
    const at = bytes.length - TRAILER_BYTES;
    const n = ((bytes[at] as number) * 0x1000000) + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number));
    if (n > at) return refuse(`body trailer names ${n} bytes of JSON in a frame of ${bytes.length}`);
    json = bytes.subarray(0, n);
    tail = bytes.subarray(n, at);
  }
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(json));
  } catch (e) {
    return refuse(`not a JSON frame: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return refuse('not a cluster frame (not an object)');
  const t = (v as { t?: unknown }).t;
  if (typeof t !== 'string' || !Object.hasOwn(FRAME_SPECS, t)) return refuse(`not a cluster frame (type ${show(t)})`);
  const spec = FRAME_SPECS[t as Frame['t']] as MessageSpec<unknown> & { channel: Channel };
  if (channel !== undefined && spec.channel !== channel) return refuse(`a ${t} frame on the ${channel} channel`);
  const fast = options.schemaOnly === true ? undefined : t === 'msg' ? fastMsgHead(v as Record<string, unknown>) : t === 'ack' ? fastAck(v as Record<string, unknown>) : undefined;
  const head = fast !== undefined ? { success: true as const, data: fast } : spec.schema.safeParse(v);
  if (!head.success) return refuse(schemaReason(`${t} frame`, head.error));
  if (t !== 'msg') {
    if (tail !== undefined) return refuse(`a ${t} frame with a body trailer`);
    if (bytes.length > spec.maxBytes) return refuse(`${t} frame of ${bytes.length} bytes exceeds ${spec.maxBytes}`);
    return { ok: true, frame: head.data as Frame };
  }
  let body = (v as { body?: unknown }).body;
  const type = body !== null && typeof body === 'object' ? (body as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !Object.hasOwn(FABRIC_BODIES, type)) {
    return refuse(`fabric message of unknown type ${show(type)}`);
  }
  // a data-path body is the trailer's bytes, and only that: a body inside the JSON is refused by the schema
  const hasBytes = type === 'request' || type === 'reply';
  if (hasBytes !== (tail !== undefined)) return refuse(hasBytes ? `fabric ${type} message without its body bytes` : `fabric ${type} message with a body trailer`);
  if (tail !== undefined) {
    if ('body' in (body as object)) return refuse(`fabric ${type} message with a body in its JSON`);
    body = { ...(body as object), body: tail };
  }
  const bodySpec = FABRIC_BODIES[type as FabricPayload['type']] as MessageSpec<FabricPayload>;
  if (bytes.length > bodySpec.maxBytes + ENVELOPE_BYTES) return refuse(`fabric ${type} message of ${bytes.length} bytes exceeds ${bodySpec.maxBytes + ENVELOPE_BYTES}`);
  const fastBody = options.schemaOnly === true || tail === undefined ? undefined : fastDataPath(body as Record<string, unknown>, tail);
  const parsed = fastBody !== undefined ? { success: true as const, data: fastBody } : bodySpec.schema.safeParse(body);
  if (!parsed.success) return refuse(schemaReason(`fabric ${type} message`, parsed.error));
  return { ok: true, frame: { ...(head.data as Omit<FabricMessage, 'body'>), body: parsed.data } };
}

export function compareProposals(a: ProposalNumber, b: ProposalNumber): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.node === b.node ? 0 : a.node < b.node ? -1 : 1;
}

/** Node ids in succession order: descending. */
export function sortDescending(ids: Iterable<NodeId>): NodeId[] {
  return [...new Set(ids)].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
}

export function hexId(id: NodeId): string {
  return id.toString(16).toUpperCase();
}
