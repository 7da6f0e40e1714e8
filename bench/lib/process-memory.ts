/** A process's memory from /proc (Linux): the peak resident set (VmHWM) and the current one (VmRSS). */
import { readFileSync } from 'node:fs';

function field(pid: number, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`/proc/${pid}/status has no ${name}`);
  return Number(m[1]) * 1024;
}

export const peakRssBytes = (pid: number): number => field(pid, 'VmHWM');
export const rssBytes = (pid: number): number => field(pid, 'VmRSS');

/** Samples a process's resident memory every `everyMs` while `work` runs; returns the highest seen and the result. */
export async function sampleRss<T>(pid: number, work: () => Promise<T>, everyMs = 20): Promise<{ peakBytes: number; result: T }> {
  let peak = rssBytes(pid);
  const timer = setInterval(() => { try { peak = Math.max(peak, rssBytes(pid)); } catch { /* process gone */ } }, everyMs);
  try {
    const result = await work();
    peak = Math.max(peak, rssBytes(pid));
    return { peakBytes: peak, result };
  } finally {
    clearInterval(timer);
  }
}
