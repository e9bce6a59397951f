// The map's credits (Leaflet's attribution control, which follows the layers' getAttribution()),
// in two parts: the base map's credit (GSI's 「地理院タイル」, OSM's), always shown as its terms ask,
// and the layers' sources (出典), which on a phone fold behind an ⓘ button (44 px) so they do not
// cover a quarter of the map; a tap shows them all. Wide screens and print show everything.
import { Control, DomEvent, Util } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { h } from '../util/index.js';

export const Credits = Control.Attribution.extend({
  options: {
    position: 'bottomleft',
    // The HTML credits of the base maps (config.basemaps[].attribution, smallScaleAttribution).
    baseCredits: [],
  },

  onAdd(map) {
    const container = Control.Attribution.prototype.onAdd.call(this, map);
    container.classList.add('tg-credits');
    const id = `tg-credits-${Util.stamp(this)}`;
    this._toggle = h('button', {
      type: 'button', className: 'tg-credits-toggle', 'aria-controls': id, 'aria-expanded': 'false',
      onClick: () => this.setExpanded(container.dataset.expanded !== 'true'),
    }, h('span', { 'aria-hidden': 'true' }, 'i'));
    this._base = h('span', { className: 'tg-credits-base' });
    this._layers = h('span', { className: 'tg-credits-layers', id });
    container.replaceChildren(this._toggle, this._base, this._layers);
    DomEvent.disableScrollPropagation(container);
    this.setExpanded(false);
    this._update();
    return container;
  },

  /** Show (true) or fold (false) the layers' sources; only phones fold them (CSS). */
  setExpanded(expanded) {
    if (!this._container) return;
    this._container.dataset.expanded = String(expanded);
    this._toggle.setAttribute('aria-expanded', String(expanded));
    this.relabel();
  },

  relabel() {
    if (!this._toggle) return;
    const label = t(this._container.dataset.expanded === 'true' ? 'creditsHide' : 'creditsShow');
    this._toggle.setAttribute('aria-label', label);
    this._toggle.title = label;
  },

  // Leaflet's _update writes everything into the container; ours writes the two parts. The
  // credits are HTML made by the server's config or escaped by us (util/dom.js linkifiedHtml).
  _update() {
    if (!this._map || !this._base) return;
    const base = new Set(this.options.baseCredits);
    const shown = Object.keys(this._attributions).filter((credit) => this._attributions[credit]);
    const layers = shown.filter((credit) => !base.has(credit));
    this._base.innerHTML = shown.filter((credit) => base.has(credit)).join(' | ');
    const parts = [this.options.prefix, layers.join(' | ')].filter(Boolean);
    this._layers.innerHTML = parts.join(' <span aria-hidden="true">|</span> ');
    this._container.dataset.layers = String(layers.length);
  },
});

export function credits(options) {
  return new Credits(options);
}
