// The printed sheet (one A4 page, landscape): the title, the date and time in Japan time and the
// scale as a ratio above the map (whose scale bar and credits, in full, print on it); beside it the
// legend of what the map shows (layers on, classes present in the view) and the point report if
// one is open; below it the disclaimer. Print CSS lays the page out (index.css); this keeps
// the parts up to date. 「印刷」 opens a preview of the same layout, to frame the map first.
import { DomEvent } from '../leaflet.js';
import { formatNumber, locale, t } from '../i18n/index.js';
import { h, syntheticBadge } from '../util/index.js';
import { legendEntries } from '../layer/index.js';
import { layerSwatch, swatch } from './legend.js';

// A CSS pixel on paper: 1/96 inch (browsers print CSS pixels at 96 per inch).
const METRES_PER_PRINTED_PIXEL = 0.0254 / 96;

/** The map's scale denominator when printed: ground metres per pixel over paper metres per pixel. */
export function printScale(map) {
  const y = map.getSize().y / 2;
  const a = map.containerPointToLatLng([0, y]);
  const b = map.containerPointToLatLng([100, y]);
  const metresPerPixel = map.distance(a, b) / 100; // as Leaflet's scale bar measures it
  const ratio = metresPerPixel / METRES_PER_PRINTED_PIXEL;
  const step = 10 ** Math.max(0, Math.floor(Math.log10(ratio)) - 2); // three significant digits
  return Math.round(ratio / step) * step;
}

/** The date and time now in Japan time, in the UI language. */
function japanTime(date = new Date()) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: 'Asia/Tokyo', year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(date);
}

export class PrintView {
  /**
   * @param {{map, entries, title: () => string, report: () => HTMLElement|null}} options entries:
   *   catalog entries with .layer; report: the point panel's element when it shows a report
   */
  constructor({ map, entries, title, report }) {
    Object.assign(this, { map, entries, title, report });
    this._head = h('div', { className: 'tg-print-head' });
    this._side = h('div', { className: 'tg-print-side' });
    this._foot = h('div', { className: 'tg-print-foot' });
    this._bar = h('div', { className: 'tg-print-bar', role: 'region' });
    this.element = h('div', { className: 'tg-print' }, [this._bar, this._head, this._side, this._foot]);
    DomEvent.disableClickPropagation(this._bar);
    window.matchMedia('print').addEventListener?.('change', (event) => (event.matches ? this.prepare() : this._fit()));
    window.addEventListener('beforeprint', () => this.prepare());
    window.addEventListener('afterprint', () => this._fit());
    // Drawn when the page is idle, again after layers load, and before printing: not on the way
    // to the first map (the first Japan-time date format alone costs ~0.1 s of a phone's CPU).
    for (const entry of entries) entry.layer.on('load', () => this.schedule());
    this.schedule();
  }

  /** Render when the browser is idle (at most one pending). */
  schedule() {
    if (this._pending) return;
    this._pending = true;
    const run = () => {
      this._pending = false;
      this.render();
    };
    if (window.requestIdleCallback) window.requestIdleCallback(run, { timeout: 5000 });
    else setTimeout(run, 1000);
  }

  /** Bring every part up to date and fit the map to its printed size (before printing). */
  prepare() {
    this._fit();
    this.render({ stamp: true });
  }

  _fit() {
    this.map.invalidateSize({ animate: false });
  }

  get previewing() {
    return document.body.classList.contains('tg-print-preview');
  }

  /** Open (true) or close (false) the print preview: the printed layout on screen. */
  preview(on) {
    document.body.classList.toggle('tg-print-preview', on);
    this.prepare();
    if (on) this._bar.querySelector('button')?.focus();
  }

