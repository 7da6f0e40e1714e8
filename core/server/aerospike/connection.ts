/**
 * One Aerospike protocol connection: frames (8-byte proto header + body), one request at a
 * time in order (a client may send the next before the answer; it waits its turn), compressed
 * messages (type 4) both ways, limits and timeouts. A frame that cannot be a protocol message
 * (bad version or type, larger than the maximum) closes this connection only.
 */
import type { Socket } from 'node:net';
import { deflateSync, inflateSync } from 'node:zlib';
import { MessageType, PROTO_HEADER_BYTES, PROTO_VERSION } from './protocol.ts';

export interface ConnectionLimits {
  /** Largest body accepted; a larger frame closes the connection. */
  readonly maxFrameBytes: number;
  /** A connection with no request in flight and no bytes for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
  /** Told when a connection is closed for being idle. */
  readonly onIdleClose?: () => void;
}

/** Writes answers to the client; `send` resolves when the socket can take more. */
export interface Reply {
  send(frame: Buffer): Promise<void>;
  /** Whether the client has gone (a stream should stop). */
  readonly closed: boolean;
}

/**
 * An answer that comes later and says so by callback, not by a promise (deadline.ts's Deadline):
 * `answered` once it is sent (and the socket took it), `broken` when sending it failed.
 */
export interface AnswerLater {
  whenAnswered(answered: () => void, broken: (err: unknown) => void): void;
}

/**
 * Answers one frame (a decompressed type-3 body arrives with `compressReply` when the client
 * asked for it): undefined when it is answered and the answer sent in this turn (the
 * connection goes on with the next frame at once), else a promise of that, or an AnswerLater.
 */
export type FrameHandler = (type: number, body: Buffer, reply: Reply) => Promise<void> | AnswerLater | undefined;

/** A frame's end as a promise (undefined: it ended in its turn). */
export function answeredPromise(done: Promise<void> | AnswerLater | undefined): Promise<void> | undefined {
  if (!isAnswerLater(done)) return done;
  return new Promise<void>((resolve, reject) => done.whenAnswered(resolve, reject));
}

function isAnswerLater(done: Promise<void> | AnswerLater | undefined): done is AnswerLater {
  return typeof (done as Partial<AnswerLater> | undefined)?.whenAnswered === 'function';
}

/** Compresses an answer proto into a type-4 proto (u64 inflated size + zlib stream). */
export function compressFrame(frame: Buffer): Buffer {
  const z = deflateSync(frame, { level: 1 });
  const out = Buffer.allocUnsafe(PROTO_HEADER_BYTES + 8 + z.length);
  writeProtoHeader(out, MessageType.COMPRESSED, 8 + z.length);
  out.writeBigUInt64BE(BigInt(frame.length), PROTO_HEADER_BYTES);
  z.copy(out, PROTO_HEADER_BYTES + 8);
  return out;
}

export function writeProtoHeader(buf: Buffer, type: number, size: number): void {
  buf[0] = PROTO_VERSION;
  buf[1] = type;
  buf.writeUInt16BE(Math.floor(size / 0x100000000), 2);
  buf.writeUInt32BE(size >>> 0, 4);
}

/** The inner proto of a compressed request, checked; undefined when it is not one. */
export function inflateFrame(body: Buffer, maxFrameBytes: number): { type: number; body: Buffer } | string {
  if (body.length < 8) return 'a compressed message needs its 8-byte inflated size';
  const size = body.readBigUInt64BE(0);
  if (size < BigInt(PROTO_HEADER_BYTES) || size > BigInt(maxFrameBytes + PROTO_HEADER_BYTES)) return `a compressed message claims ${size} inflated bytes`;
  let inner: Buffer;
  try {
    inner = inflateSync(body.subarray(8), { maxOutputLength: Number(size) });
  } catch (err) {
    return `the compressed message does not inflate: ${(err as Error).message}`;
  }
  if (inner.length !== Number(size)) return 'the compressed message inflates to a size other than it claims';
  const innerSize = inner.readUIntBE(2, 6);
  if (inner[0] !== PROTO_VERSION || inner[1] !== MessageType.MESSAGE || innerSize !== inner.length - PROTO_HEADER_BYTES) return 'the inflated message is not one AS_MSG';
  return { type: MessageType.MESSAGE, body: inner.subarray(PROTO_HEADER_BYTES) };
}

/** What `send` returns when the socket took the frame at once: one settled promise, not one per answer. */
export const SENT: Promise<void> = Promise.resolve();

/**
 * Closes a front end's connections that have had no request in flight and no bytes for the
 * idle time: one timer for all of them, as Aerospike's reaper, instead of a socket timeout that
 * every read and write re-arms (a timer list insert per read and per write). A connection is
 * closed between the idle time and the idle time plus one sweep period (a quarter of it, at
 * most a second) after it went quiet, never before.
 */
