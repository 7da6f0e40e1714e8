/**
 * AQL as a node subsystem: the node's one AQL executor (core/aql/exec) with the built-in
 * statement families, over this node's kernel and service locator, served as the gRPC
 * AqlService. `statements` gives other families instead of the built-in ones (BUILT_IN_STATEMENTS
 * plus or minus some).
 */
import type { NodeExtension } from '../extension.ts';
import { AqlServiceService } from '../../wire/generated/slipstream/v1/aql.ts';
import { aqlHandlers } from '../../server/handlers/aql.ts';
import { NODE_IDENTITY } from '../../services/index.ts';
import { createAqlExecutor } from '../../aql/exec/statements.ts';
import type { StatementFamily } from '../../aql/exec/executor.ts';

export function aqlExtension(options: { statements?: readonly StatementFamily[] } = {}): NodeExtension {
  return {
    name: 'aql',
    async start(ctx) {
      const identity = ctx.services.get(NODE_IDENTITY);
      const executor = createAqlExecutor({ kernel: ctx.kernel, services: ctx.services }, options.statements);
      ctx.server.addService('slipstream.v1.AqlService', AqlServiceService, aqlHandlers({
        executor,
        logger: ctx.logger,
        nodeAddress: () => identity?.address() ?? `${ctx.config.node.host}:${ctx.server.port}`,
        identity: identity ?? { nodeId: ctx.nodeId, startedAtMs: Date.now() },
      }));
    },
  };
}
