// 「この地点の情報」: the point report of the server (server/point.py) as a panel, in the current
// language. With the server's resident report (server/report/: `place`, `sections`), the place
// name comes first, then hazards and where to evacuate (emergency sites matched to the hazards
// there), then planning rules, in plain words; every field and code is under 「詳細」 (collapsed).
// Without them (an older server): what applies per layer with its values, what does not, what
// lies within the radius and the nearest shelters. Data is only ever inserted as text.
import { formatDistance, pick, serverLanguage, t } from '../i18n/index.js';
import { pointUrl } from '../api/index.js';
import { fill, h, localized, syntheticBadge } from '../util/index.js';
import { formatValue, rasterReportSections } from '../layer/index.js';

export class PointPanel {
  /**
   * @param {{onShow(latlng): void, onClear(): void, onCentre(): void, rank?}} options onShow: show a
   *   listed feature on the map; onClear: forget the point; onCentre: query the map centre;
   *   rank(layerId): order of the layers that apply (smaller first); decorate(layerId, feature):
   *   nodes shown after a feature (its status in 災害時モード, the staff's 「編集」); onSubscribe(latlng,
   *   button): open 「この場所の変更を受け取る」
   */
  constructor(options) {
    this.options = options;
    this.element = h('div', { className: 'tg-point', 'aria-busy': 'false' });
    this.state = { status: 'empty' };
    this.render();
  }

  /** Show a state: {status: 'empty'|'loading'|'report'|'error', latlng?, report?, error?}. */
  setState(state) {
    this.state = state;
    this.render();
  }

  /** A one-line summary for screen readers: what applies at the point. */
  summary() {
    const { status, report } = this.state;
    if (status !== 'report') return status === 'error' ? this._errorText().join(' ') : '';
    if (report.summary?.length) return `${t('pointTitle')}: ${report.summary.map((line) => line.text).join('、')}`;
    const names = report.layers.flatMap((layer) => layer.here.map((feature) => formatValue(feature.name) || pick(layer.title)));
    return `${t('pointTitle')}: ${names.join('、') || t('pointNone')}`;
  }

  render() {
    const { status, latlng, report } = this.state;
    this.element.setAttribute('aria-busy', String(status === 'loading'));
    const heading = h('h2', { className: 'tg-point-title' }, t('pointTitle'));
    if (status === 'empty' || !latlng) {
      fill(this.element, [heading, h('p', {}, t('pointHint')),
        h('button', { type: 'button', className: 'tg-button', onClick: () => this.options.onCentre() }, t('pointCentre'))]);
      return;
    }
    const coords = h('p', { className: 'tg-point-coords' }, `${latlng.lat.toFixed(6)}, ${latlng.lng.toFixed(6)}`);
    if (status === 'report' && report.sections) {
      // The place and the hazards first: what a phone's first screen shows.
      // Raster values (想定浸水深, 標高) are shown once, in the plain part, not again under 「詳細」.
      fill(this.element, [heading, ...this._place(report.place), coords, ...this._plain(report),
        ...rasterReportSections(report, 'other'),
        this._actions(latlng, true),
        this._details(report)]);
      return;
    }
    const body = {
      loading: () => [h('p', { className: 'tg-point-status' }, t('pointLoading'))],
      error: () => this._error(),
      report: () => this._report(report),
    }[status]();
    fill(this.element, [heading, coords, this._actions(latlng, status === 'report'), ...body]);
  }

  // Every field and code, collapsed: built when first opened (on a slow phone the tap's report
  // appears ~1/3 sooner; the printout leaves 「詳細」 out anyway).
  _details(report) {
    const build = () => {
      if (details.childElementCount === 1) details.append(...this._report(report, false, false).filter(Boolean));
    };
    // The summary's click (mouse, touch, Enter, Space) comes before it opens; toggle for the rest.
    const details = h('details', { className: 'tg-point-details', onToggle: () => details.open && build() },
      [h('summary', { onClick: build }, t('pointDetails'))]);
    return details;
  }

  _place(place) {
    if (!place) return [];
    return [
      h('p', { className: 'tg-point-place' }, textNode(place.name)),
      h('p', { className: 'tg-point-basis' }, [place.kana ? `${place.town}（${place.kana}）` : place.town, ' ', textNode(place.basis),
        place.between && ' ', place.between && textNode(place.between)]),
    ];
  }

