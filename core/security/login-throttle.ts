/**
 * Slows down repeated failed logins from one address: the first few failures are answered
 * at once, then each further failure waits twice as long as the one before (up to a cap)
 * before it is answered. A success, or a quiet period, forgets the address.
 */
export interface LoginThrottleOptions {
  /** Failures answered without delay. */
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** An address with no failure for this long starts afresh. */
  readonly forgetAfterMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 5000, forgetAfterMs: 10 * 60_000 };

interface Entry { failures: number; lastMs: number }

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly options: LoginThrottleOptions;

  constructor(options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {
    this.options = options;
  }

  /** Records a failure and returns how long to wait before answering it, ms. */
  failed(address: string, nowMs: number): number {
    const e = this.entries.get(address);
    const entry = e === undefined || nowMs - e.lastMs > this.options.forgetAfterMs ? { failures: 0, lastMs: nowMs } : e;
    entry.failures++;
    entry.lastMs = nowMs;
    this.entries.set(address, entry);
    if (this.entries.size > 100_000) this.prune(nowMs);
    const over = entry.failures - this.options.freeFailures;
    return over <= 0 ? 0 : Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (over - 1));
  }

  succeeded(address: string): void {
    this.entries.delete(address);
  }

  failures(address: string): number {
    return this.entries.get(address)?.failures ?? 0;
  }

  private prune(nowMs: number): void {
    for (const [k, e] of this.entries) if (nowMs - e.lastMs > this.options.forgetAfterMs) this.entries.delete(k);
  }
}
