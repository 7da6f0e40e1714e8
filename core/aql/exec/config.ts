/**
 * Live configuration in AQL: SHOW CONFIG lists the node's effective settings (one row per
 * setting path, and whether it can change while the node runs); SET CONFIG <setting> <value>
 * changes a dynamic one, validated as at start-up (AdminService.SetConfig does the same over
 * gRPC).
 */
import { DbError } from '../../errors/index.ts';
import { CONFIG_CONTROL } from '../../services/index.ts';
import type { ConfigControl } from '../../transaction/config-control.ts';
import type { ExecContext, StatementFamily } from './executor.ts';

function control(ctx: ExecContext): ConfigControl {
  const c = ctx.services.get(CONFIG_CONTROL);
  if (c === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node has no live configuration', { hint: 'change the config file and restart' });
  return c;
}

/** Flattens the configuration into setting paths as SET CONFIG names them (namespaces by name). */
function flatten(value: unknown, path: string, out: Array<[string, string]>): void {
  if (Array.isArray(value) && path === 'namespaces') {
    for (const ns of value as Array<Record<string, unknown>>) flatten(ns, `namespaces.${String(ns['name'])}`, out);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, path === '' ? k : `${path}.${k}`, out);
  } else {
    out.push([path, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
}

export const configStatements: StatementFamily = {
  name: 'config',
  statements: {
    'set-config': async (s, ctx, out) => {
      const started = performance.now();
      const applied = control(ctx).set([{ name: s.name, value: s.value }]);
      out.begin([]);
      for (const a of applied) await out.row([['name', a.name], ['from', JSON.stringify(a.from) ?? 'null'], ['to', JSON.stringify(a.to) ?? 'null']]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
  show: {
    CONFIG: async (_s, ctx, out) => {
      const started = performance.now();
      const c = control(ctx);
      const rows: Array<[string, string]> = [];
      flatten(c.current(), '', rows);
      const dynamic = c.dynamicSettings.map((d) => new RegExp(`^${d.replace(/\./g, '\\.').replace('<ns>', '[^.]+')}$`));
      out.begin([]);
      for (const [name, value] of rows) await out.row([['name', name], ['value', value], ['dynamic', dynamic.some((re) => re.test(name))]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
};
