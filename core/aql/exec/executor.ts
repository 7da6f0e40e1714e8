/**
 * The server-side AQL executor: AST → calls on this node's kernel and subsystems, results as
 * renderer events (so the same statements feed a terminal renderer in-process or a gRPC
 * stream). One executor per node, made by the AQL extension: its statement table is built once
 * from statement families (one file each: key-value.ts, operate.ts, info.ts, indexes.ts,
 * udf.ts, cluster.ts) and never changes; statements reach the other subsystems through the
 * node's service locator (`ctx.services`), so a statement of a subsystem the node does not run
 * answers UNSUPPORTED_FEATURE (16).
 */
import { clientErrorName, DbError, toDbError } from '../../errors/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { StatisticsIdentity } from '../../transaction/statistics.ts';
import type { ServiceLocator } from '../../services/index.ts';
import type { ShowStatement, Statement, StatementKind } from '../language/ast.ts';
import type { Renderer } from '../language/results.ts';
import type { Settings } from '../language/settings.ts';

/** What one statement runs with: the node (kernel, services) and the call (settings, signal, …). */
export interface ExecContext {
  readonly kernel: Kernel;
  /** The node's service locator: the query subsystem, the UDF runner, the cluster service… */
  readonly services: ServiceLocator;
  readonly settings: Settings;
  /** Aborted when the client cancels (Ctrl-C) or the call ends. */
  readonly signal: AbortSignal;
  /** This node's address, for info results (`[127.0.0.1:3000] 1 row in set`). */
  readonly nodeAddress: string;
  readonly now: () => number;
  /** The node's id and start time, for STAT SYSTEM (absent in bare in-process use). */
  readonly identity?: StatisticsIdentity;
  /**
   * Reads a file a statement names on the client side (REGISTER MODULE 'path'): from disk when
   * the executor runs in-process, from the sources the client attached when it runs behind gRPC.
   */
  readonly readClientFile?: (path: string) => Promise<Uint8Array>;
  /**
   * When the statement gives up (ms, the kernel's clock): its start plus the TIMEOUT setting
   * (none when TIMEOUT is 0), as aql applies TIMEOUT to every command, scans and queries
   * included. Scans, queries and aggregations take it: past it they fail TIMEOUT (9) and ask no
   * node for more.
   */
  readonly deadline?: number;
}

/** The part of the context that comes with each call (the executor adds the node's and the deadline). */
export type CallContext = Omit<ExecContext, 'kernel' | 'services' | 'deadline'>;

/** Runs one statement of one kind. */
export type StatementHandler<K extends StatementKind = StatementKind> = (stmt: Extract<Statement, { kind: K }>, ctx: ExecContext, out: Renderer) => Promise<void>;

type StatWhat = Extract<Statement, { kind: 'stat' }>['what'];

/**
 * The statements one file runs: handlers by statement kind, and by what SHOW or STAT shows.
 * No two families of an executor may run the same statement.
 */
export interface StatementFamily {
  readonly name: string;
  readonly statements?: { readonly [K in StatementKind]?: StatementHandler<K> };
  readonly show?: Partial<Record<ShowStatement['what'], StatementHandler<'show'>>>;
  readonly stat?: Partial<Record<StatWhat, StatementHandler<'stat'>>>;
}

/** The text after `Error: (code) ` for an error: aql prints the client name, then what we know. */
export function errorMessage(e: DbError): string {
  const name = clientErrorName(e.resultCode);
  if (e.code === 'NOT_FOUND') return name;
  return `${name}: ${e.message}${e.hint === undefined ? '' : `. ${e.hint}`}`;
}

/** The variant of a statement that has its own handler: SHOW SETS, STAT SYSTEM, … */
function tableKey(stmt: Statement): string {
  if (stmt.kind === 'show' || stmt.kind === 'stat') return `${stmt.kind} ${stmt.what}`;
  return stmt.kind;
}

export class AqlExecutor {
  readonly kernel: Kernel;
  readonly services: ServiceLocator;
  private readonly table = new Map<string, { family: string; handler: StatementHandler }>();

  constructor(node: { readonly kernel: Kernel; readonly services: ServiceLocator }, families: readonly StatementFamily[]) {
    this.kernel = node.kernel;
    this.services = node.services;
    for (const f of families) {
      for (const [kind, handler] of Object.entries(f.statements ?? {})) this.add(kind, f.name, handler as StatementHandler);
      for (const [what, handler] of Object.entries(f.show ?? {})) this.add(`show ${what}`, f.name, handler as StatementHandler);
      for (const [what, handler] of Object.entries(f.stat ?? {})) this.add(`stat ${what}`, f.name, handler as StatementHandler);
    }
  }

  private add(key: string, family: string, handler: StatementHandler): void {
    const had = this.table.get(key);
    if (had !== undefined) throw new Error(`AQL statement '${key}' is claimed by two statement families: ${had.family} and ${family}`);
    this.table.set(key, { family, handler });
  }

  /** The statements this executor runs (`select`, `show SETS`, …), sorted. */
  statements(): string[] {
    return [...this.table.keys()].sort();
  }

  /** Runs one statement; every outcome (including thrown errors) ends in exactly one status. */
  async execute(stmt: Statement, call: CallContext, out: Renderer): Promise<void> {
    const entry = this.table.get(tableKey(stmt));
    let statusSent = false;
    const guarded: Renderer = {
      begin: (c) => out.begin(c),
      row: (r) => out.row(r),
      end: (ms, node) => out.end(ms, node),
      status: (code, message) => { statusSent = true; out.status(code, message); },
    };
    try {
      if (entry === undefined) {
        if (stmt.kind === 'show' || stmt.kind === 'stat') throw new DbError('UNSUPPORTED_FEATURE', `${stmt.kind.toUpperCase()} ${stmt.what} is not supported yet on this server`);
        throw new DbError('UNSUPPORTED_FEATURE', `${stmt.kind.toUpperCase()} is not supported yet on this server`, {
          hint: 'the subsystem that runs it has not been installed on this node',
        });
      }
      const timeout = call.settings.TIMEOUT;
      const deadline = timeout > 0 ? { deadline: this.kernel.clock.now() + timeout } : {};
      await entry.handler(stmt, { ...call, kernel: this.kernel, services: this.services, ...deadline }, guarded);
      if (!statusSent) guarded.status(0, '');
    } catch (err) {
      const e = toDbError(err);
      if (!statusSent) guarded.status(e.resultCode, errorMessage(e));
    }
  }
}
