// 「現在地」: a map button that asks the browser for the position (navigator.geolocation), centres
// the map there and hands the position on (options.onLocate), e.g. to the point query.
import { Control, DomEvent } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { h } from '../util/index.js';

export const LocateControl = Control.extend({
  options: {
    position: 'topleft',
    zoom: 16,
    timeout: 10000,
    onLocate: null,
    onMessage: null,
  },

  onAdd(map) {
    this._button = h('button', { type: 'button', className: 'tg-locate', onClick: () => this.locate() },
      h('span', { className: 'tg-locate-icon', 'aria-hidden': 'true' }));
    const container = h('div', { className: 'leaflet-bar tg-locate-bar' }, this._button);
    DomEvent.disableClickPropagation(container);
    this.relabel();
    return container;
  },

  relabel() {
    if (!this._button) return;
    this._button.setAttribute('aria-label', t('locateLabel'));
    this._button.title = t('locateLabel');
  },

  locate() {
    const geolocation = navigator.geolocation;
    if (!geolocation) {
      this.options.onMessage?.(t('locateError'));
      return;
    }
    this._button.setAttribute('aria-busy', 'true');
    this.options.onMessage?.(t('locating'));
    geolocation.getCurrentPosition((position) => {
      this._button.removeAttribute('aria-busy');
      const latlng = { lat: position.coords.latitude, lng: position.coords.longitude };
      this._map.setView(latlng, Math.max(this._map.getZoom(), this.options.zoom));
      this.options.onMessage?.('');
      this.options.onLocate?.(latlng, position.coords.accuracy);
    }, () => {
      this._button.removeAttribute('aria-busy');
      this.options.onMessage?.(t('locateError'));
    }, { enableHighAccuracy: true, timeout: this.options.timeout, maximumAge: 60000 });
  },
});

export function locateControl(options) {
  return new LocateControl(options);
}
