/**
 * Truncate markers as system metadata, so that a truncate (with its last-update-time
 * cut-off) survives a restart: module 'truncate', key `<namespace>/<set>` ('*' for the whole
 * namespace), value `{ beforeMs }`. A restarted node restores the markers (records last
 * updated before them stay invisible) and finishes any truncate a crash interrupted. On a
 * cluster the markers reach every node (system metadata is replicated), and a node that
 * receives a newer marker than it has — one it missed while it was down, or away — truncates
 * its own records by it (`followTruncateMarkers`).
 */
import type { Logger } from '../plugin-api/index.ts';
import type { Namespace } from './namespace.ts';
import type { SystemMetadataStore } from './system-metadata.ts';

export const TRUNCATE_MODULE = 'truncate';

interface MarkerValue {
  readonly [k: string]: number;
  beforeMs: number;
}

function markerKey(namespace: string, set: string | undefined): string {
  return `${namespace}/${set ?? '*'}`;
}

function parseMarkerKey(key: string): { namespace: string; set: string | undefined } {
  const slash = key.indexOf('/');
  const setName = key.slice(slash + 1);
  return { namespace: key.slice(0, slash), set: setName === '*' ? undefined : setName };
}

/** Records a truncate; resolves once the marker is durable. A later cut-off replaces an earlier one. */
export async function saveTruncateMarker(smd: SystemMetadataStore, namespace: string, set: string | undefined, beforeMs: number): Promise<void> {
  await smd.module<MarkerValue>(TRUNCATE_MODULE).update(markerKey(namespace, set), (cur) =>
    ({ beforeMs: Math.max(cur?.beforeMs ?? 0, beforeMs) }));
}

/**
 * A kernel change listener (structurally: `onTruncate`) that saves every truncate's marker.
 * The kernel awaits the returned promise before the engine removes anything (a failed save
 * fails the truncate); `flush()` waits for those in flight.
 */
export function truncateMarkerRecorder(smd: SystemMetadataStore, logger: Logger): { onTruncate(namespace: string, set: string | undefined, beforeMs: number): Promise<void>; flush(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  return {
    onTruncate(namespace, set, beforeMs) {
      const p = saveTruncateMarker(smd, namespace, set, beforeMs)
        .catch((err: unknown) => {
          logger.error({ namespace, set, err: (err as Error).message }, 'could not save a truncate marker');
          throw err;
        })
        .finally(() => pending.delete(p));
      pending.add(p.catch(() => {}));
      return p;
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}

/**
 * Applies the truncate markers that other nodes recorded (merged into this node's system
 * metadata) to this node's records, unless this node already truncated up to that cut-off.
 * Returns the function that stops following.
 */
export function followTruncateMarkers(
  smd: SystemMetadataStore, namespaces: readonly Namespace[],
  kernel: { truncateHere(namespace: string, set: string | undefined, beforeMs: number): Promise<number> }, logger: Logger,
): () => void {
  const byName = new Map(namespaces.map((ns) => [ns.name, ns]));
  return smd.watch((change) => {
    if (change.module !== TRUNCATE_MODULE || change.origin !== 'remote' || change.entry === undefined) return;
    const { namespace, set } = parseMarkerKey(change.key);
    const ns = byName.get(namespace);
    const beforeMs = (change.entry.value as MarkerValue).beforeMs;
    if (ns === undefined || typeof beforeMs !== 'number') return;
    const have = ns.truncateMarkers().find((m) => m.set === set)?.beforeMs ?? 0;
    if (have >= beforeMs) return; // truncated here already (the truncate reached this node directly)
    kernel.truncateHere(namespace, set, beforeMs).then(
      (removed) => logger.info({ namespace, set, beforeMs, removed }, 'applied a truncate recorded on another node'),
      (err: unknown) => logger.error({ namespace, set, err: (err as Error).message }, 'could not apply a truncate recorded on another node'),
    );
  });
}

/**
 * Gives each namespace its saved markers back and re-applies them to the engine (a no-op
 * unless a crash interrupted a truncate). Returns how many records the re-applied truncates removed.
 */
export async function restoreTruncateMarkers(smd: SystemMetadataStore, namespaces: readonly Namespace[], logger: Logger): Promise<number> {
  const byName = new Map(namespaces.map((ns) => [ns.name, ns]));
  let removed = 0;
  for (const { key, value } of smd.module<MarkerValue>(TRUNCATE_MODULE).list()) {
    const { namespace, set } = parseMarkerKey(key);
    const ns = byName.get(namespace);
    if (ns === undefined) continue; // a namespace no longer configured
    ns.addTruncateMarker({ set, beforeMs: value.beforeMs });
    if (ns.engine.capabilities.persistent) {
      const n = await ns.engine.truncate({ ...(set === undefined ? {} : { set }), beforeMs: value.beforeMs });
      removed += n;
      if (n > 0) logger.info({ namespace: ns.name, set, beforeMs: value.beforeMs, removed: n }, 'finished an interrupted truncate');
    }
  }
  return removed;
}
