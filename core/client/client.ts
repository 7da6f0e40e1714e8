/**
 * The TypeScript client for Slipstream: what a Node.js application imports, and what the
 * aql shell and the tests use. One gRPC channel per node, deadlines on every call, retries
 * by policy, typed values (integers are bigint, doubles number) and DbErrors with Aerospike
 * result codes.
 *
 *   const client = await SlipstreamClient.connect({ hosts: ['127.0.0.1:3000'] });
 *   await client.put({ namespace: 'test', set: 'demo', key: 'k1' }, { name: 'Ada', age: 36n });
 *   const rec = await client.get({ namespace: 'test', set: 'demo', key: 'k1' });
 */
import { Client as GrpcClient, credentials, Metadata, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { DbError, resultCodeName } from '../errors/index.ts';
import type { Expr } from '../query/expr/ast.ts';
import { exprToJsonText } from '../query/expr/json.ts';
import { checkInt64, computeDigest, type BinValue, type Bins, type UserKey } from '../model/index.ts';
import type { Operation } from '../transaction/operations.ts';
import { KeyValueServiceService } from '../wire/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../wire/generated/slipstream/v1/admin.ts';
import type { Key as PbKey, RecordMeta as PbRecordMeta, Record as PbRecord, WritePolicy as PbWritePolicy } from '../wire/generated/slipstream/v1/types.ts';
import { fromPbValue, toPbValue, fromPbBins, toPbBins } from '../wire/convert.ts';
import { toPbOperation } from './operations.ts';
import { fromServiceError } from './errors.ts';
import type { ExistsAction, GenerationPolicy } from '../transaction/policy.ts';

/** Addresses a record by user key or by digest. */
export interface ClientKey {
  /** Namespace, e.g. `test`. */
  readonly namespace: string;
  /** Set; omitted or `''` is the null set. */
  readonly set?: string;
  /** User key: a string, a 64-bit integer (`bigint`) or bytes. */
  readonly key?: UserKey;
  /** The record's 20-byte digest, instead of `key` (e.g. from a scan of records stored without their key). */
  readonly digest?: Uint8Array;
}

/** A record's metadata. */
export interface ClientRecordMeta {
  /** Starts at 1, grows with every write; use it for check-and-set (`generationPolicy: 'expectEqual'`). */
  readonly generation: number;
  /** Seconds left; -1 never expires. */
  readonly ttl: number;
  /** Last update, milliseconds since the Unix epoch. */
  readonly lastUpdateMs: number;
}

/** A record as reads, batch reads and scans return it. */
export interface ClientRecord {
  readonly namespace: string;
  /** Set name; `''` for the null set. */
  readonly set: string;
  /** 20-byte RIPEMD-160 digest of set + key. */
  readonly digest: Uint8Array;
  /** Partition id, 0..4095. */
  readonly partition: number;
  /** The user key, when it was stored (sendKey). */
  readonly userKey: BinValue | undefined;
  readonly meta: ClientRecordMeta;
  /** Bins by name: integers are `bigint`, doubles `number`; lists are arrays, maps `Map`s; `null` is nil. */
  readonly bins: Bins;
}

/** Policy of a write (put, delete, touch, operate). Every field is optional. */
export interface ClientWritePolicy {
  /** What to do when the record exists or not (default `'update'`: create or merge bins). */
  readonly exists?: ExistsAction;
  /** Generation check (default `'none'`); `'expectEqual'` with `generation` is check-and-set. */
  readonly generationPolicy?: GenerationPolicy;
  /** The generation the check compares against. */
  readonly generation?: number;
  /** TTL in seconds: -1 never expire, -2 keep the current TTL, 0 (default) the namespace default. */
  readonly ttl?: number;
  /** Store the user key with the record, so reads and scans return it (default false). */
  readonly sendKey?: boolean;
  /** A delete leaves a tombstone so no older copy can resurrect the record (default false). */
  readonly durableDelete?: boolean;
  /** A filter expression: when false for the existing record, the write fails with FILTERED_OUT (27). */
  readonly filter?: Expr;
}

/** Per-call options; every method takes them last. */
export interface CallOptions {
  /** Deadline for this call, ms (default: the client's timeoutMs). 0 means none. */
  readonly timeoutMs?: number;
  /** Retries after a failure that is safe to retry (default: the client's policy; 0 for writes). */
  readonly maxRetries?: number;
  /** Cancels the call (it then fails with CLIENT_ABORT); for streams, the server stops too. */
  readonly signal?: AbortSignal;
}

/** TLS for the connection: PEM bytes or text. */
export interface ClientTlsOptions {
  /** CA that signed the node's certificate; the system's roots when absent. */
  readonly ca?: string | Uint8Array;
  /** Client certificate and key, for nodes that require one (mutual TLS). */
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  /** Name to check the node's certificate against, when it differs from the host dialled. */
  readonly serverName?: string;
}

/** Options of {@link SlipstreamClient.connect}. */
export interface ClientOptions {
  /** Seed nodes, "host:port"; the first that answers is used. */
  readonly hosts: string | readonly string[];
  /** Connect with TLS (the node's `node.tls`); plaintext when absent. */
  readonly tls?: ClientTlsOptions;
  /** Default deadline per call, ms (default 1000, as aql). 0 means none. */
  readonly timeoutMs?: number;
  /** Default retries for reads (default 2). Writes are not retried unless asked. */
  readonly maxRetries?: number;
  /** Pause between retries, ms (default 50, doubled each time). */
  readonly retryDelayMs?: number;
  /** How long connect() waits for a seed, ms (default 5000). */
  readonly connectTimeoutMs?: number;
}

/** What a scan reads. */
export interface ScanOptions {
  /** Only this set; the whole namespace when omitted. */
  readonly set?: string;
  /** Partitions to scan, in order; all 4096 when omitted. */
  readonly partitions?: readonly number[];
  /** Resume after this digest within the first partition (the last record received). */
  readonly afterDigest?: Uint8Array;
  /** Bins to return; all when omitted. */
  readonly bins?: readonly string[];
  /** Metadata only. */
  readonly noBins?: boolean;
  /** Stop after this many records; 0 or omitted: no limit. */
  readonly maxRecords?: number;
  /** Only records this filter expression accepts. */
  readonly filter?: Expr;
  /**
   * Records the server packs into one stream message (1–1000, default 256): fewer, larger
   * messages make a large scan several times cheaper. 1 asks for one record per message.
   */
  readonly recordsPerMessage?: number;
}

/**
 * Result codes retried by the retry policy: transient conditions where the same request may
 * succeed a moment later. CONNECTION is a failure to reach the node (gRPC UNAVAILABLE without
 * a result code). Only calls that are safe to repeat are retried by default (reads); see
 * docs/clients.md and docs/api.md for which writes are.
 */
const RETRYABLE = new Set(['TIMEOUT', 'CONNECTION', 'KEY_BUSY', 'UNAVAILABLE', 'DEVICE_OVERLOAD']);

type Method<Req, Res> = MethodDefinition<Req, Res>;

/**
 * A connection to a Slipstream node. Create it with {@link SlipstreamClient.connect}; close it
 * with {@link SlipstreamClient.close}. Methods throw {@link DbError} with the server's result
 * code (`err.code` is the name, e.g. `'NOT_FOUND'`; `err.resultCode` the number).
 *
 * Retry policy: a failure whose code is TIMEOUT, CONNECTION, KEY_BUSY, UNAVAILABLE or
 * DEVICE_OVERLOAD is retried up to `maxRetries` times (default 2) after `retryDelayMs` (default
 * 50 ms, doubled each time) — for reads (get, exists, batchGet, admin calls). Writes (put,
 * delete, touch, operate, truncate) are not retried unless the call passes `maxRetries`, because
 * a write that timed out may have been applied (`err.inDoubt`). Streams (scan) are not retried:
 * resume them with `partitions` and `afterDigest`.
 */
export class SlipstreamClient {
  private readonly channel: GrpcClient;
  readonly address: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;

  private constructor(channel: GrpcClient, address: string, options: ClientOptions) {
    this.channel = channel;
    this.address = address;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.maxRetries = options.maxRetries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 50;
  }

  /**
   * Connects to the first seed that answers within `connectTimeoutMs`.
   * @throws DbError CONNECTION when no seed answers; CLIENT_PARAM when no host is given.
   */
  static async connect(options: ClientOptions): Promise<SlipstreamClient> {
    const hosts = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts];
    if (hosts.length === 0) throw new DbError('CLIENT_PARAM', 'no seed hosts given', { hint: 'pass hosts: ["127.0.0.1:3000"]' });
    const errors: string[] = [];
    const tls = options.tls;
    const pem = (v: string | Uint8Array | undefined): Buffer | null => (v === undefined ? null : Buffer.from(v));
    if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw new DbError('CLIENT_PARAM', 'tls.cert and tls.key go together', { hint: 'give both the client certificate and its key, or neither' });
    }
    for (const host of hosts) {
      const channel = new GrpcClient(host, tls === undefined ? credentials.createInsecure() : credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert)), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        ...(tls?.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          channel.waitForReady(Date.now() + (options.connectTimeoutMs ?? 5000), (err) => (err ? reject(err) : resolve()));
        });
        return new SlipstreamClient(channel, host, options);
      } catch (err) {
        channel.close();
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
  async unary<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}, retryByDefault = true): Promise<Res> {
    const retries = options.maxRetries ?? (retryByDefault ? this.maxRetries : 0);
    let delay = this.retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, request, options);
      } catch (err) {
        if (!(err instanceof DbError) || attempt >= retries || !RETRYABLE.has(err.code) || options.signal?.aborted === true) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
  }

  private once<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    const timeout = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Res>((resolve, reject) => {
      const call = this.channel.makeUnaryRequest(
        method.path, method.requestSerialize, method.responseDeserialize, request, new Metadata(),
        timeout > 0 ? { deadline: Date.now() + timeout } : {},
        (err: ServiceError | null, res?: Res) => (err ? reject(fromServiceError(err)) : resolve(res as Res)),
      );
      options.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  /** Calls any server-streaming method; iterate the results. Breaking out of the loop cancels the call. */
  async *stream<Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions = {}): AsyncGenerator<Res> {
    const timeout = options.timeoutMs ?? 0;
    const call = this.channel.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, new Metadata(),
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

  // ---- key-value ----

  /**
   * Writes bins (a `null` value removes that bin). Returns the metadata after the write.
   * @throws DbError RECORD_EXISTS / NOT_FOUND by the exists action, GENERATION by the generation check.
   */
  async put(key: ClientKey, bins: Bins, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.unary(KeyValueServiceService.put, { key: toPbKey(key), bins: toPbBins(bins), policy: toPbPolicy(policy) }, options, false);
    return fromPbMeta(res.meta);
  }

  /**
   * Reads a record: all bins, `bins` only, or metadata only (`headerOnly`).
   * @throws DbError NOT_FOUND when it does not exist.
   */
  async get(key: ClientKey, options: CallOptions & { bins?: readonly string[]; headerOnly?: boolean; filter?: Expr } = {}): Promise<ClientRecord> {
    const res = await this.unary(KeyValueServiceService.get, { key: toPbReadKey(key), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false, filterJson: filterText(options.filter) }, options);
    return fromPbRecord(res.record);
  }

  /** The record's metadata, or undefined when it does not exist (never throws NOT_FOUND). */
  async exists(key: ClientKey, options: CallOptions & { filter?: Expr } = {}): Promise<ClientRecordMeta | undefined> {
    const res = await this.unary(KeyValueServiceService.exists, { key: toPbReadKey(key), filterJson: filterText(options.filter) }, options);
    return res.exists ? fromPbMeta(res.meta) : undefined;
  }

  /** Deletes a record. @throws DbError NOT_FOUND when it does not exist. */
  async delete(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<void> {
    await this.unary(KeyValueServiceService.delete, { key: toPbKey(key), policy: toPbPolicy(policy) }, options, false);
  }

  /** Resets the TTL (policy ttl) and bumps the generation. @throws DbError NOT_FOUND when it does not exist. */
  async touch(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.unary(KeyValueServiceService.touch, { key: toPbKey(key), policy: toPbPolicy(policy) }, options, false);
    return fromPbMeta(res.meta);
  }

  /**
   * Applies operations to one record atomically, in order. `bins` holds the results of the
   * reading operations (and of list/map operations that return something), by bin; a bin
   * returned by several operations holds a list of their results. `meta` is undefined when the
   * operations deleted the record.
   */
  async operate(key: ClientKey, operations: readonly Operation[], policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<{ meta: ClientRecordMeta | undefined; bins: Bins }> {
    const res = await this.unary(KeyValueServiceService.operate, { key: toPbKey(key), operations: operations.map(toPbOperation), policy: toPbPolicy(policy) }, options, false);
    return { meta: res.meta === undefined ? undefined : fromPbMeta(res.meta), bins: fromPbBins(res.bins) };
  }

  /** Reads many records; a missing one is a DbError in its place. */
  async batchGet(keys: readonly ClientKey[], options: CallOptions & { bins?: readonly string[]; headerOnly?: boolean; filter?: Expr } = {}): Promise<Array<ClientRecord | DbError>> {
    const res = await this.unary(KeyValueServiceService.batchGet, { keys: keys.map(toPbReadKey), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false, filterJson: filterText(options.filter) }, options);
    return res.results.map((r) => r.resultCode === 0 ? fromPbRecord(r.record) : new DbError(resultCodeName(r.resultCode) ?? 'SERVER_ERROR', r.message, { resultCode: r.resultCode }));
  }

  /**
   * Streams the records of a namespace or set, partition by partition in digest order.
   * Breaking out of the loop (or `signal`) cancels the scan on the server. No deadline unless
   * `timeoutMs` is given.
   */
  async *scan(namespace: string, scan: ScanOptions = {}, options: CallOptions = {}): AsyncGenerator<ClientRecord> {
    const req = {
      namespace,
      ...(scan.set === undefined ? {} : { set: scan.set }),
      partitions: [...(scan.partitions ?? [])],
      afterDigest: scan.afterDigest ?? new Uint8Array(0),
      bins: [...(scan.bins ?? [])],
      noBins: scan.noBins ?? false,
      maxRecords: BigInt(scan.maxRecords ?? 0),
      filterJson: filterText(scan.filter),
      recordsPerMessage: scan.recordsPerMessage ?? 256,
    };
    for await (const r of this.stream(KeyValueServiceService.scan, req, options)) {
      if (r.record !== undefined) yield fromPbRecord(r.record);
      for (const rec of r.records) yield fromPbRecord(rec);
    }
  }

  /** Removes every record of a namespace or set last updated before `beforeMs` (now when omitted); returns how many. */
  async truncate(namespace: string, set?: string, beforeMs?: number, options: CallOptions = {}): Promise<number> {
    const res = await this.unary(KeyValueServiceService.truncate, { namespace, ...(set === undefined ? {} : { set }), beforeMs: BigInt(beforeMs ?? 0) }, options, false);
    return Number(res.removed);
  }

  // ---- admin ----

  /** The node: id, version, build, uptime, address. */
  nodeInfo(options: CallOptions = {}) {
    return this.unary(AdminServiceService.getNodeInfo, {}, options);
  }

  /** Configured namespaces with their record counts and settings. */
  async namespaces(options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listNamespaces, {}, options)).namespaces;
  }

  /** Sets of a namespace (all when `''`) with record counts. */
  async sets(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listSets, { namespace }, options)).sets;
  }

  /** Bin names used per namespace (all when `''`). */
  async bins(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listBins, { namespace }, options)).namespaces;
  }

  /** Node statistics, or a namespace's when `namespace` is given, by Aerospike-style name. */
  async statistics(namespace = '', options: CallOptions = {}): Promise<Map<string, string>> {
    const res = await this.unary(AdminServiceService.getStatistics, { namespace }, options);
    return new Map(res.statistics.map((s) => [s.name, s.value]));
  }
}

