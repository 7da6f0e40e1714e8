/**
 * Records of every value type for backup/restore round trips (the suite's small one and the
 * 1,000,000-record benchmark): a deterministic generator by record number, a loader, and a
 * record-by-record fingerprint (set, user key, generation, void time, TTL, a hash of the bins
 * in the record codec's bytes, so list/map order marks and exact types count) with a
 * comparison that lists every difference.
 */
import { createHash } from 'node:crypto';
import {
  digestHex, encodeBins, isExpired, ttlOf, GeoJson, listOrder, mapOrder, Sketch, valuesEqual, withListOrder, withMapOrder,
  type BinValue, type Bins, type MapKey,
} from '../../core/model/index.ts';
import type { ClientKey, ClientRecord, SlipstreamClient } from '../../core/client/index.ts';
import type { ClientBatchEntry } from '../../core/client/batch.ts';
import type { ClientWritePolicy } from '../../core/client/types.ts';

/** Record i's set: three sets, one of them the null set. */
export const setOf = (i: number): string => ['people', 'things', ''][i % 3] as string;

/** Record i's user key: integer, string, bytes, or a string not stored with the record (i % 4 === 3). */
export function keyOf(ns: string, i: number): ClientKey {
  const key = i % 4 === 0 ? BigInt(i) : i % 4 === 1 ? `key-${i}` : i % 4 === 2 ? new Uint8Array([1, 2, i & 255, (i >> 8) & 255, (i >> 16) & 255]) : `nokey-${i}`;
  return { namespace: ns, set: setOf(i), key };
}

/**
 * Record i's first write: the key stored or not, and a TTL (never, six hours, a month, the
 * namespace default). No TTL is shorter than a 1,000,000-record bench run on a loaded machine
 * (over an hour for both engines), so no record expires between the reference and the check.
 */
export function policyOf(i: number): ClientWritePolicy {
  return { sendKey: i % 4 !== 3, ttl: i % 7 === 0 ? -1 : i % 7 === 1 ? 6 * 3600 : i % 7 === 2 ? 30 * 86400 : 0 };
}

/** Record i's bins: every value type (integers at the 64-bit edges, doubles, text, booleans, bytes, GeoJSON, HLL, nested and ordered lists and maps). */
export function binsOf(i: number): Bins {
  const b: Bins = {
    i: BigInt(i),
    big: i % 2 === 0 ? 2n ** 63n - 1n - BigInt(i) : -(2n ** 63n) + BigInt(i),
    d: i + 0.25,
    s: `värde-${i}-✓`,
    t: i % 3 === 0,
    blob: new Uint8Array([i & 255, (i >> 8) & 255, 0, 255]),
    geo: new GeoJson(`{"type":"Point","coordinates":[${(i % 90) + 0.5},${(i % 45) + 0.25}]}`),
    list: [BigInt(i), 'two', 3.5, [true, false], new Map<MapKey, BinValue>([['k', 1n]])],
    map: new Map<MapKey, BinValue>([['a', BigInt(i)], [7n, 'seven'], [1.5, [1n, 2n]], ['nested', new Map<MapKey, BinValue>([['x', new Uint8Array([1])]])]]),
    olist: withListOrder([BigInt(i % 11), 5n, -3n, 'z', 'a'], 'ordered'),
    omap: withMapOrder(new Map<MapKey, BinValue>([['zz', BigInt(i)], ['aa', 'first'], ['mm', 2.5]]), i % 2 === 0 ? 'keyOrdered' : 'keyValueOrdered'),
  };
  if (i % 5 === 0) b['max'] = 2n ** 63n - 1n;
  if (i % 10 === 0) {
    const h = Sketch.empty(4, 4);
    for (let e = 0; e < 5; e++) h.add(Buffer.from(`e-${i}-${e}`));
    b['hll'] = h.toHll();
  }
  return b;
}

/** Record i's bins after the second write every sixth record gets. */
export function finalBinsOf(i: number): Bins {
  return i % 6 === 0 ? { ...binsOf(i), extra: `again-${i}` } : binsOf(i);
}

/**
 * Writes records 0..n-1 in batches: each record once, every sixth a second time (one more bin,
 * generation 2), every tenth touched with a new TTL (one more generation). Throws on any failure.
 */
