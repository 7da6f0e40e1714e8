/**
 * A BatchGet whose answer would be gigabytes (2,000 keys on ~900 KB records), against a real node
 * process: answered BATCH_MAX_REQUESTS (151) as soon as the answer passes the message cap, on
 * both read paths (whole records and named bins), with the node's RSS bounded and a bystander
 * served meanwhile.
 */
import { strict as assert } from 'node:assert';
import { DbError } from '../../core/client/index.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';

describe('hostile/batch: the answer is bounded by the message cap', function () {
  this.timeout(180_000);
  let node: HostileNode;
  before(async () => {
    node = await startHostileNode();
    const big = 'x'.repeat(900 * 1024);
    for (let i = 0; i < 40; i++) await node.client.put({ namespace: 'test', set: 'big', key: `k${i}` }, { s: big, n: BigInt(i) });
  });
  after(async () => { await node?.stop(); });

  it('2,000 keys of ~900 KB records: 151 on both read paths, RSS bounded', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => ({ namespace: 'test', set: 'big', key: `k${i % 40}` }));
    const { result, served } = await whileServed('huge batch', node, async () => {
      const out: DbError[] = [];
      for (const options of [{}, { bins: ['s', 'n'] }]) {
        const t0 = Date.now();
        const err = await node.client.batchGet(keys, { ...options, timeoutMs: 60_000 }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof DbError, String(err));
        console.log(`      ${JSON.stringify(options)}: ${err.resultCode} after ${Date.now() - t0} ms`);
        out.push(err);
      }
      return out;
    });
    for (const e of result) {
      assert.equal(e.resultCode, 151, e.message);
      assert.match(e.hint ?? '', /split/);
    }
    assertServed(served, { maxRssMiB: 700 });
    // a batch that fits is answered
    const ok = await node.client.batchGet(keys.slice(0, 10), { bins: ['n'] });
    assert.equal(ok.length, 10);
  });
});
