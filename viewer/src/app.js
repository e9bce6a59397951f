// The viewer application: read the config and the OGC API collections, build the map, the data
// layers, the header (title, search, language) and the sheet (layers, point report), and keep the
// URL hash and the remembered state in step with them.
import { loadCollections, loadViewerConfig, searchPlaces, staffSession } from './api/index.js';
import {
  layerPanel, locateControl, pointPanel, printHeader, searchBox, sheet as makeSheet, staffLogin,
} from './control/index.js';
import { getLanguage, onLanguageChange, pick, setLanguage, t } from './i18n.js';
import { addRasterEntries, dataLayer, discoverLayers, labelEntry } from './layer/index.js';
import { baseMapLayer, createMap, pointQuery, relabelMap, showInitialView } from './map/index.js';
import { parseHash, ViewState } from './state/index.js';
import { h } from './util/index.js';

const STAFF_CONFIG = 'internal/viewer-config.json';

/**
 * Start the viewer in `element` (the map's <main>); the header and the sheet are put around it.
 * @returns {Promise<object>} what was built: {map, config, groups, baseMaps, panel, sheet, query, ...}
 */
export async function startViewer(element, { configUrl } = {}) {
  const viewState = new ViewState();
  const initial = viewState.initial();
  if (initial.lang) setLanguage(initial.lang);
  // Staff who signed in get the staff config; residents' pages never ask (see api/auth.js).
  const session = configUrl ? null : await staffSession().catch(() => null);
  const config = await loadViewerConfig(configUrl ?? (session ? new URL(STAFF_CONFIG, document.baseURI) : undefined));
  const apiUrl = new URL(config.api, document.baseURI);
  const collections = await loadCollections(apiUrl);

  const map = createMap(element);
  performance.mark('tg-map-created');
  const groups = discoverLayers(config, collections);
  addRasterEntries(groups, config, collections); // raster layers join their departments
  const entries = groups.flatMap((group) => group.entries);
  const wanted = initial.layers ? new Set(initial.layers) : null;
  for (const entry of entries) {
    entry.layer = dataLayer(apiUrl, entry);
    const opacity = initial.opacity?.[entry.id];
    if (typeof opacity === 'number' && opacity >= 0 && opacity <= 1) entry.layer.setOpacity(opacity);
    if (wanted) entry.visible = wanted.has(entry.id);
    entry.layer.once('load', () => performance.mark('tg-first-layer'));
  }
  const baseMaps = (config.basemaps ?? []).map((def) => ({ def, layer: baseMapLayer(def, { maxZoom: map.getMaxZoom() }) }));
  const base = baseMaps.find(({ def }) => def.id === initial.base) ?? baseMaps[0];

  if (initial.view) map.setView([initial.view.lat, initial.view.lon], initial.view.zoom);
  else showInitialView(map, config, entries.map((entry) => entry.collection));
  base?.layer.addTo(map);

  const ui = buildInterface({ element, map, config, groups, entries, baseMaps, session });
  for (const entry of entries) if (entry.visible) entry.layer.addTo(map);
  if (initial.pt) ui.query.query([initial.pt.lat, initial.pt.lon]);

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
  window.addEventListener('hashchange', () => applyHash({ map, entries, query: ui.query }));
  return { map, config, groups, baseMaps, viewState, ...ui };
}

