/**
 * Summarises a V8 .cpuprofile: the functions with the most self time and the most inclusive
 * time, as shares of the sampled time, optionally only over the last `windowSeconds` before
 * the profile ended (to leave out start-up and loading).
 */
import { readFileSync } from 'node:fs';

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
interface CpuProfile { readonly nodes: readonly ProfileNode[]; readonly startTime: number; readonly samples: readonly number[]; readonly timeDeltas: readonly number[] }

export function cpuProfileTop(file: string, options: { windowSeconds?: number; top?: number } = {}): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  const times: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) times.push(t += d);
  const end = t;
  const from = options.windowSeconds === undefined ? -Infinity : end - options.windowSeconds * 1e6;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    if ((times[i] as number) < from) return;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const leaf = byId.get(id) as ProfileNode;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = label(byId.get(cur) as ProfileNode);
      if (!seen.has(name)) { seen.add(name); incl.set(name, (incl.get(name) ?? 0) + dt); }
    }
  });
  const list = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, options.top ?? 40)
    .map(([n, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${n}`).join('\n');
  return `${(total / 1000).toFixed(0)} ms sampled\n\nself time\n${list(self)}\n\ninclusive time\n${list(incl)}`;
}

/** A named part of the call path and the script URLs that belong to it (first match wins). */
export interface CpuCategory {
  readonly name: string;
  readonly match: RegExp;
}

/**
 * Where a process's CPU went, by part of the call path: each sample is charged to the category
 * of its leaf frame's script, or — for a native frame with no script (a builtin, a C++ binding)
 * — of the nearest caller that has one. Garbage collection and V8's own work ("(program)") are
 * their own rows; idle samples are left out. Times are ms over the last `windowSeconds`.
 */
export function cpuProfileByCategory(file: string, categories: readonly CpuCategory[], options: { windowSeconds?: number } = {}): { totalMs: number; rows: Array<{ name: string; ms: number }> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = categoryOf.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id) as ProfileNode;
    const fn = n.callFrame.functionName;
    let c: string;
    if (fn === '(idle)') c = '(idle)';
    else if (fn === '(garbage collector)') c = 'garbage collection';
    else if (fn === '(program)' || fn === '(root)') c = 'V8 / runtime (program)';
    else if (n.callFrame.url === '') {
      const up = parent.get(id);
      c = up === undefined || (byId.get(up) as ProfileNode).callFrame.functionName === '(root)' ? 'V8 / runtime (program)' : classify(up);
    } else c = categories.find((k) => k.match.test(n.callFrame.url))?.name ?? 'other';
    categoryOf.set(id, c);
    return c;
  };
  let t = p.startTime;
  const times: number[] = [];
  for (const d of p.timeDeltas) times.push(t += d);
  const from = options.windowSeconds === undefined ? -Infinity : t - options.windowSeconds * 1e6;
  const ms = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    if ((times[i] as number) < from) return;
    const c = classify(id);
    if (c === '(idle)') return;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    ms.set(c, (ms.get(c) ?? 0) + dt);
  });
  return { totalMs: total, rows: [...ms].map(([name, v]) => ({ name, ms: v })).sort((a, b) => b.ms - a.ms) };
}
