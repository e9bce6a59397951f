// What only the printout shows above the map: the title, the date, and the legend of the layers
// on the map (print CSS hides the panels and shows this; the map keeps its scale and credits).
import { getLanguage, t } from '../i18n.js';
import { h, syntheticBadge } from '../util/index.js';
import { categoryLegend, layerSwatch } from './legend.js';

export class PrintHeader {
  /** @param {{map, entries, title: () => string}} options entries: catalog entries with .layer */
  constructor({ map, entries, title }) {
    this.map = map;
    this.entries = entries;
    this.title = title;
    this.element = h('div', { className: 'tg-print', 'aria-hidden': 'true' });
    map.on('layeradd layerremove', () => this.render());
    this.render();
  }

  render() {
    const shown = this.entries.filter((entry) => this.map.hasLayer(entry.layer));
    const date = new Date().toLocaleDateString(getLanguage() === 'ja' ? 'ja-JP' : 'en-GB');
    this.element.replaceChildren(
      h('p', { className: 'tg-print-title' }, this.title()),
      h('p', { className: 'tg-print-date' }, `${t('printTitle')}: ${date}`),
      h('ul', { className: 'tg-print-legend' }, shown.map((entry) => h('li', {}, [
        h('span', { className: 'tg-print-layer' }, [layerSwatch(entry.def), ' ', entry.title, entry.def.synthetic && ' ',
          entry.def.synthetic && syntheticBadge()]),
        categoryLegend(entry.def, entry.title),
      ]))),
    );
  }
}

export function printHeader(options) {
  return new PrintHeader(options);
}
