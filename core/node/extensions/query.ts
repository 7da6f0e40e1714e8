import type { NodeExtension } from '../extension.ts';
import { QueryServiceService } from '../../wire/generated/slipstream/v1/query.ts';
import { queryHandlers } from '../../server/handlers/query.ts';
import { startQuerySubsystem } from '../../query/query-engine-service.ts';
import { QUERY_SUBSYSTEM } from '../../services/index.ts';

/** Secondary indexes and queries as a node subsystem: SMD definitions, kernel upkeep, gRPC QueryService. */
export function queryExtension(): NodeExtension {
  return {
    name: 'query',
    // index builds must see the truncate markers restored
    dependsOn: ['storage-maintenance'],
    async start(ctx) {
      const q = await startQuerySubsystem(ctx.kernel, { systemMetadata: ctx.systemMetadata, logger: ctx.logger });
      ctx.services.provide(QUERY_SUBSYSTEM, q);
      ctx.server.addService('slipstream.v1.QueryService', QueryServiceService, queryHandlers(q, () => ctx.clock.now(), ctx.logger));
    },
  };
}
