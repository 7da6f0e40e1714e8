import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  memorySystemMetadata, type JsonValue, type SmdChange, type SystemMetadataStore,
} from '../../core/storage/system-metadata.ts';
import { openDurableSystemMetadata } from '../helpers/durable-smd.ts';
import { DbError } from '../../core/errors/index.ts';

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string, match: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, match);
    assert.ok(err.hint, 'a hint');
    return;
  }
  assert.fail('expected an error');
}

interface IndexDef { readonly [k: string]: JsonValue; name: string; bin: string; type: string }

const dirs: string[] = [];
const impls: { name: string; open(): Promise<SystemMetadataStore> }[] = [
  { name: 'memory', open: async () => memorySystemMetadata(() => 1234) },
  {
    name: 'durable (lmdb)',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'slip-smd-'));
      dirs.push(dir);
      return openDurableSystemMetadata(dir, () => 1234);
    },
  },
];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

for (const impl of impls) {
  describe(`system metadata: ${impl.name}`, () => {
    let smd: SystemMetadataStore;
    beforeEach(async () => { smd = await impl.open(); });
    afterEach(async () => { await smd.close(); });

    it('stores typed values with generation and update time, and lists in key order', async () => {
      const sindex = smd.module<IndexDef>('sindex');
      assert.equal(sindex.get('test:idx_b'), undefined);
      const e1 = await sindex.set('test:idx_b', { name: 'idx_b', bin: 'b', type: 'NUMERIC' });
      assert.deepEqual(e1, { key: 'test:idx_b', value: { name: 'idx_b', bin: 'b', type: 'NUMERIC' }, generation: 1, updatedMs: 1234 });
      await sindex.set('test:idx_a', { name: 'idx_a', bin: 'a', type: 'STRING' });
      const e2 = await sindex.set('test:idx_b', { name: 'idx_b', bin: 'b2', type: 'NUMERIC' });
      assert.equal(e2.generation, 2);
      assert.deepEqual(sindex.list().map((e) => [e.key, e.value.bin, e.generation]), [['test:idx_a', 'a', 1], ['test:idx_b', 'b2', 2]]);
      assert.equal(smd.module('udf').list().length, 0, 'modules are separate');
    });

    it('keeps modules apart, even when one name prefixes another', async () => {
      await smd.module('udf').set('m.lua', 'code');
      await smd.module('udf-meta').set('m.lua', { hash: 'x' });
      await smd.module('u').set('m.lua', 1);
      assert.deepEqual(smd.module('udf').list().map((e) => e.value), ['code']);
      assert.deepEqual(smd.module('u').list().map((e) => e.value), [1]);
      assert.deepEqual(smd.modules(), ['u', 'udf', 'udf-meta']);
    });

    it('deletes into a versioned tombstone, says whether something was deleted, and goes on counting generations', async () => {
      const m = smd.module<number>('truncate');
      await m.set('bar:*', 10);
      assert.equal(await m.delete('bar:*'), true);
      assert.equal(await m.delete('bar:*'), false);
      assert.equal(m.get('bar:*'), undefined);
      assert.deepEqual(m.list(), []);
      assert.deepEqual(smd.modules(), [], 'a module of tombstones only holds nothing');
      assert.deepEqual(smd.items('truncate').map((i) => [i.key, i.generation, i.deleted]), [['bar:*', 2, true]], 'the deletion is kept, versioned');
      assert.equal((await m.set('bar:*', 11)).generation, 3);
      assert.equal((await m.set('bar:*', 11)).generation, 3, 'writing the stored value again makes no new version');
      assert.deepEqual(smd.modules(), ['truncate']);
    });

    it('update is atomic read-modify-write, also under concurrency', async () => {
      const m = smd.module<number>('counters');
      await Promise.all(Array.from({ length: 25 }, () => m.update('n', (cur) => (cur ?? 0) + 1)));
      assert.equal(m.get('n')?.value, 25);
      assert.equal(m.get('n')?.generation, 25);
      assert.equal(await m.update('n', () => undefined), undefined);
      assert.equal(m.get('n'), undefined);
    });

    it('hands out copies: mutating a returned or given value changes nothing stored', async () => {
      const m = smd.module<{ list: number[] }>('users');
      const given = { list: [1, 2] };
      await m.set('u', given);
      given.list.push(3);
      const got = m.get('u');
      (got?.value.list as number[]).push(4);
      assert.deepEqual(m.get('u')?.value, { list: [1, 2] });
    });

    it('tells watchers about changes after they are stored, and stops when unsubscribed', async () => {
      const seen: SmdChange[] = [];
      const stop = smd.watch((c) => seen.push(c));
      const m = smd.module<string>('roles');
      await m.set('r', 'read');
      await m.delete('r');
      await m.delete('r'); // no change, no event
      stop();
      await m.set('r', 'write');
      assert.deepEqual(seen.map((c) => [c.module, c.key, c.entry?.value]), [['roles', 'r', 'read'], ['roles', 'r', undefined]]);
    });

    it('refuses values JSON cannot carry, and bad module names and keys, with hints', async () => {
      const m = smd.module<JsonValue>('x');
      await rejectsWith(m.set('k', 5n as unknown as JsonValue), 'PARAMETER', /bigint/);
      await rejectsWith(m.set('k', { a: Number.NaN }), 'PARAMETER', /NaN/);
      await rejectsWith(m.set('k', { a: undefined } as unknown as JsonValue), 'PARAMETER', /undefined/);
      await rejectsWith(m.set('', 1), 'PARAMETER', /key "" is not valid/);
      await rejectsWith(m.set('a\u0000b', 1), 'PARAMETER', /key/);
      await rejectsWith(() => smd.module('Bad Name'), 'PARAMETER', /module name "Bad Name"/);
      await rejectsWith(m.set('big', 'x'.repeat(5 * 1024 * 1024)), 'PARAMETER', /larger than/);
      assert.equal(m.get('k'), undefined, 'nothing stored by failed writes');
    });

    it('refuses use after close', async () => {
      await smd.close();
      await rejectsWith(() => smd.module('x').get('k'), 'SERVER_ERROR', /closed/);
      smd = await impl.open(); // for afterEach
    });
  });
}

