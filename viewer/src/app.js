// The viewer application: read the config and the OGC API collections, build the map and its data
// layers, then the header (title, search, language), the sheet (layers, point report) and the map
// tools, and keep the URL hash and the remembered state in step with them.
//
// Order matters on a slow phone: the config and the collections are fetched in parallel (both
// preloaded by index.html), and the data layers are put on the map, so their requests leave,
// before the panels are built; the panels then follow what the layers already did.
import { loadCollections, loadViewerConfig, staffSession } from './api/index.js';
import { browserLanguage, getLanguage, onLanguageChange, setLanguage, t } from './i18n/index.js';
import { addRasterEntries, dataLayer, discoverLayers } from './layer/index.js';
import { baseMapLayer, createMap, mapArea, showInitialView } from './map/index.js';
import { checkLink, parseHash, ViewState } from './state/index.js';
import { buildInterface } from './interface.js';
import { followLive } from './live.js';
import { h } from './util/index.js';

const STAFF_CONFIG = 'internal/viewer-config.json';
// The collections of the residents' API, preloaded by index.html.
const PUBLIC_API = 'api';

/**
 * Start the viewer in `element` (the map's <main>); the header and the sheet are put around it.
 * @returns {Promise<object>} what was built: {map, config, groups, baseMaps, panel, sheet, query, ...}
 */
export async function startViewer(element, { configUrl } = {}) {
  const viewState = new ViewState();
  const initial = viewState.initial();
  // The hash's language, else the remembered one, else (first visit) the browser's.
  const firstVisit = Object.keys(initial.remembered).length === 0;
  const wanted = initial.fromHash.lang ?? initial.remembered.lang ?? (firstVisit ? browserLanguage() : null);
  const language = wanted ? setLanguage(wanted).catch(() => false) : null;
  const { config, collections, session } = await loadDocuments(configUrl);
  const apiUrl = new URL(config.api, document.baseURI);
  await language;

  const baseCredits = (config.basemaps ?? []).flatMap((def) => [def.attribution, def.smallScaleAttribution]).filter(Boolean);
  const map = createMap(element, { baseCredits });
  performance.mark('tg-map-created');
  const groups = discoverLayers(config, collections);
  addRasterEntries(groups, config, collections); // raster layers join their departments
  const entries = groups.flatMap((group) => group.entries);
  const baseMaps = (config.basemaps ?? []).map((def) => ({ def, layer: baseMapLayer(def, { maxZoom: map.getMaxZoom() }) }));
  const area = mapArea(config, collections);
  const known = { layerIds: entries.map((entry) => entry.id), baseIds: baseMaps.map(({ def }) => def.id), area };
  const link = checkLink(initial.fromHash, known);
  const start = { ...checkLink(initial.remembered, known).state, ...link.state };
  const visible = start.layers ? new Set(start.layers) : null;
  // Late-bound: the staff's edit mode is made with the interface, the layers before it.
  const hooks = { edit: null };
  const popupActions = (feature, entry) => hooks.edit?.actionFor(entry.id, feature.id) ?? null;
  for (const entry of entries) {
    entry.layer = dataLayer(apiUrl, entry, { popupActions });
    trackStatus(entry);
    const opacity = start.opacity?.[entry.id];
    if (typeof opacity === 'number' && opacity >= 0 && opacity <= 1) entry.layer.setOpacity(opacity);
    if (visible) entry.visible = visible.has(entry.id);
    entry.layer.once('load', () => performance.mark('tg-first-layer'));
  }
  const base = baseMaps.find(({ def }) => def.id === start.base) ?? baseMaps[0];

  if (start.view) map.setView([start.view.lat, start.view.lon], start.view.zoom);
  else showInitialView(map, config, entries.map((entry) => entry.collection));
  base?.layer.addTo(map);
  for (const entry of entries) if (entry.visible) entry.layer.addTo(map);

  const ui = buildInterface({ element, map, config, groups, entries, baseMaps, session, apiUrl, hooks });
  if (start.pt) ui.query.query([start.pt.lat, start.pt.lon]);
  if (link.notes.length) ui.say(link.notes.join(' '), { long: true });

  const read = () => ({
    view: { zoom: map.getZoom(), lat: map.getCenter().lat, lon: map.getCenter().lng },
    layers: entries.filter((entry) => map.hasLayer(entry.layer)).map((entry) => entry.id),
    lang: getLanguage(),
    pt: ui.query.latlng ? { lat: ui.query.latlng.lat, lon: ui.query.latlng.lng } : null,
    base: baseMaps.find(({ layer }) => map.hasLayer(layer))?.def.id,
    opacity: Object.fromEntries(entries.filter((entry) => entry.layer.getOpacity() < 1)
      .map((entry) => [entry.id, entry.layer.getOpacity()])),
  });
  viewState.bind(map, read);
  for (const source of [ui.query, ui.panel]) source.on('report clear change', () => viewState.schedule());
  onLanguageChange(() => viewState.schedule());
  viewState.write();
  window.addEventListener('hashchange', () => applyHash({ map, entries, known, ui, config }));
  const watcher = followLive({ config, entries, ui });
  return { map, config, groups, baseMaps, viewState, watcher, ...ui };
}

