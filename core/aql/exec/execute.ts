/**
 * The server-side AQL executor: AST → kernel calls, results as renderer events (so the same
 * handlers feed a terminal renderer in-process or a gRPC stream). A dispatch table keyed by
 * statement kind: subsystems (indexes, UDFs) plug in their statements with `registerAqlHandler`
 * from their own files; kinds without a handler answer UNSUPPORTED_FEATURE (16).
 */
import { clientErrorName, DbError, toDbError } from '../../errors/index.ts';
import { ttlOf, type BinValue, type Bins, type DbRecord, type RecordKey } from '../../model/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import { writePolicy, type WritePolicy } from '../../transaction/policy.ts';
import type { KeyRef, Statement, StatementKind, Target } from '../language/ast.ts';
import type { Cells, Renderer } from '../shell/render/renderer.ts';
import type { Settings } from '../language/settings.ts';
import type { StatisticsIdentity } from '../../transaction/statistics.ts';

export interface ExecContext {
  readonly kernel: Kernel;
  readonly settings: Settings;
  /** Aborted when the client cancels (Ctrl-C) or the call ends. */
  readonly signal: AbortSignal;
  /** This node's address, for info results (`[127.0.0.1:3000] 1 row in set`). */
  readonly nodeAddress: string;
  readonly now: () => number;
  /** The node's id and start time, for STAT SYSTEM (absent in bare in-process use). */
  readonly identity?: StatisticsIdentity;
  /**
   * Reads a file a statement names on the client side (REGISTER MODULE 'path'): from disk when
   * the executor runs in-process, from the sources the client attached when it runs behind gRPC.
   */
  readonly readClientFile?: (path: string) => Promise<Uint8Array>;
}

/**
 * Runs one statement. `next` is the handler that was installed for the same statement before
 * this one, so a subsystem can take the forms it knows and pass the others on.
 */
export type AqlHandler<K extends StatementKind = StatementKind> = (
  stmt: Extract<Statement, { kind: K }>, ctx: ExecContext, out: Renderer, next?: AqlHandler<K>,
) => Promise<void>;

const handlers = new Map<string, AqlHandler>();

/** The variant of a statement that may have its own handler: SHOW SETS, STAT SYSTEM, … */
function variantOf(stmt: Statement): string | undefined {
  if (stmt.kind === 'show' || stmt.kind === 'stat') return stmt.what;
  return undefined;
}

function install(key: string, handler: AqlHandler): () => void {
  const previous = handlers.get(key);
  const chained: AqlHandler = (stmt, ctx, out) => handler(stmt, ctx, out, previous);
  handlers.set(key, chained);
  return () => {
    if (handlers.get(key) !== chained) return;
    if (previous === undefined) handlers.delete(key);
    else handlers.set(key, previous);
  };
}

/** Installs (or replaces) the handler for one statement kind; the result puts the previous one back. */
export function registerAqlHandler<K extends StatementKind>(kind: K, handler: AqlHandler<K>): () => void {
  return install(kind, handler as unknown as AqlHandler);
}

/**
 * Installs the handler of one variant of a kind (`show`/`stat` by what they show): it takes
 * precedence over the kind's handler, so subsystems can own SHOW INDEXES and SHOW SETS apart.
 */
export function registerAqlVariantHandler<K extends 'show' | 'stat'>(kind: K, variant: Extract<Statement, { kind: K }>['what'], handler: AqlHandler<K>): () => void {
  return install(`${kind} ${variant}`, handler as unknown as AqlHandler);
}

export function hasAqlHandler(kind: StatementKind): boolean {
  return handlers.has(kind);
}

/** The text after `Error: (code) ` for an error: aql prints the client name, then what we know. */
export function errorMessage(e: DbError): string {
  const name = clientErrorName(e.resultCode);
  if (e.code === 'NOT_FOUND') return name;
  return `${name}: ${e.message}${e.hint === undefined ? '' : `. ${e.hint}`}`;
}

/** Runs one statement; every outcome (including thrown errors) ends in exactly one status. */
export async function executeStatement(stmt: Statement, ctx: ExecContext, out: Renderer): Promise<void> {
  const variant = variantOf(stmt);
  const handler = (variant === undefined ? undefined : handlers.get(`${stmt.kind} ${variant}`)) ?? handlers.get(stmt.kind);
  let statusSent = false;
  const guarded: Renderer = {
    begin: (c) => out.begin(c),
    row: (r) => out.row(r),
    end: (ms, node) => out.end(ms, node),
    status: (code, message) => { statusSent = true; out.status(code, message); },
  };
  try {
    if (handler === undefined) {
      throw new DbError('UNSUPPORTED_FEATURE', `${stmt.kind.toUpperCase()} is not supported yet on this server`, {
        hint: 'the subsystem that runs it has not been installed on this node',
      });
    }
    await handler(stmt, ctx, guarded);
    if (!statusSent) guarded.status(0, '');
  } catch (err) {
    const e = toDbError(err);
    if (!statusSent) guarded.status(e.resultCode, errorMessage(e));
  }
}

