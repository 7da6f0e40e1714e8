/**
 * The node's one port: every connection is TLS-terminated first (when TLS is configured),
 * then its first byte says which protocol it speaks. An HTTP/2 connection (gRPC) begins with
 * the preface `PRI * HTTP/2.0`; an Aerospike protocol message begins with its version byte
 * (2, or 0 for an admin message). gRPC connections are handed to grpc-js as they are
 * (`Server.createConnectionInjector`, gRFC L114), so gRPC keeps its whole behaviour.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { DbError } from '../errors/index.ts';
import type { ConnectionGate } from './connection-gate.ts';

/** PEM bytes of the port's certificate, key and (for client certificates) CA. */
export interface PortTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  readonly requireClientCert: boolean;
}

/** A protocol served on the shared port besides gRPC. */
export interface PortProtocol {
  readonly name: string;
  /** Whether a connection whose first byte is `firstByte` speaks this protocol. */
  claims(firstByte: number): boolean;
  /** Takes over a connection; the bytes read so far have been put back. */
  accept(socket: Socket | TLSSocket): void;
  /** Closes every connection it holds. */
  close(): Promise<void>;
}

/** How long a new connection may stay silent before its first byte (then it is closed); less when the idle timeout is less. */
export const FIRST_BYTE_TIMEOUT_MS = 60_000;

export class NodePort {
  private server: NetServer | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly protocols: PortProtocol[] = [];
  private readonly grpc: (socket: Duplex) => void;
  private readonly gate: ConnectionGate | undefined;
  private readonly firstByteTimeoutMs: number;

  /**
   * `grpc` takes the connections that are not claimed by another protocol; `gate` (when given)
   * admits each connection as it is accepted, before TLS or any byte.
   */
  constructor(grpc: (socket: Duplex) => void, gate?: ConnectionGate, idleTimeoutMs = 0) {
    this.grpc = grpc;
    this.gate = gate;
    this.firstByteTimeoutMs = idleTimeoutMs > 0 ? Math.min(idleTimeoutMs, FIRST_BYTE_TIMEOUT_MS) : FIRST_BYTE_TIMEOUT_MS;
  }

  addProtocol(p: PortProtocol): void {
    this.protocols.push(p);
  }

  /** Listens on host:port (0: any free port); returns the bound port. */
  async listen(host: string, port: number, tls?: PortTls): Promise<number> {
    const server = tls === undefined
      ? createNetServer({ noDelay: true })
      : createTlsServer({
          cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert,
          // gRPC clients negotiate h2; Aerospike clients offer no protocol and get none
          ALPNProtocols: ['h2'], noDelay: true,
        }, (s) => this.sniff(s));
    // the raw TCP connection, before TLS: admitted (or closed at once) here
    server.on('connection', (s: Socket) => {
      if (this.gate !== undefined && !this.gate.admit(s)) return;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      if (tls === undefined) this.sniff(s);
    });
    // a failed TLS handshake concerns that connection only
    server.on('tlsClientError', (_err: Error, s: TLSSocket) => s.destroy());
    this.server = server;
    return new Promise<number>((resolve, reject) => {
      server.once('error', (err) => reject(new DbError('SERVER_ERROR', `cannot listen on ${host}:${port}: ${err.message}`, { hint: 'choose another --port or stop the process using it', cause: err })));
      server.listen(port, host, () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  private sniff(socket: Socket | TLSSocket): void {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => { this.gate?.countIdleClose(); socket.destroy(); }, this.firstByteTimeoutMs);
    timer.unref();
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      const first = chunk[0] as number;
      const p = this.protocols.find((x) => x.claims(first));
      if (p === undefined) this.grpc(socket);
      else p.accept(socket);
    });
  }

  /**
   * Stops accepting connections, has the other protocols close theirs, and resolves when every
   * connection is gone (gRPC's are closed by grpc-js's shutdown, or destroyAll).
   */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(this.protocols.map((p) => p.close()));
    await closed;
  }

  /** Cuts every connection still open (after the grace period). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
