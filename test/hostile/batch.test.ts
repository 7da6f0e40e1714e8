/**
 * A BatchGet or BatchOperate whose answer would be gigabytes (2,000 keys on ~900 KB records),
 * against a real node process: BatchGet is answered BATCH_MAX_REQUESTS (151) as soon as the
 * answer passes the message cap, on both read paths (whole records and named bins);
 * BatchOperate answers what fits and 151 per entry for the rest, running no entry after the
 * answer is full. The node's RSS stays bounded and a bystander is served meanwhile.
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

  it('BatchOperate of 2,000 reads of ~900 KB records and writes: what fits, then 151 per entry; later writes not run', async () => {
    const k = (id: string) => ({ namespace: 'test', set: 'big', key: id });
    type Entry = Parameters<typeof node.client.batchOperate>[0][number];
    const entries: Entry[] = [
      { kind: 'put', key: k('first'), bins: { v: 1n } },
      ...Array.from({ length: 2000 }, (_, i): Entry => ({ kind: 'read', key: k(`k${i % 40}`) })),
      { kind: 'put', key: k('last'), bins: { v: 1n } },
    ];
    const { result, served } = await whileServed('huge BatchOperate', node, async () => {
      const t0 = Date.now();
      const r = await node.client.batchOperate(entries, { timeoutMs: 60_000 });
      console.log(`      BatchOperate answered after ${Date.now() - t0} ms`);
      return r;
    });
    assert.equal(result.length, entries.length);
    assert.equal(result[0]?.error, undefined, 'the first write ran');
    const fitted = result.slice(1, 2001).filter((r) => r.error === undefined);
    // 16 MiB holds about 18 records of 900 KB; every one that fits is whole
    assert.ok(fitted.length >= 10 && fitted.length <= 18, `${fitted.length} reads fitted`);
    for (const r of fitted) assert.equal((r.bins['s'] as string).length, 900 * 1024);
    // the reads that fit come first, then 151 for every other entry
    for (let i = 1 + fitted.length; i < entries.length; i++) assert.equal(result[i]?.error?.resultCode, 151, `entry ${i}: ${result[i]?.error?.message}`);
    const last = result[entries.length - 1]?.error;
    assert.match(last?.message ?? '', /not run/);
    assert.equal(last?.inDoubt, false);
    assert.equal(await node.client.exists(k('last')), undefined, 'an entry after the answer was full did not run');
    assert.notEqual(await node.client.exists(k('first')), undefined);
    assertServed(served, { maxRssMiB: 700 });
    // a batch that fits is answered whole
    const ok = await node.client.batchOperate(entries.slice(1, 11));
    assert.ok(ok.every((r) => r.error === undefined));
  });
});
