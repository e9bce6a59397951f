// The search box: an ARIA 1.2 combobox (input + listbox) with suggestions from the server's
// /search as the user types (debounced, stale requests aborted). Up/Down move, Enter picks,
// Escape closes (and clears when already closed); a pointer tap picks too. Picking fires
// options.onPick(result) with {kind, name, lat, lon, layer, inside}.
import { Util } from '../leaflet.js';
import { pick, t } from '../i18n.js';
import { h } from '../util/index.js';

const KIND_LABEL = { place: 'kindPlace', facility: 'kindFacility', coordinate: 'kindCoordinate' };

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
    const form = h('form', {
      role: 'search', className: 'tg-search',
      onSubmit: (event) => { event.preventDefault(); this._submit(); },
    }, [this._label, this._input, this._button, this._list, this._status]);
    this.relabel();
    return form;
  }

  /** Write the labels in the current language. */
  relabel() {
    this._label.textContent = t('searchLabel');
    this._input.placeholder = t('searchPlaceholder');
    this._button.textContent = t('searchButton');
    if (this._results.length) this._render();
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
      this._show([]);
      return null;
    }
    const controller = new AbortController();
    this._controller = controller;
    try {
      const results = await this.options.search(query, { signal: controller.signal });
      if (controller !== this._controller) return null;
      this._show(results);
      return results;
    } catch (error) {
      if (error.name !== 'AbortError') this._status.textContent = t('searchError');
      return null;
    }
  }

  _show(results) {
    this._results = results;
    this._active = -1;
    this._render();
    const query = this._input.value.trim();
    this._status.textContent = !query ? '' : results.length ? t('searchCount', { n: results.length }) : t('searchNone');
  }

  _render() {
    const options = this._results.map((result, index) => {
      const detail = result.kind === 'coordinate'
        ? (result.inside ? t('kindCoordinate') : `${t('kindCoordinate')}（${t('outsideCity')}）`)
        : `${t(KIND_LABEL[result.kind] ?? 'kindFacility')}・${pick(result.layer_title)}`;
      return h('li', {
        id: `${this._id}-option-${index}`, role: 'option', className: 'tg-search-option',
        'aria-selected': String(index === this._active), 'data-kind': result.kind,
        onMousedown: (event) => event.preventDefault(), // keep the focus in the input
        onClick: () => this._pick(index),
      }, [h('span', { className: 'tg-search-name' }, result.name), h('span', { className: 'tg-search-detail' }, detail)]);
    });
    this._list.replaceChildren(...options);
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
      if (!this._list.hidden) this._close();
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
    this._active = -1;
    this._input.setAttribute('aria-expanded', 'false');
    this._input.removeAttribute('aria-activedescendant');
  }
}

export function searchBox(options) {
  return new SearchBox(options);
}
