import type { NodeId } from './context.ts';

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

export interface RetransmitStrategy {
  /** Milliseconds to wait before the next resend, or null to give up (the message fails with TIMEOUT). */
  nextDelayMs(state: RetransmitState): number | null;
  /** Called when a resend is actually sent, so rate-limiting strategies can account for it. */
  onResend?(state: RetransmitState): void;
}
