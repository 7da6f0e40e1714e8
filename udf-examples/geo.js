// geo.js — records within a distance of a point, nearest first.
//
//   AGGREGATE geo.near('loc', -122.42, 37.77, 5000, 'name') ON test.places
//
// `loc` holds a GeoJSON Point; distances are great-circle (haversine) in metres.

const EARTH_RADIUS_M = 6371008.8;

function haversine(lng1, lat1, lng2, lat2) {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLng = (lng2 - lng1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(a));
}

function pointOf(v) {
  if (!(v instanceof GeoJSON)) return null;
  const g = v.value;
  return g.type === 'Point' && Array.isArray(g.coordinates) ? g.coordinates : null;
}

export function near(stream, bin, lng, lat, meters, labelBin) {
  return stream
    .map((r) => {
      const p = pointOf(r[bin]);
      return p === null ? null : { label: r[labelBin] ?? null, meters: Math.round(haversine(lng, lat, p[0], p[1])) };
    })
    .filter((x) => x !== null && x.meters <= meters)
    .aggregate([], (list, x) => { list.push(x); return list; })
    .reduce((a, b) => a.concat(b))
    .map((list) => list.sort((x, y) => x.meters - y.meters));
}

/** Record UDF: distance from this record's point to a given point, in metres (null if none). */
export function distanceTo(rec, bin, lng, lat) {
  const p = pointOf(rec[bin]);
  return p === null ? null : haversine(lng, lat, p[0], p[1]);
}
