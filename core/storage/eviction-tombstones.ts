/**
 * The tomb raider (Aerospike EE's name): durable deletes leave tombstones so that an older
 * copy of a record (a returning replica, a restore, XDR) cannot bring it back. Once a
 * tombstone is older than `eligibleAgeSec` no such copy is expected any more, and the raider
 * removes it. While the node says tombstones are still needed (e.g. migrations are running),
 * it skips its round.
 */
import type { Clock, Logger, StorageEngine, TimerHandle } from '../plugin-api/index.ts';
import { Type, parseWithSchema } from '../schema/index.ts';
import type { RecordRemover } from './eviction.ts';

export interface TombRaiderConfig {
  /** Tombstones last updated longer ago than this are removed (Aerospike tomb-raider-eligible-age, 1 day). */
  readonly eligibleAgeSec: number;
  /** Seconds between rounds (Aerospike tomb-raider-period, 1 day). */
  readonly periodSec: number;
}

export const TOMB_RAIDER_DEFAULTS: TombRaiderConfig = { eligibleAgeSec: 86_400, periodSec: 86_400 };

/** The `tombRaider` section of a namespace. */
export const tombRaiderSchema = Type.Object({
  eligibleAgeSec: Type.Optional(Type.Integer({ minimum: 0, default: 86_400, description: 'seconds after which a tombstone is removed' })),
  periodSec: Type.Optional(Type.Integer({ minimum: 1, default: 86_400, description: 'seconds between rounds' })),
}, { additionalProperties: false, title: 'tomb raider' });

export function parseTombRaiderConfig(raw: unknown, path = 'tombRaider'): TombRaiderConfig {
  if (raw === undefined) return TOMB_RAIDER_DEFAULTS;
  return parseWithSchema(tombRaiderSchema, raw, `config ${path}`) as TombRaiderConfig;
}

export class TombRaider {
  private readonly namespace: string;
  private readonly engine: StorageEngine;
  private readonly remover: RecordRemover;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly config: TombRaiderConfig;
  private readonly stillNeeded: () => boolean;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private removedTotal = 0;

  constructor(options: {
    namespace: string; engine: StorageEngine; remover: RecordRemover; clock: Clock; logger: Logger; config: TombRaiderConfig;
    /** True while tombstones must all be kept (e.g. during migrations). */
    stillNeeded?: () => boolean;
  }) {
    this.namespace = options.namespace;
    this.engine = options.engine;
    this.remover = options.remover;
    this.clock = options.clock;
    this.log = options.logger;
    this.config = options.config;
    this.stillNeeded = options.stillNeeded ?? (() => false);
  }

  get removed(): number {
    return this.removedTotal;
  }

  /** One round: removes eligible tombstones; returns how many went. */
  async run(): Promise<number> {
    if (this.stillNeeded()) return 0;
    const cutoff = this.clock.now() - this.config.eligibleAgeSec * 1000;
    const doomed: { digest: Uint8Array; generation: number }[] = [];
    for await (const rec of this.engine.scan({ includeTombstones: true })) {
      if (rec.tombstone && rec.meta.lastUpdateMs < cutoff) doomed.push({ digest: rec.digest, generation: rec.meta.generation });
    }
    let n = 0;
    for (const t of doomed) {
      if (this.stopped || this.stillNeeded()) break;
      if (await this.remover.removeIf(t.digest, (cur) => cur.tombstone && cur.meta.generation === t.generation && cur.meta.lastUpdateMs < cutoff)) n++;
    }
    this.removedTotal += n;
    if (n > 0) this.log.info({ namespace: this.namespace, removed: n }, 'tomb raider removed old tombstones');
    return n;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.run().catch((err: unknown) => this.log.error({ namespace: this.namespace, err: (err as Error).message }, 'tomb raider round failed'))
        .finally(() => this.schedule());
    }, this.config.periodSec * 1000);
  }
}
