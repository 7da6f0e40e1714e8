/**
 * The AQL executor with every built-in statement installed: the key-value statements of
 * execute.ts, OPERATE, and the info statements. Subsystems (indexes, UDFs) add theirs with
 * registerAqlHandler when they start.
 */
import './handlers-operate.ts';
import './handlers-info.ts';
import './handlers-cluster.ts';

export { executeStatement, registerAqlHandler, registerAqlVariantHandler, errorMessage, recordCells } from './execute.ts';
export type { ExecContext, AqlHandler } from './execute.ts';
