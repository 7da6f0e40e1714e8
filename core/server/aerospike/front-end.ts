/**
 * The Aerospike protocol front end: takes the connections the node port hands it (first byte
 * 2, or 0 for an admin message) and answers info, admin and AS_MSG messages from the same
 * kernel and subsystems the gRPC services use. It holds no database logic of its own.
 */
import type { Socket } from 'node:net';
import { toDbError } from '../../errors/index.ts';
import { SECURITY, UDF_JOBS_KEY } from '../../services/keys.ts';
import { WireAccess } from './access.ts';
import { adminReply } from './admin-codec.ts';
import type { PortProtocol } from '../node-port.ts';
import { runBatch } from './batch.ts';
import { AerospikeConnection, answeredPromise, compressFrame, IdleReaper, inflateFrame, isAerospikeFirstByte, writeProtoHeader, type AnswerLater, type ConnectionLimits, type Reply } from './connection.ts';
import { Deadline, sendNow } from './deadline.ts';
import type { FrontEndContext } from './context.ts';
import { InfoService } from './info.ts';
import { JobTracker } from './jobs.ts';
import { parseMsg, response, type Msg } from './message.ts';
import { DEFAULT_MAX_FRAME_BYTES, Field, Info1, MessageType, PROTO_HEADER_BYTES } from './protocol.ts';
import { keyOf, readPolicyOf, runRecordCommand } from './records.ts';
import { finalRow, runScan } from './scan.ts';
import { encodeRecordAnswer } from './get-response.ts';
import { runRecordUdf } from './udf.ts';
import { ScanJob } from '../../transaction/scan-scheduler.ts';
import { andThen, type Maybe } from '../../transaction/maybe-async.ts';
import { isPromise } from '../../plugin-api/index.ts';

/** Result code 52: the admin (security) protocol answers that security is not enabled. */
const SECURITY_NOT_ENABLED = 52;
/** Info requests above this size are refused (the clients send at most 512 KiB on a tend socket; udf-put carries a module). */
const MAX_INFO_BYTES = 16 * 1024 * 1024;

export interface AerospikeOptions extends Partial<ConnectionLimits> {
  /** Called when a connection is closed for being idle (for the port's counts). */
  readonly onIdleClose?: () => void;
}

/** The longest a single-record command may take, whatever the client asks. */
const MAX_REQUEST_MS = 60_000;

/** An answer sent as it is (the client did not ask for compression). */
const uncompressed = (b: Buffer): Buffer => b;

/** A result code as the one byte the wire has for it. */
function wireCode(code: number): number {
  return code >= 0 && code <= 255 ? code : code > 255 ? 100 : 1;
}

export class AerospikeFrontEnd implements PortProtocol {
  readonly name = 'aerospike';
  private readonly ctx: FrontEndContext;
  private readonly connections = new Set<AerospikeConnection>();
  private readonly limits: ConnectionLimits;
  private readonly reaper: IdleReaper;
  readonly jobs: JobTracker;
  readonly info: InfoService;

  constructor(ctx: FrontEndContext, options: AerospikeOptions = {}) {
    this.ctx = ctx;
    this.limits = {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      ...(options.onIdleClose === undefined ? {} : { onIdleClose: options.onIdleClose }),
    };
    this.reaper = new IdleReaper(this.limits);
    this.jobs = new JobTracker(() => ctx.services.get(UDF_JOBS_KEY));
    this.info = new InfoService(ctx, this.jobs);
  }

  claims(firstByte: number): boolean {
    return isAerospikeFirstByte(firstByte);
  }

  accept(socket: Socket): void {
    // with security on, each connection logs in (or authenticates) before anything else
    const security = this.ctx.services.get(SECURITY);
    const access = security === undefined ? undefined : new WireAccess(security, socket.remoteAddress ?? '');
    const conn = new AerospikeConnection(socket, (type, body, reply) => this.frame(type, body, reply, conn, access), this.limits, this.reaper);
    this.connections.add(conn);
    socket.on('close', () => { this.connections.delete(conn); access?.closed(); });
  }

