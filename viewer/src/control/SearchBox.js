// The search box: an ARIA 1.2 combobox (input + listbox) with suggestions from the server's
// /search as the user types (debounced, stale requests aborted). Up/Down move, Enter picks,
// Escape closes (and clears when already closed); a pointer tap picks too. Picking fires
// options.onPick(result) with {kind, name, lat, lon, layer, inside}. When nothing matches, a
// visible box says so, with the server's other spellings to try ("suggestions") when it has any.
import { Util } from '../leaflet.js';
import { pick, t } from '../i18n/index.js';
import { fill, h } from '../util/index.js';

const KIND_LABEL = { place: 'kindPlace', facility: 'kindFacility', coordinate: 'kindCoordinate' };
// How well the results match (the answer's match_level): a note above the list when approximate.
const LEVEL_NOTE = { fuzzy: 'searchApproximate', town: 'searchTownLevel' };

/** The line under a suggestion's name: its kind and layer, the layer alone when it names the kind. */
export function resultDetail(result) {
  if (result.kind === 'coordinate') {
    return result.inside ? t('kindCoordinate') : `${t('kindCoordinate')}（${t('outsideCity')}）`;
  }
  const kind = t(KIND_LABEL[result.kind] ?? 'kindFacility');
  const layer = pick(result.layer_title);
  if (!layer) return kind;
  // 「町丁目・大字（代表点）」 already says 町丁目・大字: not 「町丁目・大字・町丁目・大字（代表点）」.
  return layer.includes(kind) || kind.includes(layer) ? layer : `${kind}・${layer}`;
}

export class SearchBox {
  /**
   * @param {{search(query, {signal}): Promise<object[]>, onPick(result): void, debounce?: number,
   *   minLength?: number}} options search: the suggestion source (api/searchPlaces)
   */
  constructor(options) {
    this.options = { debounce: 150, minLength: 1, ...options };
    this._id = `tg-search-${Util.stamp(this)}`;
    this._results = [];
    this._active = -1;
    this._controller = null;
    this._timer = null;
    this.element = this._build();
  }

  _build() {
    const listId = `${this._id}-list`;
    this._input = h('input', {
      id: `${this._id}-input`, type: 'search', className: 'tg-search-input', role: 'combobox',
      autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search',
      'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
      onInput: () => this._schedule(), onKeydown: (event) => this._onKey(event),
      onBlur: () => setTimeout(() => { if (!this.element.contains(document.activeElement)) this._close(); }, 150),
    });
    this._label = h('label', { for: this._input.id, className: 'tg-visually-hidden' });
    this._list = h('ul', { id: listId, role: 'listbox', className: 'tg-search-list', hidden: true });
    this._status = h('p', { className: 'tg-visually-hidden', role: 'status', 'aria-live': 'polite' });
    this._button = h('button', { type: 'submit', className: 'tg-search-button' });
    // Not found (visible; the status above says it to screen readers), or how close the list is.
    this._empty = h('div', { className: 'tg-search-empty', hidden: true });
    this._note = h('p', { className: 'tg-search-note', hidden: true });
    const form = h('form', {
      role: 'search', className: 'tg-search',
      onSubmit: (event) => { event.preventDefault(); this._submit(); },
    }, [this._label, this._input, this._button,
      h('div', { className: 'tg-search-popup' }, [this._note, this._list, this._empty]), this._status]);
    this.relabel();
    return form;
  }

  /** Write the labels in the current language. */
  relabel() {
    this._label.textContent = t('searchLabel');
    this._input.placeholder = t('searchPlaceholder');
    this._button.textContent = t('searchButton');
    if (this._results.length) this._render();
    if (!this._empty.hidden) this._renderEmpty();
  }

  /** Close the suggestions and the not-found box (the map moved, e.g. by a link). */
  close() {
    this._close();
  }

  focus() {
    this._input.focus();
  }

