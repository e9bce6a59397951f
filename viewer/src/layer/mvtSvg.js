// Draw one Mapbox vector tile as SVG: each feature one element with the layer's style, in the
// tile's own coordinates (a viewBox), so an overzoomed tile is the same drawing with a smaller
// viewBox. Strokes keep their screen width (vector-effect), circles get a radius in tile units.
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';

const SVG = 'http://www.w3.org/2000/svg';

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

/**
 * An <svg> of `size` px showing the square `view` = {x, y, size} (tile units) of an MVT layer.
 * `style(feature)` gives Leaflet path options; `className` goes on every element.
 * Returns {svg, items}: items = [{node, feature}] (feature: {id, properties, type}).
 */
export function renderLayer(layer, { size, view, style, className }) {
  const svg = element('svg', { width: size, height: size, class: 'tg-tile-svg',
    viewBox: `${view.x} ${view.y} ${view.size} ${view.size}` });
  const items = [];
  if (!layer) return { svg, items };
  const unitsPerPixel = view.size / size;
  for (let i = 0; i < layer.length; i += 1) {
    const source = layer.feature(i);
    const feature = { id: source.id, properties: source.properties, type: source.type };
    const attributes = { ...paint(style(feature), unitsPerPixel), class: className };
    const geometry = source.loadGeometry();
    if (source.type === 1) {
      for (const point of geometry.flat()) {
        const node = element('circle', { ...attributes, cx: point.x, cy: point.y });
        svg.append(node);
        items.push({ node, feature });
      }
    } else {
      const node = element('path', { ...attributes, r: null, d: pathData(geometry, source.type === 3),
        fill: source.type === 3 ? attributes.fill : 'none' });
      svg.append(node);
      items.push({ node, feature });
    }
  }
  return { svg, items };
}

/**
 * A <canvas> of `size` px drawing the square `view` of an MVT layer: for dense tiles of layers
 * nobody clicks (areas), where thousands of SVG elements would take seconds to lay out.
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
  for (let i = 0; i < (layer?.length ?? 0); i += 1) {
    const source = layer.feature(i);
    const options = style({ id: source.id, properties: source.properties, type: source.type });
    const path = new Path2D(pathData(source.loadGeometry(), source.type === 3));
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
  return canvas;
}
