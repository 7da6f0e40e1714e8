/**
 * Loads plugins that are not built in: a config's `"plugins": [...]` or `--plugin`, each a
 * path (an ES module, .ts or .js; relative to the config file, or to the working directory on
 * the command line) or a package name (resolved from that same folder). The module's default
 * export, or else each named export, is a plugin object or a function returning one (or a
 * list of them). Any failure stops start-up with a message naming the plugin, the file and the
 * problem.
 *
 * A plugin imports `slipstream/plugin-api`; the node makes that name resolve to its own copy,
 * so a plugin in any folder uses the very contract (DbError, Type, …) of the node it runs in.
 */
import { existsSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DbError } from '../errors/index.ts';
import type { Plugin } from '../plugin-api/index.ts';
import { checkPluginShape } from './plugin-registry.ts';

export interface LoadedPlugin {
  readonly plugin: Plugin;
  /** The file it came from. */
  readonly source: string;
}

const OWN_ROOT = new URL('../../package.json', import.meta.url);
let hooked = false;

/** Makes `slipstream` and `slipstream/…` resolve to this node's package from anywhere. */
function resolveSdkToThisNode(): void {
  if (hooked) return;
  hooked = true;
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier === 'slipstream' || specifier.startsWith('slipstream/')) return next(specifier, { ...context, parentURL: OWN_ROOT.href });
      return next(specifier, context);
    },
  });
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || isAbsolute(spec) || /\.(m?[jt]s)$/.test(spec);
}

/** The file a plugin spec names, or a DbError saying why there is none. */
export function resolvePluginSpec(spec: string, baseDir: string): string {
  if (looksLikePath(spec)) {
    const file = resolve(baseDir, spec);
    if (!existsSync(file)) {
      throw new DbError('PARAMETER', `plugin ${spec}: file ${file} does not exist`, { hint: `paths are relative to ${baseDir}; give the plugin's .ts or .js file` });
    }
    return file;
  }
  try {
    return createRequire(resolve(baseDir, 'index.js')).resolve(spec);
  } catch (err) {
    try {
      return fileURLToPath(import.meta.resolve(spec, pathToFileURL(resolve(baseDir, 'index.js')).href));
    } catch {
      throw new DbError('PARAMETER', `plugin ${spec}: cannot find the package from ${baseDir}: ${(err as Error).message.split('\n')[0] ?? ''}`, {
        hint: 'install the package (npm install <name>) in the folder of the config file, or give a path to the plugin file',
      });
    }
  }
}

function pluginsIn(mod: Record<string, unknown>, file: string): Plugin[] {
  const candidates = 'default' in mod && mod['default'] !== undefined ? [mod['default']] : Object.values(mod);
  const out: Plugin[] = [];
  for (let c of candidates) {
    if (typeof c === 'function') {
      try {
        c = (c as () => unknown)();
      } catch (err) {
        throw new DbError('PARAMETER', `plugin ${file}: its exported factory threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    for (const p of Array.isArray(c) ? c : [c]) out.push(checkPluginShape(p, file));
  }
  if (out.length === 0) {
    throw new DbError('PARAMETER', `plugin ${file}: exports no plugin`, { hint: 'export default a plugin object { kind, name, apiVersion, optionsSchema, create } or a function returning one' });
  }
  return out;
}

/** A plugin to load: a path or package name, and the folder it is relative to. */
export interface PluginSpec {
  readonly spec: string;
  readonly from: string;
}

/** Loads every spec, in order; all or nothing. */
export async function loadPlugins(specs: readonly PluginSpec[]): Promise<LoadedPlugin[]> {
  if (specs.length === 0) return [];
  resolveSdkToThisNode();
  const loaded: LoadedPlugin[] = [];
  for (const { spec, from } of specs) {
    const file = resolvePluginSpec(spec, from);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      const e = err as Error & { code?: string };
      const why = e.code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING'
        ? 'Node does not strip types of TypeScript files under node_modules'
        : `${e.name === 'SyntaxError' ? 'syntax error: ' : ''}${e.message.split('\n')[0] ?? ''}`;
      throw new DbError('PARAMETER', `plugin ${file}: failed to load: ${why}`, {
        cause: err, hint: e.code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING' ? 'publish the plugin as JavaScript, or load it by path from outside node_modules' : 'fix the module so that `node <file>` can import it',
      });
    }
    for (const plugin of pluginsIn(mod, file)) loaded.push({ plugin, source: file });
  }
  return loaded;
}
