/**
 * The UdfService over real gRPC: a node on an ephemeral port with the query and UDF subsystems,
 * a real client. Covers every RPC, the error conventions (100 with module/line, user codes like
 * 1000 kept), limits reaching the client as clean errors, and background jobs (progress, kill).
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { DbError } from '../../core/errors/index.ts';
import type { BinValue } from '../../core/model/index.ts';
import { queryExtension } from '../../core/node/extensions/query.ts';
import { bin, cmp, exprToJsonText, lit } from '../../core/query/expr/index.ts';
import { udfExtension, parseUdfConfig } from '../../core/node/extensions/udf.ts';
import { UDF_ENGINE_KEY } from '../../core/services/index.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import { toPbKey } from '../../core/client/index.ts';
import { fromPbValue, toPbValue } from '../../core/wire/convert.ts';
import { UdfServiceService, type JobInfo, type UdfCall } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { rejects } from './helpers.ts';

const BANK = `
export function open(rec, amount) {
  if (aerospike.exists(rec)) throw new Error('1001:account exists');
  rec.balance = amount;
  aerospike.create(rec);
  return rec.balance;
}
export function withdraw(rec, amount) {
  if (!aerospike.exists(rec)) throw new Error('1002:no such account');
  if (rec.balance < amount) throw new Error('1000:insufficient funds');
  rec.balance = rec.balance - amount;
  aerospike.log('withdrew', amount);
  aerospike.update(rec);
  return rec.balance;
}
export function info(rec) { return { gen: record.gen(rec), key: record.key(rec), big: 9007199254740993n }; }
export function close(rec) { aerospike.remove(rec); return true; }
export function broken(rec) { return rec.nothing.deeper; }
export function spin(rec) { for (;;) {} }
export function hog(rec) { const a = []; for (;;) a.push('x'.repeat(1024) + a.length); }
export function touchAll(rec, by) { rec.n = (rec.n ?? 0) + by; aerospike.update(rec); return rec.n; }
`;

const STATS = `
export function total(stream, bin) { return stream.map((r) => r[bin]).reduce((a, b) => a + b); }
export function perColor(stream) { return stream.groupBy((r) => r.color, 0, (n, r) => n + 1, (a, b) => a + b); }
export function each(stream) { return stream.map((r) => r.v); }
export function failing(stream) { return stream.reduce((a, b) => { throw new Error('1234:no reduce today'); }); }
`;

function call(module: string, fn: string, args: BinValue[] = [], timeoutMs = 0): UdfCall {
  return { module, function: fn, args: args.map(toPbValue), timeoutMs };
}

describe('udf: UdfService over gRPC', function () {
  this.timeout(30_000);
  let t: TestNode;
  const unary = <Req, Res>(m: { path: string; requestSerialize: (r: Req) => Buffer; responseDeserialize: (b: Buffer) => Res }, req: Req): Promise<Res> =>
    t.client.unary(m as never, req, {}, false) as Promise<Res>;
  const apply = (key: string, c: UdfCall, set = 'acct') => unary(UdfServiceService.applyRecordUdf, { key: toPbKey({ namespace: 'test', set, key }), call: c });
  async function aggregate(target: { namespace: string; set?: string; filterJson?: string }, c: UdfCall): Promise<BinValue[]> {
    const out: BinValue[] = [];
    for await (const r of t.client.stream(UdfServiceService.aggregate, { target: { filterJson: '', ...target }, call: c })) out.push(fromPbValue(r.value));
    return out;
  }

  before(async () => {
    t = await startTestNode({
      extensions: [queryExtension(), udfExtension()],
      config: { udf: { poolSize: 1, memoryLimitMb: 16, maxTimeoutMs: 5000 } },
    });
    await unary(UdfServiceService.registerModule, { fileName: 'bank.js', source: BANK });
    await unary(UdfServiceService.registerModule, { fileName: 'stats.js', source: STATS });
  });
  after(async () => { await t?.stop(); });

  it('registers, lists, reads back and removes modules; TypeScript is stripped; re-register replaces', async () => {
    const ts = 'export function twice(rec: unknown, n: number): number { return n * 2; }\n';
    const reg = await unary(UdfServiceService.registerModule, { fileName: 'twice.ts', source: ts });
    assert.deepEqual({ ...reg.module, registeredAtMs: 0n }, {
      fileName: 'twice.ts', packageName: 'twice', type: 'ts', hash: createHash('sha256').update(ts).digest('hex'),
      registeredAtMs: 0n, functions: ['twice'], sizeBytes: BigInt(ts.length),
    });
    const list = await unary(UdfServiceService.listModules, {});
    assert.deepEqual(list.modules.map((m) => m.fileName), ['bank.js', 'stats.js', 'twice.ts']);
    const got = await unary(UdfServiceService.getModule, { name: 'twice' });
    assert.equal(got.source, ts);
    assert.equal(got.module?.hash, reg.module?.hash);
    assert.deepEqual(fromPbValue((await apply('x', call('twice', 'twice', [21n]))).value), 42n);

    const v2 = 'export function twice(rec, n) { return n * 3; }\nexport function other() {}\n';
    const re = await unary(UdfServiceService.registerModule, { fileName: 'twice.ts', source: v2 });
    assert.notEqual(re.module?.hash, reg.module?.hash);
    assert.deepEqual(re.module?.functions, ['other', 'twice']);
    assert.deepEqual(fromPbValue((await apply('x', call('twice', 'twice', [21n]))).value), 63n);

    await unary(UdfServiceService.removeModule, { name: 'twice.ts' });
    assert.deepEqual((await unary(UdfServiceService.listModules, {})).modules.map((m) => m.fileName), ['bank.js', 'stats.js']);
    const gone = await rejects(unary(UdfServiceService.getModule, { name: 'twice.ts' }));
    assert.equal(gone.resultCode, 100);
    assert.match(gone.message, /not registered/);
    assert.equal((await rejects(unary(UdfServiceService.removeModule, { name: 'twice.ts' }))).resultCode, 100);
    // the engine the gRPC service uses is the one other subsystems find
    assert.equal(t.node.services.require(UDF_ENGINE_KEY).getModule('twice'), undefined);
  });

  it('refuses bad modules with clear errors: compile error with line and column, bad names, size limit', async () => {
    const bad = await rejects(unary(UdfServiceService.registerModule, { fileName: 'bad.js', source: 'export function f(rec) {\n  return rec.a +;\n}\n' }));
    assert.equal(bad.resultCode, 100);
    assert.match(bad.message, /compile error in bad\.js:2:\d+/);
    const name = await rejects(unary(UdfServiceService.registerModule, { fileName: '../etc/passwd.js', source: 'export function f() {}' }));
    assert.equal(name.resultCode, 4);
    assert.match(name.message, /invalid module file name/);
    const big = await rejects(unary(UdfServiceService.registerModule, { fileName: 'big.js', source: `export function f() {}\n//${'x'.repeat(1024 * 1024)}` }));
    assert.match(big.message, /1 ?MiB|1048576/);
    assert.ok(big instanceof DbError && big.resultCode !== 0);
    assert.deepEqual((await unary(UdfServiceService.listModules, {})).modules.map((m) => m.fileName), ['bank.js', 'stats.js']);
  });

  it('applies record UDFs: return values, writes under the record lock, metadata, logs, exact integers', async () => {
    const opened = await apply('alice', call('bank', 'open', [100n]));
    assert.equal(fromPbValue(opened.value), 100n);
    assert.equal(opened.effect, 'write');
    assert.equal(opened.meta?.generation, 1);
    const w = await apply('alice', call('bank', 'withdraw', [30n]));
    assert.equal(fromPbValue(w.value), 70n);
    assert.equal(w.meta?.generation, 2);
    assert.deepEqual(w.logs, ['withdrew 30']);
    assert.deepEqual((await t.client.get({ namespace: 'test', set: 'acct', key: 'alice' })).bins, { balance: 70n });
    const info = fromPbValue((await apply('alice', call('bank', 'info'))).value) as Map<string, BinValue>;
    assert.equal(info.get('gen'), 2n);
    assert.equal(info.get('big'), 9007199254740993n);
    const closed = await apply('alice', call('bank', 'close'));
    assert.equal(closed.effect, 'delete');
    assert.equal(closed.meta, undefined);
    assert.equal((await rejects(t.client.get({ namespace: 'test', set: 'acct', key: 'alice' }))).resultCode, 2);
  });

  it('keeps Aerospike error conventions: user codes, code 100 with module/function/line, nothing written on failure', async () => {
    await apply('bob', call('bank', 'open', [10n]));
    const poor = await rejects(apply('bob', call('bank', 'withdraw', [50n])));
    assert.equal(poor.resultCode, 1000);
    assert.match(poor.message, /^insufficient funds \(at bank\.js:\d+:\d+ in withdraw\)/);
    assert.equal((await rejects(apply('nobody', call('bank', 'withdraw', [1n])))).resultCode, 1002);
    assert.equal((await rejects(apply('bob', call('bank', 'open', [1n])))).resultCode, 1001);
    const broken = await rejects(apply('bob', call('bank', 'broken')));
    assert.equal(broken.resultCode, 100);
    assert.match(broken.message, /TypeError.*bank\.js:\d+:\d+ in broken/);
    const missingFn = await rejects(apply('bob', call('bank', 'nope')));
    assert.equal(missingFn.resultCode, 100);
    const missingMod = await rejects(apply('bob', call('ghost', 'f')));
    assert.equal(missingMod.resultCode, 100);
    assert.match(missingMod.message, /ghost/);
    assert.equal((await rejects(apply('bob', { module: '', function: '', args: [], timeoutMs: 0 }))).resultCode, 4);
    assert.deepEqual((await t.client.get({ namespace: 'test', set: 'acct', key: 'bob' })).bins, { balance: 10n });
  });

  it('ends runaway UDFs with clean errors (time and memory limits) and keeps serving', async () => {
    const started = Date.now();
    const spin = await rejects(apply('bob', call('bank', 'spin', [], 200)));
    assert.equal(spin.resultCode, 100);
    assert.match(spin.message, /Timeout.*200 ms/);
    assert.ok(Date.now() - started < 3000);
    // without timeout_ms the call's deadline bounds the UDF, and its own error arrives first
    const byDeadline = await rejects(t.client.unary(UdfServiceService.applyRecordUdf, { key: toPbKey({ namespace: 'test', set: 'acct', key: 'bob' }), call: call('bank', 'spin') }, { timeoutMs: 600 }, false));
    assert.equal(byDeadline.resultCode, 100);
    assert.match(byDeadline.message, /Timeout/);
    const hog = await rejects(apply('bob', call('bank', 'hog', [], 4000)));
    assert.equal(hog.resultCode, 100);
    assert.match(hog.message, /memory limit/);
    assert.equal(fromPbValue((await apply('bob', call('bank', 'withdraw', [1n]))).value), 9n);
  });

  it('aggregates over a set, with and without a filter, the final reduce on the server', async () => {
    for (let i = 0; i < 30; i++) await t.client.put({ namespace: 'test', set: 'agg', key: BigInt(i) }, { v: BigInt(i), color: ['red', 'green', 'blue'][i % 3] as string });
    await t.client.put({ namespace: 'test', set: 'other', key: 1n }, { v: 1000n });
    assert.deepEqual(await aggregate({ namespace: 'test', set: 'agg' }, call('stats', 'total', ['v'])), [435n]);
    const filter = exprToJsonText(cmp('>=', bin('v'), lit(20n)));
    assert.deepEqual(await aggregate({ namespace: 'test', set: 'agg', filterJson: filter }, call('stats', 'total', ['v'])), [245n]);
    const groups = (await aggregate({ namespace: 'test', set: 'agg' }, call('stats', 'perColor')))[0] as Map<string, BinValue>;
    assert.deepEqual([...groups].sort(), [['blue', 10n], ['green', 10n], ['red', 10n]]);
    const each = await aggregate({ namespace: 'test', set: 'agg', filterJson: exprToJsonText(cmp('<', bin('v'), lit(3n))) }, call('stats', 'each'));
    assert.deepEqual(each.sort(), [0n, 1n, 2n]);
    // the whole namespace (no set): the records of every set that have v
    assert.equal((await aggregate({ namespace: 'test', filterJson: exprToJsonText(cmp('>=', bin('v'), lit(0n))) }, call('stats', 'total', ['v'])))[0], 1435n);
  });

  it('reports aggregation errors with their codes', async () => {
    const user = await rejects(aggregate({ namespace: 'test', set: 'agg' }, call('stats', 'failing')));
    assert.equal(user.resultCode, 1234);
    assert.match(user.message, /no reduce today/);
    assert.equal((await rejects(aggregate({ namespace: 'nope', set: 'agg' }, call('stats', 'total', ['v'])))).resultCode, 20);
    assert.equal((await rejects(aggregate({ namespace: 'test', set: 'agg' }, call('stats', 'absent')))).resultCode, 100);
    assert.equal((await rejects(aggregate({ namespace: 'test', set: 'agg', filterJson: '{"cmp": 1' }, call('stats', 'total', ['v'])))).resultCode, 4);
  });

  it('runs background jobs with a throttle, reports progress, and kills them', async () => {
    for (let i = 0; i < 40; i++) await t.client.put({ namespace: 'test', set: 'jobs', key: BigInt(i) }, { n: 0n });
    const started = await unary(UdfServiceService.startBackgroundJob, {
      target: { namespace: 'test', set: 'jobs', filterJson: '' }, call: call('bank', 'touchAll', [1n]), recordsPerSecond: 20,
    });
    const id = started.job?.id as bigint;
    assert.equal(started.job?.status, 'running');
    assert.equal(started.job?.total, 40n);
    await new Promise((r) => setTimeout(r, 400));
    const listed = (await unary(UdfServiceService.listJobs, {})).jobs.find((j) => j.id === id) as JobInfo;
    assert.equal(listed.status, 'running');
    assert.ok(listed.done > 0n && listed.done < 40n, `progress ${listed.done}`);
    assert.ok(listed.progressPct > 0 && listed.progressPct < 100);
    const killed = await unary(UdfServiceService.killJob, { id });
    assert.equal(killed.killed, true);
    assert.equal(killed.job?.status, 'killed');
    await new Promise((r) => setTimeout(r, 200));
    const after = (await unary(UdfServiceService.listJobs, {})).jobs.find((j) => j.id === id) as JobInfo;
    assert.equal(after.status, 'killed');
    assert.ok(after.endedMs > 0n);
    let touched = 0;
    for await (const r of t.client.scan('test', { set: 'jobs' })) if (r.bins.n === 1n) touched++;
    assert.equal(BigInt(touched), after.done);
    assert.ok(touched < 40);
    assert.equal((await unary(UdfServiceService.killJob, { id })).killed, false);
    assert.equal((await rejects(unary(UdfServiceService.killJob, { id: 999_999n }))).resultCode, 4);

    // unthrottled, with a filter: runs to completion; only matching records change
    const f = await unary(UdfServiceService.startBackgroundJob, {
      target: { namespace: 'test', set: 'jobs', filterJson: exprToJsonText(cmp('=', bin('n'), lit(0n))) }, call: call('bank', 'touchAll', [10n]), recordsPerSecond: 0,
    });
    const fid = f.job?.id as bigint;
    let done: JobInfo | undefined;
    for (let i = 0; i < 100 && done?.status !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      done = (await unary(UdfServiceService.listJobs, {})).jobs.find((j) => j.id === fid);
    }
    assert.equal(done?.status, 'done');
    assert.equal(done?.progressPct, 100);
    assert.equal(done?.succeeded, BigInt(40 - touched));
    for await (const r of t.client.scan('test', { set: 'jobs' })) assert.ok(r.bins.n === 1n || r.bins.n === 10n);
  });

  it('refuses jobs that cannot run before starting them', async () => {
    assert.equal((await rejects(unary(UdfServiceService.startBackgroundJob, { target: { namespace: 'test', set: 'jobs', filterJson: '' }, call: call('bank', 'absent'), recordsPerSecond: 0 }))).resultCode, 100);
    assert.equal((await rejects(unary(UdfServiceService.startBackgroundJob, { target: { namespace: 'nope', filterJson: '' }, call: call('bank', 'touchAll'), recordsPerSecond: 0 }))).resultCode, 20);
    assert.equal((await rejects(unary(UdfServiceService.startBackgroundJob, { call: call('bank', 'touchAll'), recordsPerSecond: 0 }))).resultCode, 4);
  });

  it('validates the udf config section; the UDF subsystem is a built-in extension', () => {
    assert.deepEqual(parseUdfConfig({ poolSize: 3 }), { poolSize: 3 });
    assert.throws(() => parseUdfConfig({ poolSize: 0 }), /udf\.poolSize: must be an integer from 1/);
    assert.throws(() => parseUdfConfig({ memoryLimit: 3 }), /udf\.memoryLimit: is not a UDF setting/);
    assert.throws(() => parseUdfConfig([]), /must be an object/);
    assert.ok(builtInExtensions().some((e) => e.name === 'udf'));
  });
});
