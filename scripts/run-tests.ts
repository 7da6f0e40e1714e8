/**
 * Runs the mocha suite and ends with the line `N passed, N failed`.
 * Usage: npm test [-- <file or folder>...] [--grep <pattern>]
 */
import Mocha from 'mocha';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

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

const mocha = new Mocha({ reporter: 'spec', timeout: 30_000, ...(grep === undefined ? {} : { grep }) });
for (const f of files) mocha.addFile(f);
await mocha.loadFilesAsync();
const started = Date.now();
const runner = mocha.run((failures) => {
  const stats = runner.stats;
  const passed = stats?.passes ?? 0;
  const pending = stats?.pending ?? 0;
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failures} failed${pending > 0 ? `, ${pending} skipped` : ''}`);
  process.exitCode = failures > 0 ? 1 : 0;
  // Leftover handles (a stray timer in a failed test) must not keep CI waiting.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
});