export class IdleReaper {
  private readonly idleTimeoutMs: number;
  private readonly onIdleClose: (() => void) | undefined;
  private readonly periodMs: number;
  private readonly connections = new Set<AerospikeConnection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(limits: ConnectionLimits) {
    this.idleTimeoutMs = limits.idleTimeoutMs;
    this.onIdleClose = limits.onIdleClose;
    this.periodMs = Math.max(10, Math.min(1000, Math.floor(limits.idleTimeoutMs / 4)));
  }

  add(c: AerospikeConnection): void {
    if (this.idleTimeoutMs <= 0) return;
    this.connections.add(c);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.periodMs);
      // open connections keep the process alive, not their reaper
      this.timer.unref();
    }
  }

  delete(c: AerospikeConnection): void {
    this.connections.delete(c);
    if (this.connections.size === 0) this.close();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.connections) {
      if (c.busy || c.active) {
        c.active = false;
        c.quietSince = now;
      } else if (now - c.quietSince >= this.idleTimeoutMs) {
        this.connections.delete(c);
        this.onIdleClose?.();
        c.close();
      }
    }
    if (this.connections.size === 0) this.close();
  }
}

export class AerospikeConnection implements Reply {
  private readonly socket: Socket;
  private readonly handler: FrameHandler;
  private readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** A request is being answered (the next waits its turn). */
  busy = false;
  /** Bytes came since the reaper last looked. */
  active = false;
  /** When the reaper last saw this connection busy or active (performance.now()). */
  quietSince = performance.now();
  closed = false;

  /** `reaper` closes the connection when it stays idle (none: never). */
  constructor(socket: Socket, handler: FrameHandler, limits: ConnectionLimits, reaper?: IdleReaper) {
    this.socket = socket;
    this.handler = handler;
    this.maxFrameBytes = limits.maxFrameBytes;
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => { this.closed = true; reaper?.delete(this); });
    socket.on('error', () => socket.destroy());
    reaper?.add(this);
    socket.resume();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Ends the connection once written (answers already queued go out first). */
  end(): void {
    this.closed = true;
    this.socket.end();
  }

  send(frame: Buffer): Promise<void> {
    if (this.closed) return SENT;
    if (this.socket.write(frame)) return SENT;
    return new Promise<void>((resolve) => {
      const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve(); };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private onData(d: Buffer): void {
    this.active = true;
    this.chunks.push(d);
    this.buffered += d.length;
    if (!this.busy) this.pump();
  }

  /** Takes `n` bytes off the front of the buffered input. */
  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (this.chunks.length === 1 && first.length === n) {
      // the common case: one read, one whole frame
      this.chunks.length = 0;
      this.buffered = 0;
      return first;
    }
    const all = this.chunks.length === 1 ? first : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  private peekHeader(): Buffer {
    if ((this.chunks[0] as Buffer).length >= PROTO_HEADER_BYTES) return this.chunks[0] as Buffer;
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all;
  }

  /** Goes on with the next frame once the request being answered is done. */
  private readonly resume = (): void => { this.pump(); };

  /** A handler failure that escaped it is this connection's problem only. */
  private readonly broken = (): void => {
    this.close();
    this.idle();
  };

  /**
   * Answers the buffered frames one at a time: a frame answered in this turn is followed at
   * once by the next, else the handler's promise, when it settles, runs the next (not an async
   * function: no frame or promise of its own per request).
   */
  private pump(): void {
    this.busy = true;
    while (!this.closed && this.buffered >= PROTO_HEADER_BYTES) {
      const h = this.peekHeader();
      const version = h[0] as number;
      const type = h[1] as number;
      // 48-bit size: a 16-bit high part and a 32-bit low part
      const size = ((h[2] as number) << 8 | (h[3] as number)) * 0x100000000 + ((h[4] as number) * 0x1000000 + ((h[5] as number) << 16 | (h[6] as number) << 8 | (h[7] as number)));
      if ((version !== PROTO_VERSION && !(version === 0 && type === MessageType.ADMIN)) || type < MessageType.INFO || type > MessageType.COMPRESSED || size > this.maxFrameBytes) {
        // not a message this port can answer: as Aerospike does, close this connection
        this.close();
        break;
      }
      if (this.buffered < PROTO_HEADER_BYTES + size) {
        if (this.buffered > PROTO_HEADER_BYTES + 1024 * 1024) this.chunks = [Buffer.concat(this.chunks, this.buffered)]; // keep big frames in few chunks
        break;
      }
      const frame = this.take(PROTO_HEADER_BYTES + size);
      let done: Promise<void> | AnswerLater | undefined;
      try {
        done = this.handler(type, frame.subarray(PROTO_HEADER_BYTES), this);
      } catch {
        this.close();
        break;
      }
      if (done === undefined) continue;
      if (isAnswerLater(done)) done.whenAnswered(this.resume, this.broken);
      else done.then(this.resume, this.broken);
      return;
    }
    this.idle();
  }

  /** No request in flight: the reaper may count the quiet time from now on. */
  private idle(): void {
    this.busy = false;
    this.active = true;
  }
}

/** Sniffs nothing: a socket whose first byte claimed the Aerospike protocol. */
export function isAerospikeFirstByte(b: number): boolean {
  return b === PROTO_VERSION || b === 0;
}
