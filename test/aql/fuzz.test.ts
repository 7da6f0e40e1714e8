import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { aqlExtension } from '../../core/node/extensions/aql.ts';
import { queryExtension } from '../../core/node/extensions/query.ts';
import { udfExtension } from '../../core/node/extensions/udf.ts';
import { executeAql } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import { DbError } from '../../core/errors/index.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);
const WORDS = ['SELECT', '*', 'FROM', 'test', 'test.demo', 'WHERE', 'PK', '=', "'k'", '1', '-9223372036854775808', '0x7f',
  'INSERT', 'INTO', '(PK, a)', 'VALUES', "('k', 1)", 'DELETE', 'UPDATE', 'SET', 'a', 'OPERATE', 'ADD(a, 1)', 'ON', 'TRUNCATE',
  'EXPLAIN', 'SHOW', 'SETS', 'BINS', 'CLUSTER', 'PARTITIONS', 'STAT', 'SYSTEM', 'NAMESPACE', 'CREATE', 'INDEX', 'idx', 'NUMERIC',
  'ORDER', 'BY', 'LIMIT', 'AND', 'OR', 'NOT', 'BETWEEN', '<', '>=', 'COUNT(*)', 'AGGREGATE', 'EXECUTE', 'm.f()', 'REGISTER',
  'MODULE', "'x.js'", 'JSON(\'{"a":1}\')', 'LIST(\'[1,\')', "GEOJSON('{')", 'CAST(1 AS STRING)', ';', '\n', '--', '#', "'", '"', '(', ')'];

describe('AQL over gRPC: any text', function () {
  this.timeout(120_000);
  let t: TestNode;
  before(async () => { t = await startTestNode({ extensions: [queryExtension(), udfExtension(), aqlExtension()] }); });
  after(async () => { await t?.stop(); });

  it(`ends every statement with a status and never takes the node down (seed ${SEED})`, async () => {
    // well-formed statements with hostile values, to reach the executor and the kernel
    const lit = fc.oneof(
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String), fc.double().map((d) => (Number.isFinite(d) ? String(d) : '1.5')),
      fc.string({ maxLength: 20 }).map((x) => `'${x.replace(/'/g, '')}'`), fc.constantFrom('NULL', 'true', "JSON('[1,{}]')", "MAP('{\"a\":1}')",
        "GEOJSON('{\"type\":\"Point\",\"coordinates\":[1,2]}')", "GEOJSON('{\"type\":\"Nope\"}')", "LIST('[1')", 'CAST(7 AS STRING)'),
    );
    const bin = fc.constantFrom('a', 'b', 'x'.repeat(16), 'PK', '`we ird`');
    const stmt = fc.oneof(
      fc.tuple(lit, bin, lit).map(([k, b, v]) => `INSERT INTO test.demo (PK, ${b}) VALUES (${k}, ${v})`),
      fc.tuple(bin, lit, lit).map(([b, v, k]) => `UPDATE test.demo SET ${b} = ${v} WHERE PK = ${k}`),
      fc.tuple(bin, fc.constantFrom('=', '!=', '<', '>=', 'BETWEEN 1 AND'), lit).map(([b, op, v]) => `SELECT * FROM test.demo WHERE ${b} ${op} ${v} LIMIT 5`),
      fc.tuple(lit).map(([k]) => `SELECT * FROM test.demo WHERE PK = ${k}`),
      fc.tuple(bin, lit, lit).map(([b, v, k]) => `OPERATE ADD(${b}, ${v}), GET(${b}) ON test.demo WHERE PK = ${k}`),
      fc.tuple(bin, lit).map(([b, v]) => `SELECT COUNT(*), SUM(${b}) FROM test.demo WHERE ${b} > ${v}`),
      fc.tuple(lit).map(([k]) => `DELETE FROM test.demo WHERE PK = ${k}`),
      fc.constantFrom('SHOW SETS', 'SHOW BINS', 'STAT SYSTEM', 'SHOW INDEXES', 'SHOW MODULES', 'SHOW JOBS', 'CREATE INDEX ia ON test.demo (a) NUMERIC', 'SHOW CLUSTER'),
    );
    const text = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.array(fc.constantFrom(...WORDS), { maxLength: 14 }).map((ws) => ws.join(' ')),
      fc.array(stmt, { minLength: 1, maxLength: 4 }).map((ss) => ss.join(';\n')),
    );
    let succeeded = 0;
    await fc.assert(fc.asyncProperty(text, async (aql) => {
      try {
        const statuses = await executeAql(t.client, { text: aql, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 5000 } }, {
          begin: () => {}, row: () => {}, end: () => {}, status: () => {},
        });
        for (const s of statuses) {
          assert.equal(typeof s.code, 'number');
          if (s.code === 0) succeeded++;
          assert.notEqual(s.code, 1, `server error for ${JSON.stringify(aql)}: ${s.message}`);
        }
      } catch (err) {
        // a whole call may be refused (e.g. a client-side file); it must be a clean DbError
        assert.ok(err instanceof DbError, String(err));
        assert.notEqual(err.code, 'SERVER_ERROR', `${JSON.stringify(aql)}: ${err.message}`);
      }
    }), { numRuns: 300, seed: SEED });
    assert.ok(succeeded > 0, 'some generated statements ran (the fuzz reaches the executor)');
    assert.equal((await t.client.nodeInfo()).nodeId, 'A1');
  });
});
