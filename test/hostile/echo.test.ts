/**
 * Unbounded text echoed to clients, against a real node process: a UDF that throws a 5 MiB
 * message and a Get with a 4 MiB namespace name answer with their codes and messages of about
 * 1 KiB, and the caller's connection stays usable (it used to be torn down by the trailer).
 */
import { strict as assert } from 'node:assert';
import { DbError, toPbKey } from '../../core/client/index.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';
import { aql } from './aql-helper.ts';

const LOUD = `
export function shout(rec) { throw new Error('x'.repeat(5 * 1024 * 1024)); }
export function shoutHint(rec) { throw new Error('1500:' + 'é…'.repeat(2000)); }
export function code(rec, c) { throw new Error(c + ':custom'); }
export function spin(rec) { for (;;) {} }
export function spinAgg(stream) { return stream.map((r) => { for (;;) {} }); }
`;

describe('hostile/echo: messages and hints are cut to about 1 KiB', function () {
  this.timeout(120_000);
  let node: HostileNode;
  const unary = <Req, Res>(m: { path: string; requestSerialize: (r: Req) => Buffer; responseDeserialize: (b: Buffer) => Res }, req: Req): Promise<Res> =>
    // a 5 MiB message is built, sent and cut on a possibly loaded machine: the point is the cut, not the time
    node.client.unary(m as never, req, { timeoutMs: 60_000 }, false) as Promise<Res>;
  before(async () => {
    node = await startHostileNode();
    await unary(UdfServiceService.registerModule, { fileName: 'loud.js', source: LOUD });
  });
  after(async () => { await node?.stop(); });

  const failure = (p: Promise<unknown>): Promise<DbError> => p.then(() => assert.fail('expected an error'), (e: unknown) => {
    assert.ok(e instanceof DbError, String(e));
    return e;
  });

  it('a UDF error of 5 MiB, a UDF user error in non-ASCII and a 4 MiB namespace name reach the client cut, the connection lives', async () => {
    const { result, served } = await whileServed('long messages', node, async () => {
      const key = toPbKey({ namespace: 'test', set: 's', key: 'k' });
      const udf = await failure(unary(UdfServiceService.applyRecordUdf, { key, call: { module: 'loud', function: 'shout', args: [], timeoutMs: 0 } }));
      const user = await failure(unary(UdfServiceService.applyRecordUdf, { key, call: { module: 'loud', function: 'shoutHint', args: [], timeoutMs: 0 } }));
      const ns = await failure(node.client.get({ namespace: 'n'.repeat(4 * 1024 * 1024), set: 's', key: 'k' }));
      return { udf, user, ns };
    });
    assert.equal(result.udf.resultCode, 100, result.udf.message.slice(0, 200));
    assert.equal(result.user.resultCode, 1500, result.user.message.slice(0, 200));
    assert.match(result.user.message, /é…é…/);
    assert.ok(['NAMESPACE', 'PARAMETER'].includes(result.ns.code), `${result.ns.code}: ${result.ns.message.slice(0, 200)}`);
    for (const e of [result.udf, result.user, result.ns]) {
      assert.ok(e.message.length <= 1200, `message of ${e.message.length} characters`);
      assert.ok((e.hint ?? '').length <= 1200, `hint of ${e.hint?.length} characters`);
    }
    assertServed(served);
    // the same client (same HTTP/2 connection) still works
    await node.client.put({ namespace: 'test', set: 's', key: 'after' }, { v: 1 });
    node.assertAlive();
  });

  it('a UDF ends with a catalogue error or a user code (1000 and up); 0, negatives and QUERY_END become 100', async () => {
    const key = toPbKey({ namespace: 'test', set: 's', key: 'k' });
    const codeOf = async (c: string): Promise<number> => (await failure(unary(UdfServiceService.applyRecordUdf, {
      key, call: { module: 'loud', function: 'code', args: [{ kind: { $case: 'string', value: c } }], timeoutMs: 0 },
    }))).resultCode;
    assert.deepEqual(await Promise.all(['0', '-1', '-5', '50', '999', '2', '1000', '4000000'].map(codeOf)), [100, 100, 100, 100, 100, 2, 1000, 4000000]);
  });

  it('a UDF whose caller\'s deadline passed stops then and frees its pool slot', async () => {
    const key = toPbKey({ namespace: 'test', set: 's', key: 'k' });
    // six spinning calls that allow themselves 60 s, from clients that wait 400 ms
    const spins = await Promise.all(Array.from({ length: 6 }, () => node.client.unary(UdfServiceService.applyRecordUdf as never, {
      key, call: { module: 'loud', function: 'spin', args: [], timeoutMs: 60_000 },
    } as never, { timeoutMs: 400 }, false).then(() => undefined, (e: unknown) => e)));
    // the UDF is stopped just before the caller's deadline (its own timeout, 100) or the caller gives up first (TIMEOUT)
    for (const e of spins) assert.ok(e instanceof DbError && (e.code === 'TIMEOUT' || (e.resultCode === 100 && /Timeout/.test(e.message))), String(e));
    // the pool is free again well before the spins' own 60 s
    const t0 = Date.now();
    const err = await failure(unary(UdfServiceService.applyRecordUdf, { key, call: { module: 'loud', function: 'code', args: [{ kind: { $case: 'string', value: '1000' } }], timeoutMs: 0 } }));
    assert.equal(err.resultCode, 1000, err.message);
    assert.ok(Date.now() - t0 < 15_000, `the next UDF call waited ${Date.now() - t0} ms`);
  });

  it('AQL AGGREGATE honours TIMEOUT', async () => {
    await node.client.put({ namespace: 'test', set: 'agg', key: 'a' }, { v: 1n });
    const t0 = Date.now();
    const rs = await Promise.all([1, 2, 3].map(() => aql(node.client, 'AGGREGATE loud.spinAgg() ON test.agg', { TIMEOUT: 500 })));
    const ms = Date.now() - t0;
    for (const r of rs) assert.ok(r.statuses[0]?.code === 9 || r.statuses[0]?.code === 100, JSON.stringify(r.statuses));
    assert.ok(ms < 10_000, `AGGREGATE with TIMEOUT 500 took ${ms} ms (the aggregation default is 30 s)`);
    // and the spinning aggregations were stopped, not left holding the UDF pool for 30 s
    const t1 = Date.now();
    const key = toPbKey({ namespace: 'test', set: 's', key: 'k' });
    const err = await failure(unary(UdfServiceService.applyRecordUdf, { key, call: { module: 'loud', function: 'code', args: [{ kind: { $case: 'string', value: '1000' } }], timeoutMs: 0 } }));
    assert.equal(err.resultCode, 1000, err.message);
    assert.ok(Date.now() - t1 < 10_000, `the next UDF call waited ${Date.now() - t1} ms`);
  });
});
