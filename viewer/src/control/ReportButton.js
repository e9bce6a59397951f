// 「困りごとを報告」 on the map (issue 17): the button, and the report flow (tool/report.js) loaded on
// its first press. While the flow asks for a place, the next map tap is the place (interface.js).
import { Control, DomEvent, divIcon, marker } from '../leaflet.js';
import { getLanguage, t } from '../i18n/index.js';
import { fill, h } from '../util/index.js';
import { loadTool } from '../tool/index.js';

export const ReportButton = Control.extend({
  options: { position: 'topleft', onMessage: () => {} },

  onAdd(map) {
    this._map = map;
    this._button = h('button', { type: 'button', className: 'tg-button tg-primary tg-report-button', onClick: () => this.start() });
    const container = h('div', { className: 'tg-report-bar' }, this._button);
    DomEvent.disableClickPropagation(container);
    this.relabel();
    return container;
  },

  relabel() {
    this._button.textContent = t('reportButton');
    this._flow?.relabel();
  },

  isPicking() {
    return Boolean(this._flow?.isPicking());
  },

  pick(latlng) {
    this._flow.pick(latlng);
  },

  async start() {
    if (!this._flow) {
      try {
        const { reportFlow } = await loadTool('report');
        this._flow = reportFlow({
          map: this._map, t, getLanguage, h, fill, marker, divIcon, onMessage: this.options.onMessage, button: this._button,
        });
      } catch (error) {
        console.error('viewer: the report form could not be loaded', error);
        this.options.onMessage(t('reportError'));
        return;
      }
    }
    this._flow.start();
  },
});

export function reportButton(options) {
  return new ReportButton(options);
}
