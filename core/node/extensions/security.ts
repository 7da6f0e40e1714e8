/**
 * Security as a node subsystem: serves slipstream.v1.SecurityService always (answering
 * SECURITY_NOT_ENABLED without a `security` section, as Aerospike does), and with the section
 * opens users, roles and sessions over the node's system metadata and puts the guard in front
 * of every gRPC call before the port opens. See docs/security.md.
 */
import { SecurityServiceService } from '../../wire/generated/slipstream/v1/security.ts';
import { securityHandlers } from '../../server/handlers/security.ts';
import { SecurityGuard } from '../../server/security-guard.ts';
import { parseSecurityConfig } from '../../security/config.ts';
import { Security } from '../../security/security.ts';
import { CONFIG_CONTROL, SECURITY } from '../../services/index.ts';
import type { NodeExtension } from '../extension.ts';
import { readFileSync } from 'node:fs';
import { DbError } from '../../errors/index.ts';

export function securityExtension(): NodeExtension {
  return {
    name: 'security',
    sections: ['security'],
    async start(ctx) {
      ctx.server.addService('slipstream.v1.SecurityService', SecurityServiceService, securityHandlers(() => ctx.server.securityGuard, ctx.logger));
      const config = parseSecurityConfig(ctx.config.sections['security'], ctx.config.node.dataDir);
      if (config === undefined) return;
      if (config.metricsTls && ctx.config.node.tls === undefined) {
        throw new DbError('PARAMETER', 'config security.metricsTls needs node.tls', { hint: 'configure node.tls (certFile, keyFile); the metrics endpoint serves with the same certificate' });
      }
      const security = await Security.open({ smd: ctx.systemMetadata, config, logger: ctx.logger, clock: ctx.clock });
      ctx.services.provide(SECURITY, security);
      // configuration changes, whichever way they come (SetConfig, AQL SET CONFIG), with who made them
      const unwatchConfig = ctx.services.get(CONFIG_CONTROL)?.watch((applied) => {
        const who = security.calls.getStore();
        security.record({
          event: 'config-changed', ...(who === undefined ? {} : { user: who.user, address: who.address }), outcome: 'ok',
          detail: { settings: applied.map((a) => `${a.name}: ${JSON.stringify(a.from)} -> ${JSON.stringify(a.to)}`) },
        });
      });
      ctx.server.useGuard(new SecurityGuard(security, ctx.server.connections));
      const tls = ctx.config.node.tls;
      ctx.metricsEndpoint?.protect({
        ...(config.metricsToken === undefined ? {} : { token: config.metricsToken }),
        ...(config.metricsTls && tls !== undefined ? { tls: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}),
      });
      ctx.logger.info({ sessionTtl: config.sessionTtlSeconds, audit: config.auditFile ?? 'node log' }, 'security enabled: every call must be authenticated');
      return { stop: async () => { unwatchConfig?.(); await security.close(); } };
    },
  };
}
