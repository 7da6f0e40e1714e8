import { strict as assert } from 'node:assert';
import { MemoryModuleStore, UdfEngine, UdfError, hashSource, parseModuleName } from '../../core/udf/index.ts';
import { rejects, view } from './helpers.ts';

describe('udf/registry', function () {
  let engine: UdfEngine;
  const store = new MemoryModuleStore();
  before(async () => {
    engine = await UdfEngine.open({ store, poolSize: 1 });
  });
  after(() => engine.close());

  it('registers, lists, reads back and removes a module', async () => {
    const src = 'export function hello(rec, who) { return `hello ${who}`; }\nexport const notAFunction = 1;\n';
    const v = await engine.register('greet.js', src);
    assert.equal(v.hash, hashSource(src));
    assert.equal(v.packageName, 'greet');
    assert.deepEqual(v.functions, ['hello']);
    assert.deepEqual(engine.listModules().map((m) => m.fileName), ['greet.js']);
    assert.equal(engine.getModule('greet')?.source, src);
    assert.equal((await store.load())[0]?.hash, v.hash);
    const r = await engine.applyRecord({ module: 'greet', fn: 'hello', args: ['bob'] }, view(undefined));
    assert.equal(r.value, 'hello bob');
    await engine.removeModule('greet.js');
    assert.equal(engine.getModule('greet.js'), undefined);
    assert.equal((await store.load()).length, 0);
    const err = await rejects(engine.applyRecord({ module: 'greet', fn: 'hello' }, view(undefined)));
    assert.equal(err.resultCode, 100);
    assert.match(err.message, /not registered/);
    assert.match((await rejects(engine.removeModule('greet.js'))).message, /not registered/);
  });

  it('refuses a module that does not compile, with file, line, column and message', async () => {
    const err = await rejects(engine.register('broken.js', 'export function f(rec) {\n  return 1 +;\n}\n'));
    assert.ok(err instanceof UdfError);
    assert.deepEqual({ file: err.location.file, line: err.location.line, column: err.location.column }, { file: 'broken.js', line: 2, column: 13 });
    assert.match(err.message, /^compile error in broken\.js:2:13: SyntaxError: /);
    assert.equal(engine.getModule('broken.js'), undefined);
  });

  it('refuses modules whose top-level code throws, imports, or exports no functions', async () => {
    const thrown = await rejects(engine.register('top.js', 'const x = 1;\nnull.boom;\nexport function f() {}'));
    assert.ok(thrown instanceof UdfError);
    assert.equal(thrown.location.line, 2);
    assert.match(thrown.message, /TypeError/);
    assert.match((await rejects(engine.register('imp.js', "import fs from 'node:fs';\nexport function f() { return fs; }"))).message, /imports are not allowed/);
    assert.match((await rejects(engine.register('none.js', 'export const x = 1;'))).message, /exports no functions/);
    assert.match((await rejects(engine.register('loop.js', 'for (;;) {}\nexport function f() {}'))).message, /top-level code ran too long/);
  });

  it('enforces the file-name rule and the 1 MiB limit', async () => {
    for (const bad of ['../x.js', 'a/b.js', '.hidden.js', 'x', 'x.lua', 'a.b.js', 'x y.js', '', `${'a'.repeat(125)}.js`]) {
      assert.throws(() => parseModuleName(bad), /module file name/, bad);
      assert.equal((await rejects(engine.register(bad, 'export function f() {}'))).code, 'PARAMETER');
    }
    assert.equal(parseModuleName('my_mod-2$.mjs').packageName, 'my_mod-2$');
    const big = `export function f() { return 1; }\n//${'x'.repeat(1024 * 1024)}`;
    const err = await rejects(engine.register('big.js', big));
    assert.match(err.message, /limit is 1048576/);
    assert.match((await rejects(engine.register('bin.js', new Uint8Array([0xff, 0xfe])))).message, /not valid UTF-8/);
  });

  it('strips TypeScript at registration and keeps line numbers', async () => {
    const src = 'interface Acc { n: number }\nexport function f(rec: Record<string, unknown>, n: number): number {\n  const a: Acc = { n };\n  if (n < 0) throw new Error(`1001:negative`);\n  return a.n * 2;\n}\n';
    const v = await engine.register('typed.ts', src);
    assert.equal(v.type, 'ts');
    assert.equal(v.source, src);
    assert.equal((await engine.applyRecord({ module: 'typed', fn: 'f', args: [21n] }, view(undefined))).value, 42n);
    const err = await rejects(engine.applyRecord({ module: 'typed', fn: 'f', args: [-1n] }, view(undefined)));
    assert.ok(err instanceof UdfError);
    assert.equal(err.resultCode, 1001);
    assert.equal(err.location.line, 4);
    const enumErr = await rejects(engine.register('enum.ts', 'export function f() {}\nenum E { A }\n'));
    assert.match(enumErr.message, /enum\.ts:2:1: .*only erasable TypeScript/);
    const synErr = await rejects(engine.register('syn.ts', 'export function f(a: ) {}'));
    assert.match(synErr.message, /syn\.ts:1:22/);
    await engine.removeModule('typed.ts');
  });

  it('replaces a module atomically: calls in flight finish on the old version', async () => {
    await engine.register('ver.js', 'export function v(rec, spin) { const end = Date.now() + spin; while (Date.now() < end) {} return 1; }');
    const h1 = engine.getModule('ver.js')?.hash;
    const inFlight = engine.applyRecord({ module: 'ver', fn: 'v', args: [150n] }, view(undefined));
    await new Promise((r) => setTimeout(r, 30));
    await engine.register('ver.js', 'export function v(rec) { return 2; }');
    assert.notEqual(engine.getModule('ver.js')?.hash, h1);
    assert.equal((await inFlight).value, 1n);
    assert.equal((await engine.applyRecord({ module: 'ver', fn: 'v', args: [0n] }, view(undefined))).value, 2n);
    // a failed re-registration leaves the current version in place
    await rejects(engine.register('ver.js', 'export function v( {'));
    assert.equal((await engine.applyRecord({ module: 'ver', fn: 'v', args: [0n] }, view(undefined))).value, 2n);
    // a second file with the same package name is refused
    assert.match((await rejects(engine.register('ver.ts', 'export function v() {}'))).message, /same package name/);
    await engine.removeModule('ver.js');
  });

  it('loads persisted modules when a new engine opens the same store', async () => {
    await engine.register('kept.js', 'export function k() { return "kept"; }');
    const second = await UdfEngine.open({ store, poolSize: 1 });
    try {
      assert.equal((await second.applyRecord({ module: 'kept', fn: 'k' }, view(undefined))).value, 'kept');
    } finally {
      second.close();
      await engine.removeModule('kept.js');
    }
  });
});
