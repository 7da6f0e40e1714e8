/**
 * The test command itself (scripts/run-tests.ts): its summary line, the CI rule that every
 * interop test must have run, and what it reports when the interop tests' system packages
 * cannot be had.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInteropPrerequisites, needsInteropPrerequisites } from '../../scripts/interop-prerequisites.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNER = join(ROOT, 'scripts/run-tests.ts');
const FIXTURES = join(ROOT, 'test/fixtures/runner/interop');

function runTests(args: string[], env: Record<string, string>): { code: number | null; lastLine: string; output: string } {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', RUNNER, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  const output = `${r.stdout}${r.stderr}`;
  const lines = r.stdout.trim().split('\n');
  return { code: r.status, lastLine: lines.at(-1) ?? '', output };
}

describe('scripts/run-tests (npm test)', function () {
  this.timeout(300_000);

  it('ends with "N passed, N failed" and succeeds when an interop test runs and passes, in CI too', () => {
    const r = runTests([join(FIXTURES, 'passing.test.ts')], { CI: 'true' });
    assert.equal(r.lastLine, '1 passed, 0 failed', r.output);
    assert.equal(r.code, 0, r.output);
  });

  it('with CI=true, fails the run when an interop test did not run', () => {
    const local = runTests([join(FIXTURES, 'skipped.test.ts')], { CI: '' });
    assert.equal(local.code, 0, local.output);
    assert.match(local.lastLine, /^0 passed, 0 failed, 1 skipped$/);
    const ci = runTests([join(FIXTURES, 'skipped.test.ts')], { CI: 'true' });
    assert.equal(ci.code, 1, ci.output);
    assert.match(ci.output, /CI: 1 interop test\(s\) did not pass:\n {2}- runner fixture: an interop test that cannot run skips itself/);
    assert.match(ci.lastLine, /^0 passed, 0 failed/);
  });

  it('knows which runs need the interop system packages', () => {
    assert.equal(needsInteropPrerequisites(ROOT, [join(ROOT, 'test/interop/go.test.ts')]), true);
    assert.equal(needsInteropPrerequisites(ROOT, [join(ROOT, 'test/interop/python.test.ts'), join(ROOT, 'test/model/key.test.ts')]), true);
    assert.equal(needsInteropPrerequisites(ROOT, [join(ROOT, 'test/interop/reflection.test.ts')]), false);
  });

  describe('interop prerequisites', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'slipstream-prereq-'));
      mkdirSync(join(dir, '.ci'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const script = (body: string): void => {
      writeFileSync(join(dir, '.ci/system-packages'), `#!/usr/bin/env bash\n${body}\n`);
      chmodSync(join(dir, '.ci/system-packages'), 0o755);
    };

    it('are ready when .ci/system-packages succeeds, and say what it did', () => {
      script('echo "system packages: all 10 installed"');
      const r = ensureInteropPrerequisites(dir);
      assert.deepEqual(r, { ready: true, message: 'system packages: all 10 installed' });
    });

    it('are not ready when they cannot be installed, with the reason for the summary line', () => {
      script('echo "system packages: installing golang-go"\necho "system packages: not root; install them with: apt-get install golang-go" >&2\nexit 1');
      const r = ensureInteropPrerequisites(dir);
      assert.equal(r.ready, false);
      assert.equal(r.message, 'system packages: not root; install them with: apt-get install golang-go');
    });

    it('are not ready when the install script is missing', () => {
      const r = ensureInteropPrerequisites(join(dir, 'nowhere'));
      assert.equal(r.ready, false);
      assert.match(r.message, /system-packages is missing/);
    });
  });
});
