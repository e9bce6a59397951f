// A Leaflet layer drawing one collection from its OGC API vector tiles (MVT), with the same
// styles as the GeoJSON layer: each tile is an SVG of its features (a canvas for dense areas). The tile set (URL template,
// zoom range, bounds, the id attribute) comes from the collection's TileJSON, found through the
// collection's tilesets link. Above the tile set's maxzoom the maxzoom tile is overzoomed here
// (a smaller viewBox of the same tile, strokes keep their width), as the TileJSON says.
// Points and lines open a popup (first from the tile's attributes, then the whole feature from
// /items/{id}); areas are not interactive: a tap reaches the map's point query.
import { getJson, HttpError, itemsUrl } from '../api/index.js';
import { DomEvent, GridLayer, Popup, Util, latLngBounds } from '../leaflet.js';
import { decodeTile, renderCanvas, renderLayer } from './mvtSvg.js';
import { popupContent } from './popup.js';
import { categoryOf, featureStyle } from './style.js';

const TILEJSON_TYPE = 'application/vnd.mapbox.tile+json';
const CACHED_TILES = 256;
// Tiles of areas with more features than this are painted on a canvas (SVG elements cost layout).
export const CANVAS_FROM = 1000;

/** The JSON tilesets link of an OGC API collection document, or null. */
export function tilesetsLink(collection) {
  return (collection?.links ?? []).find((link) => String(link.rel).endsWith('/tilesets-vector')
    && link.type === 'application/json') ?? null;
}

/**
 * How a catalog entry is drawn: 'tiles' (areas and lines that have tiles), 'auto' (points that
 * have tiles: tiles only when the tile set is dense, see DenseSwitch.js) or 'geojson'. The
 * viewer config's `tiles: true|false` wins.
 */
export function tiling(entry) {
  if (!tilesetsLink(entry.collection)) return 'geojson';
  if (typeof entry.def.tiles === 'boolean') return entry.def.tiles ? 'tiles' : 'geojson';
  return entry.def.geometry === 'point' ? 'auto' : 'tiles';
}

// One answer per tilesets URL for the page's life: the dense switch reads it to choose, then
// the tiled layer it makes reads it again (two requests each time otherwise). A failure is not
// kept, so the next add asks again.
const tileJsons = new Map();

/**
 * The TileJSON of a collection: its tilesets list, then the tileset's TileJSON link. A viewer
 * config that carries the layer's TileJSON (`layers[id].tilejson`, with `tiles`) saves both.
 */
export function loadTileJson(collection, inline = null) {
  if (Array.isArray(inline?.tiles) && inline.tiles.length) return Promise.resolve(inline);
  const href = new URL(tilesetsLink(collection).href, document.baseURI).href;
  if (!tileJsons.has(href)) {
    const found = fetchTileJson(href, collection.id);
    found.catch(() => tileJsons.delete(href));
    tileJsons.set(href, found);
  }
  return tileJsons.get(href);
}

/**
 * Where the TileJSON of a tilesets list usually is: OGC API - Tiles puts a tileset at
 * `.../tiles/{tileMatrixSetId}`, and this server gives its TileJSON as `?f=tilejson`.
 */