  // The resident's report: sections in the server's order (hazard, shelter, planning, other).
  _plain(report) {
    const hasHazard = report.sections.some((section) => section.id === 'hazard');
    const plain = report.sections.flatMap((section) => {
      const parts = [
        section.status_text && h('p', { className: 'tg-point-status' }, textNode(section.status_text)),
        ...section.items.map((item) => this._item(item)),
        // hazard rasters (想定浸水深) belong with the hazards, on the first screen
        ...(section.id === 'hazard' ? rasterReportSections(report, 'hazard', { heading: false }) : []),
        ...(section.matched ?? []).map((group) => this._sites(group, `${group.layer}-${group.hazard}`, 'tg-point-matched')),
        ...(section.nearest ?? []).map((group) => this._sites(group, group.layer, 'tg-point-nearest', group.layer)),
      ].filter(Boolean);
      if (parts.length === 0) return [];
      return [h('section', { className: 'tg-point-section', 'data-section': section.id }, [h('h3', {}, textNode(section.title)), ...parts])];
    });
    return hasHazard ? plain : [...rasterReportSections(report, 'hazard'), ...plain];
  }

  _item(item) {
    const label = t('synthetic');
    const badge = item.synthetic && !item.title.text.includes(label);
    return h('article', { className: 'tg-point-plain', 'data-layer': item.layer, 'data-status': item.status }, [
      h('h4', {}, [textNode(item.title), badge && ' ', badge && syntheticBadge()]),
      item.synthetic && h('p', { className: 'tg-popup-note' }, t('syntheticNote')),
      item.status_text && h('p', { className: 'tg-point-status' }, textNode(item.status_text)),
      item.status === 'none' && h('p', { className: 'tg-point-status' }, t('pointNone')),
      ...item.features.map((feature) => h('div', { className: 'tg-point-feature' }, [
        feature.name && h('p', { className: 'tg-point-name' }, textNode(feature.name)),
        ...feature.lines.flatMap((line) => [
          line.explain ? h('p', { className: 'tg-point-explain', 'data-field': line.name }, textNode(line.explain))
            : line.value.text !== feature.name?.text
              && h('p', { className: 'tg-point-explain', 'data-field': line.name }, [textNode(line.label), '：', textNode(line.value)]),
          line.advice && h('p', { className: 'tg-point-advice' }, [h('strong', {}, `${t('pointAdvice')}：`), textNode(line.advice)]),
        ]),
      ])),
      ...item.notes.map((note) => h('p', { className: 'tg-point-note' }, textNode(note))),
      item.source && h('p', { className: 'tg-note' }, textNode(item.source)),
    ]);
  }

  // layerId: the sites' layer when they may be decorated (status, staff's 「編集」; 災害時モード).
  _sites(group, key, className, layerId = null) {
    return h('div', { className: 'tg-point-sites' }, [
      h('h4', {}, textNode(group.title)),
      group.open_only && h('p', { className: 'tg-note tg-open-only' }, t('pointOpenOnly')),
      group.sites.length ? h('ol', { className, 'data-layer': key }, group.sites.map((site) => h('li', { 'data-id': site.id != null ? String(site.id) : null, 'data-status': site.status ?? null }, [
        site.lat != null
          ? h('button', { type: 'button', className: 'tg-link-button', onClick: () => this.options.onShow({ lat: site.lat, lng: site.lon }) }, formatValue(site.name))
          : formatValue(site.name),
        // The UI's own number format, as the older listing (the server's words are the same).
        h('span', { className: 'tg-point-distance' }, ` ${t('distance', { d: formatDistance(site.distance_m) })}・${t('walk', { m: site.walk_min })}`),
        ...(layerId ? this._decorate(layerId, site) : []),
      ])))
        : h('p', { className: 'tg-point-status' }, textNode(group.status_text)),
    ]);
  }

  // A refusal (4xx) says why in the server's words (an OGC error's description); else a failure.
  _errorText() {
    const error = this.state.error;
    const refused = error?.status >= 400 && error.status < 500;
    return [t(refused ? 'pointRejected' : 'pointError'), refused ? error.description : ''].filter(Boolean);
  }

  _error() {
    const [message, description] = this._errorText();
    // The server writes its messages in English: marked so, unless they hold Japanese.
    const lang = description && !/[\u3040-\u30ff\u3400-\u9fff]/.test(description) ? 'en' : null;
    return [h('div', { className: 'tg-point-status tg-error', role: 'alert' }, [
      h('p', {}, message), description && h('p', { className: 'tg-error-detail', lang }, description),
    ])];
  }

  /** The point report as it is shown, for the printout (null without a report). */
  reportElement() {
    return this.state.status === 'report' ? this.element : null;
  }

  _actions(latlng, ready) {
    const lang = serverLanguage();
    const endpoint = this.options.endpoint ?? 'point';
    return h('div', { className: 'tg-point-actions' }, [
      ready && h('a', { className: 'tg-button', href: pointUrl(latlng, { f: 'csv', lang, endpoint }).href, download: '' }, t('downloadCsv')),
      ready && h('a', { className: 'tg-button', href: pointUrl(latlng, { f: 'html', lang, endpoint }).href, target: '_blank', rel: 'noopener' }, t('openReport')),
      h('button', { type: 'button', className: 'tg-button', onClick: () => this.options.onClear() }, t('clearPoint')),
      // 「この場所の変更を受け取る」: the area's feed and e-mail subscription (SubscribeDialog.js)
      ready && this.options.onSubscribe && h('button', { type: 'button', className: 'tg-button tg-subscribe-button',
        onClick: (event) => this.options.onSubscribe(latlng, event.currentTarget) }, t('subscribe')),
    ]);
  }

