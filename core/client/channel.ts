/**
 * The client's connection to a node: one gRPC channel, found among the seeds at connect time,
 * with deadlines, the retry policy and cancellation for unary and server-streaming calls of any
 * Slipstream service.
 */
import { Client as GrpcClient, credentials, Metadata, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { DbError } from '../errors/index.ts';
import { fromServiceError } from './errors.ts';
import type { CallOptions, ClientOptions } from './types.ts';
import { ClientSession } from './session.ts';

/**
 * Result codes retried by the retry policy: transient conditions where the same request may
 * succeed a moment later. CONNECTION is a failure to reach the node (gRPC UNAVAILABLE without
 * a result code). Only calls that are safe to repeat are retried by default (reads); see
 * docs/clients.md and docs/api.md for which writes are.
 */
export const RETRYABLE: ReadonlySet<string> = new Set(['TIMEOUT', 'CONNECTION', 'KEY_BUSY', 'UNAVAILABLE', 'DEVICE_OVERLOAD']);

export type Method<Req, Res> = MethodDefinition<Req, Res>;

/** A connection to one node; see SlipstreamClient for the retry policy. */
export class ClientChannel {
  private readonly channel: GrpcClient;
  readonly address: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;
  private readonly session: ClientSession | undefined;
  private readonly loginTimeoutMs: number;

  private constructor(channel: GrpcClient, address: string, options: ClientOptions, session: ClientSession | undefined) {
    this.channel = channel;
    this.address = address;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.maxRetries = options.maxRetries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.session = session;
    // a login hashes the password on the node (bcrypt, scrypt): give it the connect deadline
    this.loginTimeoutMs = Math.max(this.timeoutMs, options.connectTimeoutMs ?? 5000);
  }

  /** Logs the session in over this channel. */
  private login(): Promise<void> {
    const session = this.session;
    if (session === undefined) return Promise.resolve();
    return session.login((req) => this.once(ClientSession.loginMethod, req, { timeoutMs: this.loginTimeoutMs }, false));
  }

  /** Metadata for a call: the session's token, logging in first when it is missing or old. */
  private async metadata(): Promise<Metadata> {
    if (this.session === undefined) return new Metadata();
    if (this.session.stale) await this.login();
    return this.session.metadata();
  }

  /**
   * Connects to the first seed that answers within `connectTimeoutMs`.
   * @throws DbError CONNECTION when no seed answers; CLIENT_PARAM when no host is given.
   */
  static async connect(options: ClientOptions): Promise<ClientChannel> {
    const hosts = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts];
    if (hosts.length === 0) throw new DbError('CLIENT_PARAM', 'no seed hosts given', { hint: 'pass hosts: ["127.0.0.1:3000"]' });
    const errors: string[] = [];
    const tls = options.tls;
    const pem = (v: string | Uint8Array | undefined): Buffer | null => (v === undefined ? null : Buffer.from(v));
    if ((options.user === undefined) !== (options.password === undefined)) {
      throw new DbError('CLIENT_PARAM', 'user and password go together', { hint: 'give both to log in to a node with security on, or neither' });
    }
    const session = options.user === undefined ? undefined : new ClientSession(options.user, options.password ?? '');
    if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw new DbError('CLIENT_PARAM', 'tls.cert and tls.key go together', { hint: 'give both the client certificate and its key, or neither' });
    }
    for (const host of hosts) {
      const channel = new GrpcClient(host, tls === undefined ? credentials.createInsecure() : credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert)), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        // this client's own connections: a subchannel shared with a closed client to the same
        // address (a port reused by a new node) can sit in a reconnect back-off for seconds
        'grpc.use_local_subchannel_pool': 1,
        ...(tls?.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          channel.waitForReady(Date.now() + (options.connectTimeoutMs ?? 5000), (err) => (err ? reject(err) : resolve()));
        });
        const connected = new ClientChannel(channel, host, options, session);
        await connected.login();
        return connected;
      } catch (err) {
        channel.close();
        // the node answered: a refused login is the answer, not a reason to try another seed
        if (err instanceof DbError && err.code !== 'CONNECTION' && err.code !== 'TIMEOUT') throw err;
        errors.push(`${host}: ${(err as Error).message}`);
      }
    }
    throw new DbError('CONNECTION', `cannot connect to any seed (${errors.join('; ')})`, {
      hint: tls === undefined ? 'start a node (npm start) or check the host and port; a node with node.tls needs the tls option' : 'check the host and port, and that the CA (tls.ca) signed the node\'s certificate',
    });
  }

  /** Closes the connection; calls in flight fail with CLIENT_ABORT or CONNECTION. */
  close(): void {
    this.channel.close();
  }

  /**
   * Calls any unary method of any Slipstream service on this connection, with the deadline and
   * retry policy (e.g. `client.unary(QueryServiceService.aggregate, req)` for a service this
   * class has no method for). `retryByDefault`: retry by the client's policy when the call
   * does not pass `maxRetries` — true for reads, false for writes.
   */
  async unary<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}, retryByDefault = true, onTrailers?: (trailers: Metadata) => void): Promise<Res> {
    const retries = options.maxRetries ?? (retryByDefault ? this.maxRetries : 0);
    let delay = this.retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, request, options, true, onTrailers);
      } catch (err) {
        if (this.session !== undefined && attempt === 0 && ClientSession.renews(err)) {
          // the session expired (or the node restarted with another secret): log in again, once
          await this.login();
          continue;
        }
        if (!(err instanceof DbError) || attempt >= retries || !RETRYABLE.has(err.code) || options.signal?.aborted === true) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  /** The client's defaults: per-call deadline, retries for reads, first pause between retries. */
  get policy(): { readonly timeoutMs: number; readonly maxRetries: number; readonly retryDelayMs: number } {
    return { timeoutMs: this.timeoutMs, maxRetries: this.maxRetries, retryDelayMs: this.retryDelayMs };
  }

  private async once<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions, authenticated = true, onTrailers?: (trailers: Metadata) => void): Promise<Res> {
    const timeout = options.timeoutMs ?? this.timeoutMs;
    const metadata = authenticated ? await this.metadata() : new Metadata();
    return new Promise<Res>((resolve, reject) => {
      const call = this.channel.makeUnaryRequest(
        method.path, method.requestSerialize, method.responseDeserialize, request, metadata,
        timeout > 0 ? { deadline: Date.now() + timeout } : {},
        (err: ServiceError | null, res?: Res) => (err ? reject(fromServiceError(err)) : resolve(res as Res)),
      );
      if (onTrailers !== undefined) call.on('status', (st) => onTrailers(st.metadata));
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /** Calls any server-streaming method; iterate the results. Breaking out of the loop cancels the call. */
  async *stream<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}): AsyncGenerator<Res> {
    const timeout = options.timeoutMs ?? 0;
    const call = this.channel.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, await this.metadata(),
      timeout > 0 ? { deadline: Date.now() + timeout } : {});
    const onAbort = (): void => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const item of call as AsyncIterable<Res>) yield item;
    } catch (err) {
      const e = err as ServiceError;
      if (options.signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'the request was cancelled');
      throw typeof e.code === 'number' ? fromServiceError(e) : err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  /**
   * Calls any client-streaming method: sends every request `requests` yields (waiting when
   * the transport is full), then resolves with the one response. No deadline unless `timeoutMs`.
   */
  async clientStream<Req, Res>(method: Method<Req, Res>, requests: AsyncIterable<Req> | Iterable<Req>, options: CallOptions = {}): Promise<Res> {
    const timeout = options.timeoutMs ?? 0;
    // the session's token, as every other call (a node with security on refuses a call without it)
    const metadata = await this.metadata();
    return new Promise<Res>((resolve, reject) => {
      const call = this.channel.makeClientStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, metadata,
        timeout > 0 ? { deadline: Date.now() + timeout } : {},
        (err: ServiceError | null, res?: Res) => {
          if (err === null) resolve(res as Res);
          else reject(options.signal?.aborted === true ? new DbError('CLIENT_ABORT', 'the request was cancelled') : fromServiceError(err));
        });
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
      (async () => {
        for await (const r of requests) {
          if (!call.write(r)) await new Promise<void>((ok) => call.once('drain', () => ok()));
        }
        call.end();
      })().catch((err: unknown) => { call.cancel(); reject(err); });
    });
  }
}
