// A square map button (Leaflet bar style) with an SVG icon, labelled for screen readers.
import { Control, DomEvent } from '../leaflet.js';
import { h } from '../util/index.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An icon from SVG path data in a 24x24 box (stroke drawn, not filled). */
export function icon(d) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'tg-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

export const ICONS = {
  ruler: 'M3 17 17 3l4 4L7 21zM7 13l2 2M10 10l2 2M13 7l2 2',
  print: 'M7 9V3h10v6M7 17H4v-7h16v7h-3M7 14h10v7H7z',
  share: 'M18 8a3 3 0 1 0-3-3M6 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm12 7a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM8.6 13.5l6.8 4M15.4 6.5l-6.8 4',
};

/** {container, button}: a Leaflet bar holding one button; clicks do not reach the map. */
export function mapButton({ className, iconPath, onClick }) {
  const button = h('button', { type: 'button', className: `tg-map-button ${className}`, onClick }, icon(iconPath));
  const container = h('div', { className: 'leaflet-bar tg-map-bar' }, button);
  DomEvent.disableClickPropagation(container);
  return { container, button };
}

/** A Leaflet control of one labelled map button (top left, under the others). */
export function mapControl({ className, iconPath, onClick, position = 'topleft' }) {
  const control = new Control({ position });
  let parts = null;
  control.onAdd = () => {
    parts = mapButton({ className, iconPath, onClick });
    return parts.container;
  };
  control.relabel = (label) => {
    parts?.button.setAttribute('aria-label', label);
    if (parts) parts.button.title = label;
  };
  return control;
}
