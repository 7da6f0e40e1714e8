/**
 * Live configuration in AQL: SHOW CONFIG lists the node's effective settings (one row per
 * setting path, and whether it can change while the node runs); SET CONFIG <setting> <value>
 * changes a dynamic one, validated as at start-up (AdminService.SetConfig does the same over
 * gRPC).
 */
import { DbError } from '../../errors/index.ts';
import { CLUSTER_CONFIG, CONFIG_CONTROL, NODE_IDENTITY } from '../../services/index.ts';
import type { ConfigControl } from '../../transaction/config-control.ts';
import { assertAppliedEverywhere } from '../../transaction/cluster-config.ts';
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
    // every node of the cluster (this one first; a change it refuses goes nowhere), one row per node
    'set-config': async (s, ctx, out) => {
      const started = performance.now();
      const change = [{ name: s.name, value: s.value }];
      const everywhere = ctx.services.get(CLUSTER_CONFIG);
      const results = everywhere !== undefined
        ? await everywhere.set(change)
        : [{ nodeId: ctx.services.get(NODE_IDENTITY)?.nodeId.toString(16).toUpperCase() ?? '', applied: control(ctx).set(change) }];
      out.begin([]);
      for (const r of results) {
        for (const a of r.applied ?? []) await out.row([['node', r.nodeId], ['name', a.name], ['from', JSON.stringify(a.from) ?? 'null'], ['to', JSON.stringify(a.to) ?? 'null'], ['error', '']]);
        if (r.error !== undefined) await out.row([['node', r.nodeId], ['name', s.name], ['from', ''], ['to', ''], ['error', `${r.error.code}: ${r.error.message}`]]);
      }
      out.end(performance.now() - started, ctx.nodeAddress);
      assertAppliedEverywhere(results);
    },
  },
  show: {
    CONFIG: async (_s, ctx, out) => {
      const started = performance.now();
      const c = control(ctx);
      const rows: Array<[string, string]> = [];
      flatten(c.current(), '', rows);
      const dynamic = c.dynamicSettings.map((d) => new RegExp(`^${d.replace(/\./g, '\\.').replace(/<[a-z]+>/g, '[^.]+')}$`));
      out.begin([]);
      for (const [name, value] of rows) await out.row([['name', name], ['value', value], ['dynamic', dynamic.some((re) => re.test(name))]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
};
