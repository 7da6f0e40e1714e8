/**
 * The typed messages nodes exchange and their schemas. Every message is readonly data; how
 * frames travel (JSON for pulses and clustering messages, a flat binary layout for data-path
 * messages and acks) is frame-codec.ts.
 *
 * Each message type declares here, once, its schema and the largest encoded size it may have
 * (FRAME_SPECS for frames, FABRIC_BODIES for what the fabric carries); the decoder judges every
 * frame, JSON or binary, by them (a frame that does not match its schema is refused with a
 * reason, never thrown and never half-used). A new fabric message type adds its schema and size
 * cap to FABRIC_BODIES (the compiler insists).
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
 * 3 would refuse. Version 5: data-path messages (request, reply) and acks travel in a flat binary
 * layout (frame-codec.ts) instead of a JSON envelope, which a node of version 4 would refuse.
 */
export const FABRIC_PROTOCOL_VERSION = 5;

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
 * its frame, frame-codec.ts). A reply carries either an encoded result or an error (result code name,
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
export const DATA_PATH_BYTES = 24 * 1024 * 1024;
/** A data-path body: bytes (the binary layout's body; a JSON frame cannot carry one). */
const bodyBytesSchema = z.instanceof(Uint8Array).refine((b) => b.length <= DATA_PATH_BYTES, { message: `body over ${DATA_PATH_BYTES} bytes` });
/** Error messages and hints carried in replies. */
export const TEXT_BYTES = 64 * 1024;

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
export const ENVELOPE_BYTES = 1024;

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