describe('system metadata: durability', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'slip-smd-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('survives close and reopen, in <dataDir>/smd', async () => {
    let smd = await openDurableSystemMetadata(dir);
    assert.equal(smd.durable, true);
    await smd.module('udf').set('sum.js', { code: 'export function sum(r) {}', hash: 'abc' });
    await smd.module('truncate').set('bar:users', { beforeMs: 1_700_000_000_000 });
    await smd.close();
    smd = await openDurableSystemMetadata(dir);
    try {
      assert.deepEqual(smd.module('udf').get('sum.js')?.value, { code: 'export function sum(r) {}', hash: 'abc' });
      assert.equal(smd.module('truncate').get('bar:users')?.generation, 1);
      assert.deepEqual(smd.modules(), ['truncate', 'udf']);
    } finally {
      await smd.close();
    }
    assert.equal(memorySystemMetadata().durable, false);
  });

  it('keeps every resolved write when the process is killed right after', () => {
    const url = new URL('../helpers/durable-smd.ts', import.meta.url).href;
    const script = `
      import { openDurableSystemMetadata } from ${JSON.stringify(url)};
      const smd = await openDurableSystemMetadata(${JSON.stringify(dir)});
      const m = smd.module('sindex');
      for (let i = 0; i < 20; i++) await m.set('idx' + i, { i });
      await m.delete('idx3');
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    return (async () => {
      const smd = await openDurableSystemMetadata(dir);
      try {
        const keys = smd.module<{ i: number }>('sindex').list().map((e) => e.key);
        assert.equal(keys.length, 19);
        assert.ok(!keys.includes('idx3'));
      } finally {
        await smd.close();
      }
    })();
  });

  it('refuses a data directory it cannot create, with a hint', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    await rejectsWith(openDurableSystemMetadata(file), 'PARAMETER', /cannot open the system metadata store/);
  });
});
