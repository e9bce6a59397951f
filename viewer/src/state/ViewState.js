// The viewer's shareable state, kept in step with the map: the URL hash follows the view, the
// visible layers, the language and the selected point (history.replaceState, throttled), and the
// layers, opacities, base map and language are remembered in localStorage. On start the hash wins
// over what was remembered.
import { getLanguage } from '../i18n/index.js';
import { formatHash, parseHash } from './permalink.js';
import { loadState, saveState } from './storage.js';

export class ViewState {
  /**
   * @param {object} options {storageKey, throttle (ms)}
   */
  constructor({ storageKey = 'tsukuba-gis.viewer', throttle = 300 } = {}) {
    this.storageKey = storageKey;
    this.throttle = throttle;
    this.point = null;
    this._timer = null;
    this._bound = null;
  }

  /** What to start with: remembered state overridden by the hash. */
  initial() {
    const remembered = loadState(this.storageKey);
    const fromHash = parseHash(window.location.hash);
    return { remembered, fromHash, ...remembered, ...fromHash };
  }

  /** Follow the map: `read()` returns {view, layers, lang, pt, base, opacity}. */
  bind(map, read) {
    this._read = read;
    this._bound = () => this.schedule();
    map.on('moveend zoomend layeradd layerremove', this._bound);
  }

  /** Write the hash and the remembered state soon (at most once per `throttle` ms). */
  schedule() {
    if (this._timer) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      this.write();
    }, this.throttle);
  }

  write() {
    if (!this._read) return;
    const state = this._read();
    const hash = formatHash({ ...state, lang: state.lang ?? getLanguage() });
    if (hash !== window.location.hash) {
      window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}${hash}`);
    }
    saveState(this.storageKey, { layers: state.layers, opacity: state.opacity, base: state.base, lang: state.lang });
  }
}
