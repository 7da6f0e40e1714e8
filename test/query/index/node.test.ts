import { strict as assert } from 'node:assert';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { startTestNode, type TestNode } from '../../helpers/node-harness.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { queryExtension } from '../../../core/node/extensions/query.ts';
import { QUERY_SUBSYSTEM } from '../../../core/services/index.ts';
import { QueryServiceClient, type QueryRequest, type QueryResponse } from '../../../core/wire/generated/slipstream/v1/query.ts';
import { and, bin, cmp, exprToJsonText, lit } from '../../../core/query/expr/index.ts';

type Client = InstanceType<typeof QueryServiceClient>;
function call<Req, Res>(c: Client, method: string, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (c as unknown as Record<string, (r: Req, cb: (e: ServiceError | null, r: Res) => void) => void>)[method]?.call(c, req, (e, r) => (e === null ? resolve(r) : reject(e)));
  });
}
function stream(c: Client, req: Partial<QueryRequest>): Promise<QueryResponse[]> {
  return new Promise((resolve, reject) => {
    const out: QueryResponse[] = [];
    const s = c.query({ namespace: 'test', filterJson: '', bins: [], noBins: false, limit: 0n, partitions: [], cursor: '', orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0, ...req });
    s.on('data', (r: QueryResponse) => out.push(r));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('query subsystem in a node (kernel upkeep, gRPC)', () => {
  let t: TestNode;
  let c: Client;
  const clock = new ManualClock();
  before(async () => {
    t = await startTestNode({ clock, extensions: [queryExtension()] });
    c = new QueryServiceClient(`127.0.0.1:${t.node.port}`, credentials.createInsecure());
  });
  after(async () => {
    c.close();
    await t.stop();
  });

  it('creates an index over existing records, queries, explains, aggregates over gRPC', async () => {
    for (let i = 0; i < 200; i++) await t.client.put({ namespace: 'test', set: 'p', key: `u${i}` }, { age: BigInt(i % 50), name: `n${i}` });
    const created = await call<object, { index: { state: string } }>(c, 'createIndex', { namespace: 'test', name: 'age_idx', set: 'p', bin: 'age', type: 'NUMERIC', collection: '' });
    assert.ok(['building', 'ready'].includes(created.index.state));
    const q = t.node.services.require(QUERY_SUBSYSTEM);
    await q.indexes.whenReady('test', 'age_idx');
    const filterJson = exprToJsonText(and(cmp('=', bin('age'), lit(7n)), cmp('<', bin('name'), lit('n5'))));
    const rows = await stream(c, { set: 'p', filterJson, bins: ['name'] });
    assert.deepEqual(rows.map((r) => r.record?.bins.map((b) => b.name)).flat().every((n) => n === 'name'), true);
    assert.equal(rows.length, 2); // n107, n157 sort before n5 … n7 does not
    const ex = await call<object, { access: string; entries: Array<{ name: string; value: string }> }>(c, 'explain', { query: { namespace: 'test', set: 'p', filterJson, bins: [], noBins: false, limit: 0n, partitions: [], cursor: '', orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0 } });
    assert.equal(ex.access, 'index');
    assert.equal(ex.entries.find((e) => e.name === 'index')?.value, 'age_idx');
    const agg = await call<object, { matched: bigint }>(c, 'aggregate', { function: 'count', bin: '', query: { namespace: 'test', set: 'p', filterJson: exprToJsonText(cmp('>=', bin('age'), lit(45n))), bins: [], noBins: false, limit: 0n, partitions: [], cursor: '', orderBy: '', descending: false, indexName: '', whileBuilding: '', recordsPerMessage: 0 } });
    assert.equal(agg.matched, 20n);
    const list = await call<object, { indexes: Array<{ name: string; state: string; entries: bigint }> }>(c, 'listIndexes', { namespace: '' });
    assert.deepEqual(list.indexes.map((i) => [i.name, i.state, i.entries]), [['age_idx', 'ready', 200n]]);
    await assert.rejects(call(c, 'createIndex', { namespace: 'test', name: 'age_idx', bin: 'x', type: 'NUMERIC', collection: '' }), (e: ServiceError) => e.metadata.get('slipstream-result-code')[0] === '200');
    await assert.rejects(call(c, 'getIndexStat', { namespace: 'test', name: 'nope' }), (e: ServiceError) => e.metadata.get('slipstream-result-code')[0] === '201');
    await assert.rejects(stream(c, { filterJson: '{"kind":"cmp"}' }), (e: ServiceError) => e.metadata.get('slipstream-result-code')[0] === '4');
  });

  it('packs query results into messages (records_per_message) with a cursor after each message', async () => {
    for (let i = 0; i < 120; i++) await t.client.put({ namespace: 'test', set: 'pk', key: `q${i}` }, { v: BigInt(i % 10), i: BigInt(i) });
    const filterJson = exprToJsonText(cmp('<', bin('v'), lit(5n)));
    const one = await stream(c, { set: 'pk', filterJson });
    assert.equal(one.length, 60);
    assert.ok(one.every((r) => r.record !== undefined && r.records.length === 0));
    const packed = await stream(c, { set: 'pk', filterJson, recordsPerMessage: 25 });
    assert.deepEqual(packed.map((m) => m.records.length), [25, 25, 10]);
    assert.ok(packed.every((m) => m.record === undefined));
    const digests = (rs: Array<{ key?: { digest: Uint8Array } }>) => rs.map((r) => Buffer.from(r.key?.digest ?? []).toString('hex'));
    assert.deepEqual(digests(packed.flatMap((m) => m.records)), digests(one.map((m) => m.record as { key?: { digest: Uint8Array } })));
    // a message's cursor resumes after its last record
    const rest = await stream(c, { set: 'pk', filterJson, recordsPerMessage: 25, cursor: (packed[0] as QueryResponse).cursor });
    assert.deepEqual(digests(rest.flatMap((m) => m.records)), digests(one.slice(25).map((m) => m.record as { key?: { digest: Uint8Array } })));
    await assert.rejects(stream(c, { set: 'pk', filterJson, recordsPerMessage: 5000 }), (e: ServiceError) => e.metadata.get('slipstream-result-code')[0] === '4');
  });

  it('kernel writes, deletes, expiry (swept or overwritten) and truncate keep the index exact', async () => {
    const q = t.node.services.require(QUERY_SUBSYSTEM);
    const entries = () => q.indexes.stat('test', 'age_idx').entries;
    await t.client.put({ namespace: 'test', set: 'p', key: 'u0' }, { age: 'not a number' });
    assert.equal(entries(), 199);
    await t.client.delete({ namespace: 'test', set: 'p', key: 'u1' });
    assert.equal(entries(), 198);
    await t.client.put({ namespace: 'test', set: 'p', key: 'short' }, { age: 1n }, { ttl: 10 });
    assert.equal(entries(), 199);
    clock.advance(11_000);
    // the expired record is overwritten before any sweep: its old entry must go
    await t.client.put({ namespace: 'test', set: 'p', key: 'short' }, { age: 2n });
    assert.equal(entries(), 199);
    assert.equal((await q.engine.all({ namespace: 'test', set: 'p', where: cmp('=', bin('age'), lit(2n)) })).length, 5);
    await t.client.truncate('test', 'p');
    await q.indexes.whenReady('test', 'age_idx');
    assert.equal(entries(), 0);
    await t.client.put({ namespace: 'test', set: 'p', key: 'again' }, { age: 3n });
    assert.equal(entries(), 1);
  });
});
