/**
 * One sandbox: an isolated-vm isolate with one context, the trusted runtime
 * (sandbox-runtime.js) and one user module loaded. The host talks to it through exactly one
 * function, `call(requestJson) → responseJson`: only strings cross the boundary, so no
 * Reference, ExternalCopy or host object ever reaches user code, and no cached code or snapshot
 * from users is accepted. Calls are asynchronous isolated-vm calls, so they run on isolated-vm's
 * threads, off the main event loop, with a time limit; the isolate has a memory limit.
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import { DbError } from '../errors/index.ts';
import { udfMemory, udfTimeout } from './errors.ts';

const RUNTIME_SOURCE = readFileSync(new URL('./sandbox-runtime.js', import.meta.url), 'utf8');

/** What a sandbox needs to know about the module it runs. */
export interface SandboxModule {
  readonly fileName: string;
  readonly packageName: string;
  /** JavaScript (TypeScript already stripped of types). */
  readonly code: string;
}

export interface SandboxOptions {
  /** Isolate heap limit in MiB (isolated-vm minimum 8). */
  readonly memoryLimitMb: number;
  /** Time limit for loading the module (its top-level code), ms. */
  readonly loadTimeoutMs: number;
  /** Called when isolated-vm reports a catastrophic error; the process state is then undefined. */
  readonly onCatastrophicError?: (message: string) => void;
}

/**
 * What the pool and the engine use of a sandbox. `Sandbox` (below) is the real one, an isolate in
 * this process; `RemoteSandbox` (sandbox-host.ts) is a proxy for a `Sandbox` living in the UDF
 * host child process. Only strings cross either boundary.
 */
export interface UdfSandbox {
  readonly module: SandboxModule;
  /** Exported function names, read once at load. */
  readonly functions: readonly string[];
  /** False once the sandbox died, hit a limit or timed out; it is then disposed, never reused. */
  readonly healthy: boolean;
  /** Calls made so far (the pool recycles a sandbox after `maxCalls`). */
  readonly calls: number;
  call(requestJson: string, timeoutMs: number, what: string): Promise<string>;
  /** Heap in use, bytes (for a remote sandbox: as of its last response). */
  heapUsed(): number;
  dispose(): void;
}

/** Makes a sandbox for a module: in this process, or in the UDF host process. */
export type SandboxFactory = (module: SandboxModule, opts: SandboxOptions) => Promise<UdfSandbox>;

type DispatchFn = (json: string) => string;

function defaultCatastrophe(message: string): void {
  // isolated-vm's advice: after a catastrophic error the process cannot be trusted any more.
  process.stderr.write(`slipstream: isolated-vm catastrophic error: ${message}; aborting\n`);
  process.abort();
}

export class Sandbox implements UdfSandbox {
  readonly module: SandboxModule;
  readonly memoryLimitMb: number;
  private readonly isolate: ivm.Isolate;
  private readonly context: ivm.Context;
  private readonly dispatchRef: ivm.Reference<DispatchFn>;
  /** Exported function names, read once at load. */
  readonly functions: readonly string[];
  private broken = false;
  calls = 0;

  private constructor(module: SandboxModule, memoryLimitMb: number, isolate: ivm.Isolate, context: ivm.Context, dispatchRef: ivm.Reference<DispatchFn>, functions: string[]) {
    this.module = module;
    this.memoryLimitMb = memoryLimitMb;
    this.isolate = isolate;
    this.context = context;
    this.dispatchRef = dispatchRef;
    this.functions = functions;
  }

  /** Creates an isolate and loads the module; throws the module's compile or load error as is. */
  static async create(module: SandboxModule, opts: SandboxOptions): Promise<Sandbox> {
    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(8, opts.memoryLimitMb),
      onCatastrophicError: opts.onCatastrophicError ?? defaultCatastrophe,
    });
    try {
      const context = await isolate.createContext();
      const runtime = await isolate.compileScript(RUNTIME_SOURCE, { filename: 'slipstream:runtime.js' });
      const api = (await runtime.run(context, { reference: true, timeout: opts.loadTimeoutMs })) as ivm.Reference<Record<string, unknown>>;
      runtime.release();
      const install = (await api.get('install', { reference: true })) as ivm.Reference<(ns: unknown, name: string) => void>;
      const dispatch = (await api.get('dispatch', { reference: true })) as ivm.Reference<DispatchFn>;
      const exported = (await api.get('exportedFunctions', { reference: true })) as ivm.Reference<() => string>;
      api.release();
      const mod = await isolate.compileModule(module.code, { filename: module.fileName });
      await mod.instantiate(context, (specifier) => {
        throw new Error(`imports are not allowed in UDF modules (found import of '${specifier}'); put everything the module needs in the one file`);
      });
      await mod.evaluate({ timeout: opts.loadTimeoutMs });
      await install.apply(undefined, [mod.namespace.derefInto(), module.packageName], { timeout: opts.loadTimeoutMs });
      install.release();
      const names = JSON.parse((await exported.apply(undefined, [], { timeout: opts.loadTimeoutMs })) as string) as string[];
      exported.release();
      return new Sandbox(module, opts.memoryLimitMb, isolate, context, dispatch, names);
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw err;
    }
  }

  /** False once the isolate died, hit a limit or timed out; such a sandbox is disposed, never reused. */
  get healthy(): boolean {
    return !this.broken && !this.isolate.isDisposed;
  }

  /**
   * Runs one request. Returns the guest's JSON response; throws DbError for timeouts, the memory
   * limit and a dead isolate (and marks the sandbox unhealthy).
   */
  async call(requestJson: string, timeoutMs: number, what: string): Promise<string> {
    if (!this.healthy) throw new DbError('UDF', `the sandbox for ${this.module.fileName} is gone`, { hint: 'retry the call' });
    this.calls++;
    try {
      const out = await this.dispatchRef.apply(undefined, [requestJson], { timeout: Math.max(1, Math.ceil(timeoutMs)) });
      if (typeof out !== 'string') throw new DbError('UDF', `the sandbox returned ${typeof out} instead of a response`);
      return out;
    } catch (err) {
      if (err instanceof DbError) throw err;
      this.broken = true;
      const message = err instanceof Error ? err.message : String(err);
      if (/timed out/i.test(message)) throw udfTimeout(what, timeoutMs);
      if (/memory limit/i.test(message) || this.isolate.isDisposed) throw udfMemory(what, this.memoryLimitMb);
      if (/^Not supported/.test(message)) {
        throw new DbError('UDF', `UDF error in ${what}: dynamic import() is not supported in UDF modules`, { hint: 'remove import() calls; UDFs cannot load code' });
      }
      throw new DbError('UDF', `UDF error in ${what}: ${message}`, { hint: 'retry; the sandbox was replaced' });
    }
  }

  /** Heap in use, bytes. */
  heapUsed(): number {
    if (this.isolate.isDisposed) return 0;
    const s = this.isolate.getHeapStatisticsSync();
    return s.used_heap_size + s.externally_allocated_size;
  }

  dispose(): void {
    this.broken = true;
    try {
      this.dispatchRef.release();
      this.context.release();
    } catch {
      // already gone with the isolate
    }
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }
}
