/**
 * What the Go and Python interoperability tests (test/interop) need from the system: Debian's
 * Go toolchain, grpc-go, protoc and its Go/Python plugins, grpcio. `npm test` calls
 * `ensureInteropPrerequisites` before a run that includes those tests: it runs
 * `.ci/system-packages` (quick when everything is installed; installs with apt-get when run as
 * root on Debian) and reports what could not be had, so the summary line can say so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Test files that need the system packages. */
export const INTEROP_FILES: readonly string[] = ['test/interop/go.test.ts', 'test/interop/python.test.ts'];

export interface PrerequisiteOutcome {
  /** True when the packages are present (already, or installed now). */
  readonly ready: boolean;
  /** What happened, one line (for the log and, when not ready, the summary line). */
  readonly message: string;
}

/** True when any of the files (absolute) is an interop test that needs the system packages. */
export function needsInteropPrerequisites(root: string, files: readonly string[]): boolean {
  const wanted = new Set(INTEROP_FILES.map((f) => join(root, f)));
  return files.some((f) => wanted.has(f));
}

/**
 * Makes sure the interop tests' system packages are installed, as CI does: runs
 * .ci/system-packages (which installs them with apt-get when root, and says what to install
 * otherwise). Never throws: a machine without apt or root gets `ready: false` and the reason.
 */
export function ensureInteropPrerequisites(root: string): PrerequisiteOutcome {
  const script = join(root, '.ci/system-packages');
  if (!existsSync(script)) return { ready: false, message: `${script} is missing` };
  if (!existsSync('/usr/bin/dpkg-query')) return { ready: false, message: 'not a Debian system (no dpkg): install Go, protoc, protoc-gen-go(-grpc), grpc_python_plugin and python3-grpcio by hand' };
  const r = spawnSync(script, [], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  if (r.status === 0) return { ready: true, message: last };
  const why = r.error !== undefined ? r.error.message : lines.filter((l) => l.startsWith('system packages:')).at(-1) ?? last;
  return { ready: false, message: why };
}
