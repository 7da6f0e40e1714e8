/**
 * Storage maintenance of a node's namespaces, in one place: eviction (and the stop-writes guard
 * on writes), the tomb raider, expiry sweeps (nsup), and truncate markers (saved in system
 * metadata when a truncate starts, restored at start so a truncate a crash interrupted is
 * finished).
 *
 * Two steps, because the eviction guard belongs to the engine before the kernel exists:
 * `guard()` while the namespaces are built, `start()` once the kernel is there (the node's
 * storage-maintenance extension calls it, before any other extension and before the port
 * opens). Records are removed through the kernel (`MaintainedKernel`), under their record lock,
 * so listeners such as secondary indexes hear of them.
 */
import type { Clock, Logger, StorageEngine, StoredRecord } from '../plugin-api/index.ts';
import type { NamespaceConfig } from '../model/index.ts';
import type { Namespace } from './namespace.ts';
import type { SystemMetadataStore } from './system-metadata.ts';
import { Evictor, parseEvictionConfig } from './eviction.ts';
import { TombRaider, parseTombRaiderConfig } from './eviction-tombstones.ts';
import { followTruncateMarkers, restoreTruncateMarkers, truncateMarkerRecorder } from './system-metadata-truncate.ts';

/** What maintenance needs of the kernel (the transaction layer, above storage). */
export interface MaintainedKernel {
  /** Removes one stored record or tombstone under its record lock if `still` holds for it. */
  removeStoredIf(namespace: string, digest: Uint8Array, still: (current: StoredRecord) => boolean, cause: 'evict' | 'expire'): Promise<boolean>;
  /** Removes the expired records of a namespace; returns how many went. */
  sweepExpired(namespace: string): Promise<number>;
  /** Hears of truncates before records go (the marker is saved first). */
  addListener(listener: { onTruncate(namespace: string, set: string | undefined, beforeMs: number): Promise<void> }): void;
  /** Truncates on this node only (a marker that another node of the cluster recorded). */
  truncateHere(namespace: string, set: string | undefined, beforeMs: number): Promise<number>;
}

export interface MaintenanceStart {
  readonly namespaces: readonly Namespace[];
  readonly kernel: MaintainedKernel;
  readonly systemMetadata: SystemMetadataStore;
}

export class StorageMaintenance {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly evictors = new Map<string, Evictor>();
  private readonly raiders: TombRaider[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private kernel: MaintainedKernel | undefined;
  private recorder: ReturnType<typeof truncateMarkerRecorder> | undefined;
  private unwatch: (() => void) | undefined;

  constructor(options: { clock: Clock; logger: Logger }) {
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /**
   * The engine the namespace writes through: with eviction configured, its evictor's guard
   * (stop-writes). Called while the namespace is built; eviction itself starts with start().
   */
  /** The evictor of a namespace (live configuration changes its thresholds). */
  evictor(namespace: string): Evictor | undefined {
    return this.evictors.get(namespace);
  }

  guard(config: NamespaceConfig, engine: StorageEngine): StorageEngine {
    const evictor = new Evictor({
      namespace: config.name, engine, config: parseEvictionConfig(config.eviction), clock: this.clock, logger: this.logger.child({ namespace: config.name }),
      remover: { removeIf: (digest, still) => this.started().removeStoredIf(config.name, digest, still, 'evict') },
    });
    this.evictors.set(config.name, evictor);
    return evictor.enabled ? evictor.guard(engine) : engine;
  }

  /** Restores truncate markers, then starts eviction, the tomb raiders and the expiry sweeps. */
  async start(s: MaintenanceStart): Promise<void> {
    this.kernel = s.kernel;
    await restoreTruncateMarkers(s.systemMetadata, s.namespaces, this.logger);
    this.recorder = truncateMarkerRecorder(s.systemMetadata, this.logger);
    s.kernel.addListener(this.recorder);
    this.unwatch = followTruncateMarkers(s.systemMetadata, s.namespaces, s.kernel, this.logger);
    for (const ns of s.namespaces) {
      const evictor = this.evictors.get(ns.name);
      if (evictor?.enabled === true) await evictor.start();
      const raider = new TombRaider({
        namespace: ns.name, engine: ns.engine, clock: this.clock, logger: this.logger.child({ namespace: ns.name }), config: parseTombRaiderConfig(ns.config.tombRaider),
        remover: { removeIf: (digest, still) => s.kernel.removeStoredIf(ns.name, digest, still, 'expire') },
      });
      raider.start();
      this.raiders.push(raider);
      ns.extraStats = () => {
        const e = evictor?.stats();
        return [
          ...(e === undefined ? [] : [
            ['storage_size_bytes', e.config.sizeBytes], ['used_pct', Number(e.usedPct.toFixed(2))], ['evict_used_pct', e.config.evictUsedPct],
            ['stop_writes_used_pct', e.config.stopWritesUsedPct], ['stop_writes', String(e.stopWrites)], ['evicted_objects', e.evicted],
          ] as Array<[string, string | number]>),
          ['tombstones_removed', raider.removed],
        ];
      };
      if (ns.config.nsupPeriod > 0) this.sweepEvery(ns, s.kernel);
    }
  }

  /** Stops every timer and background task, and waits for truncate markers still being saved. */
  async stop(): Promise<void> {
    this.unwatch?.();
    for (const t of this.timers) clearInterval(t);
    for (const e of this.evictors.values()) e.stop();
    for (const r of this.raiders) r.stop();
    await this.recorder?.flush();
  }

  private sweepEvery(ns: Namespace, kernel: MaintainedKernel): void {
    const t = setInterval(() => {
      kernel.sweepExpired(ns.name).then(
        (n) => { if (n > 0) this.logger.debug({ namespace: ns.name, expired: n }, 'expiry sweep'); },
        (err: unknown) => this.logger.error({ err, namespace: ns.name }, 'expiry sweep failed'),
      );
    }, ns.config.nsupPeriod * 1000);
    t.unref();
    this.timers.push(t);
  }

  private started(): MaintainedKernel {
    if (this.kernel === undefined) throw new Error('storage maintenance has not started');
    return this.kernel;
  }
}