// ---- helpers ----

/** The key a statement names by PK or digest. */
export function keyOf(kernel: Kernel, target: Target, ref: KeyRef): RecordKey {
  const set = target.set ?? '';
  if (ref.kind === 'pk') return kernel.key(target.namespace, set, ref.value);
  return kernel.keyFromDigest(target.namespace, set, new Uint8Array(Buffer.from(ref.hex, 'hex')));
}

/** The write policy of the session's settings (RECORD_TTL, KEY_SEND, DURABLE_DELETE), with overrides. */
export function policy(s: Settings, p: Partial<WritePolicy> = {}): WritePolicy {
  return writePolicy({ ttl: s.RECORD_TTL, sendKey: s.KEY_SEND, durableDelete: s.DURABLE_DELETE, ...p });
}

/** A record as a row: PK (when stored), bins (selected ones in order), metadata columns. */
export function recordCells(rec: DbRecord, ctx: ExecContext, opts: { bins?: readonly string[] | null; scan: boolean }): Cells {
  const cells: Array<readonly [string, BinValue]> = [];
  const keyCell = rec.key.userKey === undefined ? undefined : (['PK', rec.key.userKey] as const);
  if (keyCell !== undefined && (opts.bins === null || opts.bins === undefined)) cells.push(keyCell);
  if (ctx.settings.NO_BINS && opts.scan) {
    cells.push(['{digest}', Buffer.from(rec.key.digest).toString('hex').toUpperCase()]);
  } else if (opts.bins === null || opts.bins === undefined) {
    for (const [name, v] of Object.entries(rec.bins)) cells.push([name, v]);
  } else {
    for (const name of opts.bins) if (Object.hasOwn(rec.bins, name)) cells.push([name, rec.bins[name] as BinValue]);
    if (keyCell !== undefined) cells.push(keyCell);
  }
  if (ctx.settings.RECORD_PRINT_METADATA) {
    if (opts.scan) cells.push(['{edigest}', Buffer.from(rec.key.digest).toString('base64')]);
    cells.push(['{set}', rec.key.set]);
    cells.push(['{ttl}', BigInt(ttlOf(rec.meta.voidTime, ctx.now()))]);
    cells.push(['{gen}', BigInt(rec.meta.generation)]);
  }
  return cells;
}

/** NAMESPACE (aql's "Invalid namespace") unless the kernel has the namespace. */
export function checkNamespace(ctx: ExecContext, ns: string): void {
  if (!ctx.kernel.namespaceNames().includes(ns)) throw new DbError('NAMESPACE', `Invalid namespace: ${ns}`, { hint: 'SHOW NAMESPACES lists them' });
}

// ---- built-in handlers (key-value statements of issue 3) ----

registerAqlHandler('insert', async (s, ctx, out) => {
  checkNamespace(ctx, s.target.namespace);
  const bins: Bins = {};
  for (const b of s.bins) bins[b.name] = b.value;
  await ctx.kernel.put(keyOf(ctx.kernel, s.target, s.key), bins, policy(ctx.settings));
  out.status(0, '1 record affected.');
});

registerAqlHandler('update', async (s, ctx, out) => {
  checkNamespace(ctx, s.target.namespace);
  const bins: Bins = {};
  for (const b of s.bins) bins[b.name] = b.value;
  await ctx.kernel.put(keyOf(ctx.kernel, s.target, s.key), bins, policy(ctx.settings, { exists: 'updateOnly', ttl: ctx.settings.RECORD_TTL === 0 ? -2 : ctx.settings.RECORD_TTL }));
  out.status(0, '1 record affected.');
});

registerAqlHandler('delete', async (s, ctx, out) => {
  checkNamespace(ctx, s.target.namespace);
  await ctx.kernel.delete(keyOf(ctx.kernel, s.target, s.key), policy(ctx.settings));
  out.status(0, '1 record affected.');
});

