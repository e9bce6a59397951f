// 「計測」: measure a distance (a line through the points) or an area (the polygon they make) on the
// map. A map button starts it; while it runs, taps on the map place points instead of asking what
// applies there (Enter on the focused map places one at its centre), and a panel shows the length
// and the area, computed on the GRS80 ellipsoid (tool/geodesic.js, loaded when first used).
import { Control, DomEvent, circleMarker, layerGroup, polygon, polyline } from '../leaflet.js';
import { formatNumber, t } from '../i18n/index.js';
import { fill, h } from '../util/index.js';
import { ICONS, mapButton } from './mapButton.js';
import { loadTool } from '../tool/index.js';

const LINE = { color: '#6639ba', weight: 3, dashArray: '8 6', interactive: false, pane: 'tg-measure' };
const VERTEX = { radius: 5, color: '#6639ba', weight: 2, fillColor: '#fff', fillOpacity: 1, interactive: false, pane: 'tg-measure' };

/** A length in metres with four significant digits: "850.3 m", "1.235 km", "12.35 km". */
export function formatLength(metres) {
  if (metres < 1000) return `${formatNumber(metres, 1)} m`;
  const km = metres / 1000;
  return `${formatNumber(km, km < 10 ? 3 : km < 100 ? 2 : 1)} km`;
}

/** An area in square metres: m² below a hectare, ha below a square kilometre, then km². */
export function formatArea(squareMetres) {
  if (squareMetres < 10000) return `${formatNumber(squareMetres, 1)} m²`;
  if (squareMetres < 1e6) return `${formatNumber(squareMetres / 10000, 3)} ha`;
  return `${formatNumber(squareMetres / 1e6, 3)} km²`;
}

export const MeasureTool = Control.extend({
  options: { position: 'topleft' },

  onAdd(map) {
    this._points = [];
    this._mode = 'distance';
    this._group = layerGroup();
    if (!map.getPane('tg-measure')) map.createPane('tg-measure').style.zIndex = 650;
    const { container, button } = mapButton({ className: 'tg-measure-button', iconPath: ICONS.ruler, onClick: () => this.toggle() });
    this._button = button;
    this._panel = h('section', { className: 'tg-measure', hidden: true, 'aria-labelledby': 'tg-measure-title' });
    DomEvent.disableClickPropagation(this._panel);
    DomEvent.disableScrollPropagation(this._panel);
    map.getContainer().append(this._panel);
    this.relabel();
    return container;
  },

  // A method, not a getter: Leaflet's extend copies a getter's value, once.
  isActive() {
    return Boolean(this._map && !this._panel.hidden);
  },

  toggle() {
    if (this.isActive()) this.stop();
    else this.start();
  },

  /** Start measuring (loads the geodesic module the first time). */
  async start() {
    this._panel.hidden = false;
    this._button.setAttribute('aria-pressed', 'true');
    this._map.getContainer().classList.add('tg-measuring');
    this._map.doubleClickZoom.disable(); // quick taps place points, they do not zoom
    this._group.addTo(this._map);
    this._geodesic = null;
    this._render();
    try {
      this._geodesic = await loadTool('geodesic');
    } catch (error) {
      this._failed = true;
      console.error('viewer: the measuring tool could not load', error);
    }
    this._render();
  },

  stop() {
    this._panel.hidden = true;
    this._button.setAttribute('aria-pressed', 'false');
    this._map.getContainer().classList.remove('tg-measuring');
    this._map.doubleClickZoom.enable();
    this._points = [];
    this._group.clearLayers();
    this._group.remove();
    this._button.focus();
  },

  /** Add a point (a tap on the map, or the centre with Enter). */
  add(latlng) {
    this._points.push(latlng);
    this._render();
  },

  _setMode(mode) {
    this._mode = mode;
    this._render();
  },

  _draw() {
    this._group.clearLayers();
    const closed = this._mode === 'area' && this._points.length >= 3;
    if (this._points.length >= 2) (closed ? polygon : polyline)(this._points, { ...LINE, fillOpacity: 0.1 }).addTo(this._group);
    for (const point of this._points) circleMarker(point, VERTEX).addTo(this._group);
  },

  _results() {
    if (this._failed) return [h('p', { className: 'tg-error' }, t('measureError'))];
    if (!this._geodesic) return [h('p', {}, t('loading'))];
    const closed = this._mode === 'area';
    const { length, area } = this._geodesic.measure(this._points, { closed });
    const value = (label, number, text, name) => h('p', { className: `tg-measure-${name}` }, [
      `${label}: `, h('data', { value: String(number) }, text)]);
    return [
      value(closed ? t('measurePerimeter') : t('measureTotal'), length, formatLength(length), 'length'),
      closed && value(t('measureAreaValue'), area ?? 0, formatArea(area ?? 0), 'area'),
      h('p', { className: 'tg-note' }, [t('measurePoints', { n: this._points.length }), ' ', t('measureNote')]),
    ];
  },

  // The panel's parts are made once (a click keeps its focus); _render updates them.
  _build() {
    const mode = (id) => h('button', {
      type: 'button', className: 'tg-button tg-measure-mode', 'data-mode': id, onClick: () => this._setMode(id),
    });
    const action = (className, onClick) => h('button', { type: 'button', className: `tg-button ${className}`, onClick });
    this._parts = {
      title: h('h2', { id: 'tg-measure-title' }),
      modes: [mode('distance'), mode('area')],
      results: h('div', { className: 'tg-measure-results', 'aria-live': 'polite' }),
      hint: h('p', { className: 'tg-measure-hint' }),
      undo: action('tg-measure-undo', () => { this._points.pop(); this._render(); }),
      clear: action('tg-measure-clear', () => { this._points = []; this._render(); }),
      done: action('tg-measure-done', () => this.stop()),
    };
    const { title, modes, results, hint, undo, clear, done } = this._parts;
    this._modeGroup = h('div', { className: 'tg-measure-modes', role: 'group' }, modes);
    fill(this._panel, [title, this._modeGroup, results, hint, h('div', { className: 'tg-measure-actions' }, [undo, clear, done])]);
  },

  _render() {
    if (!this._panel) return;
    if (!this._parts) this._build();
    this._draw();
    // The points measured, machine-readable (as the values are, in <data>): [[lat, lon], ...].
    this._panel.dataset.points = JSON.stringify(this._points.map(({ lat, lng }) => [lat, lng]));
    const { title, modes, results, hint, undo, clear, done } = this._parts;
    title.textContent = t('measure');
    this._modeGroup.setAttribute('aria-label', t('measureLabel'));
    for (const button of modes) {
      button.textContent = t(button.dataset.mode === 'area' ? 'measureArea' : 'measureDistance');
      button.setAttribute('aria-pressed', String(this._mode === button.dataset.mode));
    }
    fill(results, this._results());
    hint.textContent = t('measureHint');
    hint.hidden = this._points.length > 0;
    undo.textContent = t('measureUndo');
    clear.textContent = t('measureClear');
    done.textContent = t('measureDone');
    undo.disabled = clear.disabled = this._points.length === 0;
  },

  relabel() {
    if (!this._button) return;
    this._button.setAttribute('aria-label', t('measureLabel'));
    this._button.title = t('measureLabel');
    if (this.isActive()) this._render();
  },
});

export function measureTool(options) {
  return new MeasureTool(options);
}