export async function loadRecords(client: SlipstreamClient, ns: string, n: number, options: { batch?: number; inFlight?: number; progress?: (done: number) => void } = {}): Promise<void> {
  const batch = options.batch ?? 500;
  let next = 0;
  let done = 0;
  const run = async (entries: ClientBatchEntry<ClientKey, ClientWritePolicy>[]): Promise<void> => {
    const results = await client.batchOperate(entries, { timeoutMs: 120_000 });
    const failed = results.findIndex((r) => r.error !== undefined);
    if (failed >= 0) throw new Error(`loading: entry ${failed} of a batch failed: ${results[failed]?.error?.message}`);
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 8 }, async () => {
    while (next < n) {
      const from = next;
      const to = Math.min(n, from + batch);
      next = to;
      const first: ClientBatchEntry<ClientKey, ClientWritePolicy>[] = [];
      const second: ClientBatchEntry<ClientKey, ClientWritePolicy>[] = [];
      for (let i = from; i < to; i++) {
        const key = keyOf(ns, i);
        first.push({ kind: 'put', key, bins: binsOf(i), policy: policyOf(i) });
        if (i % 6 === 0) second.push({ kind: 'put', key, bins: { extra: `again-${i}` }, policy: { ttl: -2 } });
        if (i % 10 === 0) second.push({ kind: 'operate', key, operations: [{ op: 'touch' }], policy: { ttl: 12 * 3600 } });
      }
      await run(first);
      if (second.length > 0) await run(second);
      done += to - from;
      options.progress?.(done);
    }
  }));
}

/** What must survive a round trip, per record. */
export interface RecordPrint {
  readonly set: string;
  readonly key: string;
  readonly generation: number;
  /** The stored expiry instant (seconds since the epoch, 0 never): what a TTL counts down to. */
  readonly voidTime: number;
  /** The TTL as the node reported it when it read the record. */
  readonly ttl: number;
  /** When the scan that read the record started and when the record arrived (ms since the epoch): the node read it in between. */
  readonly readFromMs: number;
  readonly atMs: number;
  /** SHA-1 of the bins in the record codec's bytes (types, order marks and all). */
  readonly bins: string;
}

const keyText = (k: ClientRecord['userKey']): string => (k === undefined ? '-' : k instanceof Uint8Array ? `b:${Buffer.from(k).toString('hex')}` : `${typeof k}:${String(k)}`);

/** Whether two values are equal including the order marks of their lists and maps. */
function sameValue(a: BinValue, b: BinValue): boolean {
  if (!valuesEqual(a, b)) return false;
  if (Array.isArray(a)) return listOrder(a) === listOrder(b as readonly BinValue[]) && a.every((x, i) => sameValue(x as BinValue, (b as readonly BinValue[])[i] as BinValue));
  if (a instanceof Map) return mapOrder(a) === mapOrder(b as ReadonlyMap<MapKey, BinValue>) && [...a].every(([k, v]) => sameValue(v as BinValue, (b as ReadonlyMap<MapKey, BinValue>).get(k) as BinValue));
  return true;
}

/** Differences between a record read back and what the generator wrote (empty when equal). */
export function binsDiffer(r: ClientRecord): string | undefined {
  const i = r.bins['i'];
  if (typeof i !== 'bigint') return 'bin i is missing';
  const want = finalBinsOf(Number(i));
  const names = Object.keys(r.bins).sort().join(',');
  if (names !== Object.keys(want).sort().join(',')) return `bins ${names}, expected ${Object.keys(want).sort().join(',')}`;
  for (const [name, v] of Object.entries(want)) {
    if (!sameValue(v, r.bins[name] as BinValue)) return `bin ${name} differs`;
  }
  return undefined;
}

/**
 * Reads every record of `ns` (a scan) and fingerprints it; also checks each record's bins
 * against the generator (`mismatches` collects the differences).
 */
export async function fingerprints(client: SlipstreamClient, ns: string, mismatches: string[] = []): Promise<Map<string, RecordPrint>> {
  const out = new Map<string, RecordPrint>();
  const readFromMs = Date.now();
  for await (const r of client.scan(ns, { recordsPerMessage: 500 }, { timeoutMs: 0 })) {
    const d = digestHex(r.digest);
    const wrong = binsDiffer(r);
    if (wrong !== undefined && mismatches.length < 1000) mismatches.push(`${d}: ${wrong}`);
    out.set(d, {
      set: r.set, key: keyText(r.userKey), generation: r.meta.generation, voidTime: r.meta.voidTime, ttl: r.meta.ttl, readFromMs, atMs: Date.now(),
      bins: createHash('sha1').update(encodeBins(r.bins)).digest('base64'),
    });
  }
  return out;
}