/** The header, the sheet with its panels, the map controls and the point query. */
function buildInterface({ element, map, config, groups, entries, baseMaps, session }) {
  const title = () => pick(config.title);
  const message = h('p', { className: 'tg-message', role: 'status' });
  const announcer = h('p', { className: 'tg-announcer tg-visually-hidden', role: 'status' });
  let messageTimer = null;
  const say = (text) => {
    message.textContent = text;
    clearTimeout(messageTimer);
    if (text) messageTimer = setTimeout(() => { message.textContent = ''; }, 6000);
  };
  // A config may name other endpoints (a staff config: ones that see internal layers too).
  const endpoints = { search: 'search', point: 'point', ...config.endpoints };
  const query = pointQuery(map, { endpoint: endpoints.point });
  const search = searchBox({
    search: (text, options) => searchPlaces(text, { ...options, endpoint: endpoints.search }),
    onPick: (result) => {
      const zoom = Math.max(map.getZoom(), result.kind === 'place' ? 16 : 17);
      // Fly there, unless the user asked for less motion.
      if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) map.setView([result.lat, result.lon], zoom);
      else map.flyTo([result.lat, result.lon], zoom, { duration: 0.8 });
      say(result.kind === 'coordinate' && !result.inside ? t('outsideCity') : '');
      if (result.kind !== 'coordinate' || result.inside) query.query([result.lat, result.lon]);
    },
  });
  const language = h('button', { type: 'button', className: 'tg-button tg-lang', onClick: () => setLanguage(getLanguage() === 'ja' ? 'en' : 'ja') });
  // The page may already show the header (painted before the script ran): it is reused.
  const header = document.querySelector('header.tg-header') ?? h('header', { className: 'tg-header' });
  const heading = header.querySelector('.tg-title') ?? h('h1', { className: 'tg-title' });
  header.replaceChildren(heading, search.element, language, message, announcer);
  if (!header.isConnected) element.before(header);

  const panel = layerPanel(map, groups, baseMaps);
  const info = pointPanel({
    onShow: (latlng) => map.setView(latlng, Math.max(map.getZoom(), 16)),
    onClear: () => query.clear(),
    onCentre: () => query.query(map.getCenter()),
    endpoint: endpoints.point,
    // Thematic layers (zoning, hazards: categorised, strongly filled) before city-wide outlines.
    rank: (id) => {
      const style = config.layers[id]?.style ?? {};
      return (style.by ? -1 : 0) - (style.fill_opacity ?? 0);
    },
  });
  const staff = staffLogin({ session });
  const print = h('button', { type: 'button', className: 'tg-button tg-print-button', onClick: () => window.print() });
  const tools = h('div', { className: 'tg-tools' }, [print, staff.element]);
  const aside = h('aside', {});
  element.after(aside);
  const sheet = makeSheet(aside, {
    tabs: [
      { id: 'layers', label: () => t('panelTitle'), content: [panel.element, tools] },
      { id: 'info', label: () => t('infoTab'), content: info.element },
    ],
    onResize: () => fitMapToSheet(element, map, sheet, query),
  });
  fitMapToSheet(element, map, sheet, query);
  const printing = printHeader({ map, entries, title });
  document.body.prepend(printing.element);
  const locate = locateControl({ onLocate: (latlng) => query.query(latlng), onMessage: say }).addTo(map);

  query.on('loading', ({ latlng }) => {
    info.setState({ status: 'loading', latlng });
    sheet.select('info', { expand: true });
  });
  query.on('report', ({ latlng, report }) => {
    info.setState({ status: 'report', latlng, report });
    announcer.textContent = info.summary();
  });
  query.on('error', ({ latlng }) => {
    info.setState({ status: 'error', latlng });
    announcer.textContent = info.summary();
  });
  query.on('clear', () => info.setState({ status: 'empty' }));
  map.on('click', (event) => query.query(event.latlng));
  map.getContainer().addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target === map.getContainer()) query.query(map.getCenter());
  });
  window.addEventListener('beforeprint', () => map.invalidateSize());
  window.addEventListener('afterprint', () => map.invalidateSize());

  const relabel = () => {
    document.title = title() || document.title;
    heading.textContent = title();
    language.textContent = t('language');
    language.lang = getLanguage() === 'ja' ? 'en' : 'ja';
    language.setAttribute('aria-label', t('languageLabel'));
    print.textContent = t('print');
    header.classList.toggle('tg-staff-header', Boolean(session));
    relabelMap(map);
  };
  relabel();
  onLanguageChange(() => {
    relabel();
    relabelCredits(map, entries);
    search.relabel();
    sheet.relabel();
    locate.relabel();
    staff.render();
    printing.render();
    info.render();
    panel.render();
  });
  return { panel, sheet, query, search, info, locate, staff };
}

/** On phones the map keeps the space above the bottom sheet (its credits stay visible). */
function fitMapToSheet(element, map, sheet, query) {
  const seen = query.latlng && map.getBounds().contains(query.latlng);
  element.style.bottom = sheet.narrow ? `${Math.round(sheet.element.getBoundingClientRect().height)}px` : '';
  map.invalidateSize({ animate: false }); // the centre stays (a shared view is not shifted)
  // A point the sheet has just covered is brought back into view (one out of view stays there).
  if (seen && !map.getBounds().contains(query.latlng)) map.panTo(query.latlng);
}

/** Replace the data layers' credits by those of the current language. */
function relabelCredits(map, entries) {
  const control = map.attributionControl;
  for (const entry of entries) {
    const shown = map.hasLayer(entry.layer);
    if (shown) control?.removeAttribution(entry.attribution);
    labelEntry(entry);
    if (shown) control?.addAttribution(entry.attribution);
  }
}

/** Follow a hash the user typed or opened (view, layers, language, point). */
function applyHash({ map, entries, query }) {
  const state = parseHash(window.location.hash);
  if (state.view) map.setView([state.view.lat, state.view.lon], state.view.zoom);
  if (state.layers) {
    const wanted = new Set(state.layers);
    for (const entry of entries) {
      if (wanted.has(entry.id) && !map.hasLayer(entry.layer)) map.addLayer(entry.layer);
      if (!wanted.has(entry.id) && map.hasLayer(entry.layer)) map.removeLayer(entry.layer);
    }
  }
  if (state.lang) setLanguage(state.lang);
  const current = query.latlng;
  if (state.pt && (!current || current.lat.toFixed(6) !== state.pt.lat.toFixed(6) || current.lng.toFixed(6) !== state.pt.lon.toFixed(6))) {
    query.query([state.pt.lat, state.pt.lon]);
  }
}

/** Replace the map by a message when the viewer cannot start. */
export function showStartError(element, error) {
  element.replaceChildren(h('p', { className: 'tg-fatal', role: 'alert' }, t('startError')));
  console.error('viewer: start failed', error);
}
