/**
 * Modules as system metadata: a ModuleStore over the node's SystemMetadataStore (module 'udf',
 * key = file name, value = {type, source (base64), hash, registeredAtMs}), durable when the
 * node's metadata is, and — once SMD is replicated — distributed to every node. `watchModules`
 * installs modules that another node wrote (so a cluster converges on the same set).
 */
import type { SmdModule, SystemMetadataStore } from '../storage/system-metadata.ts';
import type { ModuleRegistry, ModuleStore, StoredModule } from './registry.ts';
import type { ModuleType } from './names.ts';

interface SmdUdfValue {
  readonly [k: string]: string | number;
  type: ModuleType;
  content64: string;
  hash: string;
  registeredAtMs: number;
}

export const UDF_SMD_MODULE = 'udf';

function toStored(fileName: string, v: SmdUdfValue): StoredModule {
  return { fileName, type: v.type, source: Buffer.from(v.content64, 'base64').toString('utf8'), hash: v.hash, registeredAtMs: v.registeredAtMs };
}

export class SmdModuleStore implements ModuleStore {
  private readonly smd: SmdModule<SmdUdfValue>;
  private readonly store: SystemMetadataStore;
  /** Our own writes in flight (file name → hash, or null for a removal): their echo is not a remote change. */
  private readonly own = new Map<string, string | null>();

  constructor(store: SystemMetadataStore) {
    this.store = store;
    this.smd = store.module<SmdUdfValue>(UDF_SMD_MODULE);
  }

  async load(): Promise<StoredModule[]> {
    return this.smd.list().map((e) => toStored(e.key, e.value));
  }

  async put(m: StoredModule): Promise<void> {
    this.own.set(m.fileName, m.hash);
    try {
      await this.smd.set(m.fileName, { type: m.type, content64: Buffer.from(m.source, 'utf8').toString('base64'), hash: m.hash, registeredAtMs: m.registeredAtMs });
    } finally {
      this.own.delete(m.fileName);
    }
  }

  async remove(fileName: string): Promise<void> {
    this.own.set(fileName, null);
    try {
      await this.smd.delete(fileName);
    } finally {
      this.own.delete(fileName);
    }
  }

  /** Keeps the registry in step with changes other nodes make; returns the unsubscribe function. */
  watchModules(registry: ModuleRegistry, onError: (fileName: string, err: unknown) => void): () => void {
    return this.store.watch((change) => {
      if (change.module !== UDF_SMD_MODULE) return;
      const own = this.own.get(change.key);
      if (own !== undefined && own === (change.entry === undefined ? null : (change.entry.value as SmdUdfValue).hash)) return; // our own write
      const current = registry.get(change.key);
      if (change.entry === undefined) {
        if (current !== undefined) registry.remove(change.key).catch((err: unknown) => onError(change.key, err));
        return;
      }
      const stored = toStored(change.key, change.entry.value as SmdUdfValue);
      if (current?.hash === stored.hash) return; // our own write
      registry.install(stored).catch((err: unknown) => onError(change.key, err));
    });
  }
}
