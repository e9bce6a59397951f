// The area this map is about: the city (the layers' extents) with a margin. Links to views outside
// it are not followed (state/links.js).
import { latLngBounds } from '../leaflet.js';
import { extentBounds } from './createMap.js';

// About 5 km around the city: neighbouring stations and roads stay reachable by a link.
const MARGIN = 0.25;
const FALLBACK_HALF_SIZE = 0.3; // degrees around the configured centre

/** The bounds links may show: the collections' extents, padded, or around config.center. */
export function mapArea(config, collections) {
  const bounds = extentBounds(collections);
  if (bounds && bounds.getNorth() - bounds.getSouth() < 1 && bounds.getEast() - bounds.getWest() < 1) {
    return bounds.pad(MARGIN);
  }
  const [lat, lon] = config.center ?? [];
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
  const d = FALLBACK_HALF_SIZE;
  return latLngBounds([lat - d, lon - d], [lat + d, lon + d]);
}
