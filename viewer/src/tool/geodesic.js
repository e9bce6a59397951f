// Geodesic lengths and areas on the GRS80 ellipsoid (JGD2011's), with GeographicLib (Karney's
// algorithms, accurate to nanometres): the measuring tool loads this module when first used, so
// the bundle does not carry it. (Leaflet's distanceTo is on a sphere: up to 0.5 % off.)
import geodesic from 'geographiclib-geodesic';

const GRS80 = new geodesic.Geodesic.Geodesic(6378137, 1 / 298.257222101);

/**
 * The length (m) of the line through `points` ([{lat, lng}]); with `closed`, also back to the
 * first point, and the enclosed area (m², whichever way round the points go).
 * @returns {{length: number, area: number|null}}
 */
export function measure(points, { closed = false } = {}) {
  const polygon = GRS80.Polygon(!closed);
  for (const { lat, lng } of points) polygon.AddPoint(lat, lng);
  const result = polygon.Compute(false, true);
  return { length: result.perimeter || 0, area: closed && points.length >= 3 ? Math.abs(result.area) : null };
}
