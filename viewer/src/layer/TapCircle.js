// A circle marker that a finger and a keyboard can use: a transparent hit circle of 22 px radius
// (a 44 px target) under the drawn mark, in a group below every mark of its pane (so a mark is
// never covered by a neighbour's target), and the mark itself focusable: Tab reaches it, Enter or
// Space opens its popup. SVG renderer only (the viewer's default); elsewhere a plain marker.
import { CircleMarker, DomEvent, SVG } from '../leaflet.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const HIT_RADIUS = 22;

function hitGroup(renderer) {
  const root = renderer._rootGroup;
  let group = root.querySelector(':scope > g.tg-hits');
  if (!group) {
    group = document.createElementNS(SVG_NS, 'g');
    group.setAttribute('class', 'tg-hits');
    root.prepend(group);
  }
  return group;
}

export const TapCircle = CircleMarker.extend({
  options: {
    // The accessible name of the mark (e.g. the facility's name and its layer).
    label: '',
  },

  onAdd(map) {
    CircleMarker.prototype.onAdd.call(this, map);
    if (!(this._renderer instanceof SVG) || !this.options.interactive) return;
    this._hit ??= document.createElementNS(SVG_NS, 'path');
    this._hit.setAttribute('class', 'tg-hit'); // pointer events on touch screens only (index.css)
    hitGroup(this._renderer).append(this._hit);
    this.addInteractiveTarget(this._hit);
    this._updateHit();
    const path = this._path;
    path.setAttribute('tabindex', '0');
    path.setAttribute('role', 'button');
    if (this.options.label) path.setAttribute('aria-label', this.options.label);
    DomEvent.on(path, 'keydown', this._onKey, this);
  },

  onRemove(map) {
    if (this._hit) {
      this._hit.remove();
      this.removeInteractiveTarget(this._hit);
      DomEvent.off(this._path, 'keydown', this._onKey, this);
    }
    CircleMarker.prototype.onRemove.call(this, map);
  },

  _updatePath() {
    CircleMarker.prototype._updatePath.call(this);
    this._updateHit();
  },

  _updateHit() {
    if (!this._hit || !this._point) return;
    const { x, y } = this._point;
    const r = HIT_RADIUS;
    this._hit.setAttribute('d', `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`);
  },

  _onKey(event) {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    DomEvent.preventDefault(event);
    DomEvent.stopPropagation(event); // not also the map's "what applies at the centre"
    this.openPopup();
  },
});

export function tapCircle(latlng, options) {
  return new TapCircle(latlng, options);
}
