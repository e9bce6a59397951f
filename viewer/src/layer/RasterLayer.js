// Raster layers (想定浸水深, 標高, staff photos): PNG map tiles of the OGC API
// (/collections/{id}/map/tiles/WebMercatorQuad/{z}/{y}/{x}) in one pane below every vector pane,
// their legend for the layer panel, and their values for the point panel (hazards first).
// The server's viewer config lists them under `rasters` (server/rasters/viewer.py).
import { TileLayer, Util, latLngBounds } from '../leaflet.js';
import { pick } from '../i18n/index.js';
import { h, linkifiedHtml, syntheticBadge } from '../util/index.js';
import { layerTitle } from './catalog.js';

// Below Leaflet's overlayPane (400) and every data layer pane (410+), above the tiles (200).
export const RASTER_PANE = 'tg-rasters';
export const RASTER_PANE_Z = 350;

const TEXT = {
  legend: { ja: '凡例', en: 'Legend' },
  here: { ja: 'この地点', en: 'At this point' },
  peak: { ja: '半径{r}m以内の最大', en: 'Largest within {r} m' },
  none: { ja: '該当なし', en: 'None' },
  outside: { ja: 'データの範囲外', en: "Outside this data's coverage" },
  hazards: { ja: '災害の危険（ハザード）', en: 'Hazards' },
  terrain: { ja: '地形など', en: 'Terrain and imagery' },
  distance: { ja: '{d}m先', en: '{d} m away' },
};

function say(key, values = {}) {
  return pick(TEXT[key]).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Catalog entries of the config's raster layers that the collections list, in the config's order. */
export function rasterEntries(config, collections) {
  const listed = new Map(collections.map((collection) => [collection.id, collection]));
  return Object.entries(config.rasters ?? {})
    .filter(([id]) => listed.has(id))
    .map(([id, def], index) => labelRaster({
      id, def, collection: listed.get(id), visible: def.kind === 'raster' && def.style !== 'rgb', zIndex: 100 - index,
    }));
}

/** Set a raster entry's title and credit in the current language. */
export function labelRaster(entry) {
  entry.title = layerTitle(entry.def);
  entry.attribution = linkifiedHtml(pick(entry.def.attribution));
  return entry;
}

/**
 * Put the raster entries into the department groups of the layer panel (after the department's
 * vector layers); a department without vector layers gets its own group, in the config's order.
 */
export function addRasterEntries(groups, config, collections) {
  const rasters = rasterEntries(config, collections);
  const byDepartment = new Map(groups.map((group) => [group.department.id, group]));
  for (const entry of rasters) {
    let group = byDepartment.get(entry.def.department);
    if (!group) {
      const department = (config.departments ?? []).find((d) => d.id === entry.def.department)
        ?? { id: entry.def.department, name: { ja: entry.def.department } };
      group = { department, entries: [] };
      byDepartment.set(department.id, group);
      const order = (config.departments ?? []).map((d) => d.id);
      const at = groups.findIndex((g) => order.indexOf(g.department.id) > order.indexOf(department.id));
      groups.splice(at < 0 ? groups.length : at, 0, group);
    }
    group.entries.push(entry);
  }
  return rasters;
}

/** Make sure the map has the raster pane (created once, under the vector panes). */
function rasterPane(map) {
  const pane = map.getPane(RASTER_PANE) ?? map.createPane(RASTER_PANE);
  pane.style.zIndex = String(RASTER_PANE_Z);
  return RASTER_PANE;
}

export const RasterLayer = TileLayer.extend({
  options: { tileSize: 256, crossOrigin: false, keepBuffer: 1, updateWhenZooming: false },

  initialize(apiUrl, entry, options) {
    const { def } = entry;
    // The template is root-relative, like the config's `api`; the braces survive URL() encoded.
    const url = new URL(def.tiles, apiUrl).href.replace(/%7B/g, '{').replace(/%7D/g, '}');
    const [west, south, east, north] = def.bounds;
    TileLayer.prototype.initialize.call(this, url, Util.extend({
      minNativeZoom: def.minzoom,
      maxNativeZoom: def.maxzoom,
      bounds: latLngBounds([south, west], [north, east]),
      opacity: def.opacity ?? 1,
      zIndex: entry.zIndex,
      className: `tg-raster tg-raster-${entry.id}`,
    }, options));
    this._entry = entry;
  },

  onAdd(map) {
    this.options.pane = rasterPane(map);
    TileLayer.prototype.onAdd.call(this, map);
  },

  /** The opacity (the data layers' contract; Leaflet's GridLayer only has setOpacity). */
  getOpacity() {
    return this.options.opacity;
  },

  /** The layer's credit in the current language (the attribution control shows it). */
  getAttribution() {
    return this._entry.attribution;
  },
});

/** The map layer of a raster entry, from the OGC API at `apiUrl`. */
export function rasterLayer(apiUrl, entry, options) {
  return new RasterLayer(apiUrl, entry, options);
}

/** The swatch beside a raster's name: its first colours side by side. */
export function rasterSwatch(def) {
  const colors = (def.legend ?? []).map((row) => row.color);
  const shown = colors.length ? colors : ['#8c8c8c', '#c8c8c8'];
  const stops = shown.map((color, i) => `${color} ${(i * 100) / shown.length}% ${((i + 1) * 100) / shown.length}%`);
  return h('span', {
    className: 'tg-swatch tg-swatch-polygon tg-swatch-categories', 'aria-hidden': 'true',
    style: { backgroundImage: `linear-gradient(90deg, ${stops.join(', ')})` },
  });
}

/** The legend of a raster: a row per class, or the ramp's stops with their values. */
export function rasterLegend(def, title) {
  const rows = def.legend ?? [];
  if (!rows.length) return null;
  const ramp = def.style === 'ramp';
  return h('ul', {
    className: `tg-legend tg-raster-legend${ramp ? ' tg-raster-ramp' : ''}`, 'aria-label': `${say('legend')}: ${title}`,
  }, rows.map((row) => h('li', {}, [
    h('span', { className: 'tg-swatch tg-swatch-polygon', 'aria-hidden': 'true', style: { backgroundColor: row.color } }),
    h('span', {}, pick(row.label)),
  ])));
}

/** The point panel's sections of the raster layers of a report: `hazard` ones, or the others. */
export function rasterReportSections(report, which, { heading = true } = {}) {
  const chosen = (report.rasters ?? []).filter((entry) => (which === 'hazard') === Boolean(entry.hazard));
  if (!chosen.length) return [];
  const radius = Math.round(report.radius_m);
  return [
    heading && h('h3', {}, say(which === 'hazard' ? 'hazards' : 'terrain')),
    h('div', { className: 'tg-point-layers tg-point-rasters' }, chosen.map((entry) => h('article', {
      className: 'tg-point-layer tg-point-raster', 'data-layer': entry.id,
    }, [
      h('h4', {}, [pick(entry.title), entry.synthetic && ' ', entry.synthetic && syntheticBadge()]),
      entry.here.length
        ? h('ul', { className: 'tg-point-values' }, entry.here.map((band) => h('li', { 'data-band': band.name }, pick(band.text))))
        : h('p', {}, say(entry.coverage === 'outside' ? 'outside' : 'none')),
      entry.peak && h('p', { className: 'tg-point-peak' },
        `${say('peak', { r: radius })}：${pick(entry.peak.text)}（${say('distance', { d: entry.peak.distance_m })}）`),
    ]))),
  ];
}