  _schedule() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._suggest(), this.options.debounce);
  }

  async _suggest() {
    const query = this._input.value.trim();
    this._controller?.abort();
    if (query.length < this.options.minLength) {
      this._show({ results: [] });
      return null;
    }
    const controller = new AbortController();
    this._controller = controller;
    try {
      const answer = await this.options.search(query, { signal: controller.signal });
      if (controller !== this._controller) return null;
      this._show(answer, query);
      return answer.results;
    } catch (error) {
      if (error.name !== 'AbortError') this._status.textContent = t('searchError');
      return null;
    }
  }

  _show({ results, suggestions = [], matchLevel = null }, query = '') {
    this._results = results;
    this._suggestions = suggestions;
    this._query = query;
    this._matchLevel = matchLevel;
    this._active = -1;
    this._render();
    this._status.textContent = !query ? '' : results.length ? t('searchCount', { n: results.length }) : t('searchNone', { q: query });
    this._empty.hidden = !query || results.length > 0;
    if (!this._empty.hidden) this._renderEmpty();
  }

  _renderEmpty() {
    const tries = (this._suggestions ?? []).slice(0, 5);
    fill(this._empty, [
      h('p', { className: 'tg-search-none' }, t('searchNone', { q: this._query })),
      tries.length > 0 && h('p', { className: 'tg-search-tries' }, [
        t('searchDidYouMean'), ' ',
        ...tries.map((text) => h('button', {
          type: 'button', className: 'tg-link-button tg-search-try', onMousedown: (event) => event.preventDefault(),
          onClick: () => { this._input.value = text; this._input.focus(); this._suggest(); },
        }, text)),
      ]),
      h('p', { className: 'tg-search-hint' }, t('searchNoneHint')),
    ]);
  }

  _render() {
    const note = this._results.length ? LEVEL_NOTE[this._matchLevel] : null;
    this._note.hidden = !note;
    this._note.textContent = note ? t(note) : '';
    const options = this._results.map((result, index) => {
      const detail = resultDetail(result);
      return h('li', {
        id: `${this._id}-option-${index}`, role: 'option', className: 'tg-search-option',
        'aria-selected': String(index === this._active), 'data-kind': result.kind,
        onMousedown: (event) => event.preventDefault(), // keep the focus in the input
        onClick: () => this._pick(index),
      }, [h('span', { className: 'tg-search-name' }, result.name), h('span', { className: 'tg-search-detail' }, detail)]);
    });
    this._list.replaceChildren(...options);
    // The query these options answer: while typing, an earlier keystroke's answer is shown
    // until the last one's arrives (for tests and for anyone reading the page's state).
    this._list.dataset.query = this._query ?? '';
    const open = options.length > 0;
    this._list.hidden = !open;
    this._input.setAttribute('aria-expanded', String(open));
    if (this._active >= 0) this._input.setAttribute('aria-activedescendant', options[this._active].id);
    else this._input.removeAttribute('aria-activedescendant');
  }

  _move(step) {
    if (!this._results.length) return;
    const count = this._results.length;
    this._active = this._active < 0 ? (step > 0 ? 0 : count - 1) : (this._active + step + count) % count;
    this._render();
    this._list.children[this._active]?.scrollIntoView?.({ block: 'nearest' });
  }

  _onKey(event) {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (this._list.hidden && this._results.length) this._render();
      this._move(1);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      this._move(-1);
    } else if (event.key === 'Escape') {
      if (!this._list.hidden || !this._empty.hidden) this._close();
      else this._input.value = '';
    }
  }

  async _submit() {
    if (this._active >= 0) {
      this._pick(this._active);
      return;
    }
    // Enter without a highlighted suggestion: the best match of what is typed now.
    clearTimeout(this._timer);
    const results = await this._suggest();
    if (results?.length) this._pick(0);
  }

  _pick(index) {
    const result = this._results[index];
    if (!result) return;
    this._input.value = result.name;
    this._close();
    this.options.onPick(result);
  }

  _close() {
    this._list.hidden = true;
    this._empty.hidden = true;
    this._note.hidden = true;
    this._active = -1;
    this._input.setAttribute('aria-expanded', 'false');
    this._input.removeAttribute('aria-activedescendant');
  }
}

export function searchBox(options) {
  return new SearchBox(options);
}
