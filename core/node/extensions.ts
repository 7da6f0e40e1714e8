import type { NodeExtension } from './extension.ts';
import { queryExtension } from './extensions/query.ts';
import { udfExtension } from './extensions/udf.ts';
import { aqlExtension } from './extensions/aql.ts';
import { clusterExtension } from './extensions/cluster.ts';
import { securityExtension } from './extensions/security.ts';

/**
 * The node's built-in subsystems, in start order. Each subsystem exports its extension
 * from its own layer; this list is the one place they are put together.
 */
export function builtInExtensions(): NodeExtension[] {
  return [securityExtension(), clusterExtension(), queryExtension(), udfExtension(), aqlExtension()];
}
