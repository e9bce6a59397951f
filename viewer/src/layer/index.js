// Data layers. The rest of the viewer only uses `dataLayer(apiUrl, entry)` and the Leaflet layer it
// returns: addTo/remove, getAttribution, setOpacity/getOpacity, and the events 'loading', 'load'
// {count, matched, complete} and 'error' {error}. Areas and lines with OGC API vector tiles are
// drawn from tiles (VectorTileLayer); points from bbox-loaded GeoJSON (FeatureLayer) unless their
// tile set says they are dense (DenseSwitch).
import { itemsUrl } from '../api/index.js';
import { BboxSource } from './BboxSource.js';
import { featureLayer } from './FeatureLayer.js';
import { DenseSwitch } from './DenseSwitch.js';
import { tiling, vectorTileLayer } from './VectorTileLayer.js';
import { rasterLayer } from './RasterLayer.js';

export { BboxSource, bboxParam, nextPageUrl } from './BboxSource.js';
export { FeatureLayer, featureLayer } from './FeatureLayer.js';
export { discoverLayers, isVisibleByDefault, drawZIndex, layerTitle, labelEntry } from './catalog.js';
export { featureStyle, legendEntries, categoryOf, isFilled } from './style.js';
export { popupContent, formatValue } from './popup.js';
export { VectorTileLayer, vectorTileLayer, tiling, tilesetsLink, loadTileJson, CANVAS_FROM } from './VectorTileLayer.js';
export { DenseSwitch, SPARSE_MINZOOM } from './DenseSwitch.js';
export { decodeTile, pathData, renderCanvas, renderLayer } from './mvtSvg.js';
export {
  RasterLayer, rasterLayer, addRasterEntries, rasterEntries, rasterLegend, rasterSwatch, rasterReportSections,
} from './RasterLayer.js';

/** The map layer of catalog entry `entry`, loading from the OGC API at `apiUrl`. */
export function dataLayer(apiUrl, entry, { limit = 1000, maxPages = 3, popupActions } = {}) {
  if (entry.def.kind === 'raster') return rasterLayer(apiUrl, entry); // map tiles under the vectors
  const pane = { pane: `tg-pane-${entry.id}`, zIndex: entry.zIndex };
  const tiled = () => vectorTileLayer(entry, { ...pane, apiUrl });
  const source = () => new BboxSource(itemsUrl(apiUrl, entry.id), { limit, maxPages });
  const geojson = () => featureLayer(source(), entry, { ...pane, popupActions });
  const how = tiling(entry);
  if (how === 'tiles') return tiled();
  if (how === 'auto') return new DenseSwitch(entry, tiled, geojson);
  return geojson();
}
export { LiveWatcher, liveWatcher, DisasterMode, statusBadge } from './disasterMode.js';
