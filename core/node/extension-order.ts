/**
 * The order a node starts its extensions in: every extension after those it depends on
 * (`dependsOn`), otherwise in the order given. A dependency the node does not start, a name
 * given twice, or a cycle is a clear error before anything starts.
 */
import { DbError } from '../errors/index.ts';
import type { NodeExtension } from './extension.ts';

export function orderExtensions(extensions: readonly NodeExtension[]): NodeExtension[] {
  const byName = new Map<string, NodeExtension>();
  for (const e of extensions) {
    if (byName.has(e.name)) throw new DbError('PARAMETER', `the node was given two extensions named '${e.name}'`, { hint: 'start each subsystem once' });
    byName.set(e.name, e);
  }
  for (const e of extensions) {
    for (const d of e.dependsOn ?? []) {
      if (!byName.has(d)) {
        throw new DbError('PARAMETER', `extension '${e.name}' depends on '${d}', which this node does not start`, {
          hint: `start the node with the '${d}' extension too, or without '${e.name}'`,
        });
      }
    }
  }
  const ordered: NodeExtension[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (e: NodeExtension, path: readonly string[]): void => {
    const s = state.get(e.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(e.name)), e.name];
      throw new DbError('PARAMETER', `node extensions depend on each other in a cycle: ${cycle.join(' → ')}`, { hint: 'an extension may only depend on extensions that do not depend on it' });
    }
    state.set(e.name, 'visiting');
    for (const d of e.dependsOn ?? []) visit(byName.get(d) as NodeExtension, [...path, e.name]);
    state.set(e.name, 'done');
    ordered.push(e);
  };
  for (const e of extensions) visit(e, []);
  return ordered;
}