export function likelyTileJsonUrl(tilesetsHref) {
  const url = new URL(tilesetsHref);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/WebMercatorQuad`;
  url.search = '?f=tilejson';
  return url.href;
}

// The likely TileJSON is asked first: when it answers with a TileJSON whose tiles are this
// collection's, the layer draws at once (one round trip before the tiles, not two). The tilesets
// list, the authority, is read just after, behind the layer's first tiles on a busy connection:
// should it link elsewhere, that TileJSON is used from the next add on. Without the guess (an
// error, or not a TileJSON of this collection) the list is followed, as OGC API - Tiles says.
async function fetchTileJson(href, id) {
  const guess = likelyTileJsonUrl(href);
  const tilejson = await getJson(guess).catch(() => null);
  if (isTileJsonOf(tilejson, href)) {
    setTimeout(() => confirmTileJson(href, guess, id), 0);
    return tilejson;
  }
  return getJson(await linkedTileJson(href, id));
}

function isTileJsonOf(tilejson, tilesetsHref) {
  const tiles = tilejson?.tiles?.[0];
  if (typeof tilejson?.tilejson !== 'string' || typeof tiles !== 'string') return false;
  return new URL(tiles, tilesetsHref).pathname.startsWith(new URL(tilesetsHref).pathname);
}

async function linkedTileJson(href, id) {
  const list = await getJson(href);
  const link = (list.tilesets?.[0]?.links ?? []).find((candidate) => candidate.type === TILEJSON_TYPE);
  if (!link) throw new Error(`no TileJSON for ${id}`);
  return new URL(link.href, document.baseURI).href;
}

async function confirmTileJson(href, guess, id) {
  const linked = await linkedTileJson(href, id).catch(() => guess);
  if (linked === guess) return;
  console.warn(`viewer: the TileJSON of ${id} is ${linked}, not ${guess}; used from now on`);
  const found = getJson(linked);
  found.catch(() => tileJsons.delete(href));
  tileJsons.set(href, found);
}

export const VectorTileLayer = GridLayer.extend({
  options: {
    pane: 'overlayPane',
    zIndex: null,
    // Tiles are drawn once a zoom ends, and one ring of tiles off-screen is kept.
    updateWhenZooming: false,
    keepBuffer: 1,
    popup: { maxWidth: 320, minWidth: 200, autoPanPadding: [16, 16] },
  },

  /** @param {{id, def, collection, title, attribution}} entry @param {{apiUrl: URL}} options */
  initialize(entry, options) {
    GridLayer.prototype.initialize.call(this, options);
    this._entry = entry;
    this._style = featureStyle(entry.def);
    this._interactive = entry.def.geometry !== 'polygon';
    this._opacity = 1;
    this._tilejson = null;
    this._tiles = {};
    this._fetched = new Map();
    this.on('tileerror', ({ error }) => this.fire('error', { error }));
  },

  getAttribution() {
    return this._entry.attribution;
  },

  // No map events until the TileJSON is known (GridLayer's handlers need it).
  getEvents() {
    return this._tilejson ? GridLayer.prototype.getEvents.call(this) : {};
  },

  onAdd(map) {
    const { pane, zIndex } = this.options;
    if (!map.getPane(pane)) map.createPane(pane).style.zIndex = zIndex ?? '';
    map.getPane(pane).style.opacity = String(this._opacity);
    if (this._tilejson) {
      GridLayer.prototype.onAdd.call(this, map);
      return;
    }
    this.fire('loading');
    const token = {};
    this._adding = token;
    loadTileJson(this._entry.collection, this._entry.def.tilejson).then((tilejson) => {
      if (this._adding !== token || !this._map) return;
      this._configure(tilejson);
      // Leaflet took the (empty) events of the add and only takes those away on removal: the
      // grid's events, known now, are ours to take away (see onRemove).
      this._lateEvents = this.getEvents();
      this._map.on(this._lateEvents, this);
      GridLayer.prototype.onAdd.call(this, this._map);
      if (!this._loading) this.fire('load', {});
    }).catch((error) => {
      if (this._adding === token) this.fire('error', { error });
    });
  },

  onRemove(map) {
    this._adding = null;
    // Left on the map, the grid's zoom handlers ran on a removed layer (TypeError: getCenter).
    if (this._lateEvents) map.off(this._lateEvents, this);
    this._lateEvents = null;
    if (this._container) GridLayer.prototype.onRemove.call(this, map);
  },

  /** Set the layer's opacity (0..1): its pane's, as the GeoJSON layer does. */
  setOpacity(opacity) {
    this._opacity = opacity;
    const pane = this._map?.getPane(this.options.pane);
    if (pane) pane.style.opacity = String(opacity);
    return this;
  },

  getOpacity() {
    return this._opacity;
  },

  /** Fetch the tiles again (a live edit): the browser revalidates them, only changed ones come. */
  refresh() {
    this._fetched.clear();
    if (this._map && this._tilejson) this.redraw();
    return this;
  },

  /**
   * What of this layer is inside `bounds` (the drawn tiles' features): {inView, values}, values
   * being the style's category values present (strings), or null for a layer without categories.
   */
  presence(bounds) {
    const style = this._entry.def.style;
    const values = new Set();
    let inView = false;
    const z = this._tileZoom;
    if (!this._map || z == null) return { inView: false, values: style.by ? values : null };
    const min = this._map.project(bounds.getNorthWest(), z);
    const max = this._map.project(bounds.getSouthEast(), z);
    for (const { el, current } of Object.values(this._tiles)) {
      if (!current) continue;
      for (const { properties, bbox } of el._features ?? []) {
        if (bbox[2] < min.x || bbox[0] > max.x || bbox[3] < min.y || bbox[1] > max.y) continue;
        inView = true;
        const category = categoryOf(style, properties);
        if (category) values.add(String(category.value));
      }
    }
    return { inView, values: style.by ? values : null };
  },

  _configure(tilejson) {
    this._tilejson = tilejson;
    const [west, south, east, north] = tilejson.bounds ?? [-180, -85, 180, 85];
    this.options.bounds = latLngBounds([south, west], [north, east]);
    this._idField = tilejson.vector_layers?.[0]?.id_field ?? null;
  },

  // Below the tile set's minzoom nothing is requested (no map zoom limit is set, unlike minZoom).
  _isValidTile(coords) {
    if (!this._tilejson || coords.z < this._tilejson.minzoom) return false;
    return GridLayer.prototype._isValidTile.call(this, coords);
  },

  createTile(coords, done) {
    const tile = document.createElement('div');
    tile.className = 'tg-vector-tile';
    const z = Math.min(coords.z, this._tilejson.maxzoom);
    const dz = coords.z - z;
    const parent = { z, x: Math.floor(coords.x / 2 ** dz), y: Math.floor(coords.y / 2 ** dz) };
    this._fetchTile(parent).then((layers) => {
      const layer = layers[this._entry.id];
      const span = (layer?.extent ?? 4096) / 2 ** dz;
      const view = { x: (coords.x - parent.x * 2 ** dz) * span, y: (coords.y - parent.y * 2 ** dz) * span, size: span };
      const options = { size: this.getTileSize().x, view, style: this._style };
      let features;
      if (!this._interactive && (layer?.length ?? 0) > CANVAS_FROM) {
        const drawn = renderCanvas(layer, options);
        tile.append(drawn.canvas);
        features = drawn.features;
      } else {
        const drawn = renderLayer(layer, { ...options, className: `tg-feature tg-layer-${this._entry.id}`,
          interactive: this._interactive });
        if (this._interactive) for (const item of drawn.items) this._bindItem(item);
        tile.append(drawn.svg);
        features = drawn.features;
      }
      // Where the features are, in pixels of this zoom: what the print legend asks (presence).
      const scale = options.size / span;
      const origin = { x: coords.x * options.size - view.x * scale, y: coords.y * options.size - view.y * scale };
      tile._features = features.map(({ properties, bbox }) => ({
        properties,
        bbox: [origin.x + bbox[0] * scale, origin.y + bbox[1] * scale, origin.x + bbox[2] * scale, origin.y + bbox[3] * scale],
      }));
      done(null, tile);
    }).catch((error) => done(error, tile));
    return tile;
  },

  // One request per tile, shared by the overzoomed tiles cut from it (a small LRU of promises).
  _fetchTile({ z, x, y }) {
    const key = `${z}/${x}/${y}`;
    const hit = this._fetched.get(key);
    if (hit) {
      this._fetched.delete(key);
      this._fetched.set(key, hit);
      return hit;
    }
    const url = this._tilejson.tiles[0].replace('{z}', z).replace('{x}', x).replace('{y}', y);
    const promise = fetch(url).then(async (response) => {
      if (response.status === 204) return {};
      if (!response.ok) throw new HttpError(url, response.status);
      return decodeTile(await response.arrayBuffer());
    });
    promise.catch(() => this._fetched.delete(key));
    this._fetched.set(key, promise);
    if (this._fetched.size > CACHED_TILES) this._fetched.delete(this._fetched.keys().next().value);
    return promise;
  },

  _bindItem({ node, feature }) {
    // Touch targets (.tg-hit) take pointer events from the CSS: on touch screens only.
    if (!node.classList.contains('tg-hit')) node.style.pointerEvents = 'auto';
    node.style.cursor = 'pointer';
    DomEvent.on(node, 'click', (event) => {
      // The feature's popup, not also the map's point query.
      DomEvent.stop(event);
      this._openPopup(feature, this._map.mouseEventToLatLng(event));
    });
  },

  _openPopup(feature, latlng) {
    const popup = new Popup(Util.extend({}, this.options.popup)).setLatLng(latlng)
      .setContent(popupContent(feature, this._entry)).openOn(this._map);
    const id = this._idField ? feature.properties?.[this._idField] : feature.id;
    if (id == null || !this.options.apiUrl) return;
    const url = itemsUrl(this.options.apiUrl, this._entry.id);
    url.pathname += `/${encodeURIComponent(String(id))}`;
    url.searchParams.set('f', 'json');
    getJson(url).then((full) => {
      if (this._map?.hasLayer(popup)) popup.setContent(popupContent(full, this._entry));
    }).catch(() => {});  // the tile's attributes stay shown
  },
});

/** Factory, Leaflet style. */
export function vectorTileLayer(entry, options) {
  return new VectorTileLayer(entry, options);
}
