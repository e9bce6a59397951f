// Data layers. The rest of the viewer only uses `dataLayer(apiUrl, entry)` and the Leaflet layer it
// returns: addTo/remove, getAttribution, and the events 'loading', 'load' {count, matched,
// complete} and 'error' {error}. A vector-tile layer honouring the same contract can replace the
// bbox-loaded GeoJSON one here without touching the map or the controls.
import { itemsUrl } from '../api/index.js';
import { BboxSource } from './BboxSource.js';
import { featureLayer } from './FeatureLayer.js';

export { BboxSource, bboxParam, nextPageUrl } from './BboxSource.js';
export { FeatureLayer, featureLayer } from './FeatureLayer.js';
export { discoverLayers, isVisibleByDefault, drawZIndex, layerTitle, labelEntry } from './catalog.js';
export { featureStyle, legendEntries, categoryOf, isFilled } from './style.js';
export { popupContent, formatValue } from './popup.js';

/** The map layer of catalog entry `entry`, loading from the OGC API at `apiUrl`. */
export function dataLayer(apiUrl, entry, { limit = 1000, maxPages = 3 } = {}) {
  const source = new BboxSource(itemsUrl(apiUrl, entry.id), { limit, maxPages });
  return featureLayer(source, entry, { pane: `tg-pane-${entry.id}`, zIndex: entry.zIndex });
}
