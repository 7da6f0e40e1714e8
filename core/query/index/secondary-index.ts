import { GeoJson, digestString, type BinValue, type Bins, type MapKey } from '../../model/index.ts';
import { compareNumbers } from '../expr/eval.ts';
import { lonRanges, parseShape, shapeBox, type Box, type Shape } from '../geo/index.ts';
import type { IndexDefinition } from './definition.ts';
import { SortedList } from './sorted-list.ts';

/**
 * One secondary index's data. Keys are NUMERIC: integers and doubles ordered numerically,
 * STRING: strings, BLOB: the bytes as a latin1 string (which sorts as the bytes do).
 * Entries are (key, digest) pairs in one ordered structure, so an equality or range lookup
 * costs O(log n + matches). GEO2DSPHERE keeps points ordered by longitude and regions apart.
 * Digests are held as 20-character latin1 strings.
 */
export type IndexKey = bigint | number | string;
export interface IndexEntry { readonly k: IndexKey; readonly d: string }
export interface KeyBound { readonly value: IndexKey; readonly inclusive: boolean }
export interface KeyRange { readonly lo?: KeyBound; readonly hi?: KeyBound }
interface GeoPoint { readonly lon: number; readonly lat: number; readonly d: string }
interface GeoRegion { readonly d: string; readonly text: string; readonly box: Box }

export function digestFromKey(d: string): Uint8Array {
  return new Uint8Array(Buffer.from(d, 'latin1'));
}

export function compareKeys(a: IndexKey, b: IndexKey): number {
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  return compareNumbers(a, b as bigint | number) ?? 0;
}

function compareEntries(a: IndexEntry, b: IndexEntry): number {
  return compareKeys(a.k, b.k) || (a.d < b.d ? -1 : a.d > b.d ? 1 : 0);
}

function comparePoints(a: GeoPoint, b: GeoPoint): number {
  return a.lon - b.lon || a.lat - b.lat || (a.d < b.d ? -1 : a.d > b.d ? 1 : 0);
}

/** A bin value as an index key of `type`, or undefined when the index does not take it. */
export function toIndexKey(type: IndexDefinition['type'], v: BinValue | MapKey): IndexKey | undefined {
  switch (type) {
    case 'NUMERIC':
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number' && !Number.isNaN(v)) return v;
      return undefined;
    case 'STRING':
      return typeof v === 'string' ? v : undefined;
    case 'BLOB':
      return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1') : undefined;
    case 'GEO2DSPHERE':
      return undefined;
  }
}

/** The values of a record an index looks at: the bin itself, or a list's items, a map's keys or values. */
export function indexedValues(def: IndexDefinition, bins: Bins | undefined): Array<BinValue | MapKey> {
  if (bins === undefined) return [];
  const v = bins[def.bin];
  if (v === undefined || v === null) return [];
  switch (def.collection) {
    case 'DEFAULT': return [v];
    case 'LIST': return Array.isArray(v) ? [...(v as readonly BinValue[])] : [];
    case 'MAPKEYS': return v instanceof Map ? [...(v as ReadonlyMap<MapKey, BinValue>).keys()] : [];
    case 'MAPVALUES': return v instanceof Map ? [...(v as ReadonlyMap<MapKey, BinValue>).values()] : [];
  }
}

function canonical(k: IndexKey): string {
  if (typeof k === 'string') return `s${k}`;
  if (typeof k === 'number' && !Number.isInteger(k)) return `d${k}`;
  return `i${typeof k === 'number' ? BigInt(k) : k}`;
}

/** Distinct index keys of a record. */
export function keysOf(def: IndexDefinition, bins: Bins | undefined): IndexKey[] {
  const out: IndexKey[] = [];
  const seen = new Set<string>();
  for (const v of indexedValues(def, bins)) {
    const k = toIndexKey(def.type, v);
    if (k === undefined) continue;
    const c = canonical(k);
    if (seen.has(c)) continue;
    seen.add(c);
    out.push(k);
  }
  return out;
}

/** Distinct valid GeoJSON values of a record. */
export function geoValuesOf(def: IndexDefinition, bins: Bins | undefined): Array<{ text: string; shape: Shape }> {
  const out: Array<{ text: string; shape: Shape }> = [];
  const seen = new Set<string>();
  for (const v of indexedValues(def, bins)) {
    if (!(v instanceof GeoJson) || seen.has(v.text)) continue;
    seen.add(v.text);
    try {
      out.push({ text: v.text, shape: parseShape(v) });
    } catch {
      // invalid geometry is not indexed (it cannot match a geo predicate either)
    }
  }
  return out;
}

/** The key lies below a lower bound (an exclusive bound's own value included). */
function belowLo(k: IndexKey, lo: KeyBound): boolean {
  const c = compareKeys(k, lo.value);
  return c < 0 || (c === 0 && !lo.inclusive);
}

/** The key lies above an upper bound (an exclusive bound's own value included). */
function aboveHi(k: IndexKey, hi: KeyBound): boolean {
  const c = compareKeys(k, hi.value);
  return c > 0 || (c === 0 && !hi.inclusive);
}

/** Whether an index key lies within a range (bounds inclusive or not). */
export function inBounds(k: IndexKey, r: KeyRange): boolean {
  return (r.lo === undefined || !belowLo(k, r.lo)) && (r.hi === undefined || !aboveHi(k, r.hi));
}

