/**
 * The architecture's import rules, enforced over every TypeScript and JavaScript file of core/,
 * plugins/, test/, bench/, scripts/ and bin/. Imports are read with es-module-lexer, so static
 * imports, side-effect imports (`import './x.ts'`), `export … from`, `import type` and dynamic
 * `import('…')` all count. The layer list is the one in docs/architecture.md (the line starting
 * `errors ←`): the document and the code cannot drift apart.
 *
 * - a plugin (built in or an example) imports only `slipstream/plugin-api` by name (its tests also
 *   `slipstream/testing`) plus its own folder; core imports no storage library;
 * - nothing in core but the composition roots (core/main.ts, core/cli/) imports plugins/;
 * - inside core, imports point down the layers (type-only imports too); on one tier only
 *   the subsystems may use each other, not node and client;
 * - the client imports no server code and of AQL only aql/language; aql/language imports
 *   nothing above core/model; aql/exec nothing of aql/shell;
 * - core and plugins import nothing from test/, bench/ or scripts/; scripts nothing from test/ or
 *   bench/; bench only test/helpers of test/;
 * - every relative import names a file that exists;
 * - no cycles between files, of value imports nor of type-only ones.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SCANNED = ['core', 'plugins', 'test', 'bench', 'scripts', 'bin'];

interface Import {
  readonly from: string;
  readonly spec: string;
  /** Absolute path of the imported file (relative specifiers only). */
  readonly target: string;
  readonly typeOnly: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures') return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js|mjs)$/.test(p) ? [p] : [];
  });
}

/** The relative imports of a file, of every form. */
function importsOf(file: string): Import[] {
  const [imports] = parse(readFileSync(file, 'utf8'), file);
  const out: Import[] = [];
  for (const i of imports) {
    const spec = i.specifier;
    if (spec === undefined || spec === null || !spec.startsWith('.')) continue; // packages, node: builtins, computed dynamic imports
    out.push({ from: file, spec, target: resolve(dirname(file), spec), typeOnly: 'typeOnly' in i && i.typeOnly === true });
  }
  return out;
}

/** Every import specifier of a file (packages too), of every form. */
function specifiersOf(file: string): string[] {
  const [imports] = parse(readFileSync(file, 'utf8'), file);
  return imports.map((i) => i.specifier).filter((x): x is string => typeof x === 'string');
}

/** The top-level folder of a path (core, test, …), or for core/ its area (transaction, aql, main.ts, …). */
function area(abs: string): { top: string; sub: string | undefined } {
  const parts = relative(ROOT, abs).split(sep);
  return { top: parts[0] as string, sub: parts[0] === 'core' ? parts[1] : undefined };
}

const rel = (p: string): string => relative(ROOT, p);
const under = (p: string, dir: string): boolean => !relative(join(ROOT, dir), p).startsWith('..');

/** The tiers of docs/architecture.md's layer line: `errors ← model ← … ← {cli, main.ts}`. */
function documentedLayers(doc: string): Map<string, number> {
  const line = doc.split('\n').find((l) => l.startsWith('errors ←'));
  assert.ok(line !== undefined, 'docs/architecture.md has the layer line (starting "errors ←")');
  const layers = new Map<string, number>();
  line.split('←').forEach((tier, i) => {
    for (const name of tier.trim().replace(/^\{|\}$/g, '').split(',')) layers.set(name.trim(), i);
  });
  return layers;
}