/** A client key as its protobuf message (for calls through {@link SlipstreamClient.unary}). */
export function toPbKey(k: ClientKey): PbKey {
  const base = { namespace: k.namespace, set: k.set ?? '' };
  if (k.digest !== undefined) return { ...base, id: { $case: 'digest', value: k.digest } };
  const key = k.key;
  if (key === undefined) throw new DbError('CLIENT_PARAM', 'a key needs key or digest');
  if (typeof key === 'bigint') return { ...base, id: { $case: 'intKey', value: checkInt64(key, 'integer key') } };
  if (typeof key === 'number') return { ...base, id: { $case: 'intKey', value: checkInt64(BigInt(key), 'integer key') } };
  if (typeof key === 'string') return { ...base, id: { $case: 'stringKey', value: key } };
  return { ...base, id: { $case: 'bytesKey', value: key } };
}

const EXISTS_PB: Record<ExistsAction, number> = { update: 1, updateOnly: 2, replace: 3, replaceOnly: 4, createOnly: 5 };
const GEN_PB: Record<GenerationPolicy, number> = { none: 0, expectEqual: 1, expectGreater: 2 };

/**
 * The key of a read: its digest, computed here as Aerospike's clients do, so the server does
 * not hash (reads need no user key; writes send it, for send-key).
 */
