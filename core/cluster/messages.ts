/**
 * The typed messages nodes exchange, and their wire codec. Every message is readonly data;
 * the codec is JSON with 64-bit integers (node ids, cluster keys) carried as `{"$n":"…"}`.
 */
import type { NodeId } from '../plugin-api/index.ts';
import type { FabricMessageKind } from '../plugin-api/index.ts';

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

/** Heartbeat pulse, sent every interval to every known heartbeat endpoint. */
export interface Pulse {
  readonly t: 'pulse';
  readonly node: NodeId;
  readonly clusterName: string;
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
 * receiving node's handler does with `body`, an opaque encoded request (base64). A reply
 * carries either an encoded result or an error (result code name, message, hint).
 */
export type DataPathMessage =
  | { readonly type: 'request'; readonly rid: number; readonly kind: string; readonly body: string }
  | {
    readonly type: 'reply'; readonly rid: number; readonly ok: boolean; readonly body: string;
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
}

export interface FabricAck {
  readonly t: 'ack';
  readonly from: NodeId;
  readonly inc: number;
  readonly id: number;
  /** Set when the receiver refused the message instead of taking it (never delivered). */
  readonly refused?: 'stale-cluster-key';
}

export type Frame = Pulse | FabricMessage | FabricAck;

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $n: value.toString() } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o['$n'] === 'string' && Object.keys(o).length === 1) return BigInt(o['$n']);
  }
  return value;
}

export function encodeFrame(frame: Frame): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(frame, replacer));
}

const FRAME_TYPES = new Set(['pulse', 'msg', 'ack']);

/** Decodes a frame; throws on anything that is not one. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const v: unknown = JSON.parse(new TextDecoder().decode(bytes), reviver);
  if (v === null || typeof v !== 'object' || !FRAME_TYPES.has((v as { t?: unknown }).t as string)) {
    throw new Error('not a cluster frame');
  }
  return v as Frame;
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
