// A layer that draws from vector tiles when the collection's tile set says the layer is dense, and
// from bbox-loaded GeoJSON otherwise. Used for point layers: a few hundred shelters are best as
// GeoJSON markers (every attribute at hand), tens of thousands of points are not. "Dense" is the
// server's own rule, read from the TileJSON: a tile set that starts above the first zoom (8) holds
// more than 5,000 features per tile there (etl/publish/tiles.py).
import { Layer } from '../leaflet.js';
import { loadTileJson } from './VectorTileLayer.js';

export const SPARSE_MINZOOM = 8;

export const DenseSwitch = Layer.extend({
  /**
   * @param {object} entry the catalog entry
   * @param {() => Layer} makeTiled the tiled layer, @param {() => Layer} makeGeoJson the other
   */
  initialize(entry, makeTiled, makeGeoJson) {
    this._entry = entry;
    this._make = { tiled: makeTiled, geojson: makeGeoJson };
    this._inner = null;
    this._opacity = 1;
  },

  // No getAttribution: the inner layer's credit is the one counted (Leaflet counts a credit per
  // layer, so the switch and its inner layer together would count it twice, and a language
  // switch would take only one of them away).

  onAdd(map) {
    if (this._inner) {
      this._show(map);
      return;
    }
    this.fire('loading');
    loadTileJson(this._entry.collection, this._entry.def.tilejson)
      .then((tilejson) => (tilejson.minzoom > SPARSE_MINZOOM ? 'tiled' : 'geojson'))
      .catch(() => 'geojson')  // no tile set to read: the GeoJSON layer works anyway
      .then((kind) => {
        if (!this._inner) {  // once: added, removed and added again before the answer came
          this._inner = this._make[kind]();
          this._inner.on('loading load error', (event) => this.fire(event.type, event));
        }
        this._inner.setOpacity(this._opacity);
        if (this._map) this._show(this._map);
      });
  },

  onRemove(map) {
    if (this._inner && map.hasLayer(this._inner)) map.removeLayer(this._inner);
  },

  _show(map) {
    if (!map.hasLayer(this._inner)) map.addLayer(this._inner);
  },

  /** Load again (a live edit changed the layer). */
  refresh() {
    this._inner?.refresh?.();
    return this;
  },

  setOpacity(opacity) {
    this._opacity = opacity;
    this._inner?.setOpacity(opacity);
    return this;
  },

  getOpacity() {
    return this._opacity;
  },

  /** What of the layer is inside `bounds` (the inner layer's answer). */
  presence(bounds) {
    return this._inner?.presence(bounds) ?? { inView: false, values: null };
  },
});
