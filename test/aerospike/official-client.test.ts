/**
 * The official Aerospike Node.js client (npm `aerospike`, a native addon over the Aerospike C
 * client) against a real node process, over the Aerospike protocol on the node's one port.
 * The node runs in a child process: the C client blocks its thread while it connects.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Aerospike from 'aerospike';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';

type Client = Awaited<ReturnType<typeof Aerospike.connect>>;

/** The result code of a rejected client call. */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as { code: number }).code;
  }
  assert.fail('the call succeeded');
}

describe('Aerospike protocol: the official aerospike npm client', function () {
  this.timeout(60_000);
  let node: NodeProcess;
  let client: Client;
  let dir: string;
  const ns = 'test';
  const key = (k: string | number, set = 'demo') => new Aerospike.Key(ns, set, k);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-aerospike-'));
    const config = join(dir, 'node.json');
    writeFileSync(config, JSON.stringify({
      node: { id: 'BB9020011AC4202', host: '127.0.0.1', port: 0, dataDir: dir },
      logLevel: 'warn',
      namespaces: [{ name: 'test', storage: 'storage-memory', defaultTtl: 0, nsupPeriod: 1 }],
    }));
    node = await startNodeProcess(['--config', config]);
    // generous timeouts: a loaded machine (UDF sandboxes starting, parallel test suites) must not fail a call
    const timeout = { totalTimeout: 20_000, socketTimeout: 20_000 };
    client = await Aerospike.connect({
      hosts: [{ addr: '127.0.0.1', port: node.port }], log: { level: Aerospike.log.OFF },
      policies: { read: timeout, write: timeout, operate: timeout, remove: timeout, apply: timeout, batch: timeout, scan: timeout, query: timeout, info: { timeout: 20_000 } },
    });
  });

  after(async () => {
    await client?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the reference example: connect, put, get, remove', async () => {
    const k = key('key');
    await client.put(k, { i: 42, s: 'abc' });
    const rec = await client.get(k);
    assert.deepEqual(rec.bins, { i: 42, s: 'abc' });
    assert.equal(rec.gen, 1);
    await client.remove(k);
    assert.equal(await codeOf(client.get(k)), Aerospike.status.ERR_RECORD_NOT_FOUND);
  });

  it('learns the node through info: node id, build, namespaces, partition ownership', async () => {
    const nodes = client.getNodes();
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.name, 'BB9020011AC4202');
    const info = await client.infoAny('build\nnamespaces\nstatus');
    assert.match(info, /^build\t8\.1\.0\.0$/m);
    assert.match(info, /^namespaces\ttest$/m);
    assert.match(info, /^status\tok$/m);
    assert.equal(await codeOf(client.infoAny('nope')), 4);
    const replicas = await client.infoAny('replicas');
    assert.match(replicas, new RegExp(`^replicas\\ttest:0,1,${'/'.repeat(682)}8=$`, 'm'));
  });

  it('round-trips every particle type, and integers beyond 2^53 exactly', async () => {
    const k = key('types');
    const big = 2n ** 62n + 12345n;
    const bins = {
      i: 7, neg: -5, big, f: 1.5, d: new Aerospike.Double(2.0), s: 'héllo', b: Buffer.from([0, 1, 255]), t: true,
      l: [1, 'x', [2.5, false], { k: 'v' }], m: { a: 1, b: ['z'] }, g: new Aerospike.GeoJSON({ type: 'Point', coordinates: [103.9, 1.3] }),
    };
    await client.put(k, bins);
    const rec = await client.get(k);
    assert.equal(rec.bins.i, 7);
    assert.equal(rec.bins.neg, -5);
    assert.equal(rec.bins.big, big);
    assert.equal(rec.bins.f, 1.5);
    assert.equal(rec.bins.d, 2);
    assert.equal(rec.bins.s, 'héllo');
    assert.deepEqual(rec.bins.b, Buffer.from([0, 1, 255]));
    assert.equal(rec.bins.t, true);
    assert.deepEqual(rec.bins.l, [1, 'x', [2.5, false], { k: 'v' }]);
    assert.deepEqual(rec.bins.m, { a: 1, b: ['z'] });
    assert.deepEqual((rec.bins.g as { value?: unknown }).value ?? JSON.parse(String(rec.bins.g)), { type: 'Point', coordinates: [103.9, 1.3] });
  });

  it('reads named bins, headers and existence; touches; honours TTL -1, -2, 0 and n', async () => {
    const k = key('meta');
    await client.put(k, { a: 1, b: 2, c: 3 }, { ttl: 1000 });
    assert.deepEqual((await client.select(k, ['a', 'c'])).bins, { a: 1, c: 3 });
    const head = await client.exists(k);
    assert.equal(head, true);
    assert.equal(await client.exists(key('absent')), false);
    const r1 = await client.get(k);
    assert.ok(r1.ttl > 990 && r1.ttl <= 1000, `ttl ${r1.ttl}`);
    await client.put(k, { a: 2 }, { ttl: Aerospike.ttl.DONT_UPDATE });
    assert.ok((await client.get(k)).ttl > 990);
    await client.put(k, { a: 3 }, { ttl: Aerospike.ttl.NEVER_EXPIRE });
    assert.equal((await client.get(k)).ttl, -1);
    await client.put(k, { a: 4 }, { ttl: Aerospike.ttl.NAMESPACE_DEFAULT });
    assert.equal((await client.get(k)).ttl, -1);
    await client.operate(k, [Aerospike.operations.touch(500)]);
    const r2 = await client.get(k);
    assert.ok(r2.ttl > 490 && r2.ttl <= 500, `ttl ${r2.ttl}`);
    assert.equal(r2.gen, 5);
    assert.equal(await codeOf(client.operate(key('absent'), [Aerospike.operations.touch(10)])), Aerospike.status.ERR_RECORD_NOT_FOUND);
  });

  it('applies exists and generation policies with Aerospike result codes', async () => {
    const k = key('policies');
    const policy = (p: Record<string, unknown>) => new Aerospike.WritePolicy(p);
    await client.put(k, { v: 1 }, {}, policy({ exists: Aerospike.policy.exists.CREATE }));
    assert.equal(await codeOf(client.put(k, { v: 2 }, {}, policy({ exists: Aerospike.policy.exists.CREATE }))), Aerospike.status.ERR_RECORD_EXISTS);
    assert.equal(await codeOf(client.put(key('nobody'), { v: 2 }, {}, policy({ exists: Aerospike.policy.exists.UPDATE }))), Aerospike.status.ERR_RECORD_NOT_FOUND);
    await client.put(k, { w: 9 }, {}, policy({ exists: Aerospike.policy.exists.REPLACE }));
    assert.deepEqual((await client.get(k)).bins, { w: 9 });
    assert.equal(await codeOf(client.put(k, { v: 3 }, { gen: 7 }, policy({ gen: Aerospike.policy.gen.EQ }))), Aerospike.status.ERR_RECORD_GENERATION);
    await client.put(k, { v: 3 }, { gen: 2 }, policy({ gen: Aerospike.policy.gen.EQ }));
    assert.equal((await client.get(k)).gen, 3);
    await client.remove(k, new Aerospike.RemovePolicy({ durableDelete: true }));
    assert.equal(await codeOf(client.remove(k)), Aerospike.status.ERR_RECORD_NOT_FOUND);
    assert.equal(await codeOf(client.get(new Aerospike.Key('nope', 'demo', 'x'))), Aerospike.status.ERR_NAMESPACE_NOT_FOUND);
  });

  it('stores the user key with send-key and returns it from scans', async () => {
    const k = key('sent', 'keys');
    await client.put(k, { v: 1 }, {}, new Aerospike.WritePolicy({ key: Aerospike.policy.key.SEND }));
    const recs = await client.scan(ns, 'keys').results();
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.key.key, 'sent');
  });

  it('operates with basic operations', async () => {
    const k = key('ops');
    const op = Aerospike.operations;
    await client.put(k, { n: 1, s: 'b' });
    const rec = await client.operate(k, [op.incr('n', 2), op.append('s', 'c'), op.prepend('s', 'a'), op.read('n'), op.read('s')]);
    assert.deepEqual(rec.bins, { n: 3, s: 'abc' });
    const r2 = await client.operate(k, [op.write('x', 5), op.touch(100), op.read('x')]);
    assert.equal(r2.bins.x, 5);
    assert.equal(await codeOf(client.operate(k, [op.incr('s', 1)])), Aerospike.status.ERR_BIN_INCOMPATIBLE_TYPE);
    await client.operate(k, [op.delete()]);
    assert.equal(await client.exists(k), false);
  });

  it('runs list and map operations with return types', async () => {
    const k = key('cdt');
    const { lists, maps } = Aerospike;
    await client.put(k, { l: [3, 1, 2], m: { a: 1, b: 2, c: 3 } });
    const r = await client.operate(k, [
      lists.append('l', 7),
      lists.getByIndex('l', -1, lists.returnType.VALUE),
      lists.getByRank('l', 0, lists.returnType.VALUE),
      lists.size('l'),
    ]);
    // as from Aerospike: one result per operation, and the client keeps a bin's last one
    assert.equal(r.bins.l, 4);
    const r2 = await client.operate(k, [
      maps.put('m', 'd', 4),
      maps.getByKey('m', 'a', maps.returnType.VALUE),
      maps.getByValueRange('m', 2, 4, maps.returnType.KEY),
      maps.removeByKeyList('m', ['x', 'b'], maps.returnType.COUNT),
      maps.increment('m', 'c', 10),
    ]);
    assert.equal(r2.bins.m, 13);
    assert.deepEqual((await client.operate(k, [maps.getByValueRange('m', 2, 5, maps.returnType.KEY)])).bins.m, ['d']);
    assert.equal((await client.operate(k, [maps.getByKey('m', 'a', maps.returnType.VALUE)])).bins.m, 1);
    const rec = await client.get(k);
    assert.deepEqual(rec.bins.l, [3, 1, 2, 7]);
    assert.deepEqual(rec.bins.m, { a: 1, c: 13, d: 4 });
    const r3 = await client.operate(k, [lists.removeByValueRange('l', 2, 4, lists.returnType.COUNT).invertSelection()]);
    assert.equal(r3.bins.l, 2);
    assert.deepEqual((await client.get(k)).bins.l, [3, 2]);
  });

  it('filters with expressions: FILTERED_OUT for single records, skipped in scans', async () => {
    const exp = Aerospike.exp;
    const k = key('filtered', 'fx');
    await client.put(k, { n: 5, s: 'abc' });
    await client.put(key('other', 'fx'), { n: 50, s: 'zzz' });
    const keep = exp.and(exp.eq(exp.binInt('n'), exp.int(5)), exp.gt(exp.ttl(), exp.int(-2)));
    assert.equal((await client.get(k, new Aerospike.ReadPolicy({ filterExpression: keep }))).bins.n, 5);
    const drop = exp.gt(exp.binInt('n'), exp.int(10));
    assert.equal(await codeOf(client.get(k, new Aerospike.ReadPolicy({ filterExpression: drop }))), Aerospike.status.FILTERED_OUT);
    assert.equal(await codeOf(client.put(k, { n: 6 }, {}, new Aerospike.WritePolicy({ filterExpression: drop }))), Aerospike.status.FILTERED_OUT);
    const scan = client.scan(ns, 'fx');
    const recs = await scan.results(new Aerospike.ScanPolicy({ filterExpression: drop }));
    assert.deepEqual(recs.map((r) => r.bins.n), [50]);
    const re = exp.cmpRegex(0, '^a', exp.binStr('s'));
    assert.deepEqual((await client.scan(ns, 'fx').results(new Aerospike.ScanPolicy({ filterExpression: re }))).map((r) => r.bins.s), ['abc']);
  });

  it('reads and writes in batches, with a result per key', async () => {
    const keys = [key('b1', 'batch'), key('b2', 'batch'), key('b3', 'batch')];
    await client.put(keys[0]!, { a: 1, b: 'x' });
    await client.put(keys[1]!, { a: 2 });
    const got = await client.batchGet(keys);
    assert.deepEqual(got.map((r) => r.status), [0, 0, Aerospike.status.ERR_RECORD_NOT_FOUND]);
    assert.deepEqual(got[0]?.record.bins, { a: 1, b: 'x' });
    const read = await client.batchRead(keys.map((k) => ({ key: k, bins: ['a'] })));
    assert.deepEqual(read.map((r) => r.record.bins?.a), [1, 2, undefined]);
    const op = Aerospike.operations;
    const written = await client.batchWrite([
      { type: Aerospike.batchType.BATCH_WRITE, key: keys[2]!, ops: [op.write('a', 3), op.read('a')] },
      { type: Aerospike.batchType.BATCH_WRITE, key: keys[0]!, ops: [op.incr('a', 10)] },
      { type: Aerospike.batchType.BATCH_REMOVE, key: keys[1]! },
      { type: Aerospike.batchType.BATCH_REMOVE, key: key('b9', 'batch') },
    ]);
    assert.deepEqual(written.map((r) => r.status), [0, 0, 0, Aerospike.status.ERR_RECORD_NOT_FOUND]);
    const after = await client.batchGet(keys);
    assert.deepEqual(after.map((r) => r.record.bins?.a), [11, undefined, 3]);
    const removed = await client.batchRemove([keys[0]!, keys[2]!]);
    assert.deepEqual(removed.map((r) => r.status), [0, 0]);
  });

  it('scans by partition, pages with max records and resumes until every record came once', async () => {
    const n = 120;
    for (let i = 0; i < n; i++) await client.put(key(i, 'pages'), { i });
    const scan = client.scan(ns, 'pages', { paginate: true });
    const seen = new Set<number>();
    let pages = 0;
    do {
      const page = await scan.results({ maxRecords: 25 });
      for (const r of page) {
        assert.ok(!seen.has(r.bins.i as number), `record ${r.bins.i} came twice`);
        seen.add(r.bins.i as number);
      }
      pages++;
      assert.ok(pages < 20, 'the scan does not finish');
    } while (scan.hasNextPage());
    assert.equal(seen.size, n);
    assert.ok(pages >= 5);
    // a partition range only: the records whose digests fall in it
    const part = client.scan(ns, 'pages');
    part.partitions(0, 2048);
    const half = await part.results();
    assert.ok(half.length > 20 && half.length < 100, `${half.length} records in half of the partitions`);
    const headers = await client.scan(ns, 'pages', { nobins: true }).results();
    assert.equal(headers.length, n);
    assert.deepEqual(headers[0]?.bins, {});
  });

  it('queries secondary indexes created through the client: equality, range, strings, geo', async () => {
    for (let i = 0; i < 30; i++) {
      await client.put(key(`q${i}`, 'people'), {
        age: i, name: i % 2 === 0 ? 'even' : 'odd',
        loc: new Aerospike.GeoJSON({ type: 'Point', coordinates: [i, 0] }),
      });
    }
    await (await client.createIntegerIndex({ ns, set: 'people', bin: 'age', index: 'idx_age' })).wait(10);
    await (await client.createStringIndex({ ns, set: 'people', bin: 'name', index: 'idx_name' })).wait(10);
    await (await client.createGeo2DSphereIndex({ ns, set: 'people', bin: 'loc', index: 'idx_loc' })).wait(10);
    const eq = client.query(ns, 'people');
    eq.where(Aerospike.filter.equal('age', 7));
    assert.deepEqual((await eq.results()).map((r) => r.bins.age), [7]);
    const range = client.query(ns, 'people');
    range.where(Aerospike.filter.range('age', 10, 14));
    assert.deepEqual((await range.results()).map((r) => r.bins.age as number).sort((a, b) => a - b), [10, 11, 12, 13, 14]);
    const str = client.query(ns, 'people');
    str.where(Aerospike.filter.equal('name', 'odd'));
    assert.equal((await str.results()).length, 15);
    const geo = client.query(ns, 'people');
    geo.where(Aerospike.filter.geoWithinRadius('loc', 3, 0, 120_000));
    const near = (await geo.results()).map((r) => r.bins.age as number).sort((a, b) => a - b);
    assert.deepEqual(near, [2, 3, 4]);
    const info = await client.infoAny(`sindex-list:ns=${ns}`);
    assert.match(info, /indexname=idx_age/);
    await client.indexRemove(ns, 'idx_name');
    const gone = client.query(ns, 'people');
    gone.where(Aerospike.filter.equal('name', 'odd'));
    assert.equal(await codeOf(gone.results()), Aerospike.status.ERR_INDEX_NOT_FOUND);
  });

  it('registers a JavaScript UDF module through the client and applies it, with Aerospike\'s error conventions', async () => {
    const file = join(dir, 'counter.js');
    writeFileSync(file, [
      'export function bump(rec, by) { rec.n = (rec.n ?? 0) + by; aerospike.update(rec); return rec.n; }',
      'export function fail(rec) { throw new Error(\'boom\'); }',
      'export function owncode(rec) { throw new Error(\'1000:insufficient funds\'); }',
    ].join('\n'));
    // registering validates the module in a sandbox, which can take a while on a loaded machine
    const infoPolicy = new Aerospike.InfoPolicy({ timeout: 20_000 });
    await (await client.udfRegister(file, undefined, infoPolicy)).wait(10);
    const k = key('udf');
    assert.equal(await client.apply(k, { module: 'counter', funcname: 'bump', args: [5] }), 5);
    assert.equal(await client.apply(k, { module: 'counter', funcname: 'bump', args: [2] }), 7);
    assert.equal((await client.get(k)).bins.n, 7);
    const err = await client.apply(k, { module: 'counter', funcname: 'fail', args: [] }).then(() => undefined, (e: { code: number; message: string }) => e);
    assert.equal(err?.code, Aerospike.status.ERR_UDF);
    assert.match(err?.message ?? '', /counter\.js:\d+: .*boom/);
    const own = await client.apply(k, { module: 'counter', funcname: 'owncode', args: [] }).then(() => undefined, (e: { code: number; message: string }) => e);
    assert.equal(own?.code, Aerospike.status.ERR_UDF);
    assert.match(own?.message ?? '', /1000:insufficient funds/);
    assert.equal(await codeOf(client.apply(k, { module: 'counter', funcname: 'nope', args: [] })), Aerospike.status.ERR_UDF);
    const lua = join(dir, 'legacy.lua');
    writeFileSync(lua, 'function f(rec) return 1 end');
    const luaErr = await client.udfRegister(lua, undefined, infoPolicy).then(() => undefined, (e: { code: number; message: string }) => e);
    assert.equal(luaErr?.code, Aerospike.status.ERR_UDF);
    assert.match(luaErr?.message ?? '', /\.js or \.ts/);
    // batch apply: a result per key
    const keys = [key('u1'), key('u2')];
    const applied = await client.batchApply(keys, { module: 'counter', funcname: 'bump', args: [1] });
    assert.deepEqual(applied.map((r) => r.status), [0, 0]);
    await client.udfRemove('counter.js');
    assert.equal(await codeOf(client.apply(k, { module: 'counter', funcname: 'bump', args: [1] })), Aerospike.status.ERR_UDF);
  });

  it('runs background queries (operations and UDF) as jobs the client can wait for', async () => {
    for (let i = 0; i < 20; i++) await client.put(key(`j${i}`, 'jobs'), { v: i });
    const q = client.query(ns, 'jobs');
    const job = await q.operate([Aerospike.operations.incr('v', 100)]);
    await job.wait(20);
    const all = await client.scan(ns, 'jobs').results();
    assert.deepEqual(all.map((r) => r.bins.v as number).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 100));
  });

  it('truncates a set; answers admin messages with "security not enabled" so clients with credentials connect', async () => {
    await client.put(key('t1', 'trunc'), { v: 1 });
    await client.truncate(ns, 'trunc', 0);
    assert.equal(await client.exists(key('t1', 'trunc')), false);
    const withUser = await Aerospike.connect({ hosts: [{ addr: '127.0.0.1', port: node.port }], user: 'admin', password: 'admin', log: { level: Aerospike.log.OFF } });
    try {
      await withUser.put(key('auth'), { v: 1 });
      assert.equal((await withUser.get(key('auth'))).bins.v, 1);
    } finally {
      await withUser.close();
    }
  });

  it('compresses requests and answers when the client asks (message type 4)', async () => {
    const k = key('zip');
    const big = 'y'.repeat(50_000);
    const policy = new Aerospike.WritePolicy({ compress: true });
    await client.put(k, { big }, {}, policy);
    const rec = await client.get(k, new Aerospike.ReadPolicy({ compress: true }));
    assert.equal(rec.bins.big, big);
  });

  it('runs list and map operations in nested contexts, with write flags', async () => {
    const k = key('nested');
    const { lists, maps } = Aerospike;
    await client.put(k, { l: [[1, 2], [3]], m: { a: { x: 1 } } });
    await client.operate(k, [lists.append('l', 9).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addListIndex(-1))]);
    await client.operate(k, [maps.put('m', 'y', 2).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addMapKey('a'))]);
    const rec = await client.get(k);
    assert.deepEqual(rec.bins.l, [[1, 2], [3, 9]]);
    assert.deepEqual(rec.bins.m, { a: { x: 1, y: 2 } });
    const got = await client.operate(k, [lists.getByIndex('l', 0, lists.returnType.VALUE).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addListIndex(0))]);
    assert.equal(got.bins.l, 1);
    const unique = new Aerospike.ListPolicy({ writeFlags: lists.writeFlags.ADD_UNIQUE });
    assert.equal(await codeOf(client.operate(k, [lists.append('l', [3, 9], unique)])), 24, 'ELEMENT_EXISTS');
    const createOnly = new Aerospike.MapPolicy({ writeFlags: maps.writeFlags.CREATE_ONLY });
    assert.equal(await codeOf(client.operate(k, [maps.put('m', 'a', 5, createOnly)])), 24, 'ELEMENT_EXISTS');
    const updateOnly = new Aerospike.MapPolicy({ writeFlags: maps.writeFlags.UPDATE_ONLY });
    assert.equal(await codeOf(client.operate(k, [maps.put('m', 'zz', 5, updateOnly)])), 23, 'ELEMENT_NOT_FOUND');
  });

  it('runs bit operations and expression operations', async () => {
    const k = key('bits');
    const { bitwise, exp } = Aerospike;
    await client.put(k, { b: Buffer.from([0b00001111, 0]), n: 41 });
    const r = await client.operate(k, [bitwise.set('b', 8, 8, Buffer.from([0xff])), bitwise.get('b', 4, 8)]);
    assert.deepEqual(r.bins.b, Buffer.from([0xff]));
    assert.deepEqual((await client.get(k)).bins.b, Buffer.from([0x0f, 0xff]));
    const e = await client.operate(k, [exp.operations.read('plus', exp.add(exp.binInt('n'), exp.int(1)), exp.expReadFlags.DEFAULT)]);
    assert.equal(e.bins.plus, 42);
    await client.operate(k, [exp.operations.write('m', exp.mul(exp.binInt('n'), exp.int(2)), exp.expWriteFlags.DEFAULT)]);
    assert.equal((await client.get(k)).bins.m, 82);
  });

  it('keeps map and list orders: set-type, create orders, ordered-list appends, ORDERED_MAP results', async () => {
    const k = key('orders');
    const { lists, maps } = Aerospike;
    // puts make an unordered map (which the C client reads into a hash map: no order to check)
    await client.operate(k, [maps.put('u', 'z', 1), maps.put('u', 'c', 2), maps.put('u', 'm', 3), maps.put('u', 'a', 4)]);
    await client.operate(k, [maps.setPolicy('u', new Aerospike.MapPolicy({ order: maps.order.KEY_ORDERED }))]);
    assert.deepEqual(Object.keys((await client.get(k)).bins.u as object), ['a', 'c', 'm', 'z'], 'MAP_SET_TYPE sorted the map');
    // a map put that creates the bin with a key-ordered policy
    const ordered = new Aerospike.MapPolicy({ order: maps.order.KEY_ORDERED });
    await client.operate(k, [maps.put('o', 'z', 1, ordered), maps.put('o', 'c', 2), maps.put('o', 'm', 3)]);
    assert.deepEqual(Object.keys((await client.get(k)).bins.o as object), ['c', 'm', 'z']);
    const r = await client.operate(k, [maps.getByRankRange('o', 0, 2, maps.returnType.ORDERED_MAP)]);
    assert.deepEqual(r.bins.o, { c: 2, z: 1 });
    // an ordered list: appends go where they sort, insert is refused
    await client.operate(k, [lists.setOrder('l', lists.order.ORDERED), lists.appendItems('l', [5, 1, 3]), lists.append('l', 2)]);
    assert.deepEqual((await client.get(k)).bins.l, [1, 2, 3, 5]);
    assert.equal(await codeOf(client.operate(k, [lists.insert('l', 0, 9)])), 26, 'OP_NOT_APPLICABLE');
    const created = new Aerospike.ListPolicy({ order: lists.order.ORDERED });
    await client.operate(k, [lists.appendItems('l2', [9, 4], created)]);
    assert.deepEqual((await client.get(k)).bins.l2, [4, 9]);
    // maps.create / lists.create in a context: the nested containers are created with their orders
    await client.operate(k, [maps.create('n', maps.order.KEY_ORDERED).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addMapKeyCreate('inner', maps.order.KEY_ORDERED))]);
    await client.operate(k, [maps.put('n', 'y', 1).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addMapKey('inner')), maps.put('n', 'x', 2).withContext((ctx: InstanceType<typeof Aerospike.cdt.Context>) => ctx.addMapKey('inner'))]);
    assert.deepEqual(Object.keys(((await client.get(k)).bins.n as Record<string, object>).inner as object), ['x', 'y']);
  });

  it('runs HLL operations: init, add, counts, union, similarity, describe; HLL bins read back as HLLs; policies and errors', async () => {
    const k = key('hll');
    const k2 = key('hll2');
    const { hll } = Aerospike;
    const a = Array.from({ length: 2000 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 2000 }, (_, i) => `a${i + 1000}`);
    // the client keeps one result per bin (the last), so each read goes in its own call
    const one = async (o: unknown): Promise<unknown> => (await client.operate(k, [o as never])).bins.h;
    const n = await one(hll.add('h', a, 12, 16)) as number;
    assert.ok(n > 1500 && n <= 2000, `add changed ${n} registers`);
    const count = await one(hll.getCount('h')) as number;
    assert.ok(Math.abs(count - 2000) / 2000 < 0.07, `count ${count}`);
    assert.deepEqual(await one(hll.describe('h')), [12, 16]);
    await client.operate(k2, [hll.add('h', b, 12, 16)]);
    // the stored HLL comes back as an HLL value the client can send again
    const other = (await client.get(k2)).bins.h;
    const union = await one(hll.getUnionCount('h', [other])) as number;
    const sim = await one(hll.getSimilarity('h', [other])) as number;
    const inter = await one(hll.getIntersectCount('h', [other])) as number;
    assert.ok(Math.abs(union - 3000) / 3000 < 0.07, `union ${union}`);
    assert.ok(Math.abs(sim - 1 / 3) < 0.1, `similarity ${sim}`);
    assert.ok(Math.abs(inter - 1000) < 400, `intersection ${inter}`);
    await client.operate(k, [hll.setUnion('h', [other]), hll.refreshCount('h')]);
    assert.ok(Math.abs((await client.operate(k, [hll.getCount('h')])).bins.h as number - 3000) / 3000 < 0.07);
    const createOnly = new Aerospike.policy.HLLPolicy({ writeFlags: hll.writeFlags.CREATE_ONLY });
    assert.equal(await codeOf(client.operate(k, [hll.init('h', 10).withPolicy(createOnly)])), 6, 'BIN_EXISTS');
    assert.equal(await codeOf(client.operate(k, [hll.fold('h', 8)])), 26, 'folding an HLL with min-hash bits');
    assert.equal(await codeOf(client.operate(k, [hll.init('h', 17)])), 4, 'index bits out of range');
    await client.put(k2, { s: 'text' });
    assert.equal(await codeOf(client.operate(k2, [hll.getCount('s')])), 12, 'not an HLL bin');
  });

  it('evaluates HLL, list, map and bit reads inside expressions: filters and expression reads', async () => {
    const k = key('exp-reads');
    const { exp, hll, lists, maps } = Aerospike;
    await client.remove(k).catch(() => undefined);
    await client.put(k, { l: [3, 1, 2], m: { a: 1, b: 2 }, b: Buffer.from([0xf0, 0x0f]) });
    await client.operate(k, [hll.add('h', Array.from({ length: 1000 }, (_, i) => `v${i}`), 12, 16)]);
    const read = async (name: string, e: unknown): Promise<unknown> => (await client.operate(k, [exp.operations.read(name, e as never, exp.expReadFlags.DEFAULT)])).bins[name];
    const count = await read('c', exp.hll.getCount(exp.binHll('h'))) as number;
    assert.ok(Math.abs(count - 1000) / 1000 < 0.07, `HLL count in an expression: ${count}`);
    assert.deepEqual(await read('d', exp.hll.describe(exp.binHll('h'))), [12, 16]);
    const other = (await client.get(k)).bins.h;
    assert.equal(await read('u', exp.hll.getUnionCount(exp.binHll('h'), exp.list([other] as never))), count, 'the union with itself');
    assert.ok(Math.abs((await read('s', exp.hll.getSimilarity(exp.binHll('h'), exp.list([other] as never))) as number) - 1) < 0.01);
    // as a filter: kept when the estimate passes, FILTERED_OUT (27) when not
    const policy = (e: unknown) => new Aerospike.ReadPolicy({ filterExpression: e as never });
    // HLLExp.mayContain: 1 when every value may be in the HLL, else 0
    assert.equal(await read('mc', exp.hll.mayContain(exp.binHll('h'), exp.list(['v1', 'v999'] as never))), 1);
    assert.equal(await read('mc', exp.hll.mayContain(exp.binHll('h'), exp.list(['v1', 'w1', 'w2', 'w3'] as never))), 0);
    const contains = (vs: string[]) => policy(exp.eq(exp.hll.mayContain(exp.binHll('h'), exp.list(vs as never)), exp.int(1)));
    assert.ok((await client.get(k, contains(['v5']))).bins.h !== undefined);
    assert.equal(await codeOf(client.get(k, contains(['w1', 'w2', 'w3']))), Aerospike.status.FILTERED_OUT);
    assert.ok((await client.get(k, policy(exp.gt(exp.hll.getCount(exp.binHll('h')), exp.int(500))))).bins.h !== undefined);
    assert.equal(await codeOf(client.get(k, policy(exp.lt(exp.hll.getCount(exp.binHll('h')), exp.int(500))))), Aerospike.status.FILTERED_OUT);
    // list, map and bit reads
    assert.equal(await read('li', exp.lists.getByIndex(exp.binList('l'), exp.int(0), exp.type.INT, lists.returnType.VALUE)), 3);
    assert.deepEqual(await read('lr', exp.lists.getByRank(exp.binList('l'), exp.int(-1), exp.type.INT, lists.returnType.VALUE)), 3);
    assert.equal(await read('mk', exp.maps.getByKey(exp.binMap('m'), exp.str('b'), exp.type.INT, maps.returnType.VALUE)), 2);
    assert.equal(await read('bc', exp.bit.count(exp.binBlob('b'), exp.int(16), exp.int(0))), 8);
    assert.equal(await read('bi', exp.bit.getInt(exp.binBlob('b'), true as never, exp.int(8), exp.int(0))), -16);
    // cond, let, def and var
    const label = exp.cond(exp.gt(exp.hll.getCount(exp.binHll('h')), exp.int(500)), exp.str('many'), exp.str('few'));
    assert.equal(await read('cond', label), 'many');
    // the client's typings name it _var; at run time it is exp.var
    const varOf = (exp as unknown as { var: (name: string) => ReturnType<typeof exp.int> }).var;
    const twice = exp.let(exp.def('n', exp.lists.size(exp.binList('l'))), exp.add(varOf('n'), varOf('n')));
    assert.equal(await read('let', twice), 6);
    // numeric, bitwise and boolean functions (the client's variadic builders; its fixed-argument
    // ones — pow, abs, intCount, … — fail in the client itself: "Operations array invalid")
    assert.equal(await read('max', exp.max(exp.int(4), exp.lists.size(exp.binList('l')), exp.int(-1))), 4);
    assert.equal(await read('min', exp.min(exp.int(4), exp.lists.size(exp.binList('l')))), 3);
    assert.equal(await read('and', exp.intAnd(exp.int(12), exp.int(10))), 8);
    assert.equal(await read('xor', exp.intXor(exp.int(12), exp.int(10))), 6);
    assert.equal(await read('excl', exp.exclusive(exp.eq(exp.int(1), exp.int(1)), exp.eq(exp.int(1), exp.int(2)))), true);
    assert.equal(await read('maxf', exp.max(exp.float(1.5), exp.float(0.5))), 1.5);
    // HLLExp.init inside an expression: a new empty HLL (the record keeps its own)
    assert.equal(await read('w', exp.hll.getCount(exp.hll.init(exp.binHll('h'), 10))), 0);
    const after = await read('c', exp.hll.getCount(exp.binHll('h'))) as number;
    assert.ok(Math.abs(after - 1000) / 1000 < 0.07, `the bin is unchanged: ${after}`);
  });

  it('evaluates list, map, bit and HLL modify expressions (a changed copy of the value) and computed arguments, as Aerospike', async () => {
    const k = key('exp-modify');
    const { exp, hll, lists, maps } = Aerospike;
    await client.remove(k).catch(() => undefined);
    const bits = Buffer.from([0b00000001, 0b01000010, 0b00000011, 0b00000100, 0b00000101]);
    await client.put(k, { l: [3, 1, 2], m: { a: 1, b: 2 }, n: [[7, 9, 5], [1, 2, 3]], b: bits, i: 1, s: 'b' });
    await client.operate(k, [hll.add('h', ['x', 'y', 'z'], 10)]);
    const read = async (name: string, e: unknown): Promise<unknown> => (await client.operate(k, [exp.operations.read(name, e as never, exp.expReadFlags.DEFAULT)])).bins[name];
    // ListExp.append: the changed list, not stored; size of it; a context modifies inside and returns the whole bin
    assert.deepEqual(await read('r', exp.lists.append(exp.binList('l'), exp.int(5))), [3, 1, 2, 5]);
    assert.equal(await read('r', exp.lists.size(exp.lists.append(exp.binList('l'), exp.int(5)))), 4);
    assert.deepEqual((await client.get(k)).bins.l, [3, 1, 2], 'an expression changes a copy, never the record');
    const last = new Aerospike.cdt.Context().addListIndex(-1);
    assert.deepEqual(await read('r', exp.lists.append(exp.binList('n'), exp.int(4), null, last)), [[7, 9, 5], [1, 2, 3, 4]]);
    assert.deepEqual(await read('r', exp.lists.sort(exp.binList('l'), lists.sortFlags.DEFAULT)), [1, 2, 3]);
    // list sort flags (as an operation too; Aerospike's ListSortFlags 1 descending, 2 drop duplicates — the Node client's sortFlags names only DEFAULT and DROP_DUPLICATES)
    await client.put(key('sorts'), { d: [3, 1, 2, 1, 3] });
    await client.operate(key('sorts'), [lists.sort('d', 2 as never)]);
    assert.deepEqual((await client.get(key('sorts'))).bins.d, [1, 2, 3]);
    await client.operate(key('sorts'), [lists.sort('d', 1 as never)]);
    assert.deepEqual((await client.get(key('sorts'))).bins.d, [3, 2, 1]);
    assert.deepEqual(await read('r', exp.lists.sort(exp.binList('l'), 1 as never)), [3, 2, 1]);
    assert.deepEqual(await read('r', exp.lists.removeByIndex(exp.binList('l'), exp.int(0))), [1, 2]);
    // MapExp.put (the Java docs' example: add entry {11: 22} — here {c: 3}) and remove
    assert.deepEqual(await read('r', exp.maps.put(exp.binMap('m'), exp.int(3), exp.str('c'))), { a: 1, b: 2, c: 3 });
    assert.deepEqual(await read('r', exp.maps.removeByKey(exp.binMap('m'), exp.str('a'))), { b: 2 });
    // BitExp examples from the Java client's docs (bin [1, 0x42, 3, 4, 5])
    assert.deepEqual(await read('r', exp.bit.insert(exp.binBlob('b'), exp.bytes(Buffer.from([0xff, 0xc7]), 2), exp.int(1))), Buffer.from([1, 0xff, 0xc7, 0x42, 3, 4, 5]));
    assert.deepEqual(await read('r', exp.bit.remove(exp.binBlob('b'), exp.int(3), exp.int(2))), Buffer.from([1, 0x42]));
    assert.deepEqual(await read('r', exp.bit.set(exp.binBlob('b'), exp.bytes(Buffer.from([0b11100000]), 1), exp.int(3), exp.int(13))), Buffer.from([1, 0b01000111, 3, 4, 5]));
    assert.deepEqual(await read('r', exp.bit.not(exp.binBlob('b'), exp.int(6), exp.int(25))), Buffer.from([1, 0x42, 3, 0b01111010, 5]));
    assert.equal(await read('r', exp.bit.count(exp.bit.reSize(exp.binBlob('b'), 0 as never, exp.int(1)), exp.int(8), exp.int(0))), 1);
    // HLLExp.add (the Java docs' example: add values, then count > 7)
    const more = Array.from({ length: 20 }, (_, i) => `v${i}`);
    assert.equal(await read('r', exp.gt(exp.hll.getCount(exp.hll.add(exp.binHll('h'), 10, exp.list(more as never))), exp.int(7))), true);
    // written to a bin by an expression write operation: the way to store a modify expression's value
    await client.operate(k, [exp.operations.write('l2', exp.lists.append(exp.binList('l'), exp.int(9)), exp.expWriteFlags.DEFAULT)]);
    assert.deepEqual((await client.get(k)).bins.l2, [3, 1, 2, 9]);
    // a missing bin is unknown (as the server's bin read): refused unless eval-no-fail
    assert.equal(await codeOf(read('r', exp.lists.append(exp.binList('missing'), exp.int(1)))), 26);
    // computed arguments: an index and a key from other bins, a value from arithmetic
    assert.equal(await read('r', exp.lists.getByIndex(exp.binList('l'), exp.binInt('i'), exp.type.INT, lists.returnType.VALUE)), 1);
    assert.equal(await read('r', exp.maps.getByKey(exp.binMap('m'), exp.binStr('s'), exp.type.INT, maps.returnType.VALUE)), 2);
    // the declared value type is checked: an integer read as a string is unknown (26 for an expression read)
    assert.equal(await codeOf(read('r', exp.maps.getByKey(exp.binMap('m'), exp.binStr('s'), exp.type.STR, maps.returnType.VALUE))), 26);
    assert.deepEqual(await read('r', exp.lists.append(exp.binList('l'), exp.add(exp.binInt('i'), exp.int(10)))), [3, 1, 2, 11]);
    // as a filter
    const policy = (e: unknown) => new Aerospike.ReadPolicy({ filterExpression: e as never });
    assert.ok((await client.get(k, policy(exp.eq(exp.lists.size(exp.lists.append(exp.binList('l'), exp.int(0))), exp.int(4))))).bins.l !== undefined);
    // Exp.key: the stored user key of its type (unknown when not stored or of another type); Exp.unknown
    const sent = key('stored-key');
    await client.put(sent, { v: 1 }, {}, new Aerospike.WritePolicy({ key: Aerospike.policy.key.SEND }));
    const unsent = key('digest-only');
    await client.put(unsent, { v: 1 });
    assert.equal((await client.get(sent, policy(exp.eq(exp.keyStr(), exp.str('stored-key'))))).bins.v, 1);
    assert.equal(await codeOf(client.get(sent, policy(exp.eq(exp.keyStr(), exp.str('other'))))), Aerospike.status.FILTERED_OUT);
    assert.equal(await codeOf(client.get(sent, policy(exp.eq(exp.keyInt(), exp.int(1))))), Aerospike.status.FILTERED_OUT, 'a string key read as an integer: unknown');
    assert.equal(await codeOf(client.get(unsent, policy(exp.eq(exp.keyStr(), exp.str('digest-only'))))), Aerospike.status.FILTERED_OUT, 'no stored key: unknown');
    const readAt = async (rk: unknown, e: unknown): Promise<unknown> => (await client.operate(rk as never, [exp.operations.read('r', e as never, exp.expReadFlags.DEFAULT)])).bins.r;
    assert.equal(await readAt(sent, exp.keyStr()), 'stored-key');
    assert.equal(await codeOf(readAt(unsent, exp.keyStr())), 26);
    const guarded = (e: unknown) => exp.cond(exp.eq(exp.binInt('v'), exp.int(1)), e as never, exp.unknown());
    assert.equal(await readAt(sent, guarded(exp.int(10))), 10);
    assert.equal(await codeOf(readAt(sent, exp.cond(exp.eq(exp.binInt('v'), exp.int(2)), exp.int(10), exp.unknown()))), 26, 'the cond fell through to unknown');
    // (the Node client's exp.isTombstone() sends a NOT without an argument: refused with 4, not a crash)
    assert.equal(await codeOf(readAt(sent, exp.isTombstone())), 4);
    assert.equal(await codeOf(client.get(k, policy(exp.eq(exp.lists.size(exp.lists.append(exp.binList('l'), exp.int(0))), exp.int(3))))), Aerospike.status.FILTERED_OUT);
  });
});

