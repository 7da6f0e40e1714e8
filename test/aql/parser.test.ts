import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseScript, printStatement, parseStatement, isIncomplete, expectedAfter, AqlError } from '../../core/aql/language/index.ts';
import { caseDirs, expectFile, stableJson } from './fixture-util.ts';

describe('aql parser fixtures', () => {
  for (const dir of caseDirs('parse')) {
    it(basename(dir), () => {
      const input = readFileSync(join(dir, 'input.aql'), 'utf8');
      const parts = parseScript(input);
      const results = parts.map((p) => (p.result.ok
        ? { ast: p.result.statement }
        : {
            error: {
              code: p.result.error.code, line: p.result.error.pos.line, column: p.result.error.pos.column,
              token: p.result.error.token, expected: p.result.error.expected, message: p.result.error.message, aql: p.result.error.aqlText,
            },
          }));
      assert.equal(stableJson(results), expectFile(dir, 'expected.json', stableJson(results)));
      const printed = parts.map((p) => (p.result.ok ? `${printStatement(p.result.statement)};` : '-- error')).join('\n') + '\n';
      assert.equal(printed, expectFile(dir, 'canonical.aql', printed));
      // the canonical text parses back to the same AST
      for (const p of parts) {
        if (p.result.ok) assert.deepStrictEqual(parseStatement(printStatement(p.result.statement)), p.result.statement);
      }
    });
  }
});

describe('aql parser API', () => {
  it('parseStatement rejects two statements with the position of the second', () => {
    assert.throws(() => parseStatement('GET ALL; GET ALL'), (e: unknown) => e instanceof AqlError && e.pos.column === 10);
  });
  it('isIncomplete: statements that end too early continue on the next line', () => {
    assert.equal(isIncomplete('INSERT INTO test.demo (PK, a)'), true);
    assert.equal(isIncomplete("SELECT * FROM test.demo WHERE PK = 'it''s"), true);
    assert.equal(isIncomplete('SELECT * FROM test.demo'), false);
    assert.equal(isIncomplete('SELECT * FROM test.demo WHERE;'), false);
    assert.equal(isIncomplete('SELECT * FROM test.demo WHERE )'), false);
    assert.equal(isIncomplete(''), false);
  });
  it('expectedAfter lists what may follow (for completion)', () => {
    assert.deepEqual(expectedAfter('SELECT * '), ['FROM']);
    assert.ok(expectedAfter('SHOW ').includes('NAMESPACES'));
    assert.ok(expectedAfter('').includes('SELECT'));
    assert.deepEqual(expectedAfter('SELECT * FROM t WHERE a = 1 )'), []);
  });
  it('keywords are case-insensitive, names case-sensitive', () => {
    const a = parseStatement('select Bin FROM Test.Demo where pk = 1');
    assert.equal(printStatement(a), 'SELECT Bin FROM Test.Demo WHERE PK = 1');
  });
  it('64-bit integers are exact', () => {
    const s = parseStatement('INSERT INTO t (PK, a, b) VALUES (9223372036854775807, -9223372036854775808, 0x7FFFFFFFFFFFFFFF)');
    assert.ok(s.kind === 'insert');
    assert.deepEqual(s.bins.map((b) => b.value), [-(2n ** 63n), 2n ** 63n - 1n]);
    assert.equal(s.key.kind === 'pk' && s.key.value, 2n ** 63n - 1n);
    assert.throws(() => parseStatement('INSERT INTO t (PK, a) VALUES (1, 9223372036854775808)'), /outside the 64-bit/);
  });
});
