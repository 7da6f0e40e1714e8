import { DbError } from '../../errors/index.ts';
import { N_PARTITIONS, type Bins } from '../../model/index.ts';
import { checkIndexDefinition, MAX_INDEXES_PER_NAMESPACE, sameTarget, type IndexDefinition } from './definition.ts';
import type { RecordSource } from './record-source.ts';
import { SecondaryIndex } from './secondary-index.ts';
import { digestString } from '../../model/index.ts';
import type { IndexMetadataStore } from './store.ts';

export type IndexState = 'building' | 'ready';

export interface IndexStatus extends IndexDefinition {
  readonly state: IndexState;
  /** Build progress, 0..100 (partitions scanned). */
  readonly loadPct: number;
  readonly entries: number;
  /** Records the build has looked at so far. */
  readonly buildScanned: number;
  readonly buildStartedMs: number;
  /** How long the build took, when it is done. */
  readonly buildMs: number | undefined;
}

export interface IndexManagerOptions {
  readonly store: IndexMetadataStore;
  readonly source: RecordSource;
  /** Namespaces that exist; an index on another is refused. Every name is accepted when absent. */
  readonly namespaces?: () => readonly string[];
  /** Partitions scanned per build step (the build yields to other work between steps). */
  readonly buildStep?: number;
}

interface Live {
  readonly index: SecondaryIndex;
  state: IndexState;
  partitionsDone: number;
  scanned: number;
  readonly startedMs: number;
  buildMs: number | undefined;
  dropped: boolean;
  /** The rebuild that replaced this one (after a truncate). */
  replacedBy: Live | undefined;
  /** Digests written while the build runs: their entries are already exact, the build skips them. */
  touched: Set<string> | undefined;
  readonly ready: Promise<void>;
}

/**
 * All secondary indexes of a node, per namespace: create / drop / list / stat, background
 * builds, and exact upkeep from one hook the kernel calls after every change to a record.
 */
export class IndexManager {
  private readonly opts: IndexManagerOptions;
  private readonly byNs = new Map<string, Map<string, Live>>();

  constructor(opts: IndexManagerOptions) {
    this.opts = opts;
  }

  /**
   * Loads persisted definitions and starts building each (call once at start-up), then follows
   * the definitions other nodes of the cluster create and drop.
   */
  async open(): Promise<void> {
    for (const def of await this.opts.store.load()) this.start(checkIndexDefinition(def));
    this.opts.store.watch?.((change) => {
      const live = this.byNs.get(change.kind === 'created' ? change.def.namespace : change.namespace)?.get(change.kind === 'created' ? change.def.name : change.name);
      if (change.kind === 'created' && live !== undefined && sameDefinition(live.index.def, change.def)) return;
      if (live !== undefined) this.forget(live);
      if (change.kind === 'created') this.start(change.def);
    });
  }

  /** Drops an index here only (its definition is already gone from system metadata). */
  private forget(live: Live): void {
    live.dropped = true;
    live.index.clear();
    this.byNs.get(live.index.def.namespace)?.delete(live.index.def.name);
  }

  async create(input: IndexDefinition): Promise<IndexStatus> {
    const def = checkIndexDefinition(input);
    const known = this.opts.namespaces?.();
    if (known !== undefined && !known.includes(def.namespace)) {
      throw new DbError('NAMESPACE', `namespace '${def.namespace}' does not exist`, { hint: 'create the index in a configured namespace' });
    }
    const ns = this.byNs.get(def.namespace);
    if (ns?.has(def.name)) {
      throw new DbError('INDEX_FOUND', `index '${def.name}' already exists in namespace '${def.namespace}'`, {
        hint: 'pick another name, or drop the existing index first',
      });
    }
    for (const other of ns?.values() ?? []) {
      if (sameTarget(other.index.def, def)) {
        throw new DbError('INDEX_FOUND', `index '${other.index.def.name}' already indexes ${describeTarget(def)}`, {
          hint: 'use the existing index, or drop it first',
        });
      }
    }
    if ((ns?.size ?? 0) >= MAX_INDEXES_PER_NAMESPACE) {
      throw new DbError('INDEX_MAXCOUNT', `namespace '${def.namespace}' already has ${MAX_INDEXES_PER_NAMESPACE} indexes`, {
        hint: 'drop an index you no longer need',
      });
    }
    await this.opts.store.save(def);
    this.start(def);
    return this.stat(def.namespace, def.name);
  }