registerAqlHandler('select', async (s, ctx, out) => {
  checkNamespace(ctx, s.target.namespace);
  const started = performance.now();
  if (s.items !== null && s.items.some((i) => i.kind === 'aggregate')) {
    throw new DbError('UNSUPPORTED_FEATURE', 'SELECT COUNT/SUM/MIN/MAX/AVG is not supported yet on this server', { hint: 'it arrives with secondary-index queries' });
  }
  const bins = s.items === null ? null : s.items.map((i) => (i.kind === 'bin' ? i.name : ''));
  if (s.where?.kind === 'key') {
    const rec = await ctx.kernel.get(keyOf(ctx.kernel, s.target, s.where.key), bins === null ? {} : { bins });
    out.begin(bins ?? []);
    out.row(recordCells(rec, ctx, { bins, scan: false }));
    out.end(performance.now() - started);
    return;
  }
  if (s.where !== null || s.in !== null || s.orderBy.length > 0) {
    throw new DbError('UNSUPPORTED_FEATURE', 'SELECT … WHERE <bin expression> / IN / ORDER BY is not supported yet on this server', { hint: 'it arrives with secondary-index queries; a PK read or a plain scan works' });
  }
  out.begin(bins ?? []);
  const limit = s.limit === null ? undefined : Number(s.limit);
  if (limit !== 0) {
    // Without a set the scan covers the whole namespace, every set included, as in Aerospike.
    for await (const rec of ctx.kernel.scan({
      namespace: s.target.namespace,
      ...(s.target.set === null ? {} : { set: s.target.set }),
      ...(bins === null ? {} : { bins }),
      ...(ctx.settings.NO_BINS ? { noBins: true } : {}),
      ...(limit === undefined ? {} : { maxRecords: limit }),
      signal: ctx.signal,
    })) {
      await out.row(recordCells(rec, ctx, { bins, scan: true }));
    }
  }
  if (ctx.signal.aborted) throw new DbError('SCAN_ABORT', 'the scan was cancelled');
  out.end(performance.now() - started);
});

registerAqlHandler('truncate', async (s, ctx, out) => {
  checkNamespace(ctx, s.target.namespace);
  let beforeMs: number | undefined;
  if (typeof s.upto === 'bigint') beforeMs = Number(s.upto / 1_000_000n);
  else if (typeof s.upto === 'string') {
    beforeMs = Date.parse(s.upto);
    if (Number.isNaN(beforeMs)) throw new DbError('PARAMETER', 'Invalid lut, use format "Dec 18 2017 09:53:20" or 1513590800000000000.');
  }
  await ctx.kernel.truncate(s.target.namespace, s.target.set ?? undefined, beforeMs);
  out.status(0, '');
});

registerAqlHandler('show', async (s, ctx, out) => {
  const started = performance.now();
  if (s.what === 'NAMESPACES') {
    out.begin([]);
    for (const ns of ctx.kernel.namespaceNames()) out.row([['namespaces', ns]]);
    out.end(performance.now() - started, ctx.nodeAddress);
    return;
  }
  if (s.what === 'BINS') {
    out.begin([]);
    for (const ns of s.namespace === null ? ctx.kernel.namespaceNames() : [s.namespace]) {
      checkNamespace(ctx, ns);
      for (const bin of ctx.kernel.binNames(ns)) out.row([['namespace', ns], ['bin', bin]]);
    }
    out.end(performance.now() - started, ctx.nodeAddress);
    return;
  }
  throw new DbError('UNSUPPORTED_FEATURE', `SHOW ${s.what} is not supported yet on this server`);
});

/** The client-facing address of the node that masters the key's partition (its id when unknown). */
function masterAddress(ctx: ExecContext, key: RecordKey): string | null {
  const router = ctx.kernel.router;
  const master = router.masterOf(key.namespace, key.partition);
  if (master === undefined) return null;
  if (master === router.localNode) return ctx.nodeAddress;
  return router.serviceAddressOf?.(master) ?? master.toString(16).toUpperCase();
}

registerAqlHandler('explain', async (s, ctx, out) => {
  const where = s.statement.where;
  if (where?.kind !== 'key') {
    throw new DbError('UNSUPPORTED_FEATURE', 'EXPLAIN of a query is not supported yet on this server; EXPLAIN SELECT … WHERE PK = … works');
  }
  const started = performance.now();
  const key = keyOf(ctx.kernel, s.statement.target, where.key);
  let status = 'AEROSPIKE_OK';
  let gen: bigint | null = null;
  let ttl: bigint | null = null;
  try {
    const rec = await ctx.kernel.get(key, { headerOnly: true });
    gen = BigInt(rec.meta.generation);
    ttl = BigInt(ttlOf(rec.meta.voidTime, ctx.now()));
  } catch (err) {
    status = clientErrorName(toDbError(err).resultCode);
  }
  out.begin([]);
  out.row([
    ['SET', key.set], ['DIGEST', Buffer.from(key.digest).toString('hex').toUpperCase()], ['NAMESPACE', key.namespace],
    ['PARTITION', BigInt(key.partition)], ['STATUS', status], ['UDF', 'FALSE'], ['KEY_TYPE', where.key.kind === 'digest' ? 'DIGEST' : typeof key.userKey === 'bigint' ? 'INTEGER' : 'STRING'],
    ['POLICY_KEY', ctx.settings.KEY_SEND ? 'AS_POLICY_KEY_SEND' : 'AS_POLICY_KEY_DIGEST'], ['MASTER NODE', masterAddress(ctx, key)],
    ['GENERATION', gen], ['TTL', ttl], ['TIMEOUT', BigInt(ctx.settings.TIMEOUT)],
  ]);
  out.end(performance.now() - started);
});