  /** Draw the parts; with `stamp`, the date and the scale too (when printing: they cost most). */
  render({ stamp = false } = {}) {
    this._renderBar();
    this._head.replaceChildren(
      h('p', { className: 'tg-print-title' }, this.title()),
      h('p', { className: 'tg-print-date' }, stamp ? t('printDate', { date: japanTime() }) : ''),
      h('p', { className: 'tg-print-scale' }, stamp ? t('printScale', { n: formatNumber(printScale(this.map)) }) : ''),
    );
    const legend = this._legend();
    // The report's copy only when printing: the page keeps one report, not two, the rest of the time.
    const report = stamp ? this.report() : null;
    this._side.replaceChildren(
      h('h2', {}, t('printLegend')),
      legend.length ? h('ul', { className: 'tg-print-legend' }, legend) : h('p', {}, t('printNoLegend')),
      // A long report is cut at the foot of the column: the whole of it is the printable report.
      ...(report ? [h('h2', {}, t('printReport')), printedReport(report), h('p', { className: 'tg-print-more' }, t('printMore'))] : []),
    );
    // The credits print on the map, in full (the attribution control, as on screen).
    const synthetic = this._shown().some((entry) => entry.def.synthetic);
    this._foot.replaceChildren(
      h('p', { className: 'tg-print-disclaimer' }, [t('printDisclaimer'), synthetic && ` ${t('printSynthetic')}`]),
    );
  }

  _renderBar() {
    this._bar.setAttribute('aria-label', t('printPreview'));
    this._bar.replaceChildren(
      h('p', { className: 'tg-print-bar-title' }, [h('strong', {}, t('printPreview')), ` ${t('printPreviewHint')}`]),
      h('button', { type: 'button', className: 'tg-button tg-primary tg-print-now', onClick: () => window.print() }, t('printNow')),
      h('button', { type: 'button', className: 'tg-button tg-print-back', onClick: () => this.preview(false) }, t('printBack')),
    );
  }

  _shown() {
    return this.entries.filter((entry) => this.map.hasLayer(entry.layer));
  }

  // One item per layer with something in the view; a categorised layer lists the classes present.
  _legend() {
    const bounds = this.map.getBounds();
    return this._shown().flatMap((entry) => {
      const presence = entry.layer.presence?.(bounds) ?? { inView: true, values: null };
      if (!presence.inView) return [];
      const categories = legendEntries(entry.def).filter((item) => item.value !== undefined
        && (!presence.values || presence.values.has(String(item.value))));
      return [h('li', { 'data-layer': entry.id }, [
        h('span', { className: 'tg-print-layer' }, [
          layerSwatch(entry.def), ' ', h('span', { lang: entry.titleLang }, entry.title),
          entry.def.synthetic && ' ', entry.def.synthetic && syntheticBadge(),
        ]),
        categories.length > 0 && h('ul', { className: 'tg-legend' }, categories.map((item) => h('li', {}, [
          swatch(entry.def.geometry, item.options), h('span', {}, item.label)]))),
      ])];
    });
  }
}

// The point report as printed: its text without the buttons (names of the nearest stay as text).
function printedReport(report) {
  const copy = report.cloneNode(true);
  copy.removeAttribute('aria-busy');
  copy.className = 'tg-print-report'; // not .tg-point: the page's own report stays the only one
  copy.querySelector('.tg-point-title')?.remove();
  copy.querySelector('.tg-point-actions')?.remove();
  for (const button of copy.querySelectorAll('button')) button.replaceWith(h('span', {}, button.textContent));
  for (const node of copy.querySelectorAll('[id]')) node.removeAttribute('id');
  // The resident's report beside the map: the place, hazards, rules, then where to go; the
  // details and the wording's sources are the printable report's (「印刷用レポート」).
  for (const extra of copy.querySelectorAll('.tg-point-details, .tg-point-basis, .tg-note')) extra.remove();
  const shelter = copy.querySelector('.tg-point-section[data-section="shelter"]');
  const planning = copy.querySelector('.tg-point-section[data-section="planning"]');
  if (shelter && planning) planning.after(shelter);
  return copy;
}

export function printView(options) {
  return new PrintView(options);
}
