// Draw one Mapbox vector tile as SVG: each feature one element with the layer's style, in the
// tile's own coordinates (a viewBox), so an overzoomed tile is the same drawing with a smaller
// viewBox. Strokes keep their screen width (vector-effect), circles get a radius in tile units.
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';

const SVG = 'http://www.w3.org/2000/svg';
const HIT_RADIUS = 22;

/** Decode an MVT (an ArrayBuffer; an empty body is an empty tile): {name: VectorTileLayer}. */
export function decodeTile(buffer) {
  if (!buffer || buffer.byteLength === 0) return {};
  return new VectorTile(new PbfReader(buffer)).layers;
}

/** The SVG path data of a line or polygon feature's rings ([[{x, y}]]). */
export function pathData(rings, closed) {
  return rings.map((ring) => ring.map((p, i) => `${i ? 'L' : 'M'}${p.x} ${p.y}`).join('') + (closed ? 'Z' : '')).join('');
}

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value != null && value !== false) node.setAttribute(key, String(value));
  }
  return node;
}

function paint(options, unitsPerPixel) {
  return {
    stroke: options.weight > 0 ? options.color : 'none',
    'stroke-width': options.weight,
    'stroke-opacity': options.opacity,
    'stroke-dasharray': options.dashArray,
    'stroke-linejoin': 'round',
    'stroke-linecap': 'round',
    fill: options.fill === false ? 'none' : (options.fillColor ?? options.color),
    'fill-opacity': options.fillOpacity,
    'fill-rule': 'evenodd',
    'vector-effect': 'non-scaling-stroke',
    r: options.radius != null ? options.radius * unitsPerPixel : null,
  };
}

/** [minX, minY, maxX, maxY] of a feature's rings (tile units). */
export function bboxOf(rings) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const ring of rings) {
    for (const { x, y } of ring) {
      if (x < box[0]) box[0] = x;
      if (y < box[1]) box[1] = y;
      if (x > box[2]) box[2] = x;
      if (y > box[3]) box[3] = y;
    }
  }
  return box;
}

// A finger-sized target (44 px) under an interactive point or line: transparent, in a group
// below every drawn feature (CSS enables it on touch screens only, where fingers need it).
function hitTarget(hits, source, geometry, unitsPerPixel, feature) {
  const node = source.type === 1
    ? element('circle', { cx: geometry[0][0].x, cy: geometry[0][0].y, r: HIT_RADIUS * unitsPerPixel })
    : element('path', { d: pathData(geometry, false), fill: 'none', stroke: '#000', 'stroke-opacity': 0,
      'stroke-width': 2 * HIT_RADIUS, 'vector-effect': 'non-scaling-stroke' });
  node.setAttribute('class', 'tg-hit');
  hits.append(node);
  return { node, feature };
}

/**
 * An <svg> of `size` px showing the square `view` = {x, y, size} (tile units) of an MVT layer.
 * `style(feature)` gives Leaflet path options; `className` goes on every element; with
 * `interactive`, points and lines get touch targets too.
 * Returns {svg, items, features}: items = [{node, feature}] (feature: {id, properties, type}),
 * features = [{properties, bbox}] (tile units, for the legend of what is in view).
 */
export function renderLayer(layer, { size, view, style, className, interactive = false }) {
  const svg = element('svg', { width: size, height: size, class: 'tg-tile-svg',
    viewBox: `${view.x} ${view.y} ${view.size} ${view.size}` });
  const items = [];
  const features = [];
  if (!layer) return { svg, items, features };
  const hits = element('g', { class: 'tg-hits' });
  if (interactive) svg.append(hits);
  const unitsPerPixel = view.size / size;
  for (let i = 0; i < layer.length; i += 1) {
    const source = layer.feature(i);
    const feature = { id: source.id, properties: source.properties, type: source.type };
    const attributes = { ...paint(style(feature), unitsPerPixel), class: className };
    const geometry = source.loadGeometry();
    features.push({ properties: source.properties, bbox: bboxOf(geometry) });
    if (source.type === 1) {
      for (const point of geometry.flat()) {
        const node = element('circle', { ...attributes, cx: point.x, cy: point.y });
        svg.append(node);
        items.push({ node, feature });
        if (interactive) items.push(hitTarget(hits, source, [[point]], unitsPerPixel, feature));
      }
    } else {
      const node = element('path', { ...attributes, r: null, d: pathData(geometry, source.type === 3),
        fill: source.type === 3 ? attributes.fill : 'none' });
      svg.append(node);
      items.push({ node, feature });
      if (interactive && source.type === 2) items.push(hitTarget(hits, source, geometry, unitsPerPixel, feature));
    }
  }
  return { svg, items, features };
}

/**
 * A <canvas> of `size` px drawing the square `view` of an MVT layer: for dense tiles of layers
 * nobody clicks (areas), where thousands of SVG elements would take seconds to lay out.
 * Returns {canvas, features} (features as renderLayer's).
 */
export function renderCanvas(layer, { size, view, style }) {
  const ratio = window.devicePixelRatio || 1;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = Math.round(size * ratio);
  canvas.style.width = canvas.style.height = `${size}px`;
  canvas.className = 'tg-tile-canvas';
  const context = canvas.getContext('2d');
  const scale = (size * ratio) / view.size;
  context.setTransform(scale, 0, 0, scale, -view.x * scale, -view.y * scale);
  context.lineJoin = context.lineCap = 'round';
  const features = [];
  for (let i = 0; i < (layer?.length ?? 0); i += 1) {
    const source = layer.feature(i);
    const options = style({ id: source.id, properties: source.properties, type: source.type });
    const geometry = source.loadGeometry();
    features.push({ properties: source.properties, bbox: bboxOf(geometry) });
    const path = new Path2D(pathData(geometry, source.type === 3));
    if (source.type === 3 && options.fill !== false) {
      context.globalAlpha = options.fillOpacity ?? 0.2;
      context.fillStyle = options.fillColor ?? options.color;
      context.fill(path, 'evenodd');
    }
    if (options.weight > 0) {
      context.globalAlpha = options.opacity ?? 1;
      context.strokeStyle = options.color;
      context.lineWidth = (options.weight * ratio) / scale;  // screen pixels, as SVG's strokes
      context.setLineDash(options.dashArray ? String(options.dashArray).split(/[ ,]+/).map((d) => (Number(d) * ratio) / scale) : []);
      context.stroke(path);
    }
  }
  return { canvas, features };
}
