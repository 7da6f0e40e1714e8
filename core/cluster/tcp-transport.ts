/**
 * The real transport: persistent TCP connections, one outgoing connection per peer address,
 * frames = 4-byte big-endian length + encoded message. A broken connection is dropped with its
 * queue and re-established on the next send after a short backoff (50 ms doubling to 1 s).
 *
 * What a peer can make a node spend is bounded: a frame longer than its channel carries ends
 * the connection before it is read; a frame is buffered once (its chunks are joined once it is
 * whole) and must arrive whole within frameTimeoutMs; all connections together buffer at most
 * maxBufferedBytes; there are at most maxConnections inbound connections, and an idle one is
 * closed after idleTimeoutMs. A frame that does not decode (see messages.ts) is dropped,
 * counted and logged, and the connection goes on. Outgoing frames to a peer that does not read
 * are dropped once maxOutgoingBytes wait in its socket.
 *
 * With a cluster secret, the receiving side opens every connection with a fresh random
 * challenge (16 bytes, sent at once on accept); the sender waits for it, then sends each frame
 * with a counter (8 bytes, strictly increasing on the connection) and an HMAC-SHA256 under the
 * secret of the channel, the challenge, the counter and the payload (32 bytes). A frame without
 * a valid signature, or whose counter does not increase, is refused, counted and logged before it
 * is decoded: a process without the secret can neither join nor speak for a member, and frames
 * recorded on the wire cannot be replayed — not on a new connection (another challenge), not on
 * the same one (the counter), not to another node.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DbError } from '../plugin-api/index.ts';
import { endOfTurn } from '../plugin-api/context.ts';
import { silentLogger, type Logger } from '../plugin-api/index.ts';
import { decodeFrame, encodeFrame, maxFrameBytes } from './frame-codec.ts';
import type { Frame } from './messages.ts';
import { parseAddress, type Channel, type Transport, type TransportStats } from './transport.ts';

export const TCP_TRANSPORT_DEFAULTS = {
  maxConnections: 256,
  frameTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxBufferedBytes: 128 * 1024 * 1024,
  maxOutgoingBytes: 16 * 1024 * 1024,
} as const;

export interface TcpTransportOptions {
  readonly logger?: Logger;
  /** The channel this transport carries: only its frame types, and its size cap. Default: any. */
  readonly channel?: Channel;
  /** Frames kept while a connection is being established; older ones are dropped. */
  readonly maxQueuedFrames?: number;
  readonly connectTimeoutMs?: number;
  /** Inbound connections at once; more are closed at once. */
  readonly maxConnections?: number;
  /** A frame must arrive whole within this many ms of its first byte, or the connection is closed. */
  readonly frameTimeoutMs?: number;
  /** An inbound connection that sends nothing for this long is closed. */
  readonly idleTimeoutMs?: number;
  /** Bytes of partly received frames held for all inbound connections together. */
  readonly maxBufferedBytes?: number;
  /** Bytes waiting to be sent to one peer; frames beyond are dropped. */
  readonly maxOutgoingBytes?: number;
  /** The cluster secret: frames are signed with it, and unsigned or badly signed frames refused. */
  readonly secret?: Buffer;
}

/** Bytes of the challenge a receiving node sends first on each connection when the cluster has a secret. */
export const CHALLENGE_BYTES = 16;
/** Bytes that follow a payload when the cluster has a secret: the counter and the signature. */
export const FRAME_SEAL_BYTES = 8 + 32;

/** How a frame is signed on one connection: the cluster secret, the channel, the receiver's challenge and the frame's counter. */
export interface FrameSigning {
  readonly secret: Buffer;
  readonly channel: Channel | undefined;
  readonly challenge: Buffer;
  readonly counter: bigint;
}

function frameMac(secret: Buffer, channel: Channel | undefined, challenge: Buffer, counter: Buffer, payload: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(channel ?? '').update('\u0000').update(challenge).update(counter).update(payload).digest();
}

interface Queued {
  readonly payload: Uint8Array;
  readonly written: ((maybeDelivered: boolean) => void) | undefined;
}

