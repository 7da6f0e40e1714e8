import { isDbError } from '../errors/index.ts';
import { keyFromDigest, N_PARTITIONS, type DbRecord } from '../model/index.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';
import type { Kernel } from '../transaction/kernel.ts';
import { checkIndexDefinition, type IndexDefinition } from './index/definition.ts';
import type { IndexManager } from './index/manager.ts';
import type { RecordSource, SourceScanOptions } from './index/record-source.ts';
import type { IndexDefinitionChange, IndexMetadataStore } from './index/store.ts';

/** The kernel as the query engine's record source (scans cover the whole cluster). */
export class KernelRecordSource implements RecordSource {
  private readonly kernel: Kernel;

  constructor(kernel: Kernel) {
    this.kernel = kernel;
  }

  now(): number {
    return this.kernel.clock.now();
  }

  async get(namespace: string, digest: Uint8Array): Promise<DbRecord | undefined> {
    try {
      return await this.kernel.get(keyFromDigest(namespace, '', digest));
    } catch (err) {
      if (isDbError(err, 'NOT_FOUND') || isDbError(err, 'UNAVAILABLE')) return undefined;
      throw err;
    }
  }

  partial(namespace: string): boolean {
    const router = this.kernel.router;
    for (let p = 0; p < N_PARTITIONS; p++) if (router.masterOf(namespace, p) !== router.localNode) return true;
    return false;
  }

  scan(namespace: string, options: SourceScanOptions): AsyncIterable<DbRecord> {
    return this.kernel.scan({
      namespace, partitions: options.partitions,
      ...(options.set === undefined ? {} : { set: options.set }),
      ...(options.bins === undefined ? {} : { bins: options.bins }),
      ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
    });
  }

  async *scanHeld(namespace: string, options: SourceScanOptions): AsyncIterable<DbRecord> {
    const only = options.bins === undefined ? undefined : new Set(options.bins);
    for await (const stored of this.kernel.scanHeld({ namespace, partitions: options.partitions, ...(options.set === undefined ? {} : { set: options.set }) })) {
      yield this.kernel.scannedRecord(namespace, stored, only);
    }
  }
}

/** Keeps the indexes exact: every record change and truncate of the kernel reaches the manager. */
export function attachIndexes(kernel: Kernel, indexes: IndexManager): void {
  kernel.addListener({
    // the bins are read only for a namespace with an index: a change may decode them on demand
    onChange: (c) => { if (indexes.covers(c.namespace)) indexes.onWrite(c.namespace, c.digest, c.set, c.before, c.after); },
    readsBins: (namespace) => indexes.covers(namespace),
    onTruncate: (namespace, set) => indexes.onTruncate(namespace, set),
  });
}

type StoredDefinition = { namespace: string; name: string; set?: string; bin: string; type: string; collection: string };

export const SINDEX_SMD_MODULE = 'sindex';

/** Index definitions as system metadata (module "sindex", key "<ns>:<name>"), replicated on a cluster. */
export class SmdIndexStore implements IndexMetadataStore {
  private readonly smd: SystemMetadataStore;

  constructor(smd: SystemMetadataStore) {
    this.smd = smd;
  }

  private get mod() {
    return this.smd.module<StoredDefinition>(SINDEX_SMD_MODULE);
  }

  async load(): Promise<readonly IndexDefinition[]> {
    return this.mod.list().map((e) => checkIndexDefinition(e.value as unknown as IndexDefinition));
  }

  async save(def: IndexDefinition): Promise<void> {
    const v: StoredDefinition = { namespace: def.namespace, name: def.name, bin: def.bin, type: def.type, collection: def.collection };
    if (def.set !== undefined) v.set = def.set;
    await this.mod.set(`${def.namespace}:${def.name}`, v);
  }

  async remove(namespace: string, name: string): Promise<void> {
    await this.mod.delete(`${namespace}:${name}`);
  }

  watch(listener: (change: IndexDefinitionChange) => void): () => void {
    return this.smd.watch((c) => {
      if (c.module !== SINDEX_SMD_MODULE || c.origin !== 'remote') return;
      if (c.entry !== undefined) {
        listener({ kind: 'created', def: checkIndexDefinition(c.entry.value as unknown as IndexDefinition) });
        return;
      }
      const colon = c.key.indexOf(':');
      listener({ kind: 'dropped', namespace: c.key.slice(0, colon), name: c.key.slice(colon + 1) });
    });
  }
}
