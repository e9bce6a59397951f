// Which layers the viewer shows: the OGC API collections that have a style in the viewer config,
// grouped by department in the config's department order.
import { fallbackLang, picked, t } from '../i18n/index.js';
import { linkifiedHtml } from '../util/index.js';
import { isFilled } from './style.js';

/**
 * Catalog entries grouped by department: [{department: {id, name}, entries: [entry]}], where
 * entry = {id, def, collection, title, attribution (HTML), visible, zIndex}.
 * Collections without a config entry (not styled for the viewer) are left out; departments keep
 * the config order, layers the collections' order.
 */
export function discoverLayers(config, collections) {
  const groups = new Map((config.departments ?? []).map((department) => [department.id, { department, entries: [] }]));
  for (const collection of collections) {
    const def = config.layers?.[collection.id];
    if (!def) continue;
    if (!groups.has(def.department)) {  // a department the config does not name
      groups.set(def.department, { department: { id: def.department, name: { ja: def.department } }, entries: [] });
    }
    const entry = labelEntry({ id: collection.id, def, collection, visible: isVisibleByDefault(def) });
    groups.get(def.department).entries.push(entry);
  }
  const result = [...groups.values()].filter((group) => group.entries.length > 0);
  result.flatMap((group) => group.entries).forEach((entry, index) => {
    entry.zIndex = drawZIndex(entry.def, index);
  });
  return result;
}

/**
 * Shown when the page opens. An explicit `visible` in the config wins; otherwise a layer is shown
 * when it is drawn prominently: facility points (radius at least the default 6, not small
 * reference dots), outlines (unfilled polygons) and categorised thematic areas drawn at
 * fill_opacity 0.4 or more. Everything else waits for a tick in the panel.
 */
export function isVisibleByDefault(def) {
  if (typeof def.visible === 'boolean') return def.visible;
  const { style } = def;
  if (def.geometry === 'point') return style.radius >= 6;
  if (def.geometry === 'polygon' && !isFilled(def)) return true;
  return Boolean(style.by && style.categories?.length && style.fill_opacity >= 0.4);
}

/**
 * The pane z-index of a layer: points over lines and outlines over filled areas, and within each,
 * the layer listed first in the panel on top. Between Leaflet's overlayPane (400) and markerPane (600).
 */
export function drawZIndex(def, index) {
  const rank = def.geometry === 'point' ? 2 : isFilled(def) ? 0 : 1;
  return 410 + rank * 60 + (59 - Math.min(index, 59));
}

// How the server's titles write the synthetic mark (ja, en), whatever the UI language.
const SYNTHETIC_MARKS = ['サンプル（架空）', 'Synthetic sample'];

/** The layer title, without the synthetic mark that the panel shows as a badge anyway. */
export function layerTitle(def) {
  const title = picked(def.title).text;
  if (!def.synthetic) return title;
  // The mark in the UI language, or in the language the title fell back to (ja, en).
  for (const mark of [t('synthetic'), ...SYNTHETIC_MARKS].map((text) => text.toLowerCase())) {
    const at = title.toLowerCase().indexOf(mark);
    if (at >= 0) return (title.slice(0, at) + title.slice(at + mark.length)).replace(/[\s—–-]+$/, '').trim() || title;
  }
  return title;
}

/** Set the entry's title and credit (HTML) in the current language; returns the entry. */
export function labelEntry(entry) {
  entry.title = layerTitle(entry.def);
  // The title's language when it is not the UI's (the `lang` of elements showing it), else null.
  entry.titleLang = fallbackLang(picked(entry.def.title));
  entry.attribution = linkifiedHtml(picked(entry.def.attribution).text);
  return entry;
}
