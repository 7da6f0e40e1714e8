/**
 * The messages between the node and its UDF host child process (sandbox-host.ts ↔
 * sandbox-host-child.ts). Two channels:
 *
 * - **Control**, over Node's IPC channel (rare messages): `ready`, loading a module into a new
 *   sandbox (`create` → `created` / `error`) and `dispose`. Sandboxes living in the child are named
 *   by `sid`. The IPC channel is also the child's life line: it exits when the channel closes.
 * - **Calls**, over a pipe of their own (the child's fd 4) as length-prefixed binary frames: many
 *   calls per write under load (each side gathers what one turn of its event loop produced and
 *   writes it at once), answers streamed back as each call ends. A frame is
 *   `u32 length` (of the rest) then, node → child, a call:
 *   `u32 id, u32 sid, u32 timeoutMs, u8 flags (1: repeatable), f64 runBy, u16 whatLength, what, request`
 *   and child → node, its answer:
 *   `u32 id, u8 kind (0: result, 1: error), u8 healthy, f64 heap, payload`
 *   where the request and a result are the UDF request and response JSON (UTF-8), untouched, and
 *   an error's payload is the `WireError` as JSON. `heap` is the sandbox's isolate heap in bytes,
 *   or -1 when not sampled this time (unchanged). `runBy` is when the call must have stopped
 *   (epoch ms; 0: no such bound), see CallOptions.runBy.
 */
import type { Writable } from 'node:stream';
import { DbError, type ResultCodeName } from '../errors/index.ts';
import { UdfError, type UdfErrorLocation } from './errors.ts';
import type { SandboxModule } from './sandbox.ts';

export type HostRequest =
  | { readonly t: 'create'; readonly id: number; readonly module: SandboxModule; readonly memoryLimitMb: number; readonly loadTimeoutMs: number }
  | { readonly t: 'dispose'; readonly sid: number };

/** An error as it crosses the process boundary. */
export type WireError =
  | { readonly kind: 'udf'; readonly udfCode: number; readonly message: string; readonly hint?: string; readonly location: UdfErrorLocation; readonly logs: readonly string[] }
  | { readonly kind: 'db'; readonly code: ResultCodeName; readonly resultCode: number; readonly message: string; readonly hint?: string }
  | { readonly kind: 'error'; readonly name: string; readonly message: string; readonly stack: string };

/** `heap`: the sandbox's isolate heap in bytes. */
export type HostReply =
  | { readonly t: 'ready'; readonly pid: number }
  | { readonly t: 'created'; readonly id: number; readonly sid: number; readonly functions: readonly string[]; readonly heap: number }
  | { readonly t: 'error'; readonly id: number; readonly error: WireError; readonly healthy: boolean; readonly heap: number };

/** One call, as the child reads it from the call pipe. */
export interface CallFrame {
  readonly id: number;
  readonly sid: number;
  readonly timeoutMs: number;
  readonly repeatable: boolean;
  /** Epoch ms by which the call must have stopped; 0 when only its limit bounds it. */
  readonly runBy: number;
  readonly what: string;
  readonly req: string;
}

/** One answer, as the node reads it from the call pipe. */
export type AnswerFrame =
  | { readonly id: number; readonly kind: 'result'; readonly out: string; readonly heap: number }
  | { readonly id: number; readonly kind: 'error'; readonly error: WireError; readonly healthy: boolean; readonly heap: number };

const CALL_HEAD = 4 + 4 + 4 + 4 + 1 + 8 + 2;
/** The frame buffer's size to start with (it grows for a bigger batch). */
const FRAME_BUFFER_BYTES = 64 * 1024;
const ANSWER_HEAD = 4 + 4 + 1 + 1 + 8;

/**
 * Appends frames to a buffer and writes them all at once, after the current turn of the event
 * loop. The frames are written from the buffer itself, not a copy: `write` says whether it took
 * the bytes at once (a pipe that could take the whole chunk without queueing it); when it kept
 * the chunk for later, the next frames go to a fresh buffer.
 */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
  private used = 0;
  private scheduled = false;
  private readonly write: (chunk: Buffer) => unknown;

  /** `write` returns `true` when it is done with the chunk (its buffer may be written again); anything else means it may keep the chunk. */
  constructor(write: (chunk: Buffer) => unknown) {
    this.write = write;
  }

  /** Room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  call(id: number, sid: number, timeoutMs: number, repeatable: boolean, what: string, req: string, runBy = 0): void {
    // room for the worst case (3 UTF-8 bytes per UTF-16 unit): the lengths come from the writes,
    // so the strings are not scanned twice
    this.reserve(CALL_HEAD + 3 * (what.length + req.length));
    const b = this.buf;
    const o = this.used;
    b.writeUInt32LE(id, o + 4);
    b.writeUInt32LE(sid, o + 8);
    b.writeUInt32LE(Math.min(0xffffffff, Math.max(0, Math.ceil(timeoutMs))), o + 12);
    b[o + 16] = repeatable ? 1 : 0;
    b.writeDoubleLE(runBy, o + 17);
    const whatLen = b.write(what, o + CALL_HEAD, 'utf8');
    b.writeUInt16LE(whatLen, o + 25);
    const reqLen = b.write(req, o + CALL_HEAD + whatLen, 'utf8');
    b.writeUInt32LE(CALL_HEAD - 4 + whatLen + reqLen, o);
    this.used = o + CALL_HEAD + whatLen + reqLen;
    this.schedule();
  }

  /** A call's result (the guest's response, as the sandbox returned it); `heap` as in AnswerFrame. */
  result(id: number, out: string, heap: number): void {
    // room for the worst case, as in call()
    this.reserve(ANSWER_HEAD + 3 * out.length);
    const b = this.buf;
    const o = this.used;
    b.writeUInt32LE(id, o + 4);
    b[o + 8] = 0;
    b[o + 9] = 1;
    b.writeDoubleLE(heap, o + 10);
    const len = b.write(out, o + ANSWER_HEAD, 'utf8');
    b.writeUInt32LE(ANSWER_HEAD - 4 + len, o);
    this.used = o + ANSWER_HEAD + len;
    this.schedule();
  }

  answer(a: AnswerFrame): void {
    if (a.kind === 'result') {
      this.result(a.id, a.out, a.heap);
      return;
    }
    const payload = JSON.stringify(a.error);
    const len = Buffer.byteLength(payload);
    this.reserve(ANSWER_HEAD + len);
    const b = this.buf;
    const o = this.used;
    b.writeUInt32LE(ANSWER_HEAD - 4 + len, o);
    b.writeUInt32LE(a.id, o + 4);
    b[o + 8] = 1;
    b[o + 9] = a.healthy ? 1 : 0;
    b.writeDoubleLE(a.heap, o + 10);
    this.used = o + ANSWER_HEAD + b.write(payload, o + ANSWER_HEAD, 'utf8');
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what has been gathered. */
  flush(): void {
    this.scheduled = false;
    if (this.used === 0) return;
    const chunk = this.buf.subarray(0, this.used);
    this.used = 0;
    if (this.write(chunk) !== true) this.buf = Buffer.allocUnsafe(FRAME_BUFFER_BYTES);
  }
}

