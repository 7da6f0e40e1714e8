/**
 * Runs the mocha suite and ends with the line `N passed, N failed`.
 * Usage: npm test [-- <file or folder>...] [--grep <pattern>]
 *
 * A run that includes the Go or Python interop tests first makes sure their Debian packages are
 * installed (.ci/system-packages, which installs them when run as root); when they cannot be
 * had, the summary line says why. With CI=true, an interop test that did not pass fails the run.
 */
import Mocha from 'mocha';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInteropPrerequisites, needsInteropPrerequisites, type PrerequisiteOutcome } from './interop-prerequisites.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function collect(path: string, out: string[]): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (name === 'node_modules' || name === 'fixtures') continue;
      collect(join(path, name), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(resolve(path));
  }
}

const args = process.argv.slice(2);
let grep: string | undefined;
const roots: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--grep') grep = args[++i];
  else roots.push(args[i] as string);
}
const files: string[] = [];
for (const root of roots.length > 0 ? roots : ['test']) collect(root, files);

let prerequisites: PrerequisiteOutcome | undefined;
if (needsInteropPrerequisites(ROOT, files)) {
  prerequisites = ensureInteropPrerequisites(ROOT);
  console.log(`interop prerequisites: ${prerequisites.ready ? '' : 'NOT AVAILABLE: '}${prerequisites.message}`);
}

const mocha = new Mocha({ reporter: 'spec', timeout: 30_000, ...(grep === undefined ? {} : { grep }) });
for (const f of files) mocha.addFile(f);
await mocha.loadFilesAsync();

/** Every interop test (a file in an `interop` folder) loaded for this run and selected by the grep, by full title. */
function interopTests(suite: Mocha.Suite, out: string[] = []): string[] {
  for (const t of suite.tests) {
    if (t.file !== undefined && t.file.split(sep).includes('interop') && (grep === undefined || new RegExp(grep).test(t.fullTitle()))) out.push(t.fullTitle());
  }
  for (const s of suite.suites) interopTests(s, out);
  return out;
}
const interop = interopTests(mocha.suite);
const interopPassed = new Set<string>();

const started = Date.now();
const runner = mocha.run((failures) => {
  const stats = runner.stats;
  const passed = stats?.passes ?? 0;
  const pending = stats?.pending ?? 0;
  const notRun = interop.filter((t) => !interopPassed.has(t));
  // CI must run the interop tests for real: one that did not pass (failed, skipped, or never
  // reached because its setup failed) fails the run even if mocha counted nothing.
  const ciFailure = process.env.CI === 'true' && notRun.length > 0;
  if (ciFailure) console.log(`\nCI: ${notRun.length} interop test(s) did not pass:\n${notRun.map((t) => `  - ${t}`).join('\n')}`);
  const unavailable = prerequisites !== undefined && !prerequisites.ready ? ` (interop prerequisites not available: ${prerequisites.message})` : '';
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failures} failed${pending > 0 ? `, ${pending} skipped` : ''}${unavailable}`);
  process.exitCode = failures > 0 || ciFailure ? 1 : 0;
  // Leftover handles (a stray timer in a failed test) must not keep CI waiting.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
});
runner.on('pass', (t) => interopPassed.add(t.fullTitle()));