/** Bytes of the buffer a connection writes its turns from (more when a turn needs it). */
const TURN_BUFFER_BYTES = 16 * 1024;
/** A turn buffer larger than this is not kept for the next turn. */
const MAX_KEPT_TURN_BUFFER_BYTES = 256 * 1024;

interface Outgoing {
  socket: Socket;
  /** Frames of this turn, written together (one buffer, one socket write) when the turn ends. */
  turn: Uint8Array[];
  /** Their bytes. */
  turnBytes: number;
  /** Connected (and, with a secret, the challenge received): frames go straight out. */
  ready: boolean;
  /** Encoded frames waiting for the connection (and its challenge), each with whom to tell when it is written or dropped. */
  queue: Queued[];
  challenge: Buffer | undefined;
  counter: bigint;
  /**
   * The buffer the last turn was written from, when the socket handed all of it to the kernel
   * at once (it then keeps no reference to it): the next turn is written from it again instead
   * of from a new one.
   */
  spare: Buffer | undefined;
}

export function frameBytes(frame: Frame, signing?: FrameSigning): Buffer {
  const payload = encodeFrame(frame);
  const out = Buffer.allocUnsafe(sealedLength(payload, signing !== undefined));
  sealInto(out, 0, payload, signing);
  return out;
}

/** Bytes of an encoded frame on the wire: its length, the payload, and its counter and signature when signed. */
function sealedLength(payload: Uint8Array, signed: boolean): number {
  return 4 + payload.length + (signed ? FRAME_SEAL_BYTES : 0);
}

/** Writes a frame as the wire carries it at `out[at]`; returns where it ends. */
function sealInto(out: Buffer, at: number, payload: Uint8Array, signing?: FrameSigning): number {
  const length = payload.length + (signing === undefined ? 0 : FRAME_SEAL_BYTES);
  // the length, big-endian (by hand: Buffer's checked writer costs more than the four stores)
  out[at] = length >>> 24;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
  out.set(payload, at + 4);
  if (signing !== undefined) {
    const counter = out.subarray(at + 4 + payload.length, at + 4 + payload.length + 8);
    counter.writeBigUInt64BE(signing.counter);
    out.set(frameMac(signing.secret, signing.channel, signing.challenge, counter, payload), at + 4 + payload.length + 8);
  }
  return at + 4 + length;
}

export interface FrameReader {
  /** Feeds bytes from the stream; false once the stream is unusable (a length over the cap). */
  push(chunk: Buffer): boolean;
  /** Bytes held of the frame being read. */
  readonly buffered: number;
  /** When the first byte of the frame being read arrived (ms), or undefined between frames. */
  readonly frameStartedAt: number | undefined;
}

/**
 * Splits a byte stream into frame payloads. A payload inside one chunk is passed as a view
 * (no copy); one spread over chunks is joined once, when whole. A length over `maxBytes` calls
 * `onOversize` and stops the reader.
 */
export function frameReader(maxBytes: number, onPayload: (payload: Buffer) => void, onOversize: (length: number) => void): FrameReader {
  const header = Buffer.alloc(4);
  let headerFill = 0;
  let want = -1; // payload length of the frame being read; -1 while reading its header
  let parts: Buffer[] = [];
  let held = 0;
  let startedAt: number | undefined;
  let stopped = false;
  return {
    get buffered() {
      return held + headerFill;
    },
    get frameStartedAt() {
      return startedAt;
    },
    push(chunk) {
      if (stopped) return false;
      let off = 0;
      while (off < chunk.length) {
        if (want < 0) {
          if (headerFill === 0 && chunk.length - off >= 4) {
            want = chunk.readUInt32BE(off);
            off += 4;
          } else {
            const n = Math.min(4 - headerFill, chunk.length - off);
            chunk.copy(header, headerFill, off, off + n);
            headerFill += n;
            off += n;
            startedAt ??= Date.now();
            if (headerFill < 4) return true;
            want = header.readUInt32BE(0);
            headerFill = 0;
          }
          if (want > maxBytes) {
            stopped = true;
            onOversize(want);
            return false;
          }
        }
        const n = Math.min(want - held, chunk.length - off);
        if (held === 0 && n === want) {
          const payload = chunk.subarray(off, off + n);
          off += n;
          want = -1;
          startedAt = undefined;
          onPayload(payload);
          continue;
        }
        if (n > 0) {
          parts.push(chunk.subarray(off, off + n));
          held += n;
          off += n;
        }
        startedAt ??= Date.now();
        if (held < want) return true;
        const payload = Buffer.concat(parts, held);
        parts = [];
        held = 0;
        want = -1;
        startedAt = undefined;
        onPayload(payload);
      }
      return true;
    },
  };
}

