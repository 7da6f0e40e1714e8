/**
 * The messages between the node and its UDF host child process (sandbox-host.ts ↔
 * sandbox-host-child.ts), over Node's IPC channel. Requests carry an `id` the reply repeats;
 * sandboxes living in the child are named by `sid`. Only strings and plain data cross: the UDF
 * request and response JSON are passed through untouched.
 */
import { DbError, type ResultCodeName } from '../errors/index.ts';
import { UdfError, type UdfErrorLocation } from './errors.ts';
import type { SandboxModule } from './sandbox.ts';

export type HostRequest =
  | { readonly t: 'create'; readonly id: number; readonly module: SandboxModule; readonly memoryLimitMb: number; readonly loadTimeoutMs: number }
  | { readonly t: 'call'; readonly id: number; readonly sid: number; readonly req: string; readonly timeoutMs: number; readonly what: string }
  | { readonly t: 'dispose'; readonly sid: number };

/** An error as it crosses the process boundary. */
export type WireError =
  | { readonly kind: 'udf'; readonly udfCode: number; readonly message: string; readonly hint?: string; readonly location: UdfErrorLocation; readonly logs: readonly string[] }
  | { readonly kind: 'db'; readonly code: ResultCodeName; readonly resultCode: number; readonly message: string; readonly hint?: string }
  | { readonly kind: 'error'; readonly name: string; readonly message: string; readonly stack: string };

/** `heap`: the sandbox's isolate heap in bytes, or -1 when not sampled this time (unchanged). */
export type HostReply =
  | { readonly t: 'ready'; readonly pid: number }
  | { readonly t: 'created'; readonly id: number; readonly sid: number; readonly functions: readonly string[]; readonly heap: number }
  | { readonly t: 'result'; readonly id: number; readonly out: string; readonly heap: number }
  | { readonly t: 'error'; readonly id: number; readonly error: WireError; readonly healthy: boolean; readonly heap: number };

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
