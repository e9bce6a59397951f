// Live layers and 災害時モード. A LiveWatcher polls the server's live.json (a 304 while nothing
// changed) and says which live layers were edited (the app reloads them) and whether a layer is
// in 災害時モード (a shelter is open). DisasterMode is what residents then see: a banner, the open
// shelters first in a list with their status colour and the time of their last update, and the
// shelters layer switched on.
import { Evented, Util } from '../leaflet.js';
import { getJson, itemsUrl, loadLive } from '../api/index.js';
import { locale, pick, t } from '../i18n/index.js';
import { h } from '../util/index.js';
import { categoryOf } from './style.js';

export const LiveWatcher = Evented.extend({
  options: { interval: 3000 },

  /** @param {URL} url live.json of the audience (config.endpoints.live) */
  initialize(url, options) {
    Util.setOptions(this, options);
    this._url = url;
    this._etag = null;
    this._seqs = null;
    this._mode = null;
    this._timer = null;
    this._busy = false;
  },

  start() {
    this._schedule(0);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.poke(); });
    return this;
  },

  /** Ask now (after a save of our own). */
  poke() {
    this._schedule(0);
  },

  _schedule(delay) {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._poll(), delay);
  },

  async _poll() {
    if (this._busy) return;
    this._busy = true;
    try {
      if (!document.hidden) {
        const answer = await loadLive(this._url, this._etag);
        if (answer) {
          this._etag = answer.etag;
          this._apply(answer.live);
        }
      }
    } catch { /* the next poll tries again; the map keeps what it shows */ } finally {
      this._busy = false;
      this._schedule(this.options.interval);
    }
  },

  _apply(live) {
    const seqs = Object.fromEntries(Object.entries(live.layers ?? {}).map(([id, l]) => [id, `${l.version}.${l.edit_seq}`]));
    if (this._seqs) {
      const changed = Object.keys(seqs).filter((id) => seqs[id] !== this._seqs[id]);
      if (changed.length) this.fire('layerchange', { ids: changed });
    }
    this._seqs = seqs;
    const mode = JSON.stringify(live.disaster_mode);
    if (mode !== this._mode) {
      // initial: the first answer, which the page loaded with (no change to follow)
      this.fire('mode', { mode: live.disaster_mode, initial: this._mode === null });
      this._mode = mode;
    }
  },
});

function statusRank(open, value) {
  const at = open.indexOf(value);
  return at < 0 ? open.length : at;
}

/** A status as a coloured badge (the colour of its style category). */
export function statusBadge(def, value) {
  const category = categoryOf(def.style, { [def.disaster_mode?.field ?? def.style.by]: value });
  return h('span', {
    className: 'tg-badge tg-status', 'data-status': value,
    style: category ? { borderColor: category.color, background: `${category.color}22` } : null,
  }, [h('i', { className: 'tg-status-dot', style: category ? { background: category.color } : null }), category?.label ? pick(category.label) : String(value)]);
}

export class DisasterMode {
  /**
   * @param {{map, apiUrl: URL, config, entries, onShow(latlng): void, onActivate(): void}} options
   *   onActivate: 災害時モード just began (e.g. show the list)
   */
  constructor(options) {
    this.options = options;
    this.state = { active: false, layers: [] };
    this.banner = h('div', { className: 'tg-disaster', role: 'status', hidden: true });
    this.element = h('section', { className: 'tg-disaster-list', hidden: true, 'aria-live': 'polite' });
    this._features = new Map();
  }

  /** Follow live.json's disaster_mode ({active, layers: [{id, field, open, open_count}]}). */
  async setMode(mode) {
    const began = mode.active && !this.state.active;
    this.state = mode;
    document.body.classList.toggle('tg-disaster-mode', Boolean(mode.active));
    if (mode.active) {
      for (const layer of mode.layers) {
        const entry = this.options.entries.find((e) => e.id === layer.id);
        if (entry && !this.options.map.hasLayer(entry.layer)) this.options.map.addLayer(entry.layer);
      }
      await this.reload();
    }
    this.render();
    if (began) this.options.onActivate?.();
  }

  /** Read the features of the layers in 災害時モード again (after an edit). */
  async reload() {
    for (const layer of this.state.layers ?? []) {
      const url = itemsUrl(this.options.apiUrl, layer.id);
      url.searchParams.set('limit', '1000');
      url.searchParams.set('f', 'json');
      const page = await getJson(url).catch(() => null);
      if (page) this._features.set(layer.id, page.features ?? []);
    }
  }

  render() {
    const { active, layers = [] } = this.state;
    this.banner.hidden = !active;
    this.element.hidden = !active;
    if (!active) return;
    const open = layers.reduce((n, layer) => n + layer.open_count, 0);
    this.banner.replaceChildren(
      h('strong', {}, t('disasterMode')), ' ', t('disasterOpen', { n: open }),
      h('button', { type: 'button', className: 'tg-button tg-disaster-show', onClick: () => this.options.onActivate?.() }, t('disasterList')),
    );
    this.element.replaceChildren(...layers.flatMap((layer) => this._list(layer)));
  }

  _list(layer) {
    const def = this.options.config.layers[layer.id];
    if (!def) return [];
    const features = [...(this._features.get(layer.id) ?? [])];
    const status = (f) => f.properties?.[layer.field];
    const shown = features.filter((f) => layer.open.includes(status(f)))
      .sort((a, b) => statusRank(layer.open, status(a)) - statusRank(layer.open, status(b))
        || String(a.properties?.[def.title_field] ?? '').localeCompare(String(b.properties?.[def.title_field] ?? ''), 'ja'));
    return [
      h('h2', { className: 'tg-disaster-title' }, t('disasterListTitle', { name: pick(def.title) })),
      h('ul', { className: 'tg-disaster-items', 'data-layer': layer.id }, shown.map((f) => this._item(def, layer, f))),
      h('p', { className: 'tg-note' }, t('disasterOthers', { n: features.length - shown.length })),
    ];
  }

  _item(def, layer, feature) {
    const props = feature.properties ?? {};
    const [lon, lat] = feature.geometry?.coordinates ?? [];
    const updated = props.updated_at ? new Date(props.updated_at) : null;
    return h('li', { 'data-id': String(feature.id), 'data-status': props[layer.field] }, [
      statusBadge(def, props[layer.field]),
      lat != null
        ? h('button', { type: 'button', className: 'tg-link-button', onClick: () => this.options.onShow({ lat, lng: lon }) }, String(props[def.title_field] ?? feature.id))
        : String(props[def.title_field] ?? feature.id),
      props.crowding ? h('span', { className: 'tg-disaster-crowding' }, ` ${props.crowding}`) : null,
      updated && !Number.isNaN(updated.getTime())
        ? h('span', { className: 'tg-disaster-updated' }, t('updatedAt', { time: updated.toLocaleString(locale(), { dateStyle: 'short', timeStyle: 'short' }) }))
        : null,
    ]);
  }
}

export function liveWatcher(url, options) {
  return new LiveWatcher(url, options);
}
