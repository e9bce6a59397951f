// The viewer application: read the config and the OGC API collections, build the map, the data
// layers and the panel.
import { loadCollections, loadViewerConfig } from './api/index.js';
import { layerPanel } from './control/index.js';
import { pick, t } from './i18n.js';
import { dataLayer, discoverLayers } from './layer/index.js';
import { baseMapLayer, createMap, showInitialView } from './map/index.js';
import { h } from './util/index.js';

/**
 * Start the viewer in `element`.
 * @returns {Promise<{map, config, groups, baseMaps, panel}>} what was built (for later features: search,
 *   permalinks, point queries).
 */
export async function startViewer(element, { configUrl } = {}) {
  const config = await loadViewerConfig(configUrl);
  const apiUrl = new URL(config.api, document.baseURI);
  const collections = await loadCollections(apiUrl);
  document.title = pick(config.title) || document.title;

  element.setAttribute('aria-label', t('mapLabel'));
  const map = createMap(element);
  const groups = discoverLayers(config, collections);
  const entries = groups.flatMap((group) => group.entries);
  for (const entry of entries) entry.layer = dataLayer(apiUrl, entry);
  const baseMaps = (config.basemaps ?? []).map((def) => ({ def, layer: baseMapLayer(def, { maxZoom: map.getMaxZoom() }) }));

  showInitialView(map, config, entries.map((entry) => entry.collection));
  baseMaps[0]?.layer.addTo(map);
  const panel = layerPanel(groups, baseMaps, { title: pick(config.title) }).addTo(map);
  for (const entry of entries) if (entry.visible) entry.layer.addTo(map);
  return { map, config, groups, baseMaps, panel };
}

/** Replace the map by a message when the viewer cannot start. */
export function showStartError(element, error) {
  element.replaceChildren(h('p', { className: 'tg-fatal', role: 'alert' }, t('startError')));
  console.error('viewer: start failed', error);
}
