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
import { DbError } from '../errors/index.ts';
import { checkInt64, type BinValue, type Bins, type UserKey } from '../model/index.ts';
import type { Operation } from '../transaction/operations.ts';
import { KeyValueServiceService } from '../server/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../server/generated/slipstream/v1/admin.ts';
import type { Key as PbKey, RecordMeta as PbRecordMeta, Record as PbRecord, WritePolicy as PbWritePolicy } from '../server/generated/slipstream/v1/types.ts';
import { fromPbValue, toPbValue, fromPbBins, toPbBins } from '../server/convert.ts';
import { toPbOperation } from './operations.ts';
import { fromServiceError } from './errors.ts';
import type { ExistsAction, GenerationPolicy } from '../transaction/policy.ts';

/** Addresses a record by user key or by digest. */
export interface ClientKey {
  readonly namespace: string;
  readonly set?: string;
  readonly key?: UserKey;
  readonly digest?: Uint8Array;
}

export interface ClientRecordMeta {
  readonly generation: number;
  /** Seconds left; -1 never expires. */
  readonly ttl: number;
  readonly lastUpdateMs: number;
}

export interface ClientRecord {
  readonly namespace: string;
  readonly set: string;
  readonly digest: Uint8Array;
  readonly partition: number;
  /** The user key, when it was stored (sendKey). */
  readonly userKey: BinValue | undefined;
  readonly meta: ClientRecordMeta;
  readonly bins: Bins;
}

export interface ClientWritePolicy {
  readonly exists?: ExistsAction;
  readonly generationPolicy?: GenerationPolicy;
  readonly generation?: number;
  readonly ttl?: number;
  readonly sendKey?: boolean;
  readonly durableDelete?: boolean;
}

export interface CallOptions {
  /** Deadline for this call, ms (default: the client's timeoutMs). 0 means none. */
  readonly timeoutMs?: number;
  /** Retries after a failure that is safe to retry (default: the client's policy; 0 for writes). */
  readonly maxRetries?: number;
  readonly signal?: AbortSignal;
}

export interface ClientOptions {
  /** Seed nodes, "host:port". */
  readonly hosts: string | readonly string[];
  /** Default deadline per call, ms (default 1000, as aql). 0 means none. */
  readonly timeoutMs?: number;
  /** Default retries for reads (default 2). Writes are not retried unless asked. */
  readonly maxRetries?: number;
  /** Pause between retries, ms (default 50, doubled each time). */
  readonly retryDelayMs?: number;
  /** How long connect() waits for a seed, ms (default 5000). */
  readonly connectTimeoutMs?: number;
}

export interface ScanOptions {
  readonly set?: string;
  readonly partitions?: readonly number[];
  readonly afterDigest?: Uint8Array;
  readonly bins?: readonly string[];
  readonly noBins?: boolean;
  readonly maxRecords?: number;
}

const RETRYABLE = new Set(['TIMEOUT', 'CONNECTION', 'KEY_BUSY', 'UNAVAILABLE', 'DEVICE_OVERLOAD']);

