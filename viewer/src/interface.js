// Everything around the map: the header (title, search, language menu, messages), the sheet with
// the layer list and the point report, the map tools (my location, measure, share), the base-map
// notice and the print view; and what a tap, a key or a language switch does to them.
import { searchPlaces } from './api/index.js';
import {
  baseMapNotice, editPanel, languageMenu, layerPanel, locateControl, measureTool, pointPanel, printView, searchBox,
  reportButton, reportsDeskButton, shareDialog, sheet as makeSheet, staffLogin, subscribeDialog,
} from './control/index.js';
import { onLanguageChange, pick, t } from './i18n/index.js';
import { DisasterMode, labelEntry, statusBadge } from './layer/index.js';
import { pointQuery, relabelMap } from './map/index.js';
import { h } from './util/index.js';
import { ICONS, mapControl } from './control/mapButton.js';

/** The header, the sheet with its panels, the map controls and the point query. */
export function buildInterface({ element, map, config, groups, entries, baseMaps, session, apiUrl, hooks = {} }) {
  const title = () => pick(config.title);
  const { say, message, announcer } = messages();
  // A config may name other endpoints (a staff config: ones that see internal layers too).
  const endpoints = { search: 'search', point: 'point', ...config.endpoints };
  const query = pointQuery(map, { endpoint: endpoints.point });
  const search = searchBox({
    search: (text, options) => searchPlaces(text, { ...options, endpoint: endpoints.search }),
    onPick: (result) => goTo(map, query, say, result),
  });
  const language = languageMenu();
  // The page may already show the header (painted before the script ran): it is reused.
  const header = document.querySelector('header.tg-header') ?? h('header', { className: 'tg-header' });
  const heading = header.querySelector('.tg-title') ?? h('h1', { className: 'tg-title' });
  header.replaceChildren(heading, search.element, language.element, message, announcer);
  if (!header.isConnected) element.before(header);

  const panel = layerPanel(map, groups, baseMaps);
  // Staff: the edit form of the layers they may edit (issue 13); everyone: 災害時モード.
  const edit = session ? editPanel({ map, apiUrl, config, session, onMessage: say }) : null;
  hooks.edit = edit;
  const disaster = new DisasterMode({
    map, apiUrl, config, entries,
    onShow: (latlng) => map.setView(latlng, Math.max(map.getZoom(), 16)),
    onActivate: () => sheet.select('layers', { expand: true }),
  });
  element.before(disaster.banner);
  const subscribe = subscribeDialog(); // 「この場所の変更を受け取る」 (issue 16)
  const info = pointPanel({
    onShow: (latlng) => map.setView(latlng, Math.max(map.getZoom(), 16)),
    onSubscribe: (latlng, opener) => subscribe.open(latlng, opener),
    onClear: () => query.clear(),
    onCentre: () => query.query(map.getCenter()),
    endpoint: endpoints.point,
    decorate: (layerId, feature) => decorate(config, edit, layerId, feature),
    // Thematic layers (zoning, hazards: categorised, strongly filled) before city-wide outlines.
    rank: (id) => {
      const style = config.layers[id]?.style ?? {};
      return (style.by ? -1 : 0) - (style.fill_opacity ?? 0);
    },
  });
  const staff = staffLogin({ session });
  const printing = printView({ map, entries, title, report: () => info.reportElement() });
  document.body.prepend(printing.element);
  const print = h('button', { type: 'button', className: 'tg-button tg-print-button', onClick: () => printing.preview(true) });
  // Staff: 「通報の対応」, the residents' reports of their departments (issue 17).
  const desk = session ? reportsDeskButton({ map, session, onMessage: say }) : null;
  const tools = h('div', { className: 'tg-tools' }, [print, desk?.element, staff.element]);
  const aside = h('aside', {});
  element.after(aside);
  const sheet = makeSheet(aside, {
    tabs: [
      { id: 'layers', label: () => t('panelTitle'), content: [disaster.element, panel.element, tools] },
      { id: 'info', label: () => t('infoTab'), content: info.element },
    ],
    onResize: () => fitMapToSheet(element, map, sheet, query),
  });
  const locate = locateControl({ onLocate: (latlng) => query.query(latlng), onMessage: say }).addTo(map);
  const measure = measureTool().addTo(map);
  const share = shareDialog().addTo(map);
  // 「困りごとを報告」 (issue 17): residents only; staff handle reports on their side.
  const report = session ? null : reportButton({ onMessage: say }).addTo(map);
  // 「印刷」 on the map too: reachable with the point report open (the panel's is on the layers tab).
  const printOnMap = mapControl({ className: 'tg-print-map-button', iconPath: ICONS.print, onClick: () => printing.preview(true) }).addTo(map);
  baseMapNotice(map, baseMaps, { use: (layer) => panel.setBaseMap(layer) });

  query.on('loading', ({ latlng }) => {
    info.setState({ status: 'loading', latlng });
    sheet.select('info', { expand: true });
  });
  query.on('report', ({ latlng, report }) => {
    info.setState({ status: 'report', latlng, report });
    announcer.textContent = info.summary();
  });
  query.on('error', ({ latlng, error }) => {
    info.setState({ status: 'error', latlng, error });
    announcer.textContent = info.summary();
  });
  query.on('clear', () => info.setState({ status: 'empty' }));
  // A tap asks what applies there, or places a point while measuring.
  map.on('click', (event) => {
    if (report?.isPicking()) report.pick(event.latlng);
    else if (measure.isActive()) measure.add(event.latlng);
    else query.query(event.latlng);
  });
  map.on('movestart', () => search.close());
  map.getContainer().addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.target !== map.getContainer()) return;
    if (measure.isActive()) measure.add(map.getCenter());
    else query.query(map.getCenter());
  });

  // The map already keeps the space of the sheet's first height (index.css): no layout forced here.
  const relabel = () => {
    document.title = title() || document.title;
    heading.textContent = title();
    print.textContent = t('print');
    printOnMap.relabel(t('print'));
    header.classList.toggle('tg-staff-header', Boolean(session));
    relabelMap(map);
  };
  relabel();
  onLanguageChange(() => {
    relabel();
    relabelCredits(map, entries);
    for (const part of [search, sheet, locate, measure, share, language, report, desk]) part?.relabel();
    staff.render();
    printing.schedule();
    info.render();
    panel.render();
    disaster.render();
    // The report's words come from the server: ask again in the new language.
    if (query.report && query.latlng) query.query(query.latlng);
  });
  return { panel, sheet, query, search, info, locate, staff, measure, share, printing, say, edit, disaster, report };
}

