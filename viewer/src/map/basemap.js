// Base maps from the config: a tile layer per entry (URLs are settings: never written here), or an
// empty layer for 「背景なし」. Failing tiles only leave the background blank.
import { LayerGroup, TileLayer } from '../leaflet.js';

export const BaseMapLayer = TileLayer.extend({
  options: {
    // An extra credit shown at zoom <= smallScaleMaxZoom (GSI's photo shows Landsat there).
    smallScaleAttribution: null,
    smallScaleMaxZoom: -1,
  },

  onAdd(map) {
    TileLayer.prototype.onAdd.call(this, map);
    if (this.options.smallScaleAttribution) {
      map.on('zoomend', this._updateSmallScale, this);
      this._updateSmallScale();
    }
  },

  onRemove(map) {
    map.off('zoomend', this._updateSmallScale, this);
    this._setSmallScale(false);
    TileLayer.prototype.onRemove.call(this, map);
  },

  _updateSmallScale() {
    this._setSmallScale(this._map.getZoom() <= this.options.smallScaleMaxZoom);
  },

  _setSmallScale(on) {
    const control = this._map?.attributionControl;
    if (!control || on === Boolean(this._smallScaleShown)) return;
    this._smallScaleShown = on;
    if (on) control.addAttribution(this.options.smallScaleAttribution);
    else control.removeAttribution(this.options.smallScaleAttribution);
  },
});

/** The layer of a config base map {id, url, attribution (HTML), minZoom, maxNativeZoom, ...}. */
export function baseMapLayer(def, { maxZoom = 19 } = {}) {
  if (!def.url) return new LayerGroup();
  return new BaseMapLayer(def.url, {
    attribution: def.attribution || '',
    minZoom: def.minZoom ?? 0,
    maxNativeZoom: def.maxNativeZoom ?? 18,
    maxZoom,
    smallScaleAttribution: def.smallScaleAttribution ?? null,
    smallScaleMaxZoom: def.smallScaleMaxZoom ?? -1,
    className: 'tg-basemap',
  });
}
