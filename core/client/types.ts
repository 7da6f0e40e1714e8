/** The client's public types: keys, records, write policies, call, connection and scan options. */
import type { Expr } from '../query/expr/ast.ts';
import type { BinValue, Bins, UserKey } from '../model/index.ts';
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
  /** Expiry, seconds since the Unix epoch; 0 never (the absolute form of `ttl`). */
  readonly voidTime: number;
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
  /**
   * When the write is answered in a cluster: `'all'` once every replica has it, `'master'` once
   * the master has written it (replicas follow in the background; a master lost before they do
   * loses the write). Default: the namespace's `writeCommitLevel`.
   */
  readonly commitLevel?: 'all' | 'master';
}

/**
 * Which copy of a record may serve a read (Aerospike's replica policy):
 * `'master'` (default) the partition's master; `'any'` the master or a replica, spread round
 * robin; `'sequence'` the master, then each replica in turn when a node cannot be reached;
 * `'preferRack'` a copy on the client's `rackId` first, then as `'sequence'`. A replica may lag
 * behind its master for writes made with commit level `'master'`.
 */
export type ClientReplica = 'master' | 'any' | 'sequence' | 'preferRack';

/** Policy of a read (get, exists, batchGet, the read entries of batchOperate). */
export interface ClientReadPolicy {
  /** Which copy may serve the read (default: the client's `replica` option, else `'master'`). */
  readonly replica?: ClientReplica;
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
  /** Log in as this user (a node with security on); with `password`. */
  readonly user?: string;
  /** The user's password; sent only to log in (use TLS). */
  readonly password?: string;
  /**
   * `'partition-map'` (default): learn the cluster's members and partition maps from any seed
   * and send each key's request straight to the node that holds it (one channel per node;
   * batches split per node), following the cluster as it changes — a smart client, as
   * Aerospike's. `'seed'`: send every request to the first seed that answered, which forwards
   * each to the partition's master (one proxy hop inside the cluster; useful to exercise or
   * measure proxying). On a node without a cluster both behave alike.
   */
  readonly routing?: 'partition-map' | 'seed';
  /** With routing 'partition-map': how often the client checks the cluster for changes, ms (default 1000). */
  readonly tendIntervalMs?: number;
  /** The client's rack (the nodes' `cluster.rackId`), for reads with replica `'preferRack'`. */
  readonly rackId?: number;
  /** The replica policy of reads that do not name one (default `'master'`). */
  readonly replica?: ClientReplica;
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
