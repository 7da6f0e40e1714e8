import type { Logger } from '../plugin-api/index.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';
import type { Kernel } from '../transaction/kernel.ts';
import { IndexManager } from './index/manager.ts';
import { MemoryIndexMetadataStore, type IndexMetadataStore } from './index/store.ts';
import { attachIndexes, KernelRecordSource, SmdIndexStore } from './query-engine-kernel.ts';
import { QueryEngine } from './query-engine.ts';

/** The query subsystem of a node: its index manager and query engine over the kernel. */
export interface QuerySubsystem {
  readonly indexes: IndexManager;
  readonly engine: QueryEngine;
}

/**
 * Wires indexes and queries to a kernel: definitions from system metadata (memory when
 * none), upkeep from the kernel's change listener, builds of every persisted index.
 */
export async function startQuerySubsystem(kernel: Kernel, options: { systemMetadata?: SystemMetadataStore; logger?: Logger } = {}): Promise<QuerySubsystem> {
  const store: IndexMetadataStore = options.systemMetadata === undefined ? new MemoryIndexMetadataStore() : new SmdIndexStore(options.systemMetadata);
  const source = new KernelRecordSource(kernel);
  const indexes = new IndexManager({ store, source, namespaces: () => kernel.namespaceNames() });
  attachIndexes(kernel, indexes);
  await indexes.open();
  options.logger?.info({ indexes: indexes.list().length }, 'secondary indexes loaded');
  return { indexes, engine: new QueryEngine(indexes, source) };
}
