/**
 * The real transport: persistent TCP connections, one outgoing connection per peer address,
 * frames = 4-byte big-endian length + encoded message. A broken connection is dropped with its
 * queue and re-established on the next send after a short backoff (50 ms doubling to 1 s).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { DbError } from '../plugin-api/index.ts';
import { silentLogger, type Logger } from '../plugin-api/index.ts';
import { decodeFrame, encodeFrame, type Frame } from './messages.ts';
import { parseAddress, type Transport } from './transport.ts';

export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface TcpTransportOptions {
  readonly logger?: Logger;
  /** Frames kept while a connection is being established; older ones are dropped. */
  readonly maxQueuedFrames?: number;
  readonly connectTimeoutMs?: number;
}

interface Outgoing {
  socket: Socket;
  ready: boolean;
  queue: Buffer[];
}

export function frameBytes(frame: Frame): Buffer {
  const payload = encodeFrame(frame);
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

/** Splits a byte stream into frames; calls `onFrame` per frame and `onError` on garbage. */
export function frameReader(onFrame: (f: Frame) => void, onError: (e: Error) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) {
        onError(new Error(`frame of ${len} bytes exceeds ${MAX_FRAME_BYTES}`));
        buf = Buffer.alloc(0);
        return;
      }
      if (buf.length < 4 + len) return;
      const payload = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      let frame: Frame;
      try {
        frame = decodeFrame(payload);
      } catch (e) {
        onError(e as Error);
        return;
      }
      onFrame(frame);
    }
  };
}

export function tcpTransport(options: TcpTransportOptions = {}): Transport {
  const logger = options.logger ?? silentLogger;
  const maxQueued = options.maxQueuedFrames ?? 1024;
  const connectTimeoutMs = options.connectTimeoutMs ?? 500;
  const outgoing = new Map<string, Outgoing>();
  const failures = new Map<string, { count: number; retryAt: number }>();
  const inbound = new Set<Socket>();
  let server: Server | undefined;
  let closed = false;

  function open(to: string): Outgoing | undefined {
    const addr = parseAddress(to);
    if (addr === undefined) return undefined;
    const f = failures.get(to);
    if (f !== undefined && Date.now() < f.retryAt) return undefined;
    const socket = connect({ host: addr.host, port: addr.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.setTimeout(connectTimeoutMs);
    const conn: Outgoing = { socket, ready: false, queue: [] };
    outgoing.set(to, conn);
    socket.on('connect', () => {
      socket.setTimeout(0);
      conn.ready = true;
      failures.delete(to);
      for (const b of conn.queue) socket.write(b);
      conn.queue = [];
    });
    socket.on('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.on('data', () => {});
    socket.on('error', (e) => logger.debug({ to, err: e.message }, 'fabric connection error'));
    socket.on('close', () => {
      if (outgoing.get(to) === conn) outgoing.delete(to);
      const prev = failures.get(to)?.count ?? 0;
      if (!conn.ready || prev > 0) {
        failures.set(to, { count: prev + 1, retryAt: Date.now() + Math.min(1000, 50 * 2 ** prev) });
      }
    });
    return conn;
  }

  return {
    listen(address, onFrame) {
      const addr = parseAddress(address);
      if (addr === undefined) {
        return Promise.reject(new DbError('PARAMETER', `bad listen address ${JSON.stringify(address)}`, { hint: 'Use host:port, e.g. 127.0.0.1:3002' }));
      }
      return new Promise((resolve, reject) => {
        const srv = createServer((socket) => {
          if (closed) return void socket.destroy();
          inbound.add(socket);
          socket.setNoDelay(true);
          const read = frameReader(onFrame, (e) => {
            logger.warn({ err: e.message, peer: socket.remoteAddress }, 'dropping connection that sent a bad frame');
            socket.destroy();
          });
          socket.on('data', read);
          socket.on('error', () => {});
          socket.on('close', () => inbound.delete(socket));
        });
        srv.once('error', (e) => reject(new DbError('SERVER_ERROR', `cannot listen on ${address}: ${e.message}`, {
          hint: 'Choose a free port (or 0 for any free port)', cause: e,
        })));
        srv.listen(addr.port, addr.host, () => {
          server = srv;
          const a = srv.address();
          const port = typeof a === 'object' && a !== null ? a.port : addr.port;
          resolve(`${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port}`);
        });
      });
    },
    send(to, frame) {
      if (closed) return;
      let conn = outgoing.get(to);
      if (conn === undefined) conn = open(to);
      if (conn === undefined) return;
      const bytes = frameBytes(frame);
      if (conn.ready) conn.socket.write(bytes);
      else {
        conn.queue.push(bytes);
        if (conn.queue.length > maxQueued) conn.queue.shift();
      }
    },
    async close() {
      closed = true;
      for (const c of outgoing.values()) c.socket.destroy();
      outgoing.clear();
      for (const s of inbound) s.destroy();
      inbound.clear();
      const srv = server;
      server = undefined;
      if (srv !== undefined) await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