  async drop(namespace: string, name: string, set?: string): Promise<void> {
    const live = this.get(namespace, name);
    if (set !== undefined && live.index.def.set !== set) {
      throw new DbError('INDEX_NOT_FOUND', `index '${name}' in namespace '${namespace}' is not on set '${set}'`, {
        hint: 'name the set the index was created on (SHOW INDEXES lists them)',
      });
    }
    await this.opts.store.remove(namespace, name);
    this.forget(live);
  }

  list(namespace?: string): IndexStatus[] {
    const out: IndexStatus[] = [];
    for (const [ns, m] of [...this.byNs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (namespace !== undefined && ns !== namespace) continue;
      for (const name of [...m.keys()].sort()) out.push(this.stat(ns, name));
    }
    return out;
  }

  stat(namespace: string, name: string): IndexStatus {
    const l = this.get(namespace, name);
    return {
      ...l.index.def,
      state: l.state,
      loadPct: l.state === 'ready' ? 100 : Math.floor((l.partitionsDone * 100) / N_PARTITIONS),
      entries: l.index.size,
      buildScanned: l.scanned,
      buildStartedMs: l.startedMs,
      buildMs: l.buildMs,
    };
  }

  /** The index for queries; INDEX_NOT_FOUND when unknown, INDEX_NOT_READABLE while building (unless `building` is allowed). */
  index(namespace: string, name: string, allowBuilding = false): SecondaryIndex {
    const l = this.get(namespace, name);
    if (l.state !== 'ready' && !allowBuilding) {
      throw new DbError('INDEX_NOT_READABLE', `index '${name}' is still building (${this.stat(namespace, name).loadPct}%)`, {
        hint: 'wait for the index to be ready (STAT INDEX shows its progress), or ask the query to wait',
      });
    }
    return l.index;
  }

  /** Indexes of a namespace with their state. */
  indexes(namespace: string): Array<{ index: SecondaryIndex; state: IndexState }> {
    return [...(this.byNs.get(namespace)?.values() ?? [])].map((l) => ({ index: l.index, state: l.state }));
  }

  /** Resolves when the index is ready (rejects with INDEX_NOT_FOUND when it is dropped). */
  async whenReady(namespace: string, name: string): Promise<void> {
    await this.get(namespace, name).ready;
  }

  /** True when the namespace has an index (ready or building): its records' changes must reach onWrite. */
  covers(namespace: string): boolean {
    return (this.byNs.get(namespace)?.size ?? 0) > 0;
  }

  /**
   * The upkeep hook: the kernel calls it after every change to a record — write, update,
   * delete, expiry, truncate, replica write, migration — with the bins before and after
   * (undefined when the record did not / no longer exists).
   */
  onWrite(namespace: string, digest: Uint8Array, set: string, oldBins: Bins | undefined, newBins: Bins | undefined): void {
    const m = this.byNs.get(namespace);
    if (m === undefined || m.size === 0) return;
    let d: string | undefined;
    for (const l of m.values()) {
      const def = l.index.def;
      if (def.set !== undefined && def.set !== set) continue;
      const before = oldBins?.[def.bin];
      const after = newBins?.[def.bin];
      if (l.touched !== undefined) {
        // the build may or may not have seen this record yet: make its entries exact either way
        l.touched.add(d ??= digestString(digest));
        l.index.update(digest, oldBins, undefined);
        l.index.update(digest, undefined, newBins);
        continue;
      }
      if (before === after) continue;
      l.index.update(digest, oldBins, newBins);
    }
  }

  /**
   * After a truncate (which removes records without a change per record), the indexes it
   * touches are rebuilt from the records that remain; queries see them building meanwhile.
   */
  onTruncate(namespace: string, set: string | undefined): void {
    const m = this.byNs.get(namespace);
    if (m === undefined) return;
    for (const l of [...m.values()]) {
      const def = l.index.def;
      if (set !== undefined && def.set !== undefined && def.set !== set) continue;
      l.dropped = true;
      l.index.clear();
      l.replacedBy = this.start(def);
    }
  }

  private get(namespace: string, name: string): Live {
    const l = this.byNs.get(namespace)?.get(name);
    if (l === undefined) {
      throw new DbError('INDEX_NOT_FOUND', `no index '${name}' in namespace '${namespace}'`, {
        hint: 'SHOW INDEXES lists the indexes; CREATE INDEX makes one',
      });
    }
    return l;
  }

  private start(def: IndexDefinition): Live {
    let m = this.byNs.get(def.namespace);
    if (m === undefined) this.byNs.set(def.namespace, (m = new Map()));
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const ready = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    ready.catch(() => undefined);
    const live: Live = {
      index: new SecondaryIndex(def), state: 'building', partitionsDone: 0, scanned: 0,
      startedMs: Date.now(), buildMs: undefined, dropped: false, replacedBy: undefined, touched: new Set(), ready,
    };
    m.set(def.name, live);
    void this.build(live).then(resolve, (err: unknown) => {
      // a build cut short by a rebuild finishes when the rebuild does
      if (live.replacedBy !== undefined) live.replacedBy.ready.then(resolve, reject);
      else reject(err);
    });
    return live;
  }

  private async build(l: Live): Promise<void> {
    const def = l.index.def;
    const step = this.opts.buildStep ?? 256;
    const t0 = performance.now();
    for (let p = 0; p < N_PARTITIONS; p += step) {
      await new Promise<void>((r) => setImmediate(r));
      if (l.dropped) throw new DbError('INDEX_NOT_FOUND', `index '${def.name}' was dropped while building`);
      const partitions: number[] = [];
      for (let q = p; q < Math.min(N_PARTITIONS, p + step); q++) partitions.push(q);
      const opts = def.set === undefined ? { partitions, bins: [def.bin] } : { partitions, set: def.set, bins: [def.bin] };
      const source = this.opts.source;
      // the records this node stores: on a cluster, the copies it holds (what upkeep keeps exact)
      for await (const rec of source.scanHeld === undefined ? source.scan(def.namespace, opts) : source.scanHeld(def.namespace, opts)) {
        if (l.dropped) break;
        l.scanned++;
        const touched = l.touched as Set<string>;
        if (touched.size > 0 && touched.has(digestString(rec.key.digest))) continue;
        l.index.add(rec.key.digest, rec.bins);
      }
      l.partitionsDone = Math.min(N_PARTITIONS, p + step);
    }
    if (l.dropped) throw new DbError('INDEX_NOT_FOUND', `index '${def.name}' was dropped while building`);
    l.touched = undefined;
    l.state = 'ready';
    l.buildMs = performance.now() - t0;
  }
}

function sameDefinition(a: IndexDefinition, b: IndexDefinition): boolean {
  return a.namespace === b.namespace && a.name === b.name && a.set === b.set && a.bin === b.bin && a.type === b.type && a.collection === b.collection;
}

function describeTarget(def: IndexDefinition): string {
  const where = def.set === undefined ? def.namespace : `${def.namespace}.${def.set}`;
  return `${where} bin '${def.bin}' as ${def.collection === 'DEFAULT' ? '' : `${def.collection} `}${def.type}`;
}
