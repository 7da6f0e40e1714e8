/**
 * Info statements over the kernel: SHOW NAMESPACES, SHOW BINS, SHOW SETS, STAT SYSTEM,
 * STAT NAMESPACE <ns>. The numbers are the admin service's (GetStatistics, ListSets): both come
 * from transaction/statistics.ts.
 */
import { setList, statistics } from '../../transaction/statistics.ts';
import { checkNamespace } from './common.ts';
import type { ExecContext, StatementFamily } from './executor.ts';
import type { Renderer } from '../language/results.ts';

/** Without a node (a bare in-process kernel): this process stands in for it. */
const PROCESS_IDENTITY = { nodeId: 0n, startedAtMs: Date.now() - Math.round(process.uptime() * 1000) };

async function stat(ctx: ExecContext, out: Renderer, namespace?: string): Promise<void> {
  if (namespace !== undefined) checkNamespace(ctx, namespace);
  const started = performance.now();
  const rows = await statistics(ctx.kernel, ctx.identity ?? PROCESS_IDENTITY, namespace);
  out.begin([]);
  for (const [name, value] of rows) await out.row([['name', name], ['value', value]]);
  out.end(performance.now() - started, ctx.nodeAddress);
}

export const infoStatements: StatementFamily = {
  name: 'info',
  show: {
    NAMESPACES: async (_s, ctx, out) => {
      const started = performance.now();
      out.begin([]);
      for (const ns of ctx.kernel.namespaceNames()) out.row([['namespaces', ns]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
    BINS: async (s, ctx, out) => {
      const started = performance.now();
      out.begin([]);
      for (const ns of s.namespace === null ? ctx.kernel.namespaceNames() : [s.namespace]) {
        checkNamespace(ctx, ns);
        for (const bin of ctx.kernel.binNames(ns)) out.row([['namespace', ns], ['bin', bin]]);
      }
      out.end(performance.now() - started, ctx.nodeAddress);
    },
    SETS: async (s, ctx, out) => {
      if (s.namespace !== null) checkNamespace(ctx, s.namespace);
      const started = performance.now();
      const sets = await setList(ctx.kernel, s.namespace ?? undefined);
      out.begin([]);
      for (const st of sets) await out.row([['ns', st.namespace], ['set', st.set], ['objects', BigInt(st.records)]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
  stat: {
    SYSTEM: (_s, ctx, out) => stat(ctx, out),
    NAMESPACE: (s, ctx, out) => stat(ctx, out, s.what === 'NAMESPACE' ? s.namespace : undefined),
  },
};
