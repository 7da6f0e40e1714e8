import { strict as assert } from 'node:assert';
import { Kernel } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { writePolicy } from '../../core/transaction/policy.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, type StoredRecord } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { DbError } from '../../core/errors/index.ts';
import type { ReplicaChange } from '../../core/replication/replica-writes.ts';
import { AerospikeFrontEnd } from '../../core/server/aerospike/front-end.ts';
import { SENT, type AnswerLater } from '../../core/server/aerospike/connection.ts';
import { waitingDeadlines } from '../../core/server/aerospike/deadline.ts';
import { ResponseWriter } from '../../core/server/aerospike/message.ts';
import { Field, Info2, Op, PROTO_HEADER_BYTES } from '../../core/server/aerospike/protocol.ts';
import { ServiceLocator } from '../../core/services/locator.ts';
import { computeDigest } from '../../core/model/index.ts';

/** A replica writer whose confirmations the test gives (or refuses) write by write. */
function replicas(): {
  writer: { write(ns: string, change: ReplicaChange, level: 'all' | 'master'): Promise<void> };
  sent: Array<{ change: ReplicaChange; level: string; confirm: () => void; refuse: (err: unknown) => void }>;
} {
  const sent: Array<{ change: ReplicaChange; level: string; confirm: () => void; refuse: (err: unknown) => void }> = [];
  return {
    sent,
    writer: {
      write: (_ns, change, level) => new Promise<void>((confirm, refuse) => { sent.push({ change, level, confirm, refuse }); }),
    },
  };
}

/** A kernel that masters every partition and writes every change to the replicas given. */
async function replicatedKernel(r: ReturnType<typeof replicas>): Promise<{ k: Kernel; engine: { get(d: Uint8Array): unknown } }> {
  const clock = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => ({ id: setTimeout(fn, ms) }), clearTimeout: (h: { id: unknown }) => clearTimeout(h.id as NodeJS.Timeout) };
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const k = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  type Routing = Parameters<typeof k.useRouting>;
  k.useRouting(singleNodeRouter(1n), { remoteMaster: () => undefined } as unknown as Routing[1], r.writer as unknown as Routing[2]);
  return { k, engine };
}

const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('transaction: a write with replicas', () => {
  it('holds the record lock until its replicas confirmed: the next write on the record waits for it', async () => {
    const r = replicas();
    const { k, engine } = await replicatedKernel(r);
    const key = k.key('test', 's', 'held');
    const order: string[] = [];
    const first = k.put(key, { n: 1n }).then((m) => { order.push(`first gen ${m?.generation}`); });
    // the master stored it in the caller's turn and sent it
    assert.equal((engine.get(key.digest) as StoredRecord | undefined)?.meta.generation, 1);
    assert.equal(r.sent.length, 1);
    assert.equal(r.sent[0]?.level, 'all');
    const second = k.operate(key, [{ op: 'add', bin: 'n', value: 1n }]).then((res) => { order.push(`second gen ${res.meta?.generation}`); });
    await drained();
    assert.equal(r.sent.length, 1, 'the second write waits for the record: not applied, not sent');
    assert.deepEqual(order, []);
    r.sent[0]?.confirm();
    await first;
    await drained();
    assert.equal(r.sent.length, 2, 'the lock went to the second write once the replicas confirmed the first');
    assert.deepEqual(order, ['first gen 1'], 'the second is not answered before its own replicas confirm');
    r.sent[1]?.confirm();
    await second;
    assert.deepEqual(order, ['first gen 1', 'second gen 2']);
  });

  it('a replica that does not confirm fails the write TIMEOUT in doubt, and the record is free again', async () => {
    const r = replicas();
    const { k } = await replicatedKernel(r);
    const key = k.key('test', 's', 'doubt');
    const put = k.put(key, { n: 1n }).then(() => undefined, (err: unknown) => err);
    r.sent[0]?.refuse(new DbError('TIMEOUT', 'replica did not confirm', { hint: 'read it again', inDoubt: true }));
    const err = await put;
    assert.ok(err instanceof DbError && err.code === 'TIMEOUT' && err.inDoubt, String(err));
    // free: the next write runs (and is sent) at once
    const next = k.put(key, { n: 2n }, writePolicy({ commitLevel: 'master' }));
    assert.equal(r.sent.length, 2);
    assert.equal(r.sent[1]?.level, 'master', 'the commit level goes with the copy');
    r.sent[1]?.confirm();
    assert.equal((await next)?.generation, 2, 'the master kept the write that was in doubt');
  });
});

