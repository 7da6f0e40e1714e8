/**
 * Regenerates the TypeScript for proto/ with buf + ts-proto into core/wire/generated.
 * With --check, generates into a temporary folder and fails when anything differs from
 * what is committed (generated code is checked in and must match its protos).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const target = join(root, 'core/wire/generated');
const check = process.argv.includes('--check');
const buf = join(root, 'node_modules/.bin/buf');

function files(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p, base) : [relative(base, p)];
  }).sort();
}

execFileSync(buf, ['lint'], { cwd: root, stdio: 'inherit' });
const out = check ? mkdtempSync(join(tmpdir(), 'slipstream-proto-')) : target;
if (!check) rmSync(target, { recursive: true, force: true });
const template = readFileSync(join(root, 'buf.gen.yaml'), 'utf8').replace('out: core/wire/generated', `out: ${out}`);
const templatePath = join(check ? out : tmpdir(), `buf.gen.${process.pid}.yaml`);
writeFileSync(templatePath, template);
try {
  execFileSync(buf, ['generate', '--template', templatePath], { cwd: root, stdio: 'inherit' });
} finally {
  rmSync(templatePath, { force: true });
}
if (check) {
  const want = files(out);
  const have = files(target);
  const diffs: string[] = [];
  for (const f of new Set([...want, ...have])) {
    const a = existsSync(join(out, f)) ? readFileSync(join(out, f), 'utf8') : undefined;
    const b = existsSync(join(target, f)) ? readFileSync(join(target, f), 'utf8') : undefined;
    if (a !== b) diffs.push(f);
  }
  rmSync(out, { recursive: true, force: true });
  if (diffs.length > 0) {
    console.error(`generated code differs from proto/ in: ${diffs.join(', ')}\nrun: npm run proto:gen`);
    process.exit(1);
  }
  console.log(`generated code matches proto/ (${want.length} files)`);
}
