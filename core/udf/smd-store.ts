/**
 * Modules as system metadata: a ModuleStore over the node's SystemMetadataStore (module 'udf',
 * key = file name, value = {type, source (base64), hash, registeredAtMs}), durable when the
 * node's metadata is, and on a cluster replicated to every node (core/replication/smd-sync.ts).
 * `watchModules` installs and removes the modules other nodes wrote (so a cluster converges on
 * the same set); `settled()` waits until those installs are done.
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
  /** Installs and removals of modules other nodes wrote, still running. */
  private readonly installing = new Set<Promise<unknown>>();

  constructor(store: SystemMetadataStore) {
    this.store = store;
    this.smd = store.module<SmdUdfValue>(UDF_SMD_MODULE);
  }

  async load(): Promise<StoredModule[]> {
    return this.smd.list().map((e) => toStored(e.key, e.value));
  }

  async put(m: StoredModule): Promise<void> {
    await this.smd.set(m.fileName, { type: m.type, content64: Buffer.from(m.source, 'utf8').toString('base64'), hash: m.hash, registeredAtMs: m.registeredAtMs });
  }

  async remove(fileName: string): Promise<void> {
    await this.smd.delete(fileName);
  }

  /** Resolves once every module received from other nodes so far is installed (or failed to). */
  async settled(): Promise<void> {
    while (this.installing.size > 0) await Promise.allSettled([...this.installing]);
  }

  private track(p: Promise<unknown>, fileName: string, onError: (fileName: string, err: unknown) => void): void {
    const t = p.catch((err: unknown) => onError(fileName, err)).finally(() => this.installing.delete(t));
    this.installing.add(t);
  }

  /** Keeps the registry in step with changes other nodes make; returns the unsubscribe function. */
  watchModules(registry: ModuleRegistry, onError: (fileName: string, err: unknown) => void): () => void {
    return this.store.watch((change) => {
      if (change.module !== UDF_SMD_MODULE || change.origin !== 'remote') return; // this node's own writes are the registry's
      const current = registry.get(change.key);
      if (change.entry === undefined) {
        if (current !== undefined) this.track(registry.forget(change.key), change.key, onError);
        return;
      }
      const stored = toStored(change.key, change.entry.value as SmdUdfValue);
      if (current?.hash === stored.hash) return;
      this.track(registry.install(stored), change.key, onError);
    });
  }
}
