import type { NodeId } from './context.ts';
import type { PluginHealth } from './lifecycle.ts';

export type FabricMessageKind = 'replica-write' | 'migration' | 'xdr' | 'proxy' | 'control';

/** What the kernel knows about an unacknowledged message when it asks whether to resend. */
export interface RetransmitState {
  /** 1 for the first resend. */
  readonly attempt: number;
  /** Milliseconds since the first send. */
  readonly elapsedMs: number;
  /** Milliseconds after the first send when the sender stops waiting. */
  readonly deadlineMs: number;
  readonly peer: NodeId;
  readonly kind: FabricMessageKind;
  readonly bytes: number;
}

/**
 * Decides when an unacknowledged fabric message is sent again. Guarantees (the retransmit kit
 * checks each): never a delay past the deadline, null once the deadline has passed, finitely
 * many resends, deterministic for the same clock and inputs, and the strategy's own caps
 * (attempts, rates) respected. Called on the fabric's hot path: keep it O(1), no I/O. A throw is
 * counted as a plugin error and the message gives up (TIMEOUT).
 */
export interface RetransmitStrategy {
  /** Milliseconds to wait before the next resend, or null to give up (the message fails with TIMEOUT). */
  nextDelayMs(state: RetransmitState): number | null;
  /** Called when a resend is actually sent, so rate-limiting strategies can account for it. */
  onResend?(state: RetransmitState): void;
  /** Optional: how the strategy is doing (SHOW PLUGINS, admin API). */
  health?(): PluginHealth;
  /** Optional: called once when the node stops. */
  stop?(): void | Promise<void>;
}
