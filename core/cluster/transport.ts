/**
 * The transport the heartbeat and the fabric run on, injectable so that cluster logic can run
 * over real TCP sockets or over a simulated in-process network. Delivery is best effort:
 * frames may be lost (a connection drops), and reliability is the fabric's job.
 */
import type { Channel, Frame } from './messages.ts';

export type { Channel };

export interface Transport {
  /**
   * Starts receiving at `address` ("host:port"; port 0 picks a free one) and returns the
   * address peers should use.
   */
  listen(address: string, onFrame: (frame: Frame) => void): Promise<string>;
  /**
   * Sends a frame to "host:port"; never throws, drops when the peer can't be reached. `written`,
   * when given, is called once: true when the frame was handed to a live connection (the peer
   * may have it), false when it was dropped before that (no connection could be made, the
   * connection failed before it was ready, the queue or the outgoing buffer was full, the
   * transport closed) — then the peer never got it and never will.
   */
  send(to: string, frame: Frame, written?: (maybeDelivered: boolean) => void): void;
  /** What the transport received, refused and dropped so far. */
  stats(): TransportStats;
  close(): Promise<void>;
}

export interface TransportStats {
  readonly framesReceived: number;
  /** Frames that did not decode (too large, not JSON, wrong type, schema mismatch): dropped. */
  readonly framesDropped: number;
  /** Frames refused because they were not signed with the cluster secret (when one is set). */
  readonly framesUnauthenticated: number;
  /** Outgoing frames dropped because the peer does not read them. */
  readonly framesUnsent: number;
  /** Inbound connections refused because too many were open. */
  readonly connectionsRefused: number;
  /** Inbound connections closed for an oversized or slow frame, the buffer budget or idleness. */
  readonly connectionsClosed: number;
  /** Bytes of partly received frames held now. */
  readonly bytesBuffered: number;
}

/** Makes one transport per channel; a node uses one for heartbeats and one for the fabric. */
export type TransportFactory = (channel: Channel) => Transport;

/** Splits "host:port"; returns undefined for anything else. */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(address);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}
