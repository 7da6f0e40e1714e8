import { EARTH_RADIUS_M, type Box, type CircleShape, type PolygonShape, type Position, type Region, type Shape } from './shapes.ts';

/** Great-circle distance in meters (haversine). */
export function distanceM(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const r = Math.PI / 180;
  const dLat = (lat2 - lat1) * r;
  const dLon = (lon2 - lon1) * r;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Even-odd test of one ring; points on an edge count as inside. */
function inRing(lon: number, lat: number, ring: readonly Position[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    // on the edge?
    const cross = (xj - xi) * (lat - yi) - (yj - yi) * (lon - xi);
    if (Math.abs(cross) < 1e-12 && lon >= Math.min(xi, xj) && lon <= Math.max(xi, xj)
      && lat >= Math.min(yi, yj) && lat <= Math.max(yi, yj)) return true;
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The longitudes at which to test a point against a box/ring that may be unwrapped past ±180. */
function lonsFor(lon: number, box: Box): number[] {
  const out: number[] = [];
  for (const l of [lon, lon + 360, lon - 360]) if (l >= box.west - 1e-12 && l <= box.east + 1e-12) out.push(l);
  return out;
}

export function boxHasPoint(box: Box, lon: number, lat: number): boolean {
  return lat >= box.south && lat <= box.north && lonsFor(lon, box).length > 0;
}

function polygonHas(p: PolygonShape, lon: number, lat: number): boolean {
  if (lat < p.box.south || lat > p.box.north) return false;
  for (const l of lonsFor(lon, p.box)) {
    if (!inRing(l, lat, p.rings[0] as readonly Position[])) continue;
    let inHole = false;
    for (let h = 1; h < p.rings.length; h++) {
      const hole = p.rings[h] as readonly Position[];
      if (inRing(l, lat, hole) && !onRingEdge(l, lat, hole)) { inHole = true; break; }
    }
    if (!inHole) return true;
  }
  return false;
}

function onRingEdge(lon: number, lat: number, ring: readonly Position[]): boolean {
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    const cross = (xj - xi) * (lat - yi) - (yj - yi) * (lon - xi);
    if (Math.abs(cross) < 1e-12 && lon >= Math.min(xi, xj) && lon <= Math.max(xi, xj)
      && lat >= Math.min(yi, yj) && lat <= Math.max(yi, yj)) return true;
  }
  return false;
}

function circleHas(c: CircleShape, lon: number, lat: number): boolean {
  return distanceM(c.lon, c.lat, lon, lat) <= c.radiusM * (1 + 1e-9);
}

/** Whether a region contains a point (boundary included). */
export function regionHasPoint(region: Region, lon: number, lat: number): boolean {
  switch (region.type) {
    case 'polygon': return polygonHas(region, lon, lat);
    case 'multipolygon': return region.polygons.some((p) => polygonHas(p, lon, lat));
    case 'circle': return circleHas(region, lon, lat);
  }
}

/** Sample points of a shape's boundary used for region-in-region tests. */
function vertices(shape: Shape): Position[] {
  switch (shape.type) {
    case 'point': return [[shape.lon, shape.lat]];
    case 'polygon': return [...(shape.rings[0] as readonly Position[])];
    case 'multipolygon': return shape.polygons.flatMap((p) => [...(p.rings[0] as readonly Position[])]);
    case 'circle': {
      const out: Position[] = [];
      const dLat = (shape.radiusM / EARTH_RADIUS_M) * (180 / Math.PI);
      for (let k = 0; k < 32; k++) {
        const a = (2 * Math.PI * k) / 32;
        const lat = Math.max(-90, Math.min(90, shape.lat + dLat * Math.sin(a)));
        const lon = shape.lon + (dLat * Math.cos(a)) / Math.max(1e-9, Math.cos((shape.lat * Math.PI) / 180));
        out.push([((((lon + 180) % 360) + 360) % 360) - 180, lat]);
      }
      return out;
    }
  }
}

/**
 * `inner` lies within `outer`. A point: point-in-region. A circle inside a circle: exact.
 * Other regions: every vertex (every one of 32 boundary samples for circles) inside.
 */
export function shapeWithin(inner: Shape, outer: Shape): boolean {
  if (outer.type === 'point') return inner.type === 'point' && inner.lon === outer.lon && inner.lat === outer.lat;
  if (inner.type === 'point') return regionHasPoint(outer, inner.lon, inner.lat);
  if (inner.type === 'circle' && outer.type === 'circle') {
    return distanceM(inner.lon, inner.lat, outer.lon, outer.lat) + inner.radiusM <= outer.radiusM * (1 + 1e-9);
  }
  return vertices(inner).every(([lon, lat]) => regionHasPoint(outer, lon, lat));
}

/** `outer` contains `inner` (a region containing a point, or a region containing a region). */
export function shapeContains(outer: Shape, inner: Shape): boolean {
  return shapeWithin(inner, outer);
}

/** The box of a shape: a point's degenerate box or a region's bounding box. */
export function shapeBox(shape: Shape): Box {
  return shape.type === 'point' ? { west: shape.lon, east: shape.lon, south: shape.lat, north: shape.lat } : shape.box;
}

/** A box as one or two longitude ranges inside -180..180. */
export function lonRanges(box: Box): Array<[number, number]> {
  if (box.east - box.west >= 360) return [[-180, 180]];
  if (box.east > 180) return [[box.west, 180], [-180, box.east - 360]];
  if (box.west < -180) return [[box.west + 360, 180], [-180, box.east]];
  return [[box.west, box.east]];
}
