/**
 * Admission of client connections on one listening port: at most `maxConnections` open at
 * once and at most `maxPerAddress` from one client address; a connection over either limit is
 * closed as soon as it is accepted (before TLS or any byte is read), counted and logged
 * (rate-limited). Counts what it admits, closes and refuses, for statistics and metrics
 * (Aerospike's `client_connections`, `client_connections_opened`/`_closed`, `reaped_fds`).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../plugin-api/index.ts';

export interface ConnectionLimits {
  /** Connections open at once on the port (0: no limit). */
  readonly maxConnections: number;
  /** Connections open at once from one client address (0: no limit). */
  readonly maxPerAddress: number;
}

export interface ConnectionCounts {
  /** Open now. */
  readonly open: number;
  /** Admitted since start. */
  readonly opened: number;
  /** Closed since start (by either side). */
  readonly closed: number;
  /** Refused since start (over a limit). */
  readonly refused: number;
  /** Closed by this node for being idle. */
  readonly idleClosed: number;
}

/** How often a refusal is logged at most. */
const LOG_EVERY_MS = 5000;

export class ConnectionGate {
  private readonly limits: ConnectionLimits;
  private readonly port: string;
  private readonly logger: Logger | undefined;
  private readonly byAddress = new Map<string, number>();
  /** Open connections by `address:port`, the peer string grpc-js gives a call. */
  private readonly byPeer = new Map<string, Socket>();
  private open = 0;
  private opened = 0;
  private closed = 0;
  private refused = 0;
  private idleClosed = 0;
  private lastLog = 0;

  constructor(port: string, limits: ConnectionLimits, logger?: Logger) {
    this.port = port;
    this.limits = limits;
    this.logger = logger;
  }

  /**
   * Admits a just-accepted socket (true) or destroys it (false). An admitted socket is counted
   * until it closes.
   */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const mine = this.byAddress.get(address) ?? 0;
    const over = this.limits.maxConnections > 0 && this.open >= this.limits.maxConnections
      ? `${this.open} connections are open, the most this port takes (${this.limits.maxConnections})`
      : this.limits.maxPerAddress > 0 && mine >= this.limits.maxPerAddress
        ? `${mine} connections are open from ${address}, the most one address may open (${this.limits.maxPerAddress})`
        : undefined;
    if (over !== undefined) {
      this.refused++;
      socket.destroy();
      const now = Date.now();
      if (now - this.lastLog >= LOG_EVERY_MS) {
        this.lastLog = now;
        this.logger?.warn({ port: this.port, address, refused: this.refused }, `connection refused: ${over}`);
      }
      return false;
    }
    this.open++;
    this.opened++;
    this.byAddress.set(address, mine + 1);
    const peer = `${address}:${socket.remotePort ?? ''}`;
    this.byPeer.set(peer, socket);
    socket.once('close', () => {
      if (this.byPeer.get(peer) === socket) this.byPeer.delete(peer);
      this.open--;
      this.closed++;
      const n = (this.byAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.byAddress.delete(address);
      else this.byAddress.set(address, n);
    });
    return true;
  }

  /**
   * Calls `fn` once when the open connection whose peer is `peer` (`address:port`, as a gRPC
   * call's getPeer() gives it) closes; false (and no call) when no such connection is open.
   */
  whenClosed(peer: string, fn: () => void): boolean {
    const socket = this.byPeer.get(peer);
    if (socket === undefined || socket.destroyed) return false;
    socket.once('close', fn);
    return true;
  }

  /** Counts a connection this node closed for being idle. */
  countIdleClose(): void {
    this.idleClosed++;
  }

  counts(): ConnectionCounts {
    return { open: this.open, opened: this.opened, closed: this.closed, refused: this.refused, idleClosed: this.idleClosed };
  }
}
