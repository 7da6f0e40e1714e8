import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { DbError, SlipstreamClient, type ClientRecord } from '../../core/client/index.ts';
import { QueryServiceService, type QueryRequest } from '../../core/wire/generated/slipstream/v1/query.ts';
import { startTestNode } from '../helpers/node-harness.ts';
import { startInteropNode, type InteropNode } from './interop-helpers.ts';

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The Node.js usage documented in docs/clients.md, against a real node process. */
describe('interop: TypeScript client as documented (docs/clients.md)', function () {
  this.timeout(60_000);
  let node: InteropNode;
  let client: SlipstreamClient;

  before(async () => {
    node = await startInteropNode();
    client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${await deadPort()}`, node.address], timeoutMs: 1000, maxRetries: 2, retryDelayMs: 50, connectTimeoutMs: 2000 });
  });

  after(async () => {
    client?.close();
    await node?.stop();
  });

  it('connects to the first seed that answers', () => {
    assert.equal(client.address, node.address);
  });

  it('put, get, NOT_FOUND, check-and-set, operate, batchGet and scan work as shown', async () => {
    const key = { namespace: 'test', set: 'people', key: 'ada' };
    await client.put(key, { name: 'Ada', age: 36n, score: 9.5, tags: ['math'] }, { sendKey: true, ttl: 3600 });
    const rec = await client.get(key, { bins: ['name', 'age'] });
    assert.deepEqual(rec.bins, { name: 'Ada', age: 36n });
    assert.equal(rec.userKey, 'ada');

    const missing = await client.get({ ...key, key: 'nobody' }).then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof DbError && missing.code === 'NOT_FOUND' && missing.resultCode === 2, String(missing));

    const meta = await client.put(key, { age: 37n }, { generationPolicy: 'expectEqual', generation: rec.meta.generation });
    assert.equal(meta.generation, 2);
    const stale = await client.put(key, { age: 99n }, { generationPolicy: 'expectEqual', generation: 1 }).then(() => undefined, (e: unknown) => e);
    assert.ok(stale instanceof DbError && stale.code === 'GENERATION' && stale.resultCode === 3 && !stale.inDoubt, String(stale));

    const { bins } = await client.operate(key, [
      { op: 'add', bin: 'age', value: 1n },
      { op: 'list', bin: 'tags', kind: 'append', value: 'engines' },
      { op: 'read', bin: 'age' },
    ]);
    assert.deepEqual(bins, { age: 38n, tags: 2n });

    await client.put({ ...key, key: 'alan' }, { name: 'Alan', age: 41n });
    const many = await client.batchGet([key, { ...key, key: 'nobody' }, { ...key, key: 'alan' }]);
    assert.deepEqual(many.map((r) => (r instanceof DbError ? r.code : r.bins['name'])), ['Ada', 'NOT_FOUND', 'Alan']);

    const names: unknown[] = [];
    for await (const r of client.scan('test', { set: 'people', bins: ['name'] })) names.push(r.bins['name']);
    assert.deepEqual(names.sort(), ['Ada', 'Alan']);
  });

  it('calls other services through unary and stream', async () => {
    const query: QueryRequest = {
      namespace: 'test', set: 'people', bins: ['name'], noBins: false, limit: 0n, partitions: [], cursor: '',
      filterJson: JSON.stringify({ kind: 'cmp', op: '>', left: { kind: 'bin', name: 'age' }, right: { kind: 'lit', value: 30 } }),
      orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0,
    };
    const sum = await client.unary(QueryServiceService.aggregate, { query: { ...query, bins: [] }, function: 'SUM', bin: 'age' });
    assert.equal(sum.value?.kind?.$case === 'int' ? sum.value.kind.value : undefined, 38n + 41n);
    const rows: string[] = [];
    for await (const row of client.stream(QueryServiceService.query, query, { timeoutMs: 10_000 })) {
      const b = row.record?.bins.find((x) => x.name === 'name')?.value?.kind;
      if (b?.$case === 'string') rows.push(b.value);
    }
    assert.deepEqual(rows.sort(), ['Ada', 'Alan']);
  });

  it('a stream deadline that passes fails with TIMEOUT', async () => {
    // the writes get a generous deadline: only the scan's 1 ms one is under test
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.put({ namespace: 'test', set: 'many', key: BigInt(i) }, { i: BigInt(i), pad: 'x'.repeat(200) }, {}, { timeoutMs: 30_000 })));
    const err = await (async () => {
      const seen: ClientRecord[] = [];
      for await (const r of client.scan('test', { set: 'many' }, { timeoutMs: 1 })) seen.push(r);
      return seen.length;
    })().then((n) => n, (e: unknown) => e);
    assert.ok(err instanceof DbError && err.code === 'TIMEOUT', `scan with a 1 ms deadline returned ${String(err)}`);
  });

  it('retries reads on a lost connection by policy, and writes not unless asked', async () => {
    const t = await startTestNode();
    const c = await SlipstreamClient.connect({ hosts: t.client.address, maxRetries: 2, retryDelayMs: 100, timeoutMs: 1000 });
    try {
      await c.put({ namespace: 'test', key: 'k' }, { v: 1n });
      await t.stop();
      let started = Date.now();
      const read = await c.get({ namespace: 'test', key: 'k' }).then(() => undefined, (e: unknown) => e);
      const readMs = Date.now() - started;
      assert.ok(read instanceof DbError && read.code === 'CONNECTION', String(read));
      assert.ok(readMs >= 300, `a read with 2 retries (100 + 200 ms pauses) gave up after ${readMs} ms`);
      started = Date.now();
      const write = await c.put({ namespace: 'test', key: 'k' }, { v: 2n }).then(() => undefined, (e: unknown) => e);
      const writeMs = Date.now() - started;
      assert.ok(write instanceof DbError && write.code === 'CONNECTION', String(write));
      assert.ok(writeMs < 300, `a write was retried (${writeMs} ms)`);
      started = Date.now();
      const asked = await c.put({ namespace: 'test', key: 'k' }, { v: 2n }, {}, { maxRetries: 1 }).then(() => undefined, (e: unknown) => e);
      assert.ok(asked instanceof DbError && Date.now() - started >= 100, 'a write with maxRetries 1 was not retried');
    } finally {
      c.close();
    }
  });
});