  _report(report, withNearest = true, withRasters = true) {
    const areas = report.layers.filter((layer) => layer.geometry !== 'point');
    const rank = this.options.rank ?? (() => 0);
    const hits = areas.filter((layer) => layer.here.length > 0).sort((a, b) => rank(a.id) - rank(b.id));
    const misses = areas.filter((layer) => layer.here.length === 0);
    const nearby = report.layers.filter((layer) => layer.nearby.length > 0);
    const radius = Math.round(report.radius_m);
    return [
      ...(withRasters ? rasterReportSections(report, 'hazard') : []), // 想定浸水深 ... before everything else
      h('h3', {}, t('pointHere')),
      hits.length ? h('div', { className: 'tg-point-layers' }, hits.map((layer) => this._layer(layer)))
        : h('p', {}, t('pointNone')),
      misses.length > 0 && h('h3', {}, t('pointNoneList')),
      misses.length > 0 && h('ul', { className: 'tg-point-misses' }, misses.map((layer) => h('li', { 'data-layer': layer.id }, [
        localized(layer.title), layer.synthetic && ' ', layer.synthetic && syntheticBadge(), '：',
        t(layer.coverage === 'outside' ? 'pointOutside' : 'pointNone'),
      ]))),
      ...(withRasters ? rasterReportSections(report, 'other') : []), // 標高 ...
      h('h3', {}, t('pointNearby', { r: radius })),
      nearby.length ? h('ul', { className: 'tg-point-nearby' }, nearby.flatMap((layer) => layer.nearby.map((feature) =>
        h('li', { 'data-layer': layer.id }, [
          h('span', { className: 'tg-point-layer-name' }, `${pick(layer.title)}：`),
          formatValue(feature.name) || pick(layer.title), ` ${t('distance', { d: formatDistance(feature.distance_m) })}`,
        ]))))
        : h('p', {}, t('pointNearbyNone', { r: radius })),
      ...(withNearest ? report.nearest : []).flatMap((group) => [
        h('h3', {}, t('pointNearest', { name: pick(group.title) })),
        group.open_only && h('p', { className: 'tg-note tg-open-only' }, t('pointOpenOnly')),
        h('ol', { className: 'tg-point-nearest', 'data-layer': group.layer }, group.features.map((feature) => this._nearest(feature, group.layer))),
      ]),
      h('p', { className: 'tg-note' }, t('distanceNote')),
      h('p', { className: 'tg-note' }, t('singlePointNote')),
    ];
  }

  _layer(layer) {
    return h('article', { className: 'tg-point-layer', 'data-layer': layer.id }, [
      h('h4', {}, [localized(layer.title), layer.synthetic && ' ', layer.synthetic && syntheticBadge()]),
      layer.synthetic && h('p', { className: 'tg-popup-note' }, t('syntheticNote')),
      ...layer.here.map((feature) => h('div', { className: 'tg-point-feature' }, [
        feature.name != null && h('p', { className: 'tg-point-name' }, formatValue(feature.name)),
        ...this._decorate(layer.id, feature),
        // The name is the heading: its row is not repeated.
        h('table', { className: 'tg-popup-fields' }, h('tbody', {}, feature.properties
          .filter((property) => property.value !== feature.name).map((property) =>
          h('tr', { 'data-field': property.name }, [
            h('th', { scope: 'row' }, pick(property.label) ? localized(property.label) : property.name),
            h('td', {}, formatValue(property.value)),
          ])))),
      ])),
    ]);
  }

  _decorate(layerId, feature) {
    return (this.options.decorate?.(layerId, feature) ?? []).filter(Boolean);
  }

  _nearest(feature, layerId) {
    const where = feature.lat != null ? { lat: feature.lat, lng: feature.lon } : null;
    return h('li', { 'data-id': String(feature.id) }, [
      where ? h('button', { type: 'button', className: 'tg-link-button', onClick: () => this.options.onShow(where) }, formatValue(feature.name))
        : formatValue(feature.name),
      h('span', { className: 'tg-point-distance' }, ` ${t('distance', { d: formatDistance(feature.distance_m) })}・${t('walk', { m: feature.walk_min })}`),
      ...this._decorate(layerId, feature),
    ]);
  }
}

// A server text {text, lang}: a text node, or a <span lang> when it is not in the UI language.
function textNode(value) {
  if (!value) return '';
  if (value.lang === document.documentElement.lang) return document.createTextNode(value.text);
  return h('span', { lang: value.lang }, value.text);
}

export function pointPanel(options) {
  return new PointPanel(options);
}