/**
 * Writes a FrameWriter's chunk on a pipe; true when the pipe took the bytes at once (nothing
 * queued), so that the writer may reuse its buffer.
 */
export function writeTaken(pipe: Writable, chunk: Buffer): boolean {
  pipe.write(chunk);
  return pipe.writableLength === 0;
}

/**
 * Cuts a byte stream into frames; `onFrame` gets each complete frame's body (a view, valid
 * during the call). A pushed chunk is read only during `push` (it may be a read buffer the
 * caller reuses): the bytes of an incomplete frame are copied.
 */
export class FrameReader {
  /** Bytes of an incomplete frame, in the chunks they came in (joined once the frame is whole). */
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  /** Length of the incomplete frame (header included), once its header is in. */
  private needed = 0;
  private readonly onFrame: (body: Buffer) => void;

  constructor(onFrame: (body: Buffer) => void) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    let b = chunk;
    if (this.parts.length > 0) {
      this.parts.push(Buffer.from(chunk));
      this.partBytes += chunk.length;
      if (this.needed === 0 && this.partBytes >= 4) this.needed = 4 + Buffer.concat(this.parts, 4).readUInt32LE(0);
      if (this.needed === 0 || this.partBytes < this.needed) return;
      b = Buffer.concat(this.parts, this.partBytes);
      this.parts.length = 0;
      this.partBytes = 0;
      this.needed = 0;
    }
    let o = 0;
    while (b.length - o >= 4) {
      const len = b.readUInt32LE(o);
      if (b.length - o - 4 < len) break;
      this.onFrame(b.subarray(o + 4, o + 4 + len));
      o += 4 + len;
    }
    if (o < b.length) {
      const rest = Buffer.from(b.subarray(o));
      this.parts.push(rest);
      this.partBytes = rest.length;
      if (rest.length >= 4) this.needed = 4 + rest.readUInt32LE(0);
    }
  }
}

export function readCall(body: Buffer): CallFrame {
  const whatLen = body.readUInt16LE(21);
  return {
    id: body.readUInt32LE(0),
    sid: body.readUInt32LE(4),
    timeoutMs: body.readUInt32LE(8),
    repeatable: body[12] === 1,
    runBy: body.readDoubleLE(13),
    what: body.toString('utf8', 23, 23 + whatLen),
    req: body.toString('utf8', 23 + whatLen),
  };
}

/** The id of the call an answer frame's body answers. */
export function answerId(body: Buffer): number {
  return body.readUInt32LE(0);
}

export function readAnswer(body: Buffer): AnswerFrame {
  const id = body.readUInt32LE(0);
  const heap = body.readDoubleLE(6);
  const payload = body.toString('utf8', ANSWER_HEAD - 4);
  if (body[4] === 0) return { id, kind: 'result', out: payload, heap };
  return { id, kind: 'error', error: JSON.parse(payload) as WireError, healthy: body[5] === 1, heap };
}

export function toWireError(err: unknown): WireError {
  if (err instanceof UdfError) {
    return { kind: 'udf', udfCode: err.udfCode, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }), location: err.location, logs: err.logs };
  }
  if (err instanceof DbError) {
    return { kind: 'db', code: err.code, resultCode: err.resultCode, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: 'error', name: e.name, message: e.message, stack: e.stack ?? '' };
}

export function fromWireError(w: WireError): Error {
  if (w.kind === 'udf') return new UdfError(w.udfCode, w.message, w.location, { ...(w.hint === undefined ? {} : { hint: w.hint }), logs: w.logs });
  if (w.kind === 'db') return new DbError(w.code, w.message, { ...(w.hint === undefined ? {} : { hint: w.hint }), resultCode: w.resultCode });
  const e = new Error(w.message);
  e.name = w.name;
  e.stack = w.stack;
  return e;
}
