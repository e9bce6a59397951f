// When the base map cannot be loaded (its tile server is down or out of reach, as in a closed
// network), say so over the map and offer, in one tap, another base map or 「背景なし」. A base map
// counts as failing after `threshold` tile errors with more errors than loaded tiles; the count
// starts again each time it is shown. Once closed, the notice stays away for that base map.
import { DomEvent, TileLayer } from '../leaflet.js';
import { pick, t } from '../i18n/index.js';
import { h } from '../util/index.js';

export class BaseMapNotice {
  /**
   * @param {L.Map} map
   * @param {Array<{def, layer}>} baseMaps in the config's order (a def without url is 「背景なし」)
   * @param {{use(layer): void, threshold?: number}} options use: switch to a base map
   */
  constructor(map, baseMaps, { use, threshold = 4 }) {
    this.map = map;
    this.baseMaps = baseMaps;
    this.use = use;
    this.threshold = threshold;
    this.failed = new Set();
    this.dismissed = new Set();
    this.shownFor = null;
    this.element = h('div', { className: 'tg-notice tg-basemap-notice', role: 'status', hidden: true });
    DomEvent.disableClickPropagation(this.element);
    DomEvent.disableScrollPropagation(this.element);
    map.getContainer().append(this.element);
    for (const base of baseMaps) {
      if (!(base.layer instanceof TileLayer)) continue;
      const counts = { errors: 0, loads: 0 };
      base.layer.on('add', () => { counts.errors = 0; counts.loads = 0; });
      base.layer.on('tileload', () => { counts.loads += 1; });
      base.layer.on('tileerror', () => {
        counts.errors += 1;
        if (counts.errors >= this.threshold && counts.errors > counts.loads) this._failing(base);
      });
    }
    map.on('layeradd', ({ layer }) => {
      if (this.shownFor && layer !== this.shownFor.layer && baseMaps.some((base) => base.layer === layer)) this.hide();
    });
  }

  _failing(base) {
    this.failed.add(base);
    if (!this.map.hasLayer(base.layer) || this.dismissed.has(base) || this.shownFor === base) return;
    this.shownFor = base;
    this.render();
  }

  /** The base maps offered instead: the next one not known to fail, and 「背景なし」. */
  _choices() {
    const none = this.baseMaps.find((base) => !base.def.url);
    const other = this.baseMaps.find((base) => base.def.url && base !== this.shownFor && !this.failed.has(base));
    return [other, none].filter(Boolean);
  }

  render() {
    const base = this.shownFor;
    if (!base) return;
    this.element.hidden = false;
    this.element.replaceChildren(
      h('p', { className: 'tg-notice-text' }, t('basemapFailed')),
      h('button', {
        type: 'button', className: 'tg-button tg-notice-close', 'aria-label': t('close'), title: t('close'),
        onClick: () => { this.dismissed.add(base); this.hide(); },
      }, h('span', { 'aria-hidden': 'true' }, '×')),
      h('div', { className: 'tg-notice-actions' }, this._choices().map((choice) => h('button', {
        type: 'button', className: 'tg-button', 'data-basemap': choice.def.id,
        onClick: () => { this.hide(); this.use(choice.layer); },
      }, t('basemapUse', { name: pick(choice.def.title) })))),
    );
  }

  hide() {
    this.shownFor = null;
    this.element.hidden = true;
    this.element.replaceChildren();
  }
}

export function baseMapNotice(map, baseMaps, options) {
  return new BaseMapNotice(map, baseMaps, options);
}
