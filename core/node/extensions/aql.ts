/**
 * AQL as a node subsystem: the gRPC AqlService, running statements against this node's kernel
 * with every built-in AQL statement installed (subsystems add theirs when they start).
 */
import type { NodeExtension } from '../extension.ts';
import { AqlServiceService } from '../../wire/generated/slipstream/v1/aql.ts';
import { aqlHandlers } from '../../server/handlers/aql.ts';
import { NODE_IDENTITY } from '../../services/index.ts';

export function aqlExtension(): NodeExtension {
  return {
    name: 'aql',
    async start(ctx) {
      const identity = ctx.services.get(NODE_IDENTITY);
      ctx.server.addService('slipstream.v1.AqlService', AqlServiceService, aqlHandlers({
        kernel: ctx.kernel,
        logger: ctx.logger,
        nodeAddress: () => identity?.address() ?? `${ctx.config.node.host}:${ctx.server.port}`,
        identity: identity ?? { nodeId: ctx.nodeId, startedAtMs: Date.now() },
      }));
    },
  };
}
