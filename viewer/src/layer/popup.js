// A feature's popup: its title (title_field), then every public field with its label, empty values
// skipped. Built as DOM nodes: data never goes through innerHTML.
import { pick, t } from '../i18n/index.js';
import { h, syntheticBadge } from '../util/index.js';

/** A property value as display text ('' for empty). */
export function formatValue(value) {
  if (value == null) return '';
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).trim();
}

/** A feature's accessible name: its title (title_field) and its layer ("吾妻小学校（指定避難所）"). */
export function featureLabel(feature, entry) {
  const name = formatValue(feature.properties?.[entry.def.title_field]);
  return name ? `${name}（${entry.title}）` : entry.title;
}

/** The popup element of `feature` in the layer `entry` ({def, title}). */
export function popupContent(feature, entry) {
  const { def } = entry;
  const properties = feature.properties ?? {};
  const heading = formatValue(properties[def.title_field]) || entry.title;
  const rows = def.fields
    .map((field) => [pick(field.label) || field.name, formatValue(properties[field.name])])
    .filter(([, value]) => value !== '')
    .map(([label, value]) => h('tr', {}, [h('th', { scope: 'row' }, label), h('td', {}, value)]));
  return h('div', { className: 'tg-popup' }, [
    h('h2', { className: 'tg-popup-title' }, heading),
    h('p', { className: 'tg-popup-layer' }, [entry.title, def.synthetic && ' ', def.synthetic && syntheticBadge()]),
    def.synthetic && h('p', { className: 'tg-popup-note' }, t('syntheticNote')),
    rows.length > 0 && h('table', { className: 'tg-popup-fields' }, h('tbody', {}, rows)),
  ]);
}