  async close(): Promise<void> {
    this.jobs.close();
    this.reaper.close();
    for (const c of this.connections) c.end();
    this.connections.clear();
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Answers one frame; an AS_MSG goes straight to `message` (no promise of its own around it). */
  private frame(type: number, body: Buffer, reply: Reply, conn: AerospikeConnection, access: WireAccess | undefined): Promise<void> | AnswerLater | undefined {
    if (type === MessageType.MESSAGE) return this.message(body, reply, access);
    return this.otherFrame(type, body, reply, conn, access);
  }

  private async otherFrame(type: number, body: Buffer, reply: Reply, conn: AerospikeConnection, access: WireAccess | undefined): Promise<void> {
    switch (type) {
      case MessageType.INFO: {
        if (body.length > MAX_INFO_BYTES) { conn.close(); return; }
        // an unauthenticated info request gets one line, without the command echoed (as Aerospike)
        const text = access !== undefined && !access.authenticated
          ? 'ERROR:80:not authenticated\n'
          : await this.info.answer(body.toString('utf8'), access === undefined ? undefined : (cmd) => access.authorizeInfo(cmd));
        const payload = Buffer.from(text, 'utf8');
        const out = Buffer.allocUnsafe(PROTO_HEADER_BYTES + payload.length);
        writeProtoHeader(out, MessageType.INFO, payload.length);
        payload.copy(out, PROTO_HEADER_BYTES);
        await reply.send(out);
        return;
      }
      case MessageType.ADMIN: {
        if (access !== undefined) {
          await reply.send(await access.admin(body));
          return;
        }
        // security off: every admin command (login, authenticate, user and role commands) is
        // told that security is not enabled, and clients go on without a session
        await reply.send(adminReply(body.length > 2 ? body[2] as number : 0, SECURITY_NOT_ENABLED));
        return;
      }
      case MessageType.COMPRESSED: {
        const inner = inflateFrame(body, this.limits.maxFrameBytes);
        if (typeof inner === 'string') { conn.close(); return; }
        await answeredPromise(this.message(inner.body, reply, access));
        return;
      }
      default:
        conn.close();
    }
  }

  /**
   * The answer to a single-record command: the answer itself when the kernel answered in this
   * turn (a put or a whole-record read served from memory: no promise at all), else the
   * kernel's promise and one step after it. A failure in this turn is thrown (the caller's to
   * catch).
   */
  private record(msg: Msg, compress: (b: Buffer) => Buffer): Maybe<Buffer> {
    const key = keyOf(this.ctx.kernel, msg.fields);
    if (msg.info1 === (Info1.READ | Info1.GET_ALL) && msg.info2 === 0 && msg.ops.length === 0 && !msg.fields.has(Field.FILTER)) {
      // the whole record: transcode the stored bytes straight to the answer
      const stored = this.ctx.kernel.getStoredMaybe(key, readPolicyOf(this.ctx.kernel, msg, undefined));
      return compress === uncompressed ? andThen(stored, encodeRecordAnswer) : andThen(stored, (r) => compress(encodeRecordAnswer(r)));
    }
    const out = msg.fields.has(Field.UDF_PACKAGE_NAME) ? runRecordUdf(this.ctx, msg, key) : runRecordCommand(this.ctx.kernel, msg, key);
    // (no closure per answer when it is not compressed)
    return compress === uncompressed ? andThen(out, response) : andThen(out, (o) => compress(response(o)));
  }

  /**
   * A scan or query, run as a job (scan-scheduler.ts): its work goes in turns so that other
   * requests are served between them, and it holds no turn while its client reads.
   */
  private async scan(msg: Msg, reply: Reply, compress: (b: Buffer) => Buffer): Promise<void> {
    const job = new ScanJob();
    const paced: Reply = {
      get closed() { return reply.closed; },
      send: async (frame) => {
        const sent = reply.send(frame);
        job.pause();
        await sent;
        await job.resume();
      },
    };
    await job.run(async () => {
      try {
        await job.resume();
        await runScan(this.ctx, this.jobs, msg, paced, compress);
      } finally {
        job.end();
      }
    });
  }

  /**
   * Answers one AS_MSG. A single-record command is not an async function: an answer the
   * kernel gave in this turn is sent at once (undefined comes back when the socket took it:
   * nothing to wait for), a later one from the kernel's promise (or the deadline's), with no
   * frame or awaits of its own.
   */
  private message(body: Buffer, reply: Reply, access: WireAccess | undefined): Promise<void> | AnswerLater | undefined {
    let msg: Msg;
    try {
      msg = parseMsg(body).msg;
    } catch (err) {
      // the frame is whole, only its inside is wrong: answer and keep the connection
      return reply.send(response({ resultCode: wireCode(toDbError(err).resultCode) }));
    }
    const compress = (msg.info1 & Info1.COMPRESS_RESPONSE) !== 0 ? compressFrame : uncompressed;
    if ((msg.info1 & Info1.BATCH) !== 0 || (!msg.fields.has(Field.DIGEST) && !msg.fields.has(Field.KEY))) return this.streamed(msg, reply, access, compress);
    let work: Maybe<Buffer>;
    try {
      access?.authorizeMsg(msg);
      work = this.record(msg, compress);
    } catch (err) {
      return this.failed(err, reply, compress, false);
    }
    // answered in this turn: within any deadline, sent now
    if (!isPromise(work)) return sendNow(reply, work);
    // the client's server-side timeout (transaction_ttl): past it, answer TIMEOUT (9) and drop the
    // late answer; the Deadline itself tells the connection when it is answered (no promise)
    if (msg.transactionTtl > 0) return new Deadline(work, Math.min(msg.transactionTtl, MAX_REQUEST_MS), reply, compress, this.commandFailed);
    // the socket took it (the common case): nothing to wait for
    return work.then((answer) => sendNow(reply, answer), (err: unknown) => this.failed(err, reply, compress, false));
  }

  /** A batch, scan or query: answered in rows. */
  private async streamed(msg: Msg, reply: Reply, access: WireAccess | undefined, compress: (b: Buffer) => Buffer): Promise<void> {
    try {
      access?.authorizeMsg(msg);
      if ((msg.info1 & Info1.BATCH) !== 0) await runBatch(this.ctx, msg, reply, compress);
      else await this.scan(msg, reply, compress);
    } catch (err) {
      await this.failed(err, reply, compress, true);
    }
  }

  /** Answers a single-record command that failed (one function for every request's Deadline). */
  private readonly commandFailed = (err: unknown, reply: Reply, compress: (b: Buffer) => Buffer): Promise<void> => this.failed(err, reply, compress, false);

  /** Answers a request that failed (a stream with its final row). */
  private failed(err: unknown, reply: Reply, compress: (b: Buffer) => Buffer, stream: boolean): Promise<void> {
    const e = toDbError(err);
    if (e.code === 'SERVER_ERROR') this.ctx.logger.error({ err }, 'an Aerospike protocol request failed');
    const code = wireCode(e.resultCode);
    return reply.send(compress(stream ? finalRow(code) : response({ resultCode: code })));
  }
}