/** One kind of difference between two fingerprint sets: how many records show it and the first few. */
export interface DifferenceKind {
  readonly kind: string;
  count: number;
  readonly examples: string[];
}

/**
 * Whether the TTL the node reported agrees with the record's void time at the moment it read
 * the record (some instant between the scan's start and the record's arrival, whole seconds):
 * a never-expiring record reads -1, any other reads its void time minus the node's clock.
 */
function ttlAsReadFits(p: RecordPrint): boolean {
  if (p.voidTime === 0 || p.ttl === -1) return p.voidTime === 0 && p.ttl === -1;
  if (p.ttl === 0) return p.voidTime <= Math.ceil(p.atMs / 1000) + 1; // the node clamps at 0 once expired
  const readAtS = p.voidTime - p.ttl;
  return readAtS >= Math.floor(p.readFromMs / 1000) - 1 && readAtS <= Math.ceil(p.atMs / 1000) + 1;
}

/**
 * Every difference between two fingerprint sets, record by record, grouped by kind (each kind
 * with its count and its first `limit` examples): missing or extra records, set, user key,
 * generation, void time, TTL, bins. The TTL is judged by the stored void time (the expiry
 * instant the TTL counts down to): equal void times give equal TTLs at every instant, so the
 * void time must be equal to the second, and the TTLs both give at one instant must be within
 * a second. The TTL each scan reported is only checked against that scan's own void time
 * (see ttlAsReadFits): two TTLs read minutes apart by scans that deliver records late say
 * nothing about the data. A record missing after the restore whose void time has passed is not
 * a difference: it expired (counted in `expired`).
 */
export function compareFingerprints(before: ReadonlyMap<string, RecordPrint>, after: ReadonlyMap<string, RecordPrint>, limit = 10): { count: number; kinds: DifferenceKind[]; examples: string[]; expired: number } {
  const kinds = new Map<string, DifferenceKind>();
  let count = 0;
  const differ = (kind: string, text: string): void => {
    count++;
    let k = kinds.get(kind);
    if (k === undefined) kinds.set(kind, k = { kind, count: 0, examples: [] });
    k.count++;
    if (k.examples.length < limit) k.examples.push(text);
  };
  const nowMs = Date.now();
  let expired = 0;
  for (const [d, a] of before) {
    const b = after.get(d);
    if (b === undefined) {
      // its TTL ran out since the reference was read: gone as it should be (a restore skips expired records)
      if (a.voidTime !== 0 && isExpired(a.voidTime, nowMs)) expired++;
      else differ('missing after the restore', d);
      continue;
    }
    if (b.set !== a.set) differ('set', `${d}: ${a.set} -> ${b.set}`);
    if (b.key !== a.key) differ('user key', `${d}: ${a.key} -> ${b.key}`);
    if (b.generation !== a.generation) differ('generation', `${d}: ${a.generation} -> ${b.generation}`);
    if (b.voidTime !== a.voidTime) differ('void time (the expiry instant)', `${d}: ${a.voidTime} -> ${b.voidTime}`);
    const ttlA = ttlOf(a.voidTime, nowMs);
    const ttlB = ttlOf(b.voidTime, nowMs);
    if ((ttlA === -1) !== (ttlB === -1) || Math.abs(ttlA - ttlB) > 1) differ('TTL at one instant, from the void times (more than a second apart)', `${d}: ${ttlA} -> ${ttlB}`);
    if (b.bins !== a.bins) differ('bins', `${d}: bins differ`);
  }
  for (const d of after.keys()) if (!before.has(d)) differ('not there before the backup', d);
  for (const [when, prints] of [['before', before], ['after', after]] as const) {
    for (const [d, p] of prints) {
      if (!ttlAsReadFits(p)) differ(`TTL as read ${when} the round trip does not fit the void time`, `${d}: TTL ${p.ttl}, void time ${p.voidTime}, read between ${p.readFromMs} and ${p.atMs} ms`);
    }
  }
  const list = [...kinds.values()];
  return { count, kinds: list, examples: list.flatMap((k) => k.examples.map((e) => `${k.kind}: ${e}`)), expired };
}
