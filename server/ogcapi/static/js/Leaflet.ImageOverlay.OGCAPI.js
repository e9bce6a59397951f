/*
 * tsukuba-gis — minimal local replacement for the "leaflet-imageoverlay-ogcapi@0.1.0"
 * script that pygeoapi's collections/collection.html loads from unpkg.com (that package
 * is not available from the npm registry, and LGWAN pages may not load anything from the
 * internet). Written for this project; not a copy of the original plugin.
 *
 * L.imageOverlay.ogcapi(baseUrl, {collection, bounds, opacity, transparent, ...})
 * returns an L.ImageOverlay showing  {baseUrl}/collections/{collection}/map  (OGC API -
 * Maps, as served by pygeoapi) for the current map view; the image is requested again
 * after every pan/zoom. Used only for collections that advertise a map link.
 */
(function (L) {
  'use strict';

  if (!L || !L.ImageOverlay || (L.imageOverlay && L.imageOverlay.ogcapi)) {
    return;
  }

  var OGCAPIImageOverlay = L.ImageOverlay.extend({
    options: {
      collection: null,
      transparent: true,
      format: 'png'
    },

    initialize: function (baseUrl, options) {
      this._baseUrl = String(baseUrl).replace(/\/+$/, '');
      options = L.setOptions(this, options);
      var bounds = options.bounds ? L.latLngBounds(options.bounds) : L.latLngBounds([[-85, -180], [85, 180]]);
      L.ImageOverlay.prototype.initialize.call(this, this._mapUrl(bounds, 500, 300), bounds, options);
    },

    onAdd: function (map) {
      L.ImageOverlay.prototype.onAdd.call(this, map);
      map.on('moveend', this._refresh, this);
      this._refresh();
    },

    onRemove: function (map) {
      map.off('moveend', this._refresh, this);
      L.ImageOverlay.prototype.onRemove.call(this, map);
    },

    _mapUrl: function (bounds, width, height) {
      var params = [
        'bbox=' + [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()].join(','),
        'width=' + Math.max(1, Math.round(width)),
        'height=' + Math.max(1, Math.round(height)),
        'transparent=' + (this.options.transparent ? 'true' : 'false'),
        'f=' + encodeURIComponent(this.options.format)
      ];
      return this._baseUrl + '/collections/' + encodeURIComponent(this.options.collection) +
        '/map?' + params.join('&');
    },

    _refresh: function () {
      if (!this._map) {
        return;
      }
      var view = this._map.getBounds();
      var limit = this.options.bounds ? L.latLngBounds(this.options.bounds) : view;
      if (!view.intersects(limit)) {
        return;
      }
      var bounds = L.latLngBounds(
        L.latLng(Math.max(view.getSouth(), limit.getSouth()), Math.max(view.getWest(), limit.getWest())),
        L.latLng(Math.min(view.getNorth(), limit.getNorth()), Math.min(view.getEast(), limit.getEast()))
      );
      var size = this._map.latLngToLayerPoint(bounds.getSouthEast())
        .subtract(this._map.latLngToLayerPoint(bounds.getNorthWest()));
      this.setBounds(bounds);
      this.setUrl(this._mapUrl(bounds, size.x, size.y));
    }
  });

  L.ImageOverlay.OGCAPI = OGCAPIImageOverlay;
  L.imageOverlay.ogcapi = function (baseUrl, options) {
    return new OGCAPIImageOverlay(baseUrl, options);
  };
}(window.L));
