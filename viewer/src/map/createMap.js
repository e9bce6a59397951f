// The Leaflet map with Japanese controls, and its first view.
import { Map as LeafletMap, control, latLngBounds } from '../leaflet.js';
import { credits } from '../control/Credits.js';
import { t } from '../i18n/index.js';

/**
 * A map in `element`; Leaflet map options may be overridden. `baseCredits`: the base maps' HTML
 * credits (always shown; the layers' sources fold on phones, see control/Credits.js).
 */
export function createMap(element, { baseCredits = [], ...options } = {}) {
  const map = new LeafletMap(element, { zoomControl: false, attributionControl: false, minZoom: 5, maxZoom: 19, ...options });
  control.zoom({ zoomInTitle: t('zoomIn'), zoomOutTitle: t('zoomOut') }).addTo(map);
  // Credits bottom left, under the scale: the panel takes the right-hand side. The control becomes
  // map.attributionControl and follows the layers' getAttribution() as they come and go.
  credits({ baseCredits }).addTo(map);
  control.scale({ imperial: false, position: 'bottomleft' }).addTo(map);
  relabelMap(map);
  map.on('popupopen', ({ popup }) => {
    popup.getElement()?.querySelector('.leaflet-popup-close-button')?.setAttribute('aria-label', t('closePopup'));
  });
  return map;
}

/** Write the map controls' labels in the current language (after a language switch). */
export function relabelMap(map) {
  const container = map.getContainer();
  map.attributionControl?.relabel?.();
  container.setAttribute('aria-label', `${t('mapLabel')}（${t('mapHelp')}）`);
  for (const [selector, key] of [['.leaflet-control-zoom-in', 'zoomIn'], ['.leaflet-control-zoom-out', 'zoomOut']]) {
    const button = container.querySelector(selector);
    if (button) {
      button.title = t(key);
      button.setAttribute('aria-label', t(key));
    }
  }
}

/**
 * The bounds of the collections' spatial extents (CRS84 bboxes) together, or null.
 * Only the first bbox of each collection is its overall extent (OGC API - Features, 7.14.4).
 */
export function extentBounds(collections) {
  let bounds = null;
  for (const collection of collections) {
    const bbox = collection.extent?.spatial?.bbox?.[0];
    if (!Array.isArray(bbox) || bbox.length < 4 || !bbox.every(Number.isFinite)) continue;
    const [west, south, east, north] = bbox.length >= 6 ? [bbox[0], bbox[1], bbox[3], bbox[4]] : bbox;
    const box = latLngBounds([south, west], [north, east]);
    bounds = bounds ? bounds.extend(box) : box;
  }
  return bounds?.isValid() ? bounds : null;
}

/**
 * Show the city: fit the shown layers' extents (every screen size sees all of Tsukuba); the
 * config's center/zoom when the extents are missing or implausibly large (over ~1 degree).
 */
export function showInitialView(map, config, collections) {
  const bounds = extentBounds(collections);
  const plausible = bounds && bounds.getNorth() - bounds.getSouth() < 1 && bounds.getEast() - bounds.getWest() < 1;
  if (plausible) map.fitBounds(bounds, { padding: [8, 8] });
  else map.setView(config.center, config.zoom);
}