export function toPbReadKey(k: ClientKey): PbKey {
  if (k.digest !== undefined || k.key === undefined) return toPbKey(k);
  const key = typeof k.key === 'number' ? BigInt(k.key) : k.key;
  if (typeof key === 'bigint') checkInt64(key, 'integer key');
  if (typeof key === 'string' && key.length === 0) return toPbKey(k); // let the server explain
  return { namespace: k.namespace, set: k.set ?? '', id: { $case: 'digest', value: computeDigest(k.set ?? '', key) } };
}

function filterText(e: Expr | undefined): string {
  return e === undefined ? '' : exprToJsonText(e);
}

function toPbPolicy(p: ClientWritePolicy): PbWritePolicy {
  return {
    exists: EXISTS_PB[p.exists ?? 'update'] as PbWritePolicy['exists'],
    generationPolicy: GEN_PB[p.generationPolicy ?? 'none'] as PbWritePolicy['generationPolicy'],
    generation: p.generation ?? 0,
    ttl: BigInt(p.ttl ?? 0),
    sendKey: p.sendKey ?? false,
    durableDelete: p.durableDelete ?? false,
    filterJson: filterText(p.filter),
  };
}

export function fromPbMeta(m: PbRecordMeta | undefined): ClientRecordMeta {
  return { generation: m?.generation ?? 0, ttl: Number(m?.ttl ?? 0n), lastUpdateMs: Number(m?.lastUpdateMs ?? 0n) };
}

export function fromPbRecord(r: PbRecord | undefined): ClientRecord {
  if (r === undefined || r.key === undefined) throw new DbError('CLIENT_ERROR', 'the server sent a record without a key');
  return {
    namespace: r.key.namespace,
    set: r.key.set,
    digest: r.key.digest,
    partition: r.key.partition,
    userKey: r.key.userKey === undefined ? undefined : fromPbValue(r.key.userKey),
    meta: fromPbMeta(r.meta),
    bins: fromPbBins(r.bins),
  };
}

export { toPbValue, fromPbValue };
