/**
 * The UDF host child process (isolation: 'process', the default): whatever kills the child —
 * SIGKILL, an abort, a wedge — fails the calls in flight with a clear UDF error and never the
 * node; the next call runs on a fresh child; the child never outlives its node. Also: the
 * in-process mode still works when configured.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbError } from '../../core/errors/index.ts';
import { SlipstreamClient, toPbKey } from '../../core/client/index.ts';
import { fromPbValue, toPbValue } from '../../core/wire/convert.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { parseUdfConfig, udfExtension } from '../../core/node/extensions/udf.ts';
import { UDF_ENGINE_KEY } from '../../core/services/index.ts';
import { UdfEngine } from '../../core/udf/index.ts';
import { SandboxHost, type SandboxHostEvent } from '../../core/udf/sandbox-host.ts';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';
import { startTestNode } from '../helpers/node-harness.ts';
import { rejects, view } from './helpers.ts';
import { until } from '../helpers/until.ts';

const MODULE = `
export function spin(rec, ms) { const end = Date.now() + ms; while (Date.now() < end) {} return 'spun'; }
export function hello(rec) { return 'hello'; }
export function put(rec, v) { rec.v = v; aerospike.update(rec); return v; }
`;

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('udf/sandbox-host: the UDF host child process', function () {
  this.timeout(30_000);

  describe('engine', () => {
    let engine: UdfEngine;
    const events: SandboxHostEvent[] = [];
    beforeEach(async () => {
      events.length = 0;
      engine = await UdfEngine.open({ poolSize: 2, maxTimeoutMs: 10_000, hostGraceMs: 300, onHostEvent: (e) => events.push(e) });
      await engine.register('host.js', MODULE);
    });
    afterEach(() => engine.shutdown());
    const call = (fn: string, args: bigint[] = [], timeoutMs = 5000) => engine.applyRecord({ module: 'host', fn, args, timeoutMs }, view({ a: 1n }));

    it('runs the sandboxes in a child process by default', async () => {
      assert.equal(engine.isolation, 'process');
      const pid = engine.host?.pid;
      assert.ok(pid !== undefined && pid !== process.pid && alive(pid));
      assert.equal((await call('hello')).value, 'hello');
      assert.deepEqual(events.map((e) => e.kind), ['start']);
    });

    it('SIGKILL of the child during a long call fails that call (and only the calls in flight) with a clear UDF error; the next call runs on a fresh child', async () => {
      const first = engine.host?.pid as number;
      // two sandboxes with the module loaded, so that both calls are running when the child dies
      await Promise.all([call('hello'), call('hello')]);
      const long = rejects(call('spin', [4000n]));
      const other = rejects(call('spin', [4000n]));
      await sleep(200);
      const killedAt = Date.now();
      process.kill(first, 'SIGKILL');
      const [err, err2] = await Promise.all([long, other]);
      assert.ok(Date.now() - killedAt < 3500, 'the calls fail at once, not at their 4 s time limit');
      for (const e of [err, err2]) {
        assert.ok(e instanceof DbError);
        assert.equal(e.resultCode, 100);
        // (on a loaded machine a call may still be loading its module in a fresh sandbox)
        assert.match(e.message, /^UDF error in (host\.spin|loading host\.js): the UDF host process died \(signal SIGKILL\) and was restarted/);
        assert.match(e.hint ?? '', /retry/);
      }
      assert.equal((await call('hello')).value, 'hello');
      const restartMs = Date.now() - killedAt;
      const second = engine.host?.pid as number;
      assert.notEqual(second, first);
      assert.ok(!alive(first));
      assert.deepEqual(events.map((e) => e.kind), ['start', 'exit', 'start']);
      assert.equal(events[1]?.inFlight, 2);
      // both sandboxes of the dead child were replaced, and the pool is whole again
      assert.equal(engine.poolStats('host')?.replaced, 2);
      const results = await Promise.all([call('spin', [50n]), call('spin', [50n])]);
      assert.deepEqual(results.map((r) => r.value), ['spun', 'spun']);
      console.log(`      (kill → next call answered on a fresh child: ${restartMs} ms; child start ${events[2]?.startMs} ms)`);
    });

    it('an abort of the child (SIGABRT, as isolated-vm does on some out-of-memory) fails the call and the next one succeeds', async () => {
      const first = engine.host?.pid as number;
      const long = rejects(call('spin', [4000n]));
      await sleep(200);
      process.kill(first, 'SIGABRT');
      const err = await long;
      assert.equal(err.resultCode, 100);
      assert.match(err.message, /host\.spin: the UDF host process died \(signal SIGABRT\) and was restarted/);
      assert.equal((await call('hello')).value, 'hello');
      assert.notEqual(engine.host?.pid, first);
    });

    it('a child that stops answering is killed after the time limit plus the grace and replaced', async () => {
      assert.equal((await call('hello')).value, 'hello'); // a warm sandbox: the call below needs no load
      const first = engine.host?.pid as number;
      process.kill(first, 'SIGSTOP');
      try {
        const started = Date.now();
        const err = await rejects(call('hello', [], 200));
        const took = Date.now() - started;
        assert.ok(took >= 450 && took < 2000, `${took} ms`);
        assert.equal(err.resultCode, 100);
        assert.match(err.message, /host\.hello: the UDF host process did not answer within 520 ms \(it was killed\) and was restarted/);
        await until('the wedged child is gone', () => !alive(first));
      } finally {
        if (alive(first)) process.kill(first, 'SIGKILL');
      }
      assert.equal((await call('hello')).value, 'hello');
      assert.notEqual(engine.host?.pid, first);
    });

    it('restarts with back-off when the child keeps dying', async () => {
      assert.equal((await call('hello')).value, 'hello'); // leaves an idle sandbox in the pool, on the first child
      // three deaths in a row, each soon after its start: the third restart waits 200 ms
      for (let i = 0; i < 3; i++) {
        await until('a child is running', () => engine.host?.pid !== undefined);
        process.kill(engine.host?.pid as number, 'SIGKILL');
        await until('the death is noticed', () => events.filter((e) => e.kind === 'exit').length === i + 1);
      }
      const diedAt = Date.now();
      assert.equal((await call('hello')).value, 'hello');
      assert.ok(Date.now() - diedAt >= 180, `restarted after ${Date.now() - diedAt} ms`);
      assert.equal(engine.host?.died, 3);
      assert.equal(engine.poolStats('host')?.replaced, 1, 'the idle sandbox of the first child was replaced');
    });

    it('engine shutdown stops the child', async () => {
      const pid = engine.host?.pid as number;
      await engine.shutdown();
      assert.ok(!alive(pid));
      assert.match((await rejects(call('hello'))).message, /closed/);
    });
  });

  describe('RemoteSandbox', () => {
    it('has the Sandbox interface: functions, calls, heap as last reported, load errors as they were, dispose', async () => {
      const host = new SandboxHost();
      try {
        const s = await host.create({ fileName: 'r.js', packageName: 'r', code: 'export function f() {}\nexport function g() {}' }, { memoryLimitMb: 16, loadTimeoutMs: 1000 });
        assert.deepEqual([...s.functions].sort(), ['f', 'g']);
        assert.ok(s.healthy && s.heapUsed() > 100_000, `heap ${s.heapUsed()}`);
        const out = JSON.parse(await s.call(JSON.stringify({ op: 'record', fn: 'nope', args: [], rec: { exists: false, bins: {}, doubles: [], gen: 0, ttl: 0, lut: 0, key: null, digest: '', set: 's', ns: 'test' } }), 1000, 'r.nope')) as { ok: boolean; error?: { name: string } };
        assert.equal(out.ok, false);
        assert.equal(out.error?.name, 'NoSuchFunction');
        assert.equal(s.calls, 1);
        assert.ok(s.heapUsed() > 100_000);
        // a load error crosses as the Error it was (the registry turns it into a compile error)
        const bad = await rejects(host.create({ fileName: 'b.js', packageName: 'b', code: 'export function (' }, { memoryLimitMb: 16, loadTimeoutMs: 1000 }));
        assert.equal(bad.name, 'SyntaxError');
        assert.match(bad.message, /b\.js:1:/);
        s.dispose();
        assert.ok(!s.healthy);
        assert.equal(s.heapUsed(), 0);
        assert.match((await rejects(s.call('{}', 1000, 'r.f'))).message, /the sandbox for r\.js is gone/);
      } finally {
        await host.close();
      }
    });
  });

  describe('in-process mode', () => {
    it('still works when configured, with no child process', async () => {
      const engine = await UdfEngine.open({ isolation: 'in-process' });
      try {
        await engine.register('host.js', MODULE);
        assert.equal(engine.isolation, 'in-process');
        assert.equal(engine.host, undefined);
        assert.equal((await engine.applyRecord({ module: 'host', fn: 'hello' }, view(undefined))).value, 'hello');
        assert.match((await rejects(engine.applyRecord({ module: 'host', fn: 'spin', args: [500n], timeoutMs: 50 }, view(undefined)))).message, /Timeout/);
      } finally {
        await engine.shutdown();
      }
    });

    it('is selected by the node config udf.isolation', async () => {
      assert.deepEqual(parseUdfConfig({ isolation: 'in-process' }), { isolation: 'in-process' });
      assert.throws(() => parseUdfConfig({ isolation: 'thread' }), /udf\.isolation: must be "process" or "in-process"/);
      const t = await startTestNode({ extensions: [udfExtension()], config: { udf: { isolation: 'in-process' } } });
      try {
        const engine = t.node.services.require(UDF_ENGINE_KEY);
        assert.equal(engine.isolation, 'in-process');
        await t.client.unary(UdfServiceService.registerModule, { fileName: 'host.js', source: MODULE }, {}, false);
        const r = await t.client.unary(UdfServiceService.applyRecordUdf, { key: toPbKey({ namespace: 'test', set: 's', key: 'k' }), call: { module: 'host', function: 'hello', args: [], timeoutMs: 0 } }, {}, false);
        assert.equal(fromPbValue(r.value), 'hello');
        assert.equal(engine.host, undefined);
      } finally {
        await t.stop();
      }
    });
  });

  describe('a real node process', function () {
    this.timeout(120_000); // a node process starts in 15–40 s on a loaded 2-core machine
    let dir: string;
    let node: NodeProcess | undefined;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'slipstream-udfhost-'));
      writeFileSync(join(dir, 'node.json'), JSON.stringify({
        node: { host: '127.0.0.1', port: 0, dataDir: join(dir, 'data') },
        namespaces: [{ name: 'test', storage: 'storage-memory' }],
        udf: { poolSize: 1 },
      }));
    });
    afterEach(async () => {
      if (node !== undefined) await node.stop('SIGKILL');
      node = undefined;
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** The pids of the UDF host processes the node reported starting, in order. */
    const hostPids = (p: NodeProcess): number[] => [...p.output().matchAll(/"udfHostPid":(\d+)[^\n]*UDF host process started/g)].map((m) => Number(m[1]));

    it('survives its UDF host aborting: the call fails cleanly, gets and later UDF calls work, and the host never outlives a SIGKILLed node', async () => {
      node = await startNodeProcess(['--config', join(dir, 'node.json'), '--log-level', 'info']);
      const p = node;
      const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000 });
      try {
        await client.unary(UdfServiceService.registerModule, { fileName: 'host.js', source: MODULE }, {}, false);
        const key = { namespace: 'test', set: 's', key: 'k' };
        const apply = (fn: string, args: bigint[] = []) =>
          client.unary(UdfServiceService.applyRecordUdf, { key: toPbKey(key), call: { module: 'host', function: fn, args: args.map(toPbValue), timeoutMs: 30_000 } }, { timeoutMs: 40_000 }, false);
        assert.equal(fromPbValue((await apply('put', [7n])).value), 7n);
        await until('the node logs its UDF host', () => hostPids(p).length === 1);
        const first = hostPids(p)[0] as number;
        assert.ok(alive(first));

        // a UDF is running when its host aborts
        const long = rejects(apply('spin', [4000n]));
        await sleep(300);
        process.kill(first, 'SIGABRT');
        const err = await long;
        assert.equal(err.resultCode, 100, err.message);
        assert.match(err.message, /host\.spin: the UDF host process died \(signal SIGABRT\) and was restarted/);

        // the node is alive and serving: a get, then UDF calls on a fresh host
        assert.equal(p.child.exitCode, null);
        assert.equal((await client.get(key)).bins['v'], 7n);
        assert.equal(fromPbValue((await apply('hello')).value), 'hello');
        assert.equal(fromPbValue((await apply('put', [8n])).value), 8n);
        assert.equal((await client.get(key)).bins['v'], 8n);
        assert.match(p.output(), /UDF host process died/);
        await until('the node logs the fresh host', () => hostPids(p).length === 2);
        const second = hostPids(p)[1] as number;
        assert.ok(second !== first && alive(second) && !alive(first));

        // the node is SIGKILLed while its UDF host is busy with a 20 s call: the host notices
        // (IPC disconnect) and exits at once, no orphan
        const busy = apply('spin', [20_000n]).catch(() => undefined);
        await sleep(300);
        await p.stop('SIGKILL');
        await until('the UDF host exits after its node died', () => !alive(second), 3000);
        await busy;
      } finally {
        client.close();
      }
    });

    it('stops its UDF host when it shuts down', async () => {
      node = await startNodeProcess(['--config', join(dir, 'node.json'), '--log-level', 'info']);
      const p = node;
      const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${p.port}`, timeoutMs: 10_000 });
      try {
        await client.unary(UdfServiceService.registerModule, { fileName: 'host.js', source: MODULE }, {}, false);
      } finally {
        client.close();
      }
      await until('the node logs its UDF host', () => hostPids(p).length === 1);
      const pid = hostPids(p)[0] as number;
      assert.equal(await p.stop('SIGTERM'), 0);
      await until('the UDF host is gone', () => !alive(pid), 3000);
      assert.match(p.output(), /UDF host process stopped/);
    });
  });
});
