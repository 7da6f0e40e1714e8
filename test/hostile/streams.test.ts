/**
 * Slow readers and stream counts against a real node process: packed scans whose client stops
 * reading pause at the stream's buffer budget (the node's RSS stays bounded), one connection
 * may run at most 16 scans at once (the next is QUERY_QUEUE_FULL, 211), and a bystander on
 * another connection is served meanwhile.
 */
import { strict as assert } from 'node:assert';
import { DbError, SlipstreamClient, type ClientRecord } from '../../core/client/index.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';

describe('hostile/streams: slow readers and stream caps', function () {
  this.timeout(180_000);
  let node: HostileNode;
  before(async () => {
    node = await startHostileNode();
    const v = 'y'.repeat(100 * 1024);
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < 300; i += 4) await node.client.put({ namespace: 'test', set: 'slow', key: `k${i}` }, { v, i: BigInt(i) });
    }));
  });
  after(async () => { await node?.stop(); });

  it('16 stalled packed scans on one connection hold bounded memory; the 17th is refused with 211', async () => {
    const attacker = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, timeoutMs: 30_000 });
    const scans: AsyncGenerator<ClientRecord>[] = [];
    try {
      const { result, served } = await whileServed('stalled scans', node, async () => {
        for (let i = 0; i < 16; i++) {
          const g = attacker.scan('test', { set: 'slow', recordsPerMessage: 16 });
          scans.push(g);
          await g.next(); // read one record, then stop reading
        }
        // let the node fill what it may buffer for them
        await new Promise((r) => setTimeout(r, 3000));
        const extra = attacker.scan('test', { set: 'slow' });
        const refused = await extra.next().then(() => undefined, (e: unknown) => e);
        await new Promise((r) => setTimeout(r, 1000));
        return { refused, rss: node.rssMiB() };
      });
      assert.ok(result.refused instanceof DbError, String(result.refused));
      assert.equal(result.refused.resultCode, 211, result.refused.message);
      // 16 scans × 30 MB of records would be ~500 MB buffered without back-pressure
      console.log(`      RSS with 16 stalled scans: ${Math.round(result.rss)} MiB`);
      assertServed(served, { maxRssMiB: 500 });
    } finally {
      for (const g of scans) await g.return(undefined);
      attacker.close();
    }
    // the slots are free again once the cancellations reach the node
    const end = Date.now() + 20_000;
    let n = -1;
    while (n < 0) {
      try {
        let c = 0;
        for await (const _r of node.client.scan('test', { set: 'slow', noBins: true })) c++;
        n = c;
      } catch (e) {
        if (!(e instanceof DbError) || e.resultCode !== 211 || Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal(n, 300);
    node.assertAlive();
  });
});
