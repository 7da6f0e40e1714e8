import { DbError } from '../../errors/index.ts';
import type { GeoJson } from '../../model/index.ts';

/**
 * GeoJSON parsed into shapes the predicates work on. Coordinates are [longitude, latitude]
 * in degrees. Polygon edges are taken as straight lines in longitude/latitude (not great
 * circles); a ring whose consecutive vertices jump by more than 180° of longitude crosses
 * the antimeridian and is unwrapped onto a continuous longitude range.
 */
export type Position = readonly [number, number];

export interface PointShape { readonly type: 'point'; readonly lon: number; readonly lat: number }
/** rings[0] is the outer ring, the rest are holes; each ring is closed implicitly. */
export interface PolygonShape { readonly type: 'polygon'; readonly rings: readonly (readonly Position[])[]; readonly box: Box }
export interface MultiPolygonShape { readonly type: 'multipolygon'; readonly polygons: readonly PolygonShape[]; readonly box: Box }
/** Aerospike's AeroCircle: {"type":"AeroCircle","coordinates":[[lon,lat], radiusMeters]}. */
export interface CircleShape { readonly type: 'circle'; readonly lon: number; readonly lat: number; readonly radiusM: number; readonly box: Box }
export type Region = PolygonShape | MultiPolygonShape | CircleShape;
export type Shape = PointShape | Region;

/**
 * A bounding box. `west` may exceed 180 when the shape was unwrapped across the
 * antimeridian (then the box spans west..east with east > 180).
 */
export interface Box { readonly west: number; readonly east: number; readonly south: number; readonly north: number }

export const EARTH_RADIUS_M = 6_371_000;

function bad(message: string): DbError {
  return new DbError('GEO_INVALID_GEOJSON', message, {
    hint: 'pass a Point, Polygon, MultiPolygon or AeroCircle with [longitude, latitude] coordinates',
  });
}

function position(v: unknown, what: string): Position {
  if (!Array.isArray(v) || v.length < 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number'
    || !Number.isFinite(v[0]) || !Number.isFinite(v[1])) {
    throw bad(`${what} must be [longitude, latitude] numbers`);
  }
  const lon = v[0];
  const lat = v[1];
  if (lon < -180 || lon > 180) throw bad(`${what}: longitude ${lon} is outside -180..180`);
  if (lat < -90 || lat > 90) throw bad(`${what}: latitude ${lat} is outside -90..90`);
  return [lon, lat];
}

/** Shifts longitudes so that no edge jumps by more than 180°. */
function unwrap(ring: Position[]): Position[] {
  const out: Position[] = [];
  let prev: number | undefined;
  for (const [lon0, lat] of ring) {
    let lon = lon0;
    if (prev !== undefined) {
      while (lon - prev > 180) lon -= 360;
      while (prev - lon > 180) lon += 360;
    }
    out.push([lon, lat]);
    prev = lon;
  }
  // keep the ring's longitudes starting within -180..180 on the west side
  let min = Infinity;
  for (const [lon] of out) min = Math.min(min, lon);
  if (min < -180) return out.map(([lon, lat]) => [lon + 360, lat] as Position);
  return out;
}

function ring(v: unknown, what: string): Position[] {
  if (!Array.isArray(v)) throw bad(`${what} must be an array of positions`);
  const pts = v.map((p, i) => position(p, `${what}[${i}]`));
  if (pts.length > 1) {
    const first = pts[0] as Position;
    const last = pts[pts.length - 1] as Position;
    if (first[0] === last[0] && first[1] === last[1]) pts.pop();
  }
  if (pts.length < 3) throw bad(`${what} needs at least 3 distinct vertices (4 positions, first = last)`);
  return unwrap(pts);
}

function boxOf(points: readonly Position[]): Box {
  let west = Infinity, east = -Infinity, south = Infinity, north = -Infinity;
  for (const [lon, lat] of points) {
    west = Math.min(west, lon); east = Math.max(east, lon);
    south = Math.min(south, lat); north = Math.max(north, lat);
  }
  return { west, east, south, north };
}

function polygon(v: unknown, what: string): PolygonShape {
  if (!Array.isArray(v) || v.length === 0) throw bad(`${what} must be a non-empty array of rings`);
  const rings = v.map((r, i) => ring(r, `${what}[${i}]`));
  const outer = rings[0] as Position[];
  // holes follow the outer ring's unwrapping
  const shift = (boxOf(outer).west + boxOf(outer).east) / 2;
  const holes = rings.slice(1).map((h) => {
    const c = (boxOf(h).west + boxOf(h).east) / 2;
    const d = Math.round((shift - c) / 360) * 360;
    return d === 0 ? h : h.map(([lon, lat]) => [lon + d, lat] as Position);
  });
  return { type: 'polygon', rings: [outer, ...holes], box: boxOf(outer) };
}

export function circleBox(lon: number, lat: number, radiusM: number): Box {
  const dLat = (radiusM / EARTH_RADIUS_M) * (180 / Math.PI);
  const south = Math.max(-90, lat - dLat);
  const north = Math.min(90, lat + dLat);
  if (north >= 90 || south <= -90) return { west: -180, east: 180, south, north };
  const maxAbsLat = Math.max(Math.abs(south), Math.abs(north));
  const dLon = dLat / Math.cos((maxAbsLat * Math.PI) / 180);
  if (dLon >= 180) return { west: -180, east: 180, south, north };
  let west = lon - dLon;
  let east = lon + dLon;
  if (west < -180) { west += 360; east += 360; }
  return { west, east, south, north };
}

const cache = new Map<string, Shape>();

/** Parses GeoJSON text into a shape (memoised by text); throws GEO_INVALID_GEOJSON. */
export function parseShape(geo: GeoJson | string): Shape {
  const text = typeof geo === 'string' ? geo : geo.text;
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`GeoJSON is not valid JSON: ${(err as Error).message}`);
  }
  const shape = shapeOf(doc);
  if (cache.size > 10_000) cache.clear();
  cache.set(text, shape);
  return shape;
}

function shapeOf(doc: unknown): Shape {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('GeoJSON must be an object with a "type"');
  const o = doc as { type?: unknown; coordinates?: unknown; geometry?: unknown };
  switch (o.type) {
    case 'Feature':
      return shapeOf(o.geometry);
    case 'Point': {
      const [lon, lat] = position(o.coordinates, 'Point coordinates');
      return { type: 'point', lon, lat };
    }
    case 'Polygon':
      return polygon(o.coordinates, 'Polygon coordinates');
    case 'MultiPolygon': {
      if (!Array.isArray(o.coordinates) || o.coordinates.length === 0) throw bad('MultiPolygon coordinates must be a non-empty array of polygons');
      const polygons = o.coordinates.map((p, i) => polygon(p, `MultiPolygon coordinates[${i}]`));
      return {
        type: 'multipolygon', polygons,
        box: boxOf(polygons.flatMap((p) => [[p.box.west, p.box.south], [p.box.east, p.box.north]] as Position[])),
      };
    }
    case 'AeroCircle': {
      const c = o.coordinates;
      if (!Array.isArray(c) || c.length !== 2) throw bad('AeroCircle coordinates must be [[longitude, latitude], radiusMeters]');
      const [lon, lat] = position(c[0], 'AeroCircle center');
      const r = c[1];
      if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) throw bad('AeroCircle radius must be a non-negative number of meters');
      return { type: 'circle', lon, lat, radiusM: r, box: circleBox(lon, lat, r) };
    }
    default:
      throw bad(`unsupported GeoJSON type ${JSON.stringify(o.type)}`);
  }
}