describe('architecture: import boundaries', () => {
  let all: Import[] = [];
  let scanned: string[] = [];
  before(async () => {
    await init;
    scanned = SCANNED.flatMap((d) => files(join(ROOT, d)));
    all = scanned.flatMap(importsOf);
  });

  it('reads every form of import (static, side-effect, export-from, type-only, dynamic)', () => {
    const [imports] = parse([
      "import { a } from './a.ts';", "import './b.ts';", "export { c } from './c.ts';", "export * from './d.ts';",
      "import type { E } from './e.ts';", "const f = await import('./f.ts');",
    ].join('\n'));
    assert.deepEqual(imports.map((i) => [i.specifier, 'typeOnly' in i && i.typeOnly === true]), [
      ['./a.ts', false], ['./b.ts', false], ['./c.ts', false], ['./d.ts', false], ['./e.ts', true], ['./f.ts', false],
    ]);
    assert.ok(all.length > 500, `imports found in ${scanned.length} files: ${all.length}`);
    for (const d of ['core', 'plugins', 'test', 'bench', 'scripts']) assert.ok(all.some((i) => under(i.from, d)), `${d}/ is scanned`);
  });

  it('every relative import names a file that exists', () => {
    assert.deepEqual(all.filter((i) => !existsSync(i.target)).map((i) => `${rel(i.from)} imports ${i.spec}`), []);
  });

  it('plugins and the example plugins import only the SDK surface, by name', () => {
    // a plugin: slipstream/plugin-api; its tests: also slipstream/testing; files of its own folder; node: and npm packages
    const bad: string[] = [];
    const checked: string[] = [];
    for (const root of ['plugins', 'examples/plugins']) {
      for (const f of files(join(ROOT, root))) {
        const pluginDir = join(ROOT, root, relative(join(ROOT, root), f).split(sep)[0] as string);
        checked.push(rel(f));
        const allowed = f.endsWith('.test.ts') ? ['slipstream/plugin-api', 'slipstream/testing'] : ['slipstream/plugin-api'];
        for (const spec of specifiersOf(f)) {
          if (spec.startsWith('.')) {
            if (!under(resolve(dirname(f), spec), rel(pluginDir))) bad.push(`${rel(f)} imports ${spec} (outside its folder)`);
          } else if ((spec === 'slipstream' || spec.startsWith('slipstream/')) && !allowed.includes(spec)) {
            bad.push(`${rel(f)} imports ${spec}`);
          } else if (spec.startsWith('/') || spec.startsWith('file:')) {
            bad.push(`${rel(f)} imports ${spec} (an absolute path)`);
          }
        }
      }
    }
    assert.ok(checked.some((f) => f.startsWith('examples/plugins/storage-append-log/')), 'the examples were checked');
    assert.ok(checked.some((f) => f.startsWith('examples/plugins/template/')), 'the template was checked');
    assert.deepEqual(bad, []);
  });

  it('the SDK entry points are the package exports; the plugin API exposes contracts and helpers, never the kernel or the node', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['./client', './package.json', './plugin-api', './testing']);
    for (const target of Object.values(pkg.exports)) assert.ok(statSync(join(ROOT, target)).isFile(), target);
    const api = specifiersOf(join(ROOT, 'core/plugin-api/index.ts')).map((s) => resolve(join(ROOT, 'core/plugin-api'), s));
    for (const t of api) assert.ok(['plugin-api', 'errors', 'model', 'schema'].includes(area(t).sub ?? ''), rel(t));
  });

  it('core imports no storage library (system metadata sits behind the storage slot)', () => {
    const bad: string[] = [];
    for (const f of files(join(ROOT, 'core'))) {
      for (const spec of specifiersOf(f)) if (['lmdb', 'level', 'better-sqlite3', 'rocksdb'].includes(spec)) bad.push(`${rel(f)} imports ${spec}`);
    }
    assert.deepEqual(bad, []);
  });

  it('only the composition roots import plugins', () => {
    const bad = all.filter((i) => under(i.from, 'core') && !['cli', 'main.ts'].includes(area(i.from).sub ?? '') && under(i.target, 'plugins'));
    assert.deepEqual(bad.map((i) => `${rel(i.from)} imports ${i.spec}`), []);
  });

  it('the layer list of docs/architecture.md names every area of core, and nothing else', () => {
    const layers = documentedLayers(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
    const areas = readdirSync(join(ROOT, 'core')).filter((n) => n !== 'node_modules');
    assert.deepEqual([...layers.keys()].sort(), areas.sort(), 'docs/architecture.md layer line vs the folders of core/');
  });

  it('core imports point down the layers of docs/architecture.md', () => {
    const layers = documentedLayers(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8'));
    const bad: string[] = [];
    for (const i of all.filter((x) => under(x.from, 'core'))) {
      const from = area(i.from).sub as string;
      const to = area(i.target);
      if (to.top !== 'core' || to.sub === from) continue;
      const fl = layers.get(from) as number;
      const tl = layers.get(to.sub as string);
      const sameTierRoots = fl === tl && (from === 'node' || from === 'client');
      if (tl === undefined || tl > fl || sameTierRoots) bad.push(`${rel(i.from)} (${from}) imports ${i.spec} (${to.sub})`);
    }
    assert.deepEqual(bad, []);
  });

  it('the client imports no server code and of AQL only its language; AQL\'s language imports nothing above core/model, its executor nothing of the shell', () => {
    const bad: string[] = [];
    for (const i of all) {
      if (under(i.from, 'core/client') && (under(i.target, 'core/server') || under(i.target, 'core/node'))) bad.push(`${rel(i.from)} imports ${i.spec}`);
      if (under(i.from, 'core/client') && under(i.target, 'core/aql') && !under(i.target, 'core/aql/language')) bad.push(`${rel(i.from)} imports ${i.spec}`);
      if (under(i.from, 'core/aql/exec') && under(i.target, 'core/aql/shell')) bad.push(`${rel(i.from)} imports ${i.spec}`);
      if (under(i.from, 'core/aql/language') && !under(i.target, 'core/aql/language') && !under(i.target, 'core/model') && !under(i.target, 'core/errors')) bad.push(`${rel(i.from)} imports ${i.spec}`);
    }
    assert.deepEqual(bad, []);
  });

  it('core and plugins import nothing from test/, bench/ or scripts/; scripts nothing from test/ or bench/; bench only test/helpers', () => {
    const bad: string[] = [];
    for (const i of all) {
      const from = area(i.from).top;
      const to = area(i.target).top;
      const refused = (from === 'core' || from === 'plugins') ? ['test', 'bench', 'scripts']
        : from === 'scripts' ? ['test', 'bench']
          : from === 'bench' ? (under(i.target, 'test/helpers') ? ['scripts'] : ['test', 'scripts'])
            : [];
      if (refused.includes(to)) bad.push(`${rel(i.from)} imports ${i.spec}`);
    }
    assert.deepEqual(bad, []);
  });

  it('no cycles between files', () => {
    const graph = new Map<string, string[]>();
    for (const f of scanned) graph.set(f, []);
    for (const i of all) if (!i.typeOnly && graph.has(i.target)) graph.get(i.from)?.push(i.target);
    assert.deepEqual(cycles(graph).map((c) => c.map(rel).join(' → ')), []);
  });

  it('no cycles of type-only imports either', () => {
    const graph = new Map<string, string[]>();
    for (const f of scanned) graph.set(f, []);
    for (const i of all) if (graph.has(i.target)) graph.get(i.from)?.push(i.target);
    const found = cycles(graph).map((c) => c.map(rel));
    assert.deepEqual(found.map((c) => c.join(' → ')), []);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(cycles(g).map((c) => [...c].sort()), [['a', 'b', 'c']]);
  });
});

/** The strongly connected components with more than one file (Tarjan), each a cycle of imports. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.reverse());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}