/** A put request frame body (after the proto header) with the client's server-side timeout. */
function putFrame(key: string, timeoutMs: number): Buffer {
  const w = new ResponseWriter();
  w.add({
    resultCode: 0, info1: 0, info2: Info2.WRITE, transactionTtl: timeoutMs,
    fields: [[Field.NAMESPACE, Buffer.from('test')], [Field.SET, Buffer.from('s')], [Field.DIGEST, Buffer.from(computeDigest('s', key))]],
    bins: [{ name: 'n', value: 7n, op: Op.WRITE }],
  });
  return w.finish().subarray(PROTO_HEADER_BYTES);
}

describe('Aerospike protocol: a write with replicas', () => {
  it('is answered, and its connection told, in the microtask its replicas\' confirmation comes in', async () => {
    const r = replicas();
    const { k } = await replicatedKernel(r);
    const fe = new AerospikeFrontEnd({
      kernel: k, services: new ServiceLocator(), nodeId: 1n, startedAtMs: Date.now(), version: 'test', address: () => '127.0.0.1:0',
      clusterName: () => undefined, peers: () => [], logger: silentLogger,
    });
    const sent: Buffer[] = [];
    const reply = { closed: false, send: (f: Buffer): Promise<void> => { sent.push(f); return SENT; } };
    const handle = (body: Buffer): Promise<void> | AnswerLater | undefined =>
      (fe as unknown as { frame: (type: number, body: Buffer, reply: unknown, conn: unknown, access: unknown) => Promise<void> | AnswerLater | undefined }).frame(3, body, reply, undefined, undefined);
    const resultOf = (f: Buffer): number => f[PROTO_HEADER_BYTES + 5] as number;
    try {
      for (const timeoutMs of [1000, 0]) {
        sent.length = 0;
        r.sent.length = 0;
        const done = handle(putFrame(`answered-${timeoutMs}`, timeoutMs));
        assert.ok(done !== undefined, 'it waits for its replicas');
        let told = false;
        if ('whenAnswered' in done) done.whenAnswered(() => { told = true; }, () => {});
        else void done.then(() => { told = true; });
        await drained();
        assert.equal(sent.length, 0, 'no answer before the replicas confirm');
        r.sent[0]?.confirm();
        // the microtasks queued so far (the confirmation's) run before this await returns
        await null;
        if (timeoutMs > 0) {
          assert.equal(sent.length, 1, 'the answer went out in the confirmation\'s microtask');
          assert.equal(told, true, 'and the connection was told at once');
        }
        await drained();
        assert.deepEqual(sent.map(resultOf), [0], `transaction_ttl ${timeoutMs}`);
        assert.equal(told, true);
      }
      // a replica that does not confirm: TIMEOUT (9) on the wire
      sent.length = 0;
      r.sent.length = 0;
      const done = handle(putFrame('in-doubt', 1000));
      r.sent[0]?.refuse(new DbError('TIMEOUT', 'replica did not confirm', { hint: 'read it again', inDoubt: true }));
      await drained();
      assert.deepEqual(sent.map(resultOf), [9]);
      // the client's deadline passes first: TIMEOUT once, the late confirmation's answer dropped
      sent.length = 0;
      r.sent.length = 0;
      const late = handle(putFrame('late', 20));
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(sent.map(resultOf), [9], 'TIMEOUT at the client\'s deadline');
      r.sent[0]?.confirm();
      await drained();
      assert.deepEqual(sent.map(resultOf), [9], 'the late answer is dropped');
      assert.ok(done !== undefined && late !== undefined);
      assert.equal(waitingDeadlines(), 0, 'no request left waiting on a deadline');
    } finally {
      await fe.close();
    }
  });
});
