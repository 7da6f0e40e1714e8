/**
 * The node's live configuration as the protocol front ends see it (AdminService's
 * GetConfig/SetConfig, AQL's SHOW CONFIG / SET CONFIG); the node provides it.
 */
export interface ConfigControl {
  /** The effective configuration as a JSON object. */
  current(): Record<string, unknown>;
  /** Settings `set` accepts; `<ns>` stands for a namespace name. */
  readonly dynamicSettings: readonly string[];
  /** Validates every change as at start-up, then applies them all; returns what changed. */
  set(changes: ReadonlyArray<{ readonly name: string; readonly value: unknown }>): Array<{ name: string; from: unknown; to: unknown }>;
  /**
   * Adds a check that a configuration section (e.g. `udf`, `cluster`) must pass, with the changes
   * in it, before any change is applied: a subsystem's own rules, as at start-up. Returns the removal.
   */
  check(section: string, check: (section: unknown) => void): () => void;
  /** Calls `listener` after each applied change set (the audit trail records them); returns the unsubscribe. */
  watch(listener: (applied: ReadonlyArray<{ readonly name: string; readonly from: unknown; readonly to: unknown }>) => void): () => void;
}
