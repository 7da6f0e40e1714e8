import { isPromise } from '../plugin-api/index.ts';
import type { EngineAnswer, StorageEngine, StoredMeta, StoredRecord, WriteExpectation, WriteOutcome, ScanOptions, TruncateOptions, EngineStats, StorageCapabilities } from '../plugin-api/index.ts';
import { DbError } from '../errors/index.ts';

/**
 * Wraps a plugin's engine so that every fault it throws reaches users as a DbError naming
 * the plugin and the operation, and so that a closed engine is never called again.
 */
export class GuardedEngine implements StorageEngine {
  readonly capabilities: StorageCapabilities;
  private readonly inner: StorageEngine;
  private readonly plugin: string;
  private closed = false;
  private readonly onError: ((op: string) => void) | undefined;

  /** `onError` counts each fault the engine throws (per operation) in the node's statistics. */
  constructor(inner: StorageEngine, plugin: string, onError?: (op: string) => void) {
    this.inner = inner;
    this.plugin = plugin;
    this.capabilities = inner.capabilities;
    this.onError = onError;
  }

  private wrap(op: string, err: unknown): DbError {
    this.onError?.(op);
    if (err instanceof DbError) {
      if (err.plugin !== undefined) return err;
      return new DbError(err.code, `storage plugin ${this.plugin} failed in ${op}: ${err.message}`, { plugin: this.plugin, cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) });
    }
    const msg = err instanceof Error ? err.message : String(err);
    return new DbError('SERVER_ERROR', `storage plugin ${this.plugin} failed in ${op}: ${msg}`, { plugin: this.plugin, cause: err });
  }

  private fail(op: string, err: unknown): never {
    throw this.wrap(op, err);
  }

  private closedError(op: string): DbError {
    return new DbError('SERVER_ERROR', `storage plugin ${this.plugin} is closed (${op})`, { hint: 'the node is shutting down; retry against a running node' });
  }

  private open(op: string): void {
    if (this.closed) throw this.closedError(op);
  }

  // The hottest calls: no async frame of their own (see answered); a fault the engine throws at
  // once is thrown, wrapped.
  get(digest: Uint8Array): EngineAnswer<StoredRecord | undefined> {
    this.open('get');
    try { return this.answered('get', this.inner.get(digest)); } catch (err) { return this.fail('get', err); }
  }

  /** The engine's getMeta, or its get for an engine without one (a record is its metadata and more). */
  getMeta(digest: Uint8Array): EngineAnswer<StoredMeta | undefined> {
    this.open('getMeta');
    const inner = this.inner;
    try {
      return inner.getMeta === undefined ? this.answered('get', inner.get(digest)) : this.answered('getMeta', inner.getMeta(digest));
    } catch (err) {
      return this.fail(inner.getMeta === undefined ? 'get' : 'getMeta', err);
    }
  }

  put(record: StoredRecord, expect: WriteExpectation): EngineAnswer<WriteOutcome> {
    this.open('put');
    try { return this.answered('put', this.inner.put(record, expect)); } catch (err) { return this.fail('put', err); }
  }

  remove(digest: Uint8Array, expect: WriteExpectation): EngineAnswer<WriteOutcome> {
    this.open('remove');
    try { return this.answered('remove', this.inner.remove(digest, expect)); } catch (err) { return this.fail('remove', err); }
  }

  /**
   * An engine's answer as it came: a value at once, as the value; a promise (or any thenable,
   * made a native promise so that it has a catch) with a catch that wraps its fault.
   */
  private answered<T>(op: string, out: EngineAnswer<T>): EngineAnswer<T> {
    return isPromise(out) ? Promise.resolve(out).catch((err: unknown) => this.fail(op, err)) : out;
  }

  async *scan(options: ScanOptions): AsyncIterable<StoredRecord> {
    this.open('scan');
    try {
      for await (const r of this.inner.scan(options)) yield r;
    } catch (err) {
      this.fail('scan', err);
    }
  }

  async truncate(options: TruncateOptions): Promise<number> {
    this.open('truncate');
    try { return await this.inner.truncate(options); } catch (err) { return this.fail('truncate', err); }
  }

  async stats(): Promise<EngineStats> {
    this.open('stats');
    try { return await this.inner.stats(); } catch (err) { return this.fail('stats', err); }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try { await this.inner.close(); } catch (err) { this.fail('close', err); }
  }
}
