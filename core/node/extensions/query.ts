import type { NodeExtension } from '../extension.ts';
import { QueryServiceService } from '../../wire/generated/slipstream/v1/query.ts';
import { queryHandlers } from '../../server/handlers/query.ts';
import { startQuerySubsystem } from '../../query/query-engine-service.ts';
import { QUERY_SUBSYSTEM, REMOTE_CALLS, SMD_SYNC } from '../../services/index.ts';

/** Secondary indexes and queries as a node subsystem: SMD definitions, kernel upkeep, gRPC QueryService. */
export function queryExtension(): NodeExtension {
  return {
    name: 'query',
    // index builds must see the truncate markers restored
    dependsOn: ['storage-maintenance'],
    async start(ctx) {
      // on a cluster node, index queries run on the partitions' masters
      const calls = ctx.services.get(REMOTE_CALLS);
      const smd = ctx.services.get(SMD_SYNC);
      const q = await startQuerySubsystem(ctx.kernel, {
        systemMetadata: ctx.systemMetadata, logger: ctx.logger,
        ...(calls === undefined ? {} : { cluster: { calls, ...(smd === undefined ? {} : { smd }) } }),
      });
      ctx.services.provide(QUERY_SUBSYSTEM, q);
      ctx.server.addService('slipstream.v1.QueryService', QueryServiceService, queryHandlers(q, () => ctx.clock.now(), ctx.logger));
    },
  };
}