/** Warns at most once per interval, with how many times it was held back. */
function rateLimited(logger: Logger, intervalMs = 5000): (obj: Record<string, unknown>, msg: string) => void {
  let last = 0;
  let held = 0;
  return (obj, msg) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      held++;
      return;
    }
    last = now;
    logger.warn(held > 0 ? { ...obj, alsoSince: held } : obj, msg);
    held = 0;
  };
}

export function tcpTransport(options: TcpTransportOptions = {}): Transport {
  const logger = options.logger ?? silentLogger;
  const channel = options.channel;
  const maxQueued = options.maxQueuedFrames ?? 1024;
  const connectTimeoutMs = options.connectTimeoutMs ?? 500;
  const maxConnections = options.maxConnections ?? TCP_TRANSPORT_DEFAULTS.maxConnections;
  const frameTimeoutMs = options.frameTimeoutMs ?? TCP_TRANSPORT_DEFAULTS.frameTimeoutMs;
  const idleTimeoutMs = options.idleTimeoutMs ?? TCP_TRANSPORT_DEFAULTS.idleTimeoutMs;
  const maxBufferedBytes = options.maxBufferedBytes ?? TCP_TRANSPORT_DEFAULTS.maxBufferedBytes;
  const maxOutgoingBytes = options.maxOutgoingBytes ?? TCP_TRANSPORT_DEFAULTS.maxOutgoingBytes;
  const secret = options.secret;
  const frameCap = maxFrameBytes(channel) + (secret === undefined ? 0 : FRAME_SEAL_BYTES);
  const outgoing = new Map<string, Outgoing>();
  const failures = new Map<string, { count: number; retryAt: number }>();
  const inbound = new Map<Socket, FrameReader>();
  const stats = {
    framesReceived: 0, framesDropped: 0, framesUnauthenticated: 0, framesUnsent: 0, connectionsRefused: 0, connectionsClosed: 0, bytesBuffered: 0,
  };
  const warnDropped = rateLimited(logger);
  const warnUnsigned = rateLimited(logger);
  const warnRefused = rateLimited(logger);
  const warnClosed = rateLimited(logger);
  let server: Server | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;

  /**
   * Writes a frame on a ready connection. Frames written in one turn of the event loop (the
   * replies, acknowledgements and calls that one batch of incoming frames produces) leave in one
   * buffer and one socket write once the turn's work is done (after what else that turn deferred
   * to its end, such as calls sent together): a socket write per frame, and the stream's work per
   * chunk, cost more than the copy.
   */
  function write(conn: Outgoing, payload: Uint8Array): void {
    conn.turn.push(payload);
    conn.turnBytes += payload.length;
    if (conn.turn.length === 1) endOfTurn(() => writeTurn(conn), true);
  }

  /**
   * The frames of the turn as one buffer (each signed under the connection's challenge with the
   * next counter), written from the connection's spare buffer when it has one.
   */
  function writeTurn(conn: Outgoing): void {
    const frames = conn.turn;
    conn.turn = [];
    conn.turnBytes = 0;
    const socket = conn.socket;
    if (socket.destroyed) return;
    const signed = secret !== undefined && conn.challenge !== undefined;
    let size = 0;
    for (let i = 0; i < frames.length; i++) size += sealedLength(frames[i] as Uint8Array, signed);
    let out = conn.spare;
    conn.spare = undefined;
    if (out === undefined || out.length < size) out = Buffer.allocUnsafeSlow(Math.max(size, TURN_BUFFER_BYTES));
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as Uint8Array;
      if (!signed) {
        at = sealInto(out, at, f);
        continue;
      }
      conn.counter += 1n;
      at = sealInto(out, at, f, { secret, channel, challenge: conn.challenge as Buffer, counter: conn.counter });
    }
    socket.write(size === out.length ? out : out.subarray(0, size));
    // nothing waits in the socket: the kernel took these bytes at once, and the buffer is free again
    // (a write that waits keeps a reference to its bytes, and the buffer is then left to it)
    if (socket.writableLength === 0 && out.length <= MAX_KEPT_TURN_BUFFER_BYTES) conn.spare = out;
  }

  function open(to: string): Outgoing | undefined {
    const addr = parseAddress(to);
    if (addr === undefined) return undefined;
    const f = failures.get(to);
    if (f !== undefined && Date.now() < f.retryAt) return undefined;
    const socket = connect({ host: addr.host, port: addr.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.setTimeout(connectTimeoutMs);
    const conn: Outgoing = { socket, turn: [], turnBytes: 0, ready: false, queue: [], challenge: undefined, counter: 0n, spare: undefined };
    outgoing.set(to, conn);
    const flush = (): void => {
      socket.setTimeout(0);
      conn.ready = true;
      failures.delete(to);
      const queued = conn.queue;
      conn.queue = [];
      for (const f of queued) {
        write(conn, f.payload);
        f.written?.(true);
      }
    };
    socket.on('connect', () => {
      if (secret === undefined) flush();
      // the peer's challenge may take a while on a busy node: allow a frame's time for it
      else socket.setTimeout(Math.max(connectTimeoutMs, frameTimeoutMs));
    });
    socket.on('timeout', () => socket.destroy(new Error(secret !== undefined && conn.challenge === undefined ? 'no challenge from the peer' : 'connect timeout')));
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      // with a secret the peer speaks once: its challenge; anything else is ignored
      if (secret === undefined || conn.challenge !== undefined) return;
      got = Buffer.concat([got, chunk]);
      if (got.length < CHALLENGE_BYTES) return;
      conn.challenge = got.subarray(0, CHALLENGE_BYTES);
      flush();
    });
    socket.on('error', (e) => logger.debug({ to, err: e.message }, 'fabric connection error'));
    socket.on('close', () => {
      if (outgoing.get(to) === conn) outgoing.delete(to);
      // frames still waiting for the connection never left
      const unsent = conn.queue;
      conn.queue = [];
      for (const f of unsent) f.written?.(false);
      const prev = failures.get(to)?.count ?? 0;
      if (!conn.ready || prev > 0) {
        failures.set(to, { count: prev + 1, retryAt: Date.now() + Math.min(1000, 50 * 2 ** prev) });
      }
    });
    return conn;
  }

  function closeInbound(socket: Socket, why: string, obj: Record<string, unknown>): void {
    stats.connectionsClosed++;
    warnClosed({ ...obj, peer: socket.remoteAddress, channel }, why);
    socket.destroy();
  }

  /** Closes connections whose frame takes too long to arrive. */
  function sweep(): void {
    const now = Date.now();
    for (const [socket, reader] of inbound) {
      const at = reader.frameStartedAt;
      if (at !== undefined && now - at > frameTimeoutMs) {
        closeInbound(socket, 'closing a connection whose frame did not arrive in time', { buffered: reader.buffered, frameTimeoutMs });
      }
    }
  }

  function accept(socket: Socket, onFrame: (frame: Frame) => void): void {
    if (closed) return void socket.destroy();
    if (inbound.size >= maxConnections) {
      stats.connectionsRefused++;
      warnRefused({ peer: socket.remoteAddress, maxConnections, channel }, 'refusing a connection: too many inbound connections');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs);
    const challenge = secret === undefined ? undefined : randomBytes(CHALLENGE_BYTES);
    let lastCounter = 0n;
    const reader = frameReader(frameCap, (signed) => {
      let payload = signed;
      if (secret !== undefined && challenge !== undefined) {
        payload = signed.subarray(0, Math.max(0, signed.length - FRAME_SEAL_BYTES));
        const counterBytes = signed.subarray(payload.length, payload.length + 8);
        const mac = signed.subarray(payload.length + 8);
        const valid = mac.length === 32 && timingSafeEqual(mac, frameMac(secret, channel, challenge, counterBytes, payload));
        const counter = valid ? counterBytes.readBigUInt64BE(0) : 0n;
        if (!valid || counter <= lastCounter) {
          stats.framesUnauthenticated++;
          warnUnsigned({ peer: socket.remoteAddress, channel, refused: stats.framesUnauthenticated, replayed: valid }, valid
            ? 'refused a replayed cluster frame (its counter did not increase)'
            : 'refused a cluster frame not signed with the cluster secret for this connection');
          return;
        }
        lastCounter = counter;
      }
      const r = decodeFrame(payload, channel);
      if (!r.ok) {
        stats.framesDropped++;
        warnDropped({ peer: socket.remoteAddress, channel, reason: r.reason, dropped: stats.framesDropped }, 'dropped a bad cluster frame');
        return;
      }
      stats.framesReceived++;
      try {
        onFrame(r.frame);
      } catch (e) {
        logger.error({ err: (e as Error).message, t: r.frame.t, channel }, 'cluster frame handler failed');
      }
    }, (length) => closeInbound(socket, 'closing a connection that announced an oversized frame', { length, max: frameCap }));
    inbound.set(socket, reader);
    if (challenge !== undefined) socket.write(challenge);
    socket.on('data', (chunk: Buffer) => {
      const before = reader.buffered;
      if (!reader.push(chunk)) return;
      stats.bytesBuffered += reader.buffered - before;
      if (stats.bytesBuffered > maxBufferedBytes) {
        closeInbound(socket, 'closing a connection: partly received frames exceed the buffer budget', { buffered: reader.buffered, maxBufferedBytes });
      }
    });
    socket.on('timeout', () => closeInbound(socket, 'closing an idle connection', { idleTimeoutMs }));
    socket.on('error', () => {});
    socket.on('close', () => {
      stats.bytesBuffered -= reader.buffered;
      inbound.delete(socket);
    });
  }

  return {
    listen(address, onFrame) {
      const addr = parseAddress(address);
      if (addr === undefined) {
        return Promise.reject(new DbError('PARAMETER', `bad listen address ${JSON.stringify(address)}`, { hint: 'Use host:port, e.g. 127.0.0.1:3002' }));
      }
      return new Promise((resolve, reject) => {
        const srv = createServer((socket) => accept(socket, onFrame));
        srv.once('error', (e) => reject(new DbError('SERVER_ERROR', `cannot listen on ${address}: ${e.message}`, {
          hint: 'Choose a free port (or 0 for any free port)', cause: e,
        })));
        srv.listen(addr.port, addr.host, () => {
          server = srv;
          sweeper = setInterval(sweep, Math.max(50, Math.min(1000, Math.floor(frameTimeoutMs / 4))));
          sweeper.unref();
          const a = srv.address();
          const port = typeof a === 'object' && a !== null ? a.port : addr.port;
          resolve(`${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port}`);
        });
      });
    },
    send(to, frame, written) {
      if (closed) return written?.(false);
      let conn = outgoing.get(to);
      if (conn === undefined) conn = open(to);
      if (conn === undefined) return written?.(false);
      if (conn.ready) {
        if (conn.socket.writableLength + conn.turnBytes > maxOutgoingBytes) {
          stats.framesUnsent++;
          return written?.(false);
        }
        write(conn, encodeFrame(frame));
        written?.(true);
      } else {
        conn.queue.push({ payload: encodeFrame(frame), written });
        if (conn.queue.length > maxQueued) conn.queue.shift()?.written?.(false);
      }
    },
    stats: (): TransportStats => ({ ...stats }),
    async close() {
      closed = true;
      if (sweeper !== undefined) clearInterval(sweeper);
      for (const c of outgoing.values()) c.socket.destroy();
      outgoing.clear();
      for (const s of inbound.keys()) s.destroy();
      inbound.clear();
      const srv = server;
      server = undefined;
      if (srv !== undefined) await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
