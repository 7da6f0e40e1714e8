/** CPU time processes have used, from /proc (Linux): the one place the benches parse it. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export interface CpuOptions {
  /** Only system (kernel) time, not user time. */
  readonly system?: boolean;
  /** Add the process's live descendants (e.g. a node's UDF host process), walked through /proc/<pid>/task/<tid>/children. */
  readonly descendants?: boolean;
  /**
   * Instead of the process's own time: that of its children it has waited for (cutime + cstime),
   * e.g. what a finished redis-benchmark run cost (only meaningful with `pid` = 'self').
   */
  readonly waited?: boolean;
}

/** The stat fields after the command name (field 2 may hold spaces and parentheses: count after its last ')'). */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The pids of a process's children (all its threads'), empty when it is gone. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (child !== '') out.push(Number(child));
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/**
 * Microseconds of CPU (utime + stime, or stime alone with `system`) process `pid` has used so far;
 * with `descendants` its live descendants' too (a descendant gone meanwhile counts 0).
 */
export function cpuMicros(pid: number | 'self', options: CpuOptions = {}): number {
  const f = statFields(pid);
  // utime, stime are fields 14 and 15 of stat; cutime, cstime 16 and 17 (here 11–14)
  const at = options.waited === true ? 13 : 11;
  const ticks = (options.system === true ? 0 : Number(f[at])) + Number(f[at + 1]);
  let us = (ticks * 1e6) / clockTicks();
  if (options.descendants === true && pid !== 'self') {
    for (const child of childPids(pid)) {
      try {
        us += cpuMicros(child, options);
      } catch {
        // gone meanwhile
      }
    }
  }
  return us;
}

/** Microseconds of CPU this process has used so far (every thread, native ones too). */
export function ownCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
