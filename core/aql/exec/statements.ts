/**
 * The built-in statement families and the executor a node's AQL extension makes from them.
 * A family's statements reach its subsystem through the node's service locator, so every
 * executor has every family; statements of a subsystem the node does not run answer
 * UNSUPPORTED_FEATURE.
 */
import type { Kernel } from '../../transaction/kernel.ts';
import type { ServiceLocator } from '../../services/index.ts';
import { AqlExecutor, type StatementFamily } from './executor.ts';
import { keyValueStatements } from './key-value.ts';
import { operateStatements } from './operate.ts';
import { infoStatements } from './info.ts';
import { indexStatements } from './indexes.ts';
import { securityStatements } from './security.ts';
import { udfStatements } from './udf.ts';
import { clusterStatements } from './cluster.ts';
import { pluginStatements } from './plugins.ts';
import { configStatements } from './config.ts';

export const BUILT_IN_STATEMENTS: readonly StatementFamily[] = [
  keyValueStatements, operateStatements, infoStatements, indexStatements, udfStatements, clusterStatements, pluginStatements, configStatements, securityStatements,
];

/** An executor over a node's kernel and services, with the built-in statement families unless others are given. */
export function createAqlExecutor(node: { readonly kernel: Kernel; readonly services: ServiceLocator }, families: readonly StatementFamily[] = BUILT_IN_STATEMENTS): AqlExecutor {
  return new AqlExecutor(node, families);
}
