/**
 * The architecture's import rules, enforced:
 * - a plugin imports only core/plugin-api (plus its own folder, node: builtins and npm packages);
 * - nothing in core but the composition roots (core/main.ts, core/cli/) imports plugins/;
 * - inside core, imports point down the layers:
 *   errors ← model ← plugin-api ← {storage, cluster} ← replication ← transaction ← {udf, query} ← {services, wire} ← aql ← server ← {node, client} ← cli/main;
 * - the client does not import the server.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const LAYER: Record<string, number> = {
  errors: 0, model: 1, 'plugin-api': 2, storage: 3, cluster: 3, replication: 3.5, transaction: 4, udf: 5, query: 5,
  services: 6, wire: 6, aql: 7, server: 8, node: 9, client: 9, cli: 10, 'main.ts': 10,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'generated') return [];
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1] as string);
  for (const m of src.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] as string);
  return out.filter((s) => s.startsWith('.'));
}

function coreArea(abs: string): string | undefined {
  const rel = relative(join(ROOT, 'core'), abs);
  if (rel.startsWith('..')) return undefined;
  return rel.split('/')[0];
}

describe('architecture: import boundaries', () => {
  it('plugins import only core/plugin-api', () => {
    const bad: string[] = [];
    for (const f of files(join(ROOT, 'plugins'))) {
      const pluginDir = join(ROOT, 'plugins', relative(join(ROOT, 'plugins'), f).split('/')[0] as string);
      for (const spec of imports(f)) {
        const target = resolve(dirname(f), spec);
        const inOwn = !relative(pluginDir, target).startsWith('..');
        const toApi = target === join(ROOT, 'core/plugin-api/index.ts') || !relative(join(ROOT, 'core/plugin-api'), target).startsWith('..');
        if (!inOwn && !toApi) bad.push(`${relative(ROOT, f)} imports ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('only the composition roots import plugins', () => {
    const bad: string[] = [];
    for (const f of files(join(ROOT, 'core'))) {
      const area = coreArea(f);
      if (area === 'cli' || area === 'main.ts') continue;
      for (const spec of imports(f)) {
        if (!relative(join(ROOT, 'plugins'), resolve(dirname(f), spec)).startsWith('..')) bad.push(`${relative(ROOT, f)} imports ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('core imports point down the layers', () => {
    const bad: string[] = [];
    for (const f of files(join(ROOT, 'core'))) {
      const from = coreArea(f) as string;
      const fromLayer = LAYER[from];
      assert.notEqual(fromLayer, undefined, `core/${from} has no layer: add it to the architecture`);
      for (const spec of imports(f)) {
        const to = coreArea(resolve(dirname(f), spec));
        if (to === undefined || to === from) continue;
        const toLayer = LAYER[to];
        if (toLayer === undefined || toLayer > (fromLayer as number) || (toLayer === fromLayer && from !== to && (from === 'node' || from === 'client')) || (from === 'client' && to === 'server')) {
          bad.push(`${relative(ROOT, f)} (${from}) imports ${spec} (${to})`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });
});
