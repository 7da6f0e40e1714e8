/** A node with a durable namespace: restarts, truncate markers, expiry, tombstones, eviction, stop-writes, stats. */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { parseConfig, DEFAULT_CONFIG_TEXT } from '../../core/node/config.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';
import type { SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { openDurableSystemMetadata } from '../helpers/durable-smd.ts';
import { saveTruncateMarker } from '../../core/storage/system-metadata-truncate.ts';
import { DbError } from '../../core/errors/index.ts';
import type { NodeExtension } from '../../core/node/extension.ts';

const T0 = 1_800_000_000_000;
const k = (key: string, set = 's') => ({ namespace: 'bar', set, key });

/** Moves the manual clock in steps, letting the background rounds that fire run to their end. */
async function tick(clock: ManualClock, ms: number, steps = 1): Promise<void> {
  for (let i = 0; i < steps; i++) {
    clock.advance(ms / steps);
    await new Promise((r) => setTimeout(r, 30));
  }
}

async function notFound(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: DbError) => e.code === 'NOT_FOUND');
}

describe('durable namespace in a node', function () {
  this.timeout(60_000);
  let dir: string;
  let clock: ManualClock;
  let node: TestNode | undefined;

  function start(bar: Record<string, unknown> = {}, extensions?: NodeExtension[]): Promise<TestNode> {
    return startTestNode({
      clock,
      plugins: [memoryStorage(), lmdbStorage()],
      ...(extensions === undefined ? {} : { extensions }),
      config: {
        node: { id: 'B1', host: '127.0.0.1', port: 0, dataDir: dir },
        namespaces: [
          { name: 'test', storage: 'storage-memory' },
          { name: 'bar', storage: 'storage-lmdb', storageOptions: { dataDir: 'bar' }, ...bar },
        ],
      },
    });
  }
  async function restart(bar: Record<string, unknown> = {}): Promise<TestNode> {
    await node?.stop();
    node = await start(bar);
    return node;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'slip-node-'));
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await node?.stop();
    node = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the embedded default config has the in-memory test and the durable bar namespace', () => {
    const cfg = parseConfig(structuredClone(DEFAULT_CONFIG_TEXT));
    assert.deepEqual(cfg.namespaces.map((n) => [n.name, n.storage]), [['test', 'storage-memory'], ['bar', 'storage-lmdb']]);
    assert.equal(cfg.namespaces[1]?.storageOptions?.['dataDir'], 'bar');
    assert.equal(cfg.node.dataDir, './data');
  });

  it('keeps records, metadata and stored keys across a restart, under node.dataDir/bar', async () => {
    node = await start();
    const m1 = await node.client.put(k('a'), { n: 1n, s: 'x' }, { sendKey: true, ttl: 3600 });
    await node.client.put(k('a'), { n: 2n }, { ttl: 3600 });
    await node.client.put({ namespace: 'test', set: 's', key: 'mem' }, { n: 1n });
    await restart();
    assert.ok(existsSync(join(dir, 'bar', 'data.mdb')));
    const r = await node.client.get(k('a'));
    assert.deepEqual(r.bins, { n: 2n, s: 'x' });
    assert.equal(r.meta.generation, 2);
    assert.equal(r.meta.ttl, 3600);
    assert.equal(r.meta.lastUpdateMs, T0);
    assert.equal(r.userKey, 'a');
    assert.equal(m1.generation, 1);
    await notFound(node.client.get({ namespace: 'test', set: 's', key: 'mem' })); // in-memory is gone
    // whole records from LMDB take the transcoding fast path: the same as naming the bins
    const scanned = [];
    for await (const x of node.client.scan('bar', { set: 's' })) scanned.push(x);
    const named = [];
    for await (const x of node.client.scan('bar', { set: 's', bins: ['n', 's'], recordsPerMessage: 1 })) named.push(x);
    assert.deepEqual(scanned, named);
    assert.deepEqual(scanned, [r]);
    assert.deepEqual(await node.client.batchGet([k('a')]), await node.client.batchGet([k('a')], { bins: ['n', 's'] }));
  });

  it('durable deletes leave tombstones that survive a restart, keep generations and are collected when old', async () => {
    node = await start({ tombRaider: { eligibleAgeSec: 3600, periodSec: 600 } });
    await node.client.put(k('d'), { v: 1n });
    await node.client.put(k('d'), { v: 2n });
    await node.client.delete(k('d'), { durableDelete: true });
    await node.client.put(k('p'), { v: 1n });
    await node.client.delete(k('p'));
    await restart({ tombRaider: { eligibleAgeSec: 3600, periodSec: 600 } });
    await notFound(node.client.get(k('d')));
    await notFound(node.client.get(k('p')));
    let st = await node.client.statistics('bar');
    assert.equal(st.get('tombstones'), '1');
    assert.equal(st.get('objects'), '0');
    // the next write continues the generation from the tombstone (3), not from 1
    assert.equal((await node.client.put(k('d'), { v: 3n })).generation, 4);
    await node.client.delete(k('d'), { durableDelete: true });
    await tick(clock, 30 * 60_000, 3); // rounds run, the tombstone is too young
    assert.equal((await node.client.statistics('bar')).get('tombstones'), '1');
    await tick(clock, 40 * 60_000, 4); // now older than an hour
    for (let i = 0; i < 50 && (await node.client.statistics('bar')).get('tombstones') !== '0'; i++) await new Promise((r) => setTimeout(r, 20));
    st = await node.client.statistics('bar');
    assert.equal(st.get('tombstones'), '0');
    assert.equal(st.get('tombstones_removed'), '1');
  });

  it('truncate markers with a cut-off survive a restart and finish an interrupted truncate', async () => {
    node = await start();
    await node.client.put(k('old1', 'users'), { v: 1n });
    await node.client.put(k('old2', 'other'), { v: 1n });
    clock.advance(10_000);
    await node.client.put(k('new1', 'users'), { v: 1n });
    assert.equal(await node.client.truncate('bar', 'users', T0 + 5000), 1);
    await restart();
    await notFound(node.client.get(k('old1', 'users')));
    assert.ok(await node.client.get(k('new1', 'users')));
    assert.ok(await node.client.get(k('old2', 'other')));
    // a crash between saving a marker and removing records: the restart finishes the job
    await node.stop();
    node = undefined;
    const smd: SystemMetadataStore = await openDurableSystemMetadata(dir);
    assert.deepEqual(smd.module('truncate').get('bar/users')?.value, { beforeMs: T0 + 5000 });
    await saveTruncateMarker(smd, 'bar', undefined, T0 + 1);
    await smd.close();
    node = await start();
    await notFound(node.client.get(k('old2', 'other')));
    assert.ok(await node.client.get(k('new1', 'users')));
    assert.equal((await node.client.statistics('bar')).get('objects'), '1');
  });

  it('records expire while the node is down, and are never returned after the restart', async () => {
    node = await start({ nsupPeriod: 1 });
    await node.client.put(k('short'), { v: 1n }, { ttl: 5 });
    await node.client.put(k('long'), { v: 1n }, { ttl: 500 });
    await node.stop();
    node = undefined;
    clock.advance(10_000);
    node = await start({ nsupPeriod: 1 });
    await notFound(node.client.get(k('short')));
    assert.ok(await node.client.get(k('long')));
    const seen: string[] = [];
    for await (const r of node.client.scan('bar')) seen.push(String(r.userKey ?? r.bins['v']));
    assert.equal(seen.length, 1);
  });

  it('gives extensions a durable system metadata store when a namespace is durable', async () => {
    let captured: SystemMetadataStore | undefined;
    const ext: NodeExtension = { name: 'probe', async start(ctx) {
      captured = ctx.systemMetadata;
      const m = ctx.systemMetadata.module<{ n: number }>('udf');
      await m.set('m.js', { n: (m.get('m.js')?.value.n ?? 0) + 1 });
    } };
    node = await start({}, [ext]);
    assert.equal(captured?.durable, true);
    await node.stop();
    node = await start({}, [ext]);
    assert.equal(captured?.module('udf').get('m.js')?.generation, 2);
  });

  it('evicts nearest-expiry records above the high-water mark and stops writes with OUT_OF_SPACE, reads going on', async () => {
    const eviction = { sizeBytes: 30_000, evictUsedPct: 50, stopWritesUsedPct: 80, evictTenthsPct: 0, checkPeriodMs: 1000 };
    node = await start({ eviction });
    const big = 'x'.repeat(900);
    for (let i = 0; i < 10; i++) await node.client.put(k(`ttl${i}`), { b: big }, { ttl: 1000 + i });
    for (let i = 0; i < 10; i++) await node.client.put(k(`keep${i}`), { b: big });
    // about 19 KB of 30 KB: above 50 %
    await tick(clock, 1000);
    let st = new Map<string, string>();
    for (let i = 0; i < 100; i++) {
      st = await node.client.statistics('bar');
      if (Number(st.get('evicted_objects')) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const evicted = Number(st.get('evicted_objects'));
    assert.ok(evicted > 0 && evicted <= 10, `evicted ${evicted}`);
    assert.ok(Number(st.get('used_pct')) <= 50);
    for (let i = 0; i < 10; i++) {
      const gone: boolean = await node.client.get(k(`ttl${i}`)).then(() => false, () => true);
      assert.equal(gone, i < evicted, `ttl${i}: nearest expiry goes first`);
    }
    for (let i = 0; i < 10; i++) assert.ok(await node.client.get(k(`keep${i}`)));
    // records without a TTL cannot be evicted: fill to stop-writes
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try { await node.client.put(k(`fill${i}`), { b: big }); } catch (e) { refused = e; }
    }
    assert.ok(refused instanceof DbError, String(refused));
    assert.equal(refused.code, 'OUT_OF_SPACE');
    assert.equal(refused.resultCode, 8);
    assert.match(refused.message, /namespace bar is at .*% of its 29\.3 KiB \(stop-writes at 80%\): writes are refused, reads go on/);
    assert.ok(await node.client.get(k('keep0')));
    assert.equal((await node.client.statistics('bar')).get('stop_writes'), 'true');
    await node.client.delete(k('keep0'));
    for (let i = 1; i < 8; i++) await node.client.delete(k(`keep${i}`), { durableDelete: true });
    await tick(clock, 1000);
    for (let i = 0; i < 100 && (await node.client.statistics('bar')).get('stop_writes') !== 'false'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(await node.client.put(k('after'), { b: 'ok' }));
  });
});
