/** Secondary-index statements: CREATE [LIST|MAPKEYS|MAPVALUES] INDEX, DROP INDEX, SHOW INDEXES, STAT INDEX. */
import type { BinValue } from '../../model/index.ts';
import type { IndexStatus } from '../../query/index/manager.ts';
import { checkNamespace } from './common.ts';
import type { StatementFamily } from './executor.ts';
import { querySubsystem } from './query.ts';

/** The columns SHOW INDEXES and STAT INDEX share, up to the collection type. */
function indexColumns(st: IndexStatus): Array<[string, BinValue]> {
  return [['ns', st.namespace], ['indexname', st.name], ['set', st.set ?? null], ['bin', st.bin], ['type', st.type], ['indextype', st.collection]];
}

const indexState = (st: IndexStatus): string => (st.state === 'ready' ? 'RW' : 'WO');

function indexRow(st: IndexStatus): Array<readonly [string, BinValue]> {
  return [...indexColumns(st), ['context', null], ['exp', null], ['state', indexState(st)]];
}

export const indexStatements: StatementFamily = {
  name: 'indexes',
  statements: {
    'create-index': async (s, ctx, out) => {
      checkNamespace(ctx, s.target.namespace);
      await querySubsystem(ctx).indexes.create({
        namespace: s.target.namespace, name: s.name, bin: s.bin, type: s.type, collection: s.collection ?? 'DEFAULT',
        ...(s.target.set === null ? {} : { set: s.target.set }),
      });
      out.status(0, '1 index added.');
    },
    'drop-index': async (s, ctx, out) => {
      checkNamespace(ctx, s.target.namespace);
      await querySubsystem(ctx).indexes.drop(s.target.namespace, s.name, s.target.set ?? undefined);
      out.status(0, '1 index removed.');
    },
  },
  show: {
    INDEXES: async (s, ctx, out) => {
      if (s.namespace !== null) checkNamespace(ctx, s.namespace);
      const started = performance.now();
      out.begin([]);
      for (const st of querySubsystem(ctx).indexes.list(s.namespace ?? undefined)) out.row(indexRow(st));
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
  stat: {
    INDEX: async (s, ctx, out) => {
      if (s.what !== 'INDEX') return;
      checkNamespace(ctx, s.namespace);
      const st = querySubsystem(ctx).indexes.stat(s.namespace, s.index);
      const started = performance.now();
      out.begin([]);
      const rows: Array<[string, BinValue]> = [
        ...indexColumns(st), ['state', indexState(st)], ['load_pct', BigInt(st.loadPct)],
        ['entries', BigInt(st.entries)], ['build_scanned', BigInt(st.buildScanned)], ['build_ms', BigInt(Math.round(st.buildMs ?? 0))],
      ];
      for (const [name, value] of rows) out.row([['name', name], ['value', value]]);
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
};