type Method<Req, Res> = MethodDefinition<Req, Res>;

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

  /** Connects to the first seed that answers. */
  static async connect(options: ClientOptions): Promise<SlipstreamClient> {
    const hosts = typeof options.hosts === 'string' ? [options.hosts] : [...options.hosts];
    if (hosts.length === 0) throw new DbError('CLIENT_PARAM', 'no seed hosts given', { hint: 'pass hosts: ["127.0.0.1:3000"]' });
    const errors: string[] = [];
    for (const host of hosts) {
      const channel = new GrpcClient(host, credentials.createInsecure(), {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
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
    throw new DbError('CONNECTION', `cannot connect to any seed (${errors.join('; ')})`, { hint: 'start a node (npm start) or check the host and port' });
  }

  close(): void {
    this.channel.close();
  }

  /** Calls any unary method of any Slipstream service on this connection. */
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

  async put(key: ClientKey, bins: Bins, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.unary(KeyValueServiceService.put, { key: toPbKey(key), bins: toPbBins(bins), policy: toPbPolicy(policy) }, options, false);
    return fromPbMeta(res.meta);
  }

  /** Reads a record; throws DbError NOT_FOUND when it does not exist. */
  async get(key: ClientKey, options: CallOptions & { bins?: readonly string[]; headerOnly?: boolean } = {}): Promise<ClientRecord> {
    const res = await this.unary(KeyValueServiceService.get, { key: toPbKey(key), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false }, options);
    return fromPbRecord(res.record);
  }

  async exists(key: ClientKey, options: CallOptions = {}): Promise<ClientRecordMeta | undefined> {
    const res = await this.unary(KeyValueServiceService.exists, { key: toPbKey(key) }, options);
    return res.exists ? fromPbMeta(res.meta) : undefined;
  }

  async delete(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<void> {
    await this.unary(KeyValueServiceService.delete, { key: toPbKey(key), policy: toPbPolicy(policy) }, options, false);
  }

  async touch(key: ClientKey, policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<ClientRecordMeta> {
    const res = await this.unary(KeyValueServiceService.touch, { key: toPbKey(key), policy: toPbPolicy(policy) }, options, false);
    return fromPbMeta(res.meta);
  }

  async operate(key: ClientKey, operations: readonly Operation[], policy: ClientWritePolicy = {}, options: CallOptions = {}): Promise<{ meta: ClientRecordMeta | undefined; bins: Bins }> {
    const res = await this.unary(KeyValueServiceService.operate, { key: toPbKey(key), operations: operations.map(toPbOperation), policy: toPbPolicy(policy) }, options, false);
    return { meta: res.meta === undefined ? undefined : fromPbMeta(res.meta), bins: fromPbBins(res.bins) };
  }

  /** Reads many records; a missing one is a DbError in its place. */
  async batchGet(keys: readonly ClientKey[], options: CallOptions & { bins?: readonly string[]; headerOnly?: boolean } = {}): Promise<Array<ClientRecord | DbError>> {
    const res = await this.unary(KeyValueServiceService.batchGet, { keys: keys.map(toPbKey), bins: [...(options.bins ?? [])], headerOnly: options.headerOnly ?? false }, options);
    return res.results.map((r) => r.resultCode === 0 ? fromPbRecord(r.record) : new DbError(r.resultCode === 2 ? 'NOT_FOUND' : 'SERVER_ERROR', r.message, { resultCode: r.resultCode }));
  }

  async *scan(namespace: string, scan: ScanOptions = {}, options: CallOptions = {}): AsyncGenerator<ClientRecord> {
    const req = {
      namespace,
      ...(scan.set === undefined ? {} : { set: scan.set }),
      partitions: [...(scan.partitions ?? [])],
      afterDigest: scan.afterDigest ?? new Uint8Array(0),
      bins: [...(scan.bins ?? [])],
      noBins: scan.noBins ?? false,
      maxRecords: BigInt(scan.maxRecords ?? 0),
    };
    for await (const r of this.stream(KeyValueServiceService.scan, req, options)) yield fromPbRecord(r.record);
  }

  async truncate(namespace: string, set?: string, beforeMs?: number, options: CallOptions = {}): Promise<number> {
    const res = await this.unary(KeyValueServiceService.truncate, { namespace, ...(set === undefined ? {} : { set }), beforeMs: BigInt(beforeMs ?? 0) }, options, false);
    return Number(res.removed);
  }

  // ---- admin ----

  nodeInfo(options: CallOptions = {}) {
    return this.unary(AdminServiceService.getNodeInfo, {}, options);
  }

  async namespaces(options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listNamespaces, {}, options)).namespaces;
  }

  async sets(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listSets, { namespace }, options)).sets;
  }

  async bins(namespace = '', options: CallOptions = {}) {
    return (await this.unary(AdminServiceService.listBins, { namespace }, options)).namespaces;
  }

  async statistics(namespace = '', options: CallOptions = {}): Promise<Map<string, string>> {
    const res = await this.unary(AdminServiceService.getStatistics, { namespace }, options);
    return new Map(res.statistics.map((s) => [s.name, s.value]));
  }
}

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

function toPbPolicy(p: ClientWritePolicy): PbWritePolicy {
  return {
    exists: EXISTS_PB[p.exists ?? 'update'] as PbWritePolicy['exists'],
    generationPolicy: GEN_PB[p.generationPolicy ?? 'none'] as PbWritePolicy['generationPolicy'],
    generation: p.generation ?? 0,
    ttl: BigInt(p.ttl ?? 0),
    sendKey: p.sendKey ?? false,
    durableDelete: p.durableDelete ?? false,
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