/** What the point report shows after a feature: its status (災害時モード) and the staff's 「編集」. */
function decorate(config, edit, layerId, feature) {
  const def = config.layers[layerId];
  const field = def?.disaster_mode?.field;
  const status = field && (feature.status ?? feature.properties?.find?.((p) => p.name === field)?.value);
  return [status ? statusBadge(def, status) : null, edit?.actionFor(layerId, feature.id) ?? null];
}

/** The header's message line (visible, timed) and a status line for screen readers only. */
function messages() {
  const message = h('p', { className: 'tg-message', role: 'status' });
  const announcer = h('p', { className: 'tg-announcer tg-visually-hidden', role: 'status' });
  let timer = null;
  const say = (text, { long = false } = {}) => {
    message.textContent = text;
    clearTimeout(timer);
    if (text) timer = setTimeout(() => { message.textContent = ''; }, long ? 12000 : 6000);
  };
  return { say, message, announcer };
}

/** Go to a search result and ask what applies there (coordinates outside Tsukuba only move). */
function goTo(map, query, say, result) {
  const zoom = Math.max(map.getZoom(), result.kind === 'place' ? 16 : 17);
  // Fly there, unless the user asked for less motion.
  if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) map.setView([result.lat, result.lon], zoom);
  else map.flyTo([result.lat, result.lon], zoom, { duration: 0.8 });
  say(result.kind === 'coordinate' && !result.inside ? t('outsideCity') : '');
  if (result.kind !== 'coordinate' || result.inside) query.query([result.lat, result.lon]);
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
