import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { startTestNode, type TestNode } from '../../helpers/node-harness.ts';
import { aqlExtension } from '../../../core/node/extensions/aql.ts';
import { queryExtension } from '../../../core/node/extensions/query.ts';
import { udfExtension } from '../../../core/node/extensions/udf.ts';
import { executeAql } from '../../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../../core/query/aql/settings.ts';
import { DbError } from '../../../core/errors/index.ts';

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
    const text = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.array(fc.constantFrom(...WORDS), { maxLength: 14 }).map((ws) => ws.join(' ')),
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