/**
 * The viewer config and its API's collections. Residents' pages fetch both at once (the HTML
 * preloads both); the collections are asked again only when the config names another API.
 */
async function loadDocuments(configUrl) {
  // Staff who signed in get the staff config; residents' pages never ask (see api/auth.js).
  const session = configUrl ? null : await staffSession().catch(() => null);
  const target = configUrl ?? (session ? new URL(STAFF_CONFIG, document.baseURI) : undefined);
  const guess = target ? null : new URL(PUBLIC_API, document.baseURI);
  const early = guess ? loadCollections(guess) : null;
  early?.catch(() => {}); // its failure is the config's answer's to judge
  const config = await loadViewerConfig(target);
  const apiUrl = new URL(config.api, document.baseURI);
  const collections = early && apiUrl.href === guess.href ? await early : await loadCollections(apiUrl);
  return { config, collections, session };
}

/** Keep `entry.status` (loading, loaded, partial, error) for panels made after the layer started. */
function trackStatus(entry) {
  entry.status = 'idle';
  entry.layer.on('loading load error', (event) => {
    entry.status = { loading: 'loading', load: event.complete === false ? 'partial' : 'loaded', error: 'error' }[event.type];
  });
}

/** Follow a hash the user typed or opened (view, layers, language, point), checked as at start. */
function applyHash({ map, entries, known, ui, config }) {
  const { state, notes } = checkLink(parseHash(window.location.hash), known);
  ui.search.close();
  if (notes.length) ui.say(notes.join(' '), { long: true });
  if (state.view) map.setView([state.view.lat, state.view.lon], state.view.zoom);
  else if (notes.includes(t('linkOutside'))) showInitialView(map, config, entries.map((entry) => entry.collection));
  if (state.layers) {
    const wanted = new Set(state.layers);
    for (const entry of entries) {
      if (wanted.has(entry.id) && !map.hasLayer(entry.layer)) map.addLayer(entry.layer);
      if (!wanted.has(entry.id) && map.hasLayer(entry.layer)) map.removeLayer(entry.layer);
    }
  }
  if (state.base) ui.panel.setBaseMapById(state.base);
  if (state.lang) setLanguage(state.lang);
  const current = ui.query.latlng;
  if (state.pt && (!current || current.lat.toFixed(6) !== state.pt.lat.toFixed(6) || current.lng.toFixed(6) !== state.pt.lon.toFixed(6))) {
    ui.query.query([state.pt.lat, state.pt.lon]);
  }
}

/** Replace the map by a message when the viewer cannot start. */
export function showStartError(element, error) {
  element.replaceChildren(h('p', { className: 'tg-fatal', role: 'alert' }, t('startError')));
  console.error('viewer: start failed', error);
}
