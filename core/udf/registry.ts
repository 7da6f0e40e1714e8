/**
 * The module registry: register, list, read back and remove UDF modules.
 *
 * Registration checks the file name and the 1 MiB limit, strips TypeScript of its types, then
 * compiles and loads the module in a throwaway sandbox; a module that does not compile is
 * refused with file, line, column and message (UdfError with `location`). A module is versioned
 * by the SHA-256 of its source; re-registering replaces it atomically: calls already running
 * finish on the old version, later calls use the new one (listeners are told, so the engine can
 * retire the old isolates).
 *
 * Modules are system metadata. The registry persists them through a `ModuleStore`
 * (MemoryModuleStore here; a durable, cluster-replicated store plugs in the same way), and a
 * metadata layer that receives a module from another node calls `install(stored)`.
 */
import { createHash } from 'node:crypto';
import { stripTypeScriptTypes } from 'node:module';
import { DbError } from '../errors/index.ts';
import { MAX_MODULE_BYTES, packageOf, parseModuleName, type ModuleType } from './names.ts';
import { UdfError, locate } from './errors.ts';
import type { SandboxModule } from './sandbox.ts';

/** A module as system metadata stores it. */
export interface StoredModule {
  readonly fileName: string;
  readonly type: ModuleType;
  /** The source exactly as registered (TypeScript with its types). */
  readonly source: string;
  /** SHA-256 of the source, hex. */
  readonly hash: string;
  readonly registeredAtMs: number;
}

/** Where modules persist. Implementations must make `put` and `remove` durable before resolving. */
export interface ModuleStore {
  load(): Promise<StoredModule[]>;
  put(module: StoredModule): Promise<void>;
  remove(fileName: string): Promise<void>;
}

export class MemoryModuleStore implements ModuleStore {
  private readonly modules = new Map<string, StoredModule>();
  async load(): Promise<StoredModule[]> {
    return [...this.modules.values()];
  }
  async put(module: StoredModule): Promise<void> {
    this.modules.set(module.fileName, module);
  }
  async remove(fileName: string): Promise<void> {
    this.modules.delete(fileName);
  }
}

/** A registered, validated module version. */
export interface ModuleVersion extends StoredModule, SandboxModule {
  readonly packageName: string;
  /** JavaScript that runs (equal to source for .js modules). */
  readonly code: string;
  /** Exported function names. */
  readonly functions: readonly string[];
}

/** Compiles and loads a module in a throwaway sandbox, returning its exported function names. */
export type ModuleValidator = (module: SandboxModule) => Promise<readonly string[]>;

export type ModuleListener = (fileName: string, current: ModuleVersion | undefined, previous: ModuleVersion | undefined) => void;

export function hashSource(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex');
}

function compileError(file: string, line: number | undefined, column: number | undefined, message: string): UdfError {
  const at = line === undefined ? file : `${file}:${line}:${column ?? 1}`;
  return new UdfError(100, `compile error in ${at}: ${message}`, { file, ...(line === undefined ? {} : { line, column: column ?? 1 }) }, {
    hint: 'fix the module and register it again',
  });
}

/** Strips TypeScript to JavaScript keeping every position (types become spaces). */
export function stripTypes(fileName: string, source: string): string {
  try {
    return stripTypeScriptTypes(source, { mode: 'strip' });
  } catch (err) {
    const e = err as Error & { code?: string };
    // Node puts the position in the stack: ":<line>\n<source line>\n<spaces>^"
    const m = /^:(\d+)\n(?:[^\n]*\n)*?( *)\^/.exec(e.stack ?? '');
    const msg = e.code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' ? `${e.message} (only erasable TypeScript is accepted: no enum, namespace or parameter properties)` : e.message;
    throw compileError(fileName, m === null ? undefined : Number(m[1]), m === null ? undefined : (m[2] as string).length + 1, `SyntaxError: ${msg}`);
  }
}

/** Turns an error from compiling or loading a module into a compile error with its position. */
export function toCompileError(fileName: string, err: unknown): DbError {
  if (err instanceof DbError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  // isolated-vm reports syntax errors as "<message> [file:line:col]"
  const bracket = /^(.*) \[([^\]]*):(\d+):(\d+)\]$/s.exec(e.message);
  if (bracket !== null && bracket[2] === fileName) {
    return compileError(fileName, Number(bracket[3]), Number(bracket[4]), `${e.name}: ${bracket[1]}`);
  }
  const pos = locate(e.stack ?? '', fileName);
  if (/timed out/i.test(e.message)) return compileError(fileName, undefined, undefined, "the module's top-level code ran too long");
  return compileError(fileName, pos?.line, pos?.column, `${e.name}: ${e.message}`);
}

function decodeSource(fileName: string, source: string | Uint8Array): string {
  const bytes = typeof source === 'string' ? Buffer.byteLength(source, 'utf8') : source.byteLength;
  if (bytes > MAX_MODULE_BYTES) {
    throw new DbError('PARAMETER', `module ${fileName} is ${bytes} bytes; the limit is ${MAX_MODULE_BYTES} (1 MiB)`, {
      hint: 'split the module or move data out of it',
    });
  }
  if (typeof source === 'string') return source;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(source);
  } catch {
    throw new DbError('PARAMETER', `module ${fileName} is not valid UTF-8`, { hint: 'save the module as UTF-8 text' });
  }
}

