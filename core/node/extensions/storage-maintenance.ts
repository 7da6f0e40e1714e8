/**
 * Storage maintenance as a node extension: eviction, the tomb raider, expiry sweeps and
 * truncate markers of every namespace (core/storage/maintenance.ts). The node builds its
 * namespaces through the maintenance's eviction guard and provides it under
 * STORAGE_MAINTENANCE; this extension starts it once the kernel exists — first, since the
 * others (secondary indexes) must see truncate markers restored — and stops it.
 */
import type { NodeExtension } from '../extension.ts';
import { STORAGE_MAINTENANCE } from '../../services/index.ts';

export function storageMaintenanceExtension(): NodeExtension {
  return {
    name: 'storage-maintenance',
    async start(ctx) {
      const maintenance = ctx.services.require(STORAGE_MAINTENANCE);
      await maintenance.start({
        namespaces: ctx.kernel.namespaceNames().map((name) => ctx.kernel.namespace(name)),
        kernel: ctx.kernel,
        systemMetadata: ctx.systemMetadata,
      });
      return { stop: () => maintenance.stop() };
    },
  };
}
