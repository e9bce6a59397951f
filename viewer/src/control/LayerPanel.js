// The panel: the title, data layers grouped by department (checkbox, swatch, legend, synthetic
// mark, loading state) and the base-map switcher. Like Leaflet's Control.Layers it reflects the
// map (map.hasLayer) and adds or removes layers on the map; it owns no state of its own.
import { Control, DomEvent, Util } from '../leaflet.js';
import { pick, t } from '../i18n.js';
import { h, syntheticBadge } from '../util/index.js';
import { categoryLegend, layerSwatch } from './legend.js';

export const LayerPanel = Control.extend({
  options: {
    position: 'topright',
    // The page title shown at the top of the panel.
    title: '',
    // Start collapsed; null: collapsed on narrow screens (phones) only.
    collapsed: null,
    narrowQuery: '(max-width: 600px)',
  },

  /**
   * @param {Array<{department, entries: Array<{id, def, title, layer}>}>} groups data layers
   * @param {Array<{def, layer}>} baseMaps base maps, in the config's order
   */
  initialize(groups, baseMaps, options) {
    Util.setOptions(this, options);
    this._groups = groups;
    this._baseMaps = baseMaps;
    this._rows = new Map();
    this._id = Util.stamp(this);
  },

  onAdd(map) {
    const bodyId = `tg-panel-body-${this._id}`;
    this._toggle = h('button', {
      type: 'button', className: 'tg-panel-toggle', 'aria-controls': bodyId, onClick: () => this._setExpanded(!this._expanded),
    }, [t('panelTitle'), h('span', { className: 'tg-chevron', 'aria-hidden': 'true' })]);
    this._body = h('div', { className: 'tg-panel-body', id: bodyId }, [
      ...this._groups.map((group) => this._groupElement(group)),
      this._groups.length === 0 && h('p', { className: 'tg-empty' }, t('noLayers')),
      this._baseMapElement(),
    ]);
    this._container = h('section', { className: 'tg-panel', 'aria-label': t('panelTitle') }, [
      h('header', { className: 'tg-panel-header' }, [h('h1', { className: 'tg-panel-title' }, this.options.title), this._toggle]),
      this._body,
    ]);
    DomEvent.disableClickPropagation(this._container);
    DomEvent.disableScrollPropagation(this._container);
    const collapsed = this.options.collapsed ?? window.matchMedia?.(this.options.narrowQuery).matches ?? false;
    this._setExpanded(!collapsed);
    map.on('layeradd layerremove', this._sync, this);
    for (const { layer } of this._entries()) layer.on('loading load error', this._onLayerState, this);
    this._sync();
    return this._container;
  },

  onRemove(map) {
    map.off('layeradd layerremove', this._sync, this);
    for (const { layer } of this._entries()) layer.off('loading load error', this._onLayerState, this);
  },

  /** Show or hide the panel body. */
  expand() { this._setExpanded(true); return this; },
  collapse() { this._setExpanded(false); return this; },

  _setExpanded(expanded) {
    this._expanded = expanded;
    this._container.classList.toggle('tg-collapsed', !expanded);
    this._body.hidden = !expanded;
    this._toggle.setAttribute('aria-expanded', String(expanded));
    this._toggle.title = t(expanded ? 'hidePanel' : 'showPanel');
  },

  _entries() {
    return this._groups.flatMap((group) => group.entries);
  },

  _groupElement({ department, entries }) {
    return h('fieldset', { className: 'tg-group', 'data-department': department.id }, [
      h('legend', {}, pick(department.name)),
      h('ul', { className: 'tg-layers' }, entries.map((entry) => this._layerElement(entry))),
    ]);
  },

  _layerElement(entry) {
    const input = h('input', {
      type: 'checkbox', value: entry.id,
      onChange: () => (input.checked ? this._map.addLayer(entry.layer) : this._map.removeLayer(entry.layer)),
    });
    const status = h('span', { className: 'tg-status' });
    const legend = categoryLegend(entry.def, entry.title);
    const row = h('li', { className: 'tg-layer', 'data-layer': entry.id, 'data-status': 'idle' }, [
      h('label', {}, [
        input, layerSwatch(entry.def), h('span', { className: 'tg-layer-title' }, entry.title),
        entry.def.synthetic && syntheticBadge(),
      ]),
      status,
      legend,
    ]);
    this._rows.set(entry.layer, { entry, input, status, legend, row });
    return row;
  },

  _baseMapElement() {
    const name = `tg-basemap-${this._id}`;
    return h('fieldset', { className: 'tg-group tg-basemaps' }, [
      h('legend', {}, t('basemaps')),
      h('ul', { className: 'tg-layers' }, this._baseMaps.map(({ def, layer }) => {
        const input = h('input', { type: 'radio', name, value: def.id, onChange: () => this._setBaseMap(layer) });
        this._rows.set(layer, { input });
        return h('li', { 'data-basemap': def.id }, h('label', {}, [input, h('span', {}, pick(def.title))]));
      })),
    ]);
  },

  _setBaseMap(selected) {
    for (const { layer } of this._baseMaps) {
      if (layer !== selected && this._map.hasLayer(layer)) this._map.removeLayer(layer);
    }
    this._map.addLayer(selected);
  },

  // Checkboxes and legends follow the map, whoever added or removed the layer.
  _sync(event) {
    if (!this._map || (event && !this._rows.has(event.layer))) return;
    for (const [layer, { input, legend, row }] of this._rows) {
      const on = this._map.hasLayer(layer);
      input.checked = on;
      if (legend) legend.hidden = !on;
      if (row && !on) this._setStatus(layer, 'idle');
    }
  },

  _onLayerState(event) {
    const state = { loading: 'loading', load: event.complete === false ? 'partial' : 'loaded', error: 'error' }[event.type];
    this._setStatus(event.target, state);
  },

  _setStatus(layer, state) {
    const row = this._rows.get(layer);
    if (!row?.row) return;
    row.row.dataset.status = state;
    row.status.textContent = { loading: t('loading'), error: t('loadError'), partial: t('partial') }[state] ?? '';
  },
});

export function layerPanel(groups, baseMaps, options) {
  return new LayerPanel(groups, baseMaps, options);
}