function boxesOverlap(a: Box, b: Box): boolean {
  if (a.north < b.south || b.north < a.south) return false;
  for (const [w1, e1] of lonRanges(a)) for (const [w2, e2] of lonRanges(b)) if (w1 <= e2 && w2 <= e1) return true;
  return false;
}

export class SecondaryIndex {
  readonly def: IndexDefinition;
  private readonly entries = new SortedList<IndexEntry>(compareEntries);
  private readonly points = new SortedList<GeoPoint>(comparePoints);
  private readonly regions = new Map<string, GeoRegion>();

  constructor(def: IndexDefinition) {
    this.def = def;
  }

  get isGeo(): boolean {
    return this.def.type === 'GEO2DSPHERE';
  }

  /** Index entries held (one per distinct value per record). */
  get size(): number {
    return this.entries.size + this.points.size + this.regions.size;
  }

  /** Brings the index from a record's old bins to its new bins (either may be absent). */
  update(digest: Uint8Array, oldBins: Bins | undefined, newBins: Bins | undefined): void {
    const d = digestString(digest);
    if (this.isGeo) {
      const before = geoValuesOf(this.def, oldBins);
      const after = geoValuesOf(this.def, newBins);
      const keep = new Set(after.map((g) => g.text));
      for (const g of before) if (!keep.has(g.text)) this.removeGeo(d, g.text, g.shape);
      const had = new Set(before.map((g) => g.text));
      for (const g of after) if (!had.has(g.text)) this.addGeo(d, g.text, g.shape);
      return;
    }
    const before = keysOf(this.def, oldBins);
    const after = keysOf(this.def, newBins);
    if (before.length === 1 && after.length === 1 && compareKeys(before[0] as IndexKey, after[0] as IndexKey) === 0
      && typeof before[0] === typeof after[0]) return;
    const keep = new Set(after.map(canonical));
    for (const k of before) if (!keep.has(canonical(k))) this.entries.remove({ k, d });
    const had = new Set(before.map(canonical));
    for (const k of after) if (!had.has(canonical(k))) this.entries.insert({ k, d });
  }

  /** Adds a record seen by the background build (no previous state). */
  add(digest: Uint8Array, bins: Bins): void {
    this.update(digest, undefined, bins);
  }

  private addGeo(d: string, text: string, shape: Shape): void {
    if (shape.type === 'point') this.points.insert({ lon: shape.lon, lat: shape.lat, d });
    else this.regions.set(`${d}\0${text}`, { d, text, box: shapeBox(shape) });
  }

  private removeGeo(d: string, text: string, shape: Shape): void {
    if (shape.type === 'point') this.points.remove({ lon: shape.lon, lat: shape.lat, d });
    else this.regions.delete(`${d}\0${text}`);
  }

  clear(): void {
    this.entries.clear();
    this.points.clear();
    this.regions.clear();
  }

  /**
   * Up to `max` entries in `range`, in (key, digest) order, strictly after `after` when given.
   * Call again with the last entry as `after` for the next batch.
   */
  range(range: KeyRange, after: IndexEntry | undefined, max: number): IndexEntry[] {
    const lo = range.lo;
    const probe = (x: IndexEntry): number => {
      if (after !== undefined) return compareEntries(x, after) <= 0 ? -1 : 1;
      return lo !== undefined && belowLo(x.k, lo) ? -1 : 1;
    };
    const hi = range.hi;
    const keep = (x: IndexEntry): boolean => hi === undefined || !aboveHi(x.k, hi);
    const out = this.entries.take(probe, keep, max);
    return lo === undefined || after === undefined ? out : out.filter((e) => inBounds(e.k, range));
  }

  /** Exact number of entries in a range, in O(log n + chunks): the planner's estimate. */
  count(range: KeyRange): number {
    const lo = range.lo;
    const hi = range.hi;
    const start = lo === undefined ? 0 : this.entries.rank((x) => (belowLo(x.k, lo) ? -1 : 1));
    const end = hi === undefined ? this.entries.size : this.entries.rank((x) => (aboveHi(x.k, hi) ? 1 : -1));
    return Math.max(0, end - start);
  }

  /**
   * Digests (latin1, sorted, distinct) of records that may satisfy a geo predicate against
   * `query`: `within` (the bin lies within the query region) or `contains` (the bin contains
   * the query shape). Candidates are a superset; the filter decides.
   */
  geoCandidates(op: 'within' | 'contains', query: Shape): string[] {
    const qbox = shapeBox(query);
    const out = new Set<string>();
    const wantPoints = op === 'within' || query.type === 'point';
    if (wantPoints) {
      for (const [w, e] of lonRanges(qbox)) {
        const pts = this.points.take((p) => (p.lon < w ? -1 : 1), (p) => p.lon <= e, Number.MAX_SAFE_INTEGER);
        for (const p of pts) if (p.lat >= qbox.south && p.lat <= qbox.north) out.add(p.d);
      }
    }
    if (op === 'contains' || query.type !== 'point') {
      for (const r of this.regions.values()) if (boxesOverlap(r.box, qbox)) out.add(r.d);
    }
    return [...out].sort();
  }

  /** Rough candidate count for a geo query (the planner's estimate). */
  geoEstimate(op: 'within' | 'contains', query: Shape): number {
    const qbox = shapeBox(query);
    let n = 0;
    for (const [w, e] of lonRanges(qbox)) {
      n += this.points.rank((p) => (p.lon <= e ? -1 : 1)) - this.points.rank((p) => (p.lon < w ? -1 : 1));
    }
    return op === 'within' ? n + this.regions.size : this.regions.size + (query.type === 'point' ? n : 0);
  }
}