export class ModuleRegistry {
  private readonly store: ModuleStore;
  private readonly validate: ModuleValidator;
  private readonly now: () => number;
  private readonly byFile = new Map<string, ModuleVersion>();
  private readonly listeners = new Set<ModuleListener>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: { store?: ModuleStore; validate: ModuleValidator; now?: () => number }) {
    this.store = opts.store ?? new MemoryModuleStore();
    this.validate = opts.validate;
    this.now = opts.now ?? Date.now;
  }

  /** Loads the modules the store holds. Returns the ones that no longer validate (they are skipped). */
  async open(): Promise<Array<{ fileName: string; error: DbError }>> {
    const failed: Array<{ fileName: string; error: DbError }> = [];
    for (const stored of await this.store.load()) {
      try {
        await this.install(stored);
      } catch (err) {
        failed.push({ fileName: stored.fileName, error: toCompileError(stored.fileName, err) });
      }
    }
    return failed;
  }

  onChange(listener: ModuleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and registers a module; replaces an existing one of the same file name atomically. */
  register(fileName: string, source: string | Uint8Array): Promise<ModuleVersion> {
    return this.serial(async () => {
      const parsed = parseModuleName(fileName);
      const text = decodeSource(fileName, source);
      const version = await this.prepare({ fileName, type: parsed.type, source: text, hash: hashSource(text), registeredAtMs: this.now() });
      await this.store.put(this.stored(version));
      this.swap(version);
      return version;
    });
  }

  /** Installs a module received from system metadata (validated again; not written back). */
  install(stored: StoredModule): Promise<ModuleVersion> {
    return this.serial(async () => {
      const version = await this.prepare(stored);
      this.swap(version);
      return version;
    });
  }

  /** Removes a module; throws when it is not registered. */
  remove(fileName: string): Promise<void> {
    return this.serial(async () => {
      const current = this.get(fileName);
      if (current === undefined) {
        throw new DbError('UDF', `module ${fileName} is not registered`, { hint: 'SHOW MODULES lists the registered modules' });
      }
      await this.store.remove(current.fileName);
      this.byFile.delete(current.fileName);
      for (const l of this.listeners) l(current.fileName, undefined, current);
    });
  }

  /** Drops a module another node removed (already gone from system metadata; nothing written). */
  forget(fileName: string): Promise<void> {
    return this.serial(async () => {
      const current = this.byFile.get(fileName);
      if (current === undefined) return;
      this.byFile.delete(fileName);
      for (const l of this.listeners) l(fileName, undefined, current);
    });
  }

  /** A module by file name (`bank.js`) or package name (`bank`). */
  get(name: string): ModuleVersion | undefined {
    const exact = this.byFile.get(name);
    if (exact !== undefined) return exact;
    const pkg = packageOf(name);
    for (const v of this.byFile.values()) if (v.packageName === pkg) return v;
    return undefined;
  }

  /** Like get, but throws a UDF error naming the module when it is missing. */
  require(name: string): ModuleVersion {
    const v = this.get(name);
    if (v === undefined) {
      throw new DbError('UDF', `UDF module '${name}' is not registered`, { hint: 'register it with REGISTER MODULE, or check the name with SHOW MODULES' });
    }
    return v;
  }

  list(): ModuleVersion[] {
    return [...this.byFile.values()].sort((a, b) => (a.fileName < b.fileName ? -1 : 1));
  }

  private stored(v: ModuleVersion): StoredModule {
    return { fileName: v.fileName, type: v.type, source: v.source, hash: v.hash, registeredAtMs: v.registeredAtMs };
  }

  private async prepare(stored: StoredModule): Promise<ModuleVersion> {
    const parsed = parseModuleName(stored.fileName);
    const clash = this.list().find((m) => m.packageName === parsed.packageName && m.fileName !== stored.fileName);
    if (clash !== undefined) {
      throw new DbError('PARAMETER', `module ${stored.fileName} would have the same package name '${parsed.packageName}' as ${clash.fileName}`, {
        hint: `remove ${clash.fileName} first, or choose another name`,
      });
    }
    if (stored.hash !== hashSource(stored.source)) {
      throw new DbError('UDF', `module ${stored.fileName}: stored hash does not match its source`, { hint: 'register the module again' });
    }
    const code = parsed.type === 'ts' ? stripTypes(stored.fileName, stored.source) : stored.source;
    let functions: readonly string[];
    try {
      functions = await this.validate({ fileName: stored.fileName, packageName: parsed.packageName, code });
    } catch (err) {
      throw toCompileError(stored.fileName, err);
    }
    if (functions.length === 0) {
      throw new DbError('UDF', `module ${stored.fileName} exports no functions`, { hint: 'export the UDFs: export function name(rec, ...args) { … }' });
    }
    return { ...stored, packageName: parsed.packageName, code, functions };
  }

  private swap(version: ModuleVersion): void {
    const previous = this.byFile.get(version.fileName);
    this.byFile.set(version.fileName, version);
    for (const l of this.listeners) l(version.fileName, version, previous);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
