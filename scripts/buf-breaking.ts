/**
 * Breaking-change check of the protos against the last release, so that clients generated in
 * other languages do not break silently. The release is a buf image (descriptors without
 * comments, as JSON) committed at proto/releases/slipstream-v1.json; buf only reads .proto
 * files under proto/, so the snapshot does not take part in builds.
 *
 *   npm run proto:breaking                       check proto/ against the last release (FILE rules, from buf.yaml)
 *   npm run proto:breaking -- --release          record the protos committed at HEAD as the new release
 *   npm run proto:breaking -- --release --ref v1.2.0   … or those of another git ref
 *
 * test/interop/buf-breaking.test.ts runs the check in `npm test`, so CI fails on a breaking change.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RELEASE_IMAGE = join(ROOT, 'proto/releases/slipstream-v1.json');
const BUF = join(ROOT, 'node_modules/.bin/buf');

export interface BreakingResult {
  readonly ok: boolean;
  /** buf's findings, one per line ("path:line:col:message"), empty when ok. */
  readonly output: string;
}

/**
 * Runs `buf breaking` on a buf workspace folder (holding buf.yaml and proto/) against a release
 * image. ok is false when buf reports a breaking change or cannot run.
 */
export function bufBreaking(workspace = ROOT, against = RELEASE_IMAGE): BreakingResult {
  const r = spawnSync(BUF, ['breaking', '--against', against], { cwd: workspace, encoding: 'utf8' });
  if (r.error !== undefined) return { ok: false, output: `cannot run buf: ${r.error.message}` };
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The protos at a git ref as a release image (pretty JSON, no source info: comments may change freely). */
export function releaseImage(ref = 'HEAD'): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipstream-release-'));
  try {
    const tar = execFileSync('git', ['archive', ref, 'proto/slipstream', 'buf.yaml'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    const json = execFileSync(BUF, ['build', dir, '--exclude-source-info', '-o', '-#format=json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).toString();
    const image = JSON.parse(json) as { file: { name: string }[] };
    image.file.sort((a, b) => a.name.localeCompare(b.name));
    return `${JSON.stringify(image, null, 1)}\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const args = process.argv.slice(2);
  if (args.includes('--release')) {
    const i = args.indexOf('--ref');
    const ref = i >= 0 ? args[i + 1] ?? 'HEAD' : 'HEAD';
    const text = releaseImage(ref);
    writeFileSync(RELEASE_IMAGE, text);
    const files = (JSON.parse(text) as { file: { name: string }[] }).file.map((f) => f.name);
    console.log(`recorded the protos at ${ref} as the release: ${files.join(', ')}`);
  } else {
    readFileSync(RELEASE_IMAGE); // a clear ENOENT when the snapshot is missing
    const r = bufBreaking();
    if (!r.ok) {
      console.error(`breaking changes against the last release (proto/releases/slipstream-v1.json):\n${r.output}`);
      console.error('add instead of changing: new fields and methods, `reserved` for removed ones (see docs/api.md#compatibility)');
      process.exit(1);
    }
    console.log('no breaking changes against the last release');
  }
}
