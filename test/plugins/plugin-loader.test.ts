/** Finding plugin modules: by path, by package name from the config's folder, the shapes a module may export. */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugins } from '../../core/node/plugin-loader.ts';
import { DbError } from '../../core/plugin-api/index.ts';

describe('plugin loader', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'slip-loader-'));
    // an installed package, plain JavaScript, exporting a factory of two plugins
    const pkg = join(dir, 'node_modules', 'slipstream-retransmit-pair');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'slipstream-retransmit-pair', type: 'module', exports: './index.js' }));
    writeFileSync(join(pkg, 'index.js'), `
      import { PLUGIN_API_VERSION, Type } from 'slipstream/plugin-api';
      const make = (name) => ({ kind: 'retransmit', name, apiVersion: PLUGIN_API_VERSION, optionsSchema: Type.Object({}), create: () => ({ nextDelayMs: () => null }) });
      export default () => [make('retransmit-one'), make('retransmit-two')];
    `);
    // named exports instead of a default one
    writeFileSync(join(dir, 'named.js'), `
      import { PLUGIN_API_VERSION } from 'slipstream/plugin-api';
      export const a = { kind: 'retransmit', name: 'retransmit-a', apiVersion: PLUGIN_API_VERSION, optionsSchema: { type: 'object' }, create: () => ({ nextDelayMs: () => null }) };
    `);
    writeFileSync(join(dir, 'empty.js'), 'export {};\n');
    writeFileSync(join(dir, 'no-schema.js'), "export default { kind: 'retransmit', name: 'retransmit-x', apiVersion: 2, create: () => ({}) };\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a package by name from the given folder, and every plugin a factory returns', async () => {
    const loaded = await loadPlugins([{ spec: 'slipstream-retransmit-pair', from: dir }]);
    assert.deepEqual(loaded.map((l) => [l.plugin.name, l.source]), [
      ['retransmit-one', join(dir, 'node_modules/slipstream-retransmit-pair/index.js')],
      ['retransmit-two', join(dir, 'node_modules/slipstream-retransmit-pair/index.js')],
    ]);
  });

  it('takes named exports when there is no default export', async () => {
    const loaded = await loadPlugins([{ spec: './named.js', from: dir }]);
    assert.deepEqual(loaded.map((l) => l.plugin.name), ['retransmit-a']);
  });

  it('names the package, the file or the problem when it cannot', async () => {
    const fails = async (spec: string, re: RegExp): Promise<void> => {
      await assert.rejects(loadPlugins([{ spec, from: dir }]), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && re.test(e.fullMessage));
    };
    await fails('slipstream-not-installed', /plugin slipstream-not-installed: cannot find the package from .*npm install/);
    await fails('./empty.js', /empty\.js: exports no plugin/);
    await fails('./no-schema.js', /plugin 'retransmit-x' \(.*no-schema\.js\) declares no optionsSchema/);
  });
});
