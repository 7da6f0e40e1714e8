import { strict as assert } from 'node:assert';
import { distanceM, parseShape, regionHasPoint, shapeContains, shapeWithin, lonRanges, type Region } from '../../../core/query/geo/index.ts';
import { isDbError } from '../../../core/errors/index.ts';

const pt = (lon: number, lat: number) => parseShape(JSON.stringify({ type: 'Point', coordinates: [lon, lat] }));
const region = (doc: unknown) => parseShape(JSON.stringify(doc)) as Region;

describe('query/geo', () => {
  // a square with a square hole
  const holed = region({ type: 'Polygon', coordinates: [
    [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
    [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
  ] });

  it('point in polygon, with holes and boundary', () => {
    assert.equal(regionHasPoint(holed, 1, 1), true);
    assert.equal(regionHasPoint(holed, 5, 5), false, 'inside the hole');
    assert.equal(regionHasPoint(holed, 4, 5), true, 'on the hole edge');
    assert.equal(regionHasPoint(holed, 10, 5), true, 'on the outer edge');
    assert.equal(regionHasPoint(holed, 11, 5), false);
    assert.equal(regionHasPoint(holed, -0.0001, 5), false);
  });

  it('concave polygon', () => {
    const u = region({ type: 'Polygon', coordinates: [[[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]] });
    assert.equal(regionHasPoint(u, 1.5, 2), false);
    assert.equal(regionHasPoint(u, 0.5, 2), true);
    assert.equal(regionHasPoint(u, 1.5, 0.5), true);
  });

  it('multipolygon', () => {
    const m = region({ type: 'MultiPolygon', coordinates: [
      [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
      [[[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]],
    ] });
    assert.equal(regionHasPoint(m, 0.5, 0.5), true);
    assert.equal(regionHasPoint(m, 5.5, 5.5), true);
    assert.equal(regionHasPoint(m, 3, 3), false);
  });

  it('a polygon across the antimeridian (Fiji box 177°E..-178°W)', () => {
    const fiji = region({ type: 'Polygon', coordinates: [[[177, -20], [-178, -20], [-178, -15], [177, -15], [177, -20]]] });
    assert.equal(regionHasPoint(fiji, 179, -17), true);
    assert.equal(regionHasPoint(fiji, -179.5, -17), true);
    assert.equal(regionHasPoint(fiji, 180, -17), true);
    assert.equal(regionHasPoint(fiji, 0, -17), false, 'the other side of the world');
    assert.equal(regionHasPoint(fiji, 176, -17), false);
    assert.equal(regionHasPoint(fiji, -177, -17), false);
    assert.deepEqual(lonRanges(fiji.box), [[177, 180], [-180, -178]]);
  });

  it('AeroCircle containment uses great-circle distance', () => {
    // 1° of latitude ≈ 111.2 km
    const c = region({ type: 'AeroCircle', coordinates: [[-122.0, 37.5], 112_000] });
    assert.equal(regionHasPoint(c, -122.0, 38.5), true);
    assert.equal(regionHasPoint(c, -122.0, 38.52), false);
    // London–Paris ≈ 343.5 km
    const d = distanceM(-0.1278, 51.5074, 2.3522, 48.8566);
    assert.ok(Math.abs(d - 343_500) < 1_500, `distance ${d}`);
    // a circle around the antimeridian
    const dateLine = region({ type: 'AeroCircle', coordinates: [[179.9, 0], 50_000] });
    assert.equal(regionHasPoint(dateLine, -179.9, 0), true);
    assert.equal(regionHasPoint(dateLine, 179.0, 0), false);
  });

  it('within / contains between shapes', () => {
    const small = region({ type: 'AeroCircle', coordinates: [[1, 1], 1000] });
    const big = region({ type: 'AeroCircle', coordinates: [[1, 1], 5000] });
    assert.equal(shapeWithin(small, big), true);
    assert.equal(shapeWithin(big, small), false);
    assert.equal(shapeWithin(small, holed), true);
    assert.equal(shapeWithin(pt(5, 5), holed), false);
    assert.equal(shapeContains(holed, pt(2, 2)), true);
    const inner = region({ type: 'Polygon', coordinates: [[[1, 1], [2, 1], [2, 2], [1, 1]]] });
    assert.equal(shapeWithin(inner, holed), true);
  });

  it('rejects bad geometry with GEO_INVALID_GEOJSON', () => {
    for (const bad of [
      '{"type":"Point","coordinates":[200,0]}', '{"type":"Point","coordinates":[0]}', 'not json',
      '{"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]}', '{"type":"AeroCircle","coordinates":[[0,0],-1]}',
      '{"type":"Triangle"}',
    ]) {
      assert.throws(() => parseShape(bad), (e: unknown) => isDbError(e, 'GEO_INVALID_GEOJSON'), bad);
    }
  });
});
