// The layer list: data layers grouped by department (checkbox, swatch, legend, synthetic mark,
// loading state, opacity, link to the open data page) and the base-map switcher. Like Leaflet's
// Control.Layers it reflects the map (map.hasLayer) and adds or removes layers on the map; it
// owns no state of its own, so it can be re-rendered at any time (language switch).
import { Evented, Util } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { fill, h, isFallback, localized, syntheticBadge } from '../util/index.js';
import { categoryLegend, layerSwatch } from './legend.js';

export const LayerPanel = Evented.extend({
  options: {
    // Where a layer's open data page is, relative to the page ({id} is the layer id).
    openDataUrl: 'opendata#{id}',
  },

  /**
   * @param {L.Map} map
   * @param {Array<{department, entries: Array<{id, def, title, layer}>}>} groups data layers
   * @param {Array<{def, layer}>} baseMaps base maps, in the config's order
   */
  initialize(map, groups, baseMaps, options) {
    Util.setOptions(this, options);
    this._map = map;
    this._groups = groups;
    this._baseMaps = baseMaps;
    this._rows = new Map();
    this._states = new Map();
    this.element = h('div', { className: 'tg-panel' });
    map.on('layeradd layerremove', this._sync, this);
    for (const entry of this._entries()) {
      entry.layer.on('loading load error', this._onLayerState, this);
      // A layer put on the map before the panel was made (app.js) has already started.
      if (entry.status && entry.status !== 'idle') this._states.set(entry.layer, entry.status);
    }
    this.render();
  },

  /** (Re)build the list in the current language. */
  render() {
    this._rows.clear();
    const labels = [
      ...this._groups.map((group) => group.department.name),
      ...this._entries().map((entry) => entry.def.title),
      ...this._baseMaps.map(({ def }) => def.title),
    ];
    fill(this.element, [
      h('h2', { className: 'tg-visually-hidden' }, t('panelTitle')),
      labels.some(isFallback) && h('p', { className: 'tg-note tg-fallback-note' }, t('fallbackNote')),
      ...this._groups.map((group) => this._groupElement(group)),
      this._groups.length === 0 && h('p', { className: 'tg-empty' }, t('noLayers')),
      this._baseMapElement(),
    ]);
    this._sync();
    for (const [layer, state] of this._states) this._setStatus(layer, state);
    return this;
  },

  _entries() {
    return this._groups.flatMap((group) => group.entries);
  },

  _groupElement({ department, entries }) {
    return h('fieldset', { className: 'tg-group', 'data-department': department.id }, [
      h('legend', {}, localized(department.name)),
      h('ul', { className: 'tg-layers' }, entries.map((entry) => this._layerElement(entry))),
    ]);
  },

  _layerElement(entry) {
    const input = h('input', {
      type: 'checkbox', value: entry.id,
      onChange: () => (input.checked ? this._map.addLayer(entry.layer) : this._map.removeLayer(entry.layer)),
    });
    const opacity = h('input', {
      type: 'range', min: '0', max: '100', step: '10', className: 'tg-opacity',
      value: String(Math.round((entry.layer.getOpacity?.() ?? 1) * 100)),
      'aria-label': `${t('opacity')}: ${entry.title}`,
      onInput: () => {
        entry.layer.setOpacity?.(Number(opacity.value) / 100);
        this.fire('change', { entry });
      },
    });
    const link = h('a', {
      className: 'tg-opendata-link', href: new URL(this.options.openDataUrl.replace('{id}', encodeURIComponent(entry.id)), document.baseURI).href,
      'aria-label': t('openDataOf', { name: entry.title }),
    }, t('openData'));
    const status = h('span', { className: 'tg-status' });
    const legend = categoryLegend(entry.def, entry.title);
    const tools = h('div', { className: 'tg-layer-tools' }, [
      h('label', { className: 'tg-opacity-label' }, [h('span', { 'aria-hidden': 'true' }, t('opacity')), opacity]),
    ]);
    const row = h('li', { className: 'tg-layer', 'data-layer': entry.id, 'data-status': 'idle' }, [
      h('div', { className: 'tg-layer-head' }, [
        h('label', { className: 'tg-layer-label' }, [
          input, layerSwatch(entry.def), h('span', { className: 'tg-layer-title', lang: entry.titleLang }, entry.title),
          entry.def.synthetic && syntheticBadge(),
        ]),
        link,
      ]),
      status,
      tools,
      legend,
    ]);
    this._rows.set(entry.layer, { entry, input, status, legend, row, tools, opacity });
    return row;
  },

  _baseMapElement() {
    const name = `tg-basemap-${Util.stamp(this)}`;
    return h('fieldset', { className: 'tg-group tg-basemaps' }, [
      h('legend', {}, t('basemaps')),
      h('ul', { className: 'tg-layers' }, this._baseMaps.map(({ def, layer }) => {
        const input = h('input', { type: 'radio', name, value: def.id, onChange: () => this.setBaseMap(layer) });
        this._rows.set(layer, { input });
        return h('li', { 'data-basemap': def.id }, h('label', { className: 'tg-layer-label' }, [input, localized(def.title, 'tg-basemap-title')]));
      })),
    ]);
  },

  /** Show the base map of id `id` (a config base map id); unknown ids are ignored. */
  setBaseMapById(id) {
    const found = this._baseMaps.find(({ def }) => def.id === id);
    if (found && !this._map.hasLayer(found.layer)) this.setBaseMap(found.layer);
  },

  /** Show base map `selected` (one of baseMaps' layers) instead of the others. */
  setBaseMap(selected) {
    for (const { layer } of this._baseMaps) {
      if (layer !== selected && this._map.hasLayer(layer)) this._map.removeLayer(layer);
    }
    this._map.addLayer(selected);
  },

  // Checkboxes, tools and legends follow the map, whoever added or removed the layer.
  _sync(event) {
    if (event && !this._rows.has(event.layer)) return;
    for (const [layer, { input, legend, row, tools }] of this._rows) {
      const on = this._map.hasLayer(layer);
      input.checked = on;
      if (legend) legend.hidden = !on;
      if (tools) tools.hidden = !on;
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
    this._states.set(layer, state);
    row.row.dataset.status = state;
    row.status.textContent = { loading: t('loading'), error: t('loadError'), partial: t('partial') }[state] ?? '';
  },
});

export function layerPanel(map, groups, baseMaps, options) {
  return new LayerPanel(map, groups, baseMaps, options);
}
