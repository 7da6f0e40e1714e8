/**
 * End to end: the real `bin/aql.js` against a real node process — -c, -f with a failing
 * statement, piped stdin, JSON output, and the reference sessions (inserts and deletes, typed
 * values, TTL and metadata settings, output modes, syntax and name errors; inputs shared with
 * the in-process session fixtures, expected transcripts from the binary).
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, expectFile } from './fixture-util.ts';
import { normalise, runAql, startTestNode, type TestNode } from './e2e-helpers.ts';

describe('aql binary end to end (real node process)', function () {
  this.timeout(60_000);
  let t: TestNode;
  let hp: string[];
  before(async () => {
    t = await startTestNode();
    hp = ['-h', '127.0.0.1', '-p', String(t.node.port)];
  });
  after(async () => { await t?.stop(); });

  it('-c runs the statements, echoing each, and exits 0', async () => {
    const r = await runAql([...hp, '-c', "INSERT INTO test.c (PK, a) VALUES ('k', 7); SELECT * FROM test.c WHERE PK = 'k'"], { dir: t.dir });
    assert.equal(r.code, 0, r.output);
    assert.equal(normalise(r.output), [
      "INSERT INTO test.c (PK, a) VALUES ('k', 7)", 'OK, 1 record affected.', '',
      "SELECT * FROM test.c WHERE PK = 'k'", '+-----+---+', '| PK  | a |', '+-----+---+', '| "k" | 7 |', '+-----+---+',
      '1 row in set (0.000 secs)', '', 'OK', '', '',
    ].join('\n'));
  });

  it('refuses -c given twice and -c with -f instead of running only one of them', async () => {
    const twice = await runAql([...hp, '-c', "INSERT INTO test.c2 (PK, a) VALUES ('k', 1)", '-c', "SELECT * FROM test.c2 WHERE PK = 'k'"], { dir: t.dir });
    assert.notEqual(twice.code, 0, twice.output);
    assert.match(twice.output, /-c was given twice/);
    assert.doesNotMatch(twice.output, /record affected|row in set/);
    const both = await runAql([...hp, '-c', 'SHOW NAMESPACES', '-f', join(t.dir, 'none.aql')], { dir: t.dir });
    assert.notEqual(both.code, 0, both.output);
    assert.match(both.output, /cannot be used with option '-f/);
  });

  it('-f runs a file statement by statement; a failure in the middle does not stop it and the exit status names it', async () => {
    const file = join(t.dir, 'script.aql');
    writeFileSync(file, [
      "INSERT INTO test.f (PK, n) VALUES (1, 'one')",
      "DELETE FROM test.f WHERE PK = 2",
      "SELECT n FROM test.f",
      'SELEC oops',
      "OPERATE INCR(c, 2), READ(c) ON test.f WHERE PK = 1",
    ].join('\n'));
    const r = await runAql([...hp, '-f', file], { dir: t.dir });
    assert.equal(r.code, 1);
    const out = normalise(r.output);
    assert.match(out, /DELETE FROM test\.f WHERE PK = 2\nError: \(2\) AEROSPIKE_ERR_RECORD_NOT_FOUND\n/);
    assert.match(out, /\| n +\| PK \|\n\+-+\+-+\+\n\| "one" \| 1  \|/);
    assert.match(out, /ERROR: 404: COMMAND NOT FOUND : SELEC/);
    assert.match(out, /\| c \|\n\+---\+\n\| 2 \|/, 'the statement after the failures still ran');
    assert.match(out, /aql: 2 statements failed:\n {2}line 2: DELETE FROM test\.f WHERE PK = 2\n {2}line 4: SELEC oops\n/);
  });

  it('reads statements from piped stdin (multi-line, no echo) and exits 0', async () => {
    const r = await runAql(hp, { dir: t.dir, input: "INSERT INTO test.p (PK, a)\n  VALUES ('x', 1.5);\nSELECT a\nFROM test.p\nWHERE PK = 'x'\n" });
    assert.equal(r.code, 0, r.output);
    assert.equal(normalise(r.output), 'OK, 1 record affected.\n\n+-----+-----+\n| a   | PK  |\n+-----+-----+\n| 1.5 | "x" |\n+-----+-----+\n1 row in set (0.000 secs)\n\nOK\n\n');
  });

  it('-o json prints aql\'s JSON document', async () => {
    await runAql([...hp, '-c', "INSERT INTO test.j (PK, m, l) VALUES ('k', MAP('{\"a\": 1}'), LIST('[true, \"s\"]'))"], { dir: t.dir });
    const r = await runAql([...hp, '-o', 'json'], { dir: t.dir, input: "SELECT * FROM test.j WHERE PK = 'k'\n" });
    assert.equal(r.code, 0, r.output);
    const doc = JSON.parse(r.output) as unknown;
    assert.deepEqual(doc, [[{ PK: 'k', m: { a: 1 }, l: [true, 's'] }], [{ Status: 0 }]]);
  });

  it('connection failure: a clear error and exit status 1', async () => {
    const r = await runAql(['-p', '1', '-c', 'SHOW NAMESPACES'], { dir: t.dir });
    assert.equal(r.code, 1);
    assert.match(r.output, /cannot connect to 127\.0\.0\.1:1/);
  });

  for (const block of ['insert-merge-delete', 'typed-values', 'ttl-metadata-key-send', 'output-modes', 'syntax-and-name-errors']) {
    it(`reference session ${block} through the binary (-f)`, async () => {
      const input = join(FIXTURES, 'session', block, 'input.aql');
      const r = await runAql([...hp, '-f', input], { dir: t.dir });
      const dir = join(FIXTURES, 'e2e', block);
      const actual = `${normalise(r.output)}[exit ${r.code}]\n`;
      if (!existsSync(dir)) throw new Error(`missing ${dir}`);
      assert.equal(actual, expectFile(dir, 'expected.txt', actual));
      // The statements' outcomes match the in-process transcript where the node adds nothing (no indexes involved).
      const inProcess = readFileSync(join(FIXTURES, 'session', block, 'expected.txt'), 'utf8');
      for (const line of inProcess.split('\n').filter((l) => l.startsWith('OK, ') || l.startsWith('Error: (2)'))) assert.ok(actual.includes(line), line);
    });
  }
});
