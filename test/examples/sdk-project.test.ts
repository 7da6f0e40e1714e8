/**
 * The SDK surface as an outside project sees it: the plugin template, copied to a folder of its
 * own with Slipstream as its `slipstream` dependency, type-checks with tsc, runs under Node (type
 * stripping) importing `slipstream/plugin-api`, `slipstream/client` and `slipstream/testing` by
 * name, and passes its conformance kit with mocha.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output: out })));
}

describe('SDK: an out-of-tree project imports slipstream/* by name', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'slip-sdk-'));
    cpSync(join(ROOT, 'examples/plugins/template'), dir, { recursive: true });
    // as `npm install --save-dev <path to slipstream>` leaves it: a link to the package
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules/slipstream'), 'dir');
    symlinkSync(join(ROOT, 'node_modules/@types'), join(dir, 'node_modules/@types'), 'dir');
    writeFileSync(join(dir, 'app.ts'), `
import { PLUGIN_API_VERSION, Type, checkSchema } from 'slipstream/plugin-api';
import { SlipstreamClient, DbError } from 'slipstream/client';
import { createRetransmit } from 'slipstream/testing';
import myStrategy from './index.ts';

const strategy = createRetransmit(myStrategy(), { intervalMs: 300 });
const delay: number | null = strategy.nextDelayMs({ attempt: 1, elapsedMs: 0, deadlineMs: 1000, peer: 2n, kind: 'control', bytes: 10 });
checkSchema(Type.Object({ n: Type.Integer() }), { n: 1 }, 'app');
const connect: typeof SlipstreamClient.connect = SlipstreamClient.connect;
console.log(JSON.stringify({ api: PLUGIN_API_VERSION, delay, client: typeof connect, error: new DbError('PARAMETER', 'x').resultCode }));
`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks with tsc', async () => {
    const r = await run([join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', '.'], dir);
    assert.equal(r.code, 0, r.output);
  });

  it('runs under Node, importing by name', async () => {
    const r = await run(['app.ts'], dir);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(JSON.parse(r.output.trim()), { api: 2, delay: 300, client: 'function', error: 4 });
  });

  it('passes its conformance kit with mocha', async () => {
    const r = await run([join(ROOT, 'node_modules/mocha/bin/mocha.js'), 'kit.test.ts'], dir);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /retransmit strategy kit: retransmit-my-strategy/);
    assert.match(r.output, /\d+ passing/);
    assert.doesNotMatch(r.output, /failing/);
  });
});
