/**
 * Records every write a test makes against a cluster — acknowledged (with the version the
 * server answered) or in doubt (TIMEOUT, or a connection lost after sending) — and judges what
 * the cluster returns afterwards: a key must read as its last acknowledged value, or as a value
 * written after it that was in doubt. For keys written on both sides of a split the expected
 * value is the acknowledged version that wins by the namespace's conflict resolution.
 */
import { compareVersions, type ConflictResolution } from '../../core/replication/conflict.ts';

export interface AckedVersion {
  readonly value: bigint;
  readonly generation: number;
  readonly lastUpdateMs: number;
  readonly side: string;
}

export class AckChecker {
  /** key → every acknowledged version, in acknowledgement order. */
  readonly acked = new Map<string, AckedVersion[]>();
  /** key → values in doubt since its last acknowledged write. */
  readonly doubt = new Map<string, Set<bigint>>();
  /** key → every value ever in doubt (under a conflict rule, one may still win later). */
  readonly everDoubt = new Map<string, Set<bigint>>();
  /** key → values whose write was reported failed and not in doubt (must never be read). */
  readonly refused = new Map<string, Set<bigint>>();
  /** key → the writes that failed (value, when, in doubt, the error), for a problem's report. */
  readonly failures = new Map<string, Array<{ value: bigint; at: number; inDoubt: boolean; error: string }>>();
  failed = 0;
  inDoubt = 0;
  /** Acknowledgement times (ms), for gaps in service. */
  readonly ackTimes: number[] = [];

  ack(key: string, v: AckedVersion): void {
    let l = this.acked.get(key);
    if (l === undefined) this.acked.set(key, l = []);
    l.push(v);
    this.doubt.delete(key);
    this.ackTimes.push(Date.now());
  }

  fail(key: string, value: bigint, inDoubt: boolean, error = ''): void {
    this.failed++;
    let f = this.failures.get(key);
    if (f === undefined) this.failures.set(key, f = []);
    f.push({ value, at: Date.now(), inDoubt, error: error.slice(0, 200) });
    const add = (m: Map<string, Set<bigint>>): void => {
      let s = m.get(key);
      if (s === undefined) m.set(key, s = new Set());
      s.add(value);
    };
    if (!inDoubt) {
      add(this.refused);
      return;
    }
    this.inDoubt++;
    add(this.doubt);
    add(this.everDoubt);
  }

  /** The value a key must read as: the last acknowledged one (single writer), or the winner by `rule` over all acknowledged versions. */
  expected(key: string, rule?: ConflictResolution): bigint | undefined {
    const l = this.acked.get(key);
    if (l === undefined || l.length === 0) return undefined;
    if (rule === undefined) return (l[l.length - 1] as AckedVersion).value;
    return l.reduce((best, v) => (compareVersions(v, best, rule) > 0 ? v : best)).value;
  }

  /** A problem with what a node returned for a key, or undefined when it is allowed. */
  judge(key: string, got: bigint | undefined, rule?: ConflictResolution): string | undefined {
    const want = this.expected(key, rule);
    if (got === want) return undefined;
    if (got !== undefined && this.doubt.get(key)?.has(got) === true) return undefined;
    // by a conflict rule, a version in doubt (its meta unknown) may win over acknowledged ones
    if (got !== undefined && rule !== undefined && this.everDoubt.get(key)?.has(got) === true) return undefined;
    const refused = got !== undefined && this.refused.get(key)?.has(got) === true ? ' (a write reported failed, not in doubt, was applied)' : '';
    const failures = (this.failures.get(key) ?? []).map((f) => `${f.value} at ${f.at}${f.inDoubt ? ' in doubt' : ''}: ${f.error}`);
    return `key ${key}: read ${got ?? 'nothing'}${refused}, expected ${want ?? 'nothing'}${this.doubt.has(key) ? ` or one of ${[...(this.doubt.get(key) ?? [])].join('/')} (in doubt)` : ''}; acknowledged ${JSON.stringify((this.acked.get(key) ?? []).map((v) => ({ ...v, value: String(v.value) })))}${failures.length > 0 ? `; failed writes: ${failures.join(' | ')}` : ''}`;
  }

  /** Longest time (ms) without an acknowledged write between `from` and `to`. */
  longestGap(from: number, to: number): number {
    const ts = [from, ...this.ackTimes.filter((t) => t > from && t < to), to].sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < ts.length; i++) gap = Math.max(gap, (ts[i] as number) - (ts[i - 1] as number));
    return gap;
  }
}
