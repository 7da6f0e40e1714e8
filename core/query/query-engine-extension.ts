import type { NodeExtension } from '../node/extension.ts';
import { serviceKey } from '../node/extension.ts';
import { QueryServiceService } from '../server/generated/slipstream/v1/query.ts';
import { queryHandlers } from './query-engine-grpc.ts';
import { registerQueryAqlHandlers } from './query-engine-aql.ts';
import { startQuerySubsystem, type QuerySubsystem } from './query-engine-service.ts';

/** Other subsystems (AQL, UDF queries) find the index manager and query engine here. */
export const QUERY_SUBSYSTEM = serviceKey<QuerySubsystem>('query');

/** Secondary indexes and queries as a node subsystem: SMD definitions, kernel upkeep, gRPC QueryService. */
export function queryExtension(): NodeExtension {
  return {
    name: 'query',
    async start(ctx) {
      registerQueryAqlHandlers();
      const q = await startQuerySubsystem(ctx.kernel, { systemMetadata: ctx.systemMetadata, logger: ctx.logger });
      ctx.services.provide(QUERY_SUBSYSTEM, q);
      ctx.server.addService('slipstream.v1.QueryService', QueryServiceService, queryHandlers(q, () => ctx.clock.now(), ctx.logger));
    },
  };
}
