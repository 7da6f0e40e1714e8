/**
 * Hostile regular expressions against a real node process: a catastrophic-backtracking pattern
 * (the observed freeze: `(a+)+$` on `aaa…!`) in a filter expression and in AQL REGEX answers in
 * linear time while a bystander is served; patterns that need backtracking are refused with
 * PARAMETER (4) and a hint; an over-long pattern too.
 */
import { strict as assert } from 'node:assert';
import { DbError, expr as E } from '../../core/client/index.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';
import { aql } from './aql-helper.ts';

describe('hostile/regex: linear-time matching', function () {
  this.timeout(120_000);
  let node: HostileNode;
  before(async () => {
    node = await startHostileNode();
    for (let i = 0; i < 50; i++) await node.client.put({ namespace: 'test', set: 're', key: `k${i}` }, { s: `${'a'.repeat(30 + i)}!` });
    await node.client.put({ namespace: 'test', set: 're', key: 'long' }, { s: `${'a'.repeat(500_000)}!` });
  });
  after(async () => { await node?.stop(); });

  it('a backtracking bomb in a scan filter and in AQL REGEX answers at once, the node keeps serving', async () => {
    const { result, served } = await whileServed('regex bomb', node, async () => {
      const t0 = Date.now();
      let n = 0;
      for await (const _r of node.client.scan('test', { set: 're', filter: E.regex(E.bin('s'), '(a+)+$') })) n++;
      const scanMs = Date.now() - t0;
      const t1 = Date.now();
      const q = await aql(node.client, "SELECT * FROM test.re WHERE REGEX(s, '(a+)+$')");
      return { n, scanMs, aqlMs: Date.now() - t1, q };
    });
    assert.equal(result.n, 0);
    assert.equal(result.q.statuses[0]?.code, 0, JSON.stringify(result.q.statuses));
    assert.equal(result.q.rows.length, 0);
    console.log(`      scan ${result.scanMs} ms, AQL ${result.aqlMs} ms over 51 records (one of 500,000 characters)`);
    assert.ok(result.scanMs < 10_000 && result.aqlMs < 10_000, `scan ${result.scanMs} ms, AQL ${result.aqlMs} ms`);
    assertServed(served);
    // the same pattern still matches what it should
    let m = 0;
    for await (const _r of node.client.scan('test', { set: 're', filter: E.regex(E.bin('s'), '^(a+)+!$') })) m++;
    assert.equal(m, 51);
  });

  it('patterns that need backtracking, and over-long ones, are refused with PARAMETER and a hint', async () => {
    for (const pattern of ['(a)\\1', '(?=a)a', '(?<!b)a', 'x'.repeat(2000)]) {
      const err = await (async () => {
        for await (const _r of node.client.scan('test', { set: 're', filter: E.regex(E.bin('s'), pattern) })) { /* none */ }
      })().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof DbError, `${pattern.slice(0, 20)}: ${String(err)}`);
      assert.equal(err.code, 'PARAMETER', `${pattern.slice(0, 20)}: ${err.message}`);
      assert.ok((err.hint ?? '').length > 0, 'no hint');
      const q = await aql(node.client, `SELECT * FROM test.re WHERE REGEX(s, '${pattern}')`);
      assert.equal(q.statuses[0]?.code, 4, `AQL ${pattern.slice(0, 20)}: ${JSON.stringify(q.statuses[0])}`);
    }
    node.assertAlive();
  });
});
