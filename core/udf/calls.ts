/** What a UDF call is, what a record UDF sees and returns, and the sandbox's JSON response. */
import type { BinValue, Bins, RecordKey, RecordMeta } from '../model/index.ts';
import type { GuestError } from './errors.ts';

export interface UdfCall {
  /** Module file name (`bank.js`) or package name (`bank`). */
  readonly module: string;
  readonly fn: string;
  readonly args?: readonly BinValue[];
  /** Time limit, ms; capped at the engine's maximum. */
  readonly timeoutMs?: number;
  /**
   * A record UDF only: when the function must have stopped (epoch ms), for a limit derived from
   * the caller's deadline; what is left of it when the call starts to run bounds the run
   * (CallOptions.runBy). This node's clock: not sent along when the call is forwarded.
   */
  readonly runBy?: number;
}

/** The record as the kernel holds it under the lock. */
export interface RecordView {
  readonly key: RecordKey;
  readonly exists: boolean;
  /** Current bins; empty when the record does not exist. */
  readonly bins: Bins;
  /** Present when the record exists. */
  readonly meta?: RecordMeta;
}

export type RecordEffect =
  | { readonly kind: 'none' }
  | { readonly kind: 'write'; readonly bins: Bins; readonly create: boolean; readonly ttl?: number }
  | { readonly kind: 'delete' };

export interface RecordUdfResult {
  readonly value: BinValue;
  readonly effect: RecordEffect;
  readonly logs: readonly string[];
}

export interface AggregationOptions {
  /** Sandboxes working on the partial phase at once (default: the pool size). */
  readonly parallelism?: number;
  readonly signal?: AbortSignal;
}

/** A sandbox's answer to one request (JSON). */
export interface GuestResponse {
  ok: boolean;
  error?: GuestError;
  logs?: string[];
  value?: unknown;
  values?: unknown[];
  effect?: { t: string; create?: boolean; bins?: unknown; ttl?: unknown };
}
