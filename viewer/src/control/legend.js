// Legend swatches drawn with CSS from the same path options as the features.
import { t } from '../i18n/index.js';
import { legendEntries, rasterLegend, rasterSwatch } from '../layer/index.js';
import { h } from '../util/index.js';

/** A small swatch of a point, line or polygon drawn with Leaflet path options. */
export function swatch(geometry, options) {
  const kind = ['point', 'line'].includes(geometry) ? geometry : 'polygon';
  const border = `${Math.max(1, Math.min(options.weight ?? 1, 3))}px ${options.dashArray ? 'dashed' : 'solid'} ${options.color}`;
  const fill = options.fill
    ? h('span', { className: 'tg-swatch-fill', style: { backgroundColor: options.fillColor, opacity: String(options.fillOpacity) } })
    : null;
  return h('span', {
    className: `tg-swatch tg-swatch-${kind}`,
    'aria-hidden': 'true',
    style: kind === 'line' ? { borderTop: border } : { border },
  }, fill);
}

/** The swatch shown beside the layer name: its style, or a few category colours side by side. */
export function layerSwatch(def) {
  if (def.kind === 'raster') return rasterSwatch(def);
  const entries = legendEntries(def);
  if (entries.length === 1) return swatch(def.geometry, entries[0].options);
  const colors = entries.slice(0, 4).map((entry) => entry.options.fillColor ?? entry.options.color);
  const stops = colors.map((color, i) => `${color} ${(i * 100) / colors.length}% ${((i + 1) * 100) / colors.length}%`);
  return h('span', {
    className: `tg-swatch tg-swatch-${def.geometry === 'point' ? 'point' : 'polygon'} tg-swatch-categories`,
    'aria-hidden': 'true',
    style: { backgroundImage: `linear-gradient(90deg, ${stops.join(', ')})` },
  });
}

/** The category legend of a categorised layer (a list), or null. */
export function categoryLegend(def, title) {
  if (def.kind === 'raster') return rasterLegend(def, title);
  const entries = legendEntries(def);
  if (entries.length < 2 && !entries[0]?.label) return null;
  return h('ul', { className: 'tg-legend', 'aria-label': `${t('legend')}: ${title}` }, entries.map((entry) =>
    h('li', {}, [swatch(def.geometry, entry.options), h('span', { lang: entry.lang }, entry.label)])));
}
