// The language menu of the header: a button (a globe and the current language's own name) that
// opens a list of the UI languages, each written in itself and marked with its `lang`. A
// disclosure, not an ARIA menu: Tab moves through the choices, Escape or a tap elsewhere closes.
import { getLanguage, LANGUAGES, setLanguage, t } from '../i18n/index.js';
import { h } from '../util/index.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function globe() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'tg-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 0c2.5 2.4 3.6 5.4 3.6 9s-1.1 6.6-3.6 9m0-18C9.5 5.4 8.4 8.4 8.4 12s1.1 6.6 3.6 9M3.5 9h17M3.5 15h17');
  svg.append(path);
  return svg;
}

export class LanguageMenu {
  /** @param {{onChange?(code): void}} options onChange: after the user picked a language */
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this._current = h('span', { className: 'tg-lang-current' });
    this._button = h('button', {
      type: 'button', className: 'tg-button tg-lang', 'aria-expanded': 'false', 'aria-controls': 'tg-lang-list',
      onClick: () => this.toggle(),
    }, [globe(), this._current]);
    this._options = LANGUAGES.map(({ code, name }) => h('li', {}, h('button', {
      type: 'button', className: 'tg-lang-option', lang: code, 'data-lang': code,
      onClick: () => this._choose(code),
    }, name)));
    this._list = h('ul', { className: 'tg-lang-list', id: 'tg-lang-list', hidden: true }, this._options);
    this.element = h('div', {
      className: 'tg-lang-menu',
      onKeydown: (event) => { if (event.key === 'Escape' && !this._list.hidden) { this.close(); this._button.focus(); } },
      onFocusout: (event) => { if (!this.element.contains(event.relatedTarget)) this.close(); },
    }, [this._button, this._list]);
    document.addEventListener('pointerdown', (event) => { if (!this.element.contains(event.target)) this.close(); });
    this.relabel();
  }

  toggle() {
    if (this._list.hidden) this.open();
    else this.close();
  }

  open() {
    this._list.hidden = false;
    this._button.setAttribute('aria-expanded', 'true');
    this._list.querySelector('[aria-current="true"]')?.focus();
  }

  close() {
    this._list.hidden = true;
    this._button.setAttribute('aria-expanded', 'false');
  }

  async _choose(code) {
    this.close();
    this._button.focus();
    if (await setLanguage(code)) this.onChange(code);
  }

  /** Write the labels in the current language. */
  relabel() {
    const code = getLanguage();
    const current = LANGUAGES.find((entry) => entry.code === code);
    this._current.textContent = current.name;
    this._button.setAttribute('aria-label', `${t('languageMenuLabel')}: ${current.name}`);
    this._button.title = t('languageMenuLabel');
    for (const item of this._options) {
      const option = item.firstChild;
      if (option.dataset.lang === code) option.setAttribute('aria-current', 'true');
      else option.removeAttribute('aria-current');
    }
  }
}

export function languageMenu(options) {
  return new LanguageMenu(options);
}
