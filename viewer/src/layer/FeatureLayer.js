// A Leaflet layer showing one collection's features in and around the view, refetched (debounced)
// when the map moves. Stale requests are aborted; features that stay in view are kept (an open
// popup survives a pan), the others are dropped. Points and lines open a popup; areas are not
// interactive: a tap on an area reaches the map and asks "what applies here" for every layer.
// Opacity is the layer's pane's (one CSS property, whatever the number of features).
import { GeoJSON, Util } from '../leaflet.js';
import { featureLabel, popupContent } from './popup.js';
import { tapCircle } from './TapCircle.js';
import { categoryOf, featureStyle } from './style.js';

export const FeatureLayer = GeoJSON.extend({
  options: {
    // Map pane (created on add) and its z-index: the draw order between layers.
    pane: 'overlayPane',
    zIndex: null,
    // Milliseconds to wait after the last moveend before loading.
    debounce: 250,
    // Load this fraction of the view more on every side, so small pans need no request.
    padding: 0.25,
    popup: { maxWidth: 320, minWidth: 200, autoPanPadding: [16, 16] },
    opacity: 1,
  },

  /**
   * @param {{load(bounds, {signal}): Promise<{features, matched, complete}>}} source e.g. BboxSource
   * @param {{id, def, title, attribution}} entry the catalog entry (layer/catalog.js)
   */
  initialize(source, entry, options) {
    const paint = featureStyle(entry.def);
    const className = `tg-feature tg-layer-${entry.id}`;
    const interactive = entry.def.geometry !== 'polygon';
    GeoJSON.prototype.initialize.call(this, null, Util.extend({
      className,
      interactive,
      // A click on a marker or line opens its popup and is not also a click on the map.
      bubblingMouseEvents: false,
      style: paint,
      pointToLayer: (feature, latlng) => tapCircle(latlng, {
        ...paint(feature), pane: this.options.pane, className, interactive, bubblingMouseEvents: false,
        label: featureLabel(feature, entry),
      }),
    }, options));
    this._source = source;
    this._entry = entry;
    this._byKey = new Map();
    this._anonymous = [];
    this._loaded = null;
    this._controller = null;
    this._timer = null;
  },

  // The credit is the group's alone: its features must not add it one by one.
  getAttribution() {
    return this._entry.attribution;
  },

  onAdd(map) {
    const { pane, zIndex } = this.options;
    if (!map.getPane(pane)) map.createPane(pane).style.zIndex = zIndex ?? '';
    map.getPane(pane).style.opacity = String(this.options.opacity);
    GeoJSON.prototype.onAdd.call(this, map);
    map.on('moveend', this._scheduleLoad, this);
    this._load();
  },

  onRemove(map) {
    map.off('moveend', this._scheduleLoad, this);
    clearTimeout(this._timer);
    this._abort();
    GeoJSON.prototype.onRemove.call(this, map);
  },

  /** Set the layer's opacity (0..1). */
  setOpacity(opacity) {
    this.options.opacity = opacity;
    const pane = this._map?.getPane(this.options.pane);
    if (pane) pane.style.opacity = String(opacity);
    return this;
  },

  getOpacity() {
    return this.options.opacity;
  },

  /** Load again now (a live edit changed the layer): changed features are drawn anew. */
  refresh() {
    this._loaded = null;
    if (this._map) this._load();
    return this;
  },

  /** What of this layer is inside `bounds`: {inView, values} (see VectorTileLayer.presence). */
  presence(bounds) {
    const style = this._entry.def.style;
    const values = new Set();
    let inView = false;
    this.eachLayer((layer) => {
      const inside = layer.getLatLng ? bounds.contains(layer.getLatLng()) : layer.getBounds?.().intersects(bounds);
      if (!inside) return;
      inView = true;
      const category = categoryOf(style, layer.feature?.properties);
      if (category) values.add(String(category.value));
    });
    return { inView, values: style.by ? values : null };
  },

  /** Whether the last load covered the current view completely. */
  isComplete() {
    return Boolean(this._loaded?.complete && this._map && this._loaded.bounds.contains(this._map.getBounds()));
  },

  _scheduleLoad() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._load(), this.options.debounce);
  },

  _abort() {
    this._controller?.abort();
    this._controller = null;
  },

  async _load() {
    if (!this._map || this.isComplete()) return;
    this._abort();
    const controller = new AbortController();
    this._controller = controller;
    const bounds = this._map.getBounds().pad(this.options.padding);
    this.fire('loading');
    try {
      const result = await this._source.load(bounds, { signal: controller.signal });
      if (controller !== this._controller) return;
      this._setFeatures(result.features);
      this._loaded = { bounds, complete: result.complete };
      this.fire('load', { count: result.features.length, matched: result.matched, complete: result.complete });
    } catch (error) {
      if (error.name === 'AbortError' || controller !== this._controller) return;
      this.fire('error', { error });
    } finally {
      if (controller === this._controller) this._controller = null;
    }
  },

  // Replace the drawn features by `features`, keeping those already drawn (same id, same content).
  _setFeatures(features) {
    const keep = new Set();
    const anonymous = [];
    for (const feature of features) {
      const key = feature.id != null ? String(feature.id) : null;
      if (key !== null) {
        keep.add(key);
        const drawn = this._byKey.get(key);
        const signature = JSON.stringify([feature.geometry, feature.properties]);
        if (drawn && drawn.tgSignature === signature) continue;
        if (drawn) {  // edited meanwhile: drawn again with its new values
          this.removeLayer(drawn);
          this._byKey.delete(key);
        }
      }
      const layer = this._featureLayer(feature);
      if (!layer) continue;
      this.addLayer(layer);
      if (key === null) anonymous.push(layer);
      else {
        layer.tgSignature = JSON.stringify([feature.geometry, feature.properties]);
        this._byKey.set(key, layer);
      }
    }
    for (const [key, layer] of this._byKey) {
      if (!keep.has(key)) {
        this.removeLayer(layer);
        this._byKey.delete(key);
      }
    }
    // Features without an id cannot be matched between loads: the previous ones always go.
    for (const layer of this._anonymous) this.removeLayer(layer);
    this._anonymous = anonymous;
  },

  _featureLayer(feature) {
    if (!feature?.geometry) return null;
    const layer = GeoJSON.geometryToLayer(feature, this.options);
    if (!layer) return null;
    layer.feature = GeoJSON.asFeature(feature);
    layer.defaultOptions = layer.options;
    this.resetStyle(layer);
    if (this.options.interactive) {
      // popupActions(feature, entry): extra buttons (the staff edit mode's 「編集」), or null.
      const actions = this.options.popupActions;
      layer.bindPopup(() => {
        const content = popupContent(layer.feature, this._entry);
        const extra = actions?.(layer.feature, this._entry);
        if (extra) content.append(extra);
        return content;
      }, this.options.popup);
    }
    return layer;
  },
});

/** Factory, Leaflet style. */
export function featureLayer(source, entry, options) {
  return new FeatureLayer(source, entry, options);
}
