/**
 * Storage maintenance as a node extension: eviction, the tomb raider, expiry sweeps and
 * truncate markers of every namespace (core/storage/maintenance.ts). The node builds its
 * namespaces through the maintenance's eviction guard and provides it under
 * STORAGE_MAINTENANCE; this extension starts it once the kernel exists — first, since the
 * others (secondary indexes) must see truncate markers restored — and stops it.
 */
import type { NodeExtension } from '../extension.ts';
import { STORAGE_MAINTENANCE } from '../../services/index.ts';
import { runLocally } from '../../transaction/forwarding.ts';

export function storageMaintenanceExtension(): NodeExtension {
  return {
    name: 'storage-maintenance',
    async start(ctx) {
      const maintenance = ctx.services.require(STORAGE_MAINTENANCE);
      await maintenance.start({
        namespaces: ctx.kernel.namespaceNames().map((name) => ctx.kernel.namespace(name)),
        kernel: {
          removeStoredIf: (ns, digest, still, cause) => ctx.kernel.removeStoredIf(ns, digest, still, cause),
          sweepExpired: (ns) => ctx.kernel.sweepExpired(ns),
          addListener: (l) => ctx.kernel.addListener(l),
          // a marker from another node: this node only, and never beyond its own clock
          truncateHere: (ns, set, beforeMs) => runLocally(() => ctx.kernel.truncate(ns, set, Math.min(beforeMs, ctx.clock.now() + 1))),
        },
        systemMetadata: ctx.systemMetadata,
      });
      return { stop: () => maintenance.stop() };
    },
  };
}
