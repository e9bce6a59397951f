// The selected point: a marker and the radius circle on the map, and the server's report of what
// applies there (api/loadPointReport). Fires 'loading' {latlng}, 'report' {latlng, report},
// 'error' {latlng, error} and 'clear'; a new query aborts the one in flight.
import { Evented, Util, circle, circleMarker, latLng, layerGroup } from '../leaflet.js';
import { loadPointReport } from '../api/index.js';

export const PointQuery = Evented.extend({
  options: {
    radius: 100,
    // The report's URL, relative to the page (a staff config may name another).
    endpoint: 'point',
    marker: { radius: 9, color: '#ffffff', weight: 3, fillColor: '#cf222e', fillOpacity: 1, className: 'tg-point-marker' },
    ring: { color: '#cf222e', weight: 2, dashArray: '6 6', fill: false, className: 'tg-point-ring' },
  },

  initialize(map, options) {
    Util.setOptions(this, options);
    this._map = map;
    this._group = layerGroup();
    this._controller = null;
    this.latlng = null;
    this.report = null;
  },

  /** Ask what applies at `latlng` (Leaflet LatLng or [lat, lon]). */
  async query(latlng) {
    const point = latLng(latlng);
    this.latlng = point;
    this.report = null;
    // The request leaves first; the marker and the panel's "looking up" are drawn while it travels.
    this._controller?.abort();
    const controller = new AbortController();
    this._controller = controller;
    const { radius, endpoint } = this.options;
    const answer = loadPointReport(point, { signal: controller.signal, radius, endpoint });
    answer.catch(() => {}); // handled below, after the drawing
    this._group.clearLayers();
    if (!this._map.getPane('tg-point')) this._map.createPane('tg-point').style.zIndex = 640;
    const common = { pane: 'tg-point', interactive: false };
    circle(point, { ...this.options.ring, ...common, radius: this.options.radius }).addTo(this._group);
    circleMarker(point, { ...this.options.marker, ...common }).addTo(this._group);
    this._group.addTo(this._map);
    this.fire('loading', { latlng: point });
    try {
      const report = await answer;
      if (controller !== this._controller) return;
      this.report = report;
      this.fire('report', { latlng: point, report });
    } catch (error) {
      if (error.name === 'AbortError' || controller !== this._controller) return;
      this.fire('error', { latlng: point, error });
    }
  },

  clear() {
    this._controller?.abort();
    this._controller = null;
    this._group.clearLayers();
    this._group.remove();
    this.latlng = null;
    this.report = null;
    this.fire('clear');
  },
});

export function pointQuery(map, options) {
  return new PointQuery(map, options);
}
