/**
 * A rate limit on records and bytes per second, shared by a tool's parallel workers: each
 * caller waits until what has passed so far fits under both limits since the start.
 */
export class Throttle {
  private readonly recordsPerSecond: number;
  private readonly bytesPerSecond: number;
  private readonly startMs = Date.now();
  private records = 0;
  private bytes = 0;

  constructor(limits: { readonly recordsPerSecond?: number; readonly bytesPerSecond?: number }) {
    this.recordsPerSecond = limits.recordsPerSecond ?? 0;
    this.bytesPerSecond = limits.bytesPerSecond ?? 0;
  }

  get active(): boolean {
    return this.recordsPerSecond > 0 || this.bytesPerSecond > 0;
  }

  /** Counts `records` and `bytes`, then waits as long as the limits require. */
  async take(records: number, bytes: number, signal?: AbortSignal): Promise<void> {
    if (!this.active) return;
    this.records += records;
    this.bytes += bytes;
    const dueMs = Math.max(
      this.recordsPerSecond > 0 ? (this.records / this.recordsPerSecond) * 1000 : 0,
      this.bytesPerSecond > 0 ? (this.bytes / this.bytesPerSecond) * 1000 : 0,
    );
    const waitMs = this.startMs + dueMs - Date.now();
    if (waitMs > 1 && signal?.aborted !== true) await new Promise((r) => setTimeout(r, waitMs));
  }
}
