/**
 * The interactive aql shell on a pseudo-terminal (util-linux `script`), against a real node:
 * prompt, tab completion from the grammar and the server's names, multi-line input with the
 * continuation prompt, Ctrl-C clearing the line without killing the shell, persistent history.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AQL_BIN, startTestNode, type TestNode } from './e2e-helpers.ts';

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('aql interactive shell on a pseudo-terminal', function () {
  this.timeout(30_000);
  let t: TestNode;
  before(async function () {
    if (!hasScript) this.skip();
    t = await startTestNode();
  });
  after(async () => { await t?.stop(); });

  it('prompts, completes, continues lines, survives Ctrl-C, keeps history, leaves on EXIT', async () => {
    const history = join(t.dir, 'history');
    const child: ChildProcess = spawn('script', ['-q', '-c', `node ${AQL_BIN} -p ${t.node.port}`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, AQL_HISTORY: history, NO_COLOR: '1' },
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let from = 0;
    const waitFor = async (re: RegExp, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const m = re.exec(out.slice(from));
        if (m) { from += m.index + m[0].length; return; }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 30));
      }
    };
    const type = async (text: string): Promise<void> => {
      child.stdin?.write(text);
      await new Promise((r) => setTimeout(r, 150));
    };
    try {
      await waitFor(/aql> /, 'the prompt');
      await type("insert into test.i (PK, abin) values ('k', 1)\r");
      await waitFor(/OK, 1 record affected\./, 'the insert');
      await waitFor(/aql> /, 'the prompt');
      await type('show namesp');
      await type('\t');
      await waitFor(/show namespaces/, 'completion of a keyword the grammar expects');
      await type('\r');
      await waitFor(/"users"/, 'SHOW NAMESPACES');
      await waitFor(/aql> /, 'the prompt');
      await type('select * from test.');
      await type('\t');
      await waitFor(/test\.i/, 'completion of a set name from the server');
      await type(' where\r');
      await waitFor(/ {3}-> /, 'the continuation prompt');
      await type("PK = 'k'\r");
      await waitFor(/\| "k" \| 1 +\|[\s\S]*1 row in set/, 'the multi-line select');
      await waitFor(/aql> /, 'the prompt');
      await type('select junk');
      await type('\x03');
      await waitFor(/\^C/, 'Ctrl-C');
      await waitFor(/aql> /, 'the prompt after Ctrl-C');
      await type('stat namespace test\r');
      await waitFor(/"objects" +\| "1"/, 'the shell still works after Ctrl-C');
      await type('exit\r');
      const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8000))]);
      assert.equal(code, 0, out);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const lines = readFileSync(history, 'utf8').split('\n');
    assert.ok(lines.includes("insert into test.i (PK, abin) values ('k', 1)"), lines.join('\n'));
    assert.ok(lines.includes("PK = 'k'"));
  });
});
