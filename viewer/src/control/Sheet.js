// The panel that holds the layer list and the point report, as tabs. On a wide screen it is a card
// beside the map that can be closed; on a narrow one (phones) it is a bottom sheet with three
// heights (peek, half, full), changed by tapping or dragging the handle (pointer events: no hover,
// works with touch, pen and mouse) or with Enter/Space on it. The map keeps the space above the
// sheet, so its credits and scale stay visible.
import { Util } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { h } from '../util/index.js';

const STATES = ['peek', 'half', 'full'];

export class Sheet {
  /**
   * @param {HTMLElement} element the <aside> to fill
   * @param {{tabs: Array<{id, label: () => string, content: HTMLElement}>, narrowQuery?: string,
   *   onResize?: () => void}} options onResize: called when the space left to the map changed
   */
  constructor(element, options) {
    this.options = { narrowQuery: '(max-width: 600px)', onResize: () => {}, ...options };
    this.element = element;
    this._id = Util.stamp(this);
    this._media = window.matchMedia(this.options.narrowQuery);
    this._build();
    this._media.addEventListener?.('change', () => this._applyLayout());
    this._applyLayout({ quiet: true }); // the first height is in the CSS: nothing to resize yet
  }

  get narrow() {
    return this._media.matches;
  }

  _build() {
    const bodyId = `tg-sheet-body-${this._id}`;
    this._handle = h('button', {
      type: 'button', className: 'tg-sheet-handle', 'aria-controls': bodyId,
      onClick: () => { if (!this._dragged) this.cycle(); },
      onPointerdown: (event) => this._dragStart(event),
    }, [h('span', { className: 'tg-grip', 'aria-hidden': 'true' }), h('span', { className: 'tg-sheet-handle-text' })]);
    this._tabs = this.options.tabs.map((tab) => {
      const button = h('button', {
        type: 'button', role: 'tab', id: `tg-tab-${tab.id}`, className: 'tg-tab', 'aria-controls': `tg-tabpanel-${tab.id}`,
        onClick: () => this.select(tab.id, { expand: true }),
        onKeydown: (event) => this._tabKey(event),
      });
      const panel = h('section', {
        role: 'tabpanel', id: `tg-tabpanel-${tab.id}`, className: 'tg-tabpanel', 'aria-labelledby': button.id,
        tabindex: '-1',
      }, tab.content);
      return { ...tab, button, panel };
    });
    this._body = h('div', { className: 'tg-sheet-body', id: bodyId }, this._tabs.map((tab) => tab.panel));
    this.element.classList.add('tg-sheet');
    this.element.replaceChildren(
      this._handle,
      h('div', { role: 'tablist', className: 'tg-tabs' }, this._tabs.map((tab) => tab.button)),
      this._body,
    );
    this.select(this._tabs[0].id);
    this.relabel();
  }

  /** Write the labels in the current language. */
  relabel() {
    for (const tab of this._tabs) tab.button.textContent = tab.label();
    this.element.setAttribute('aria-label', this._tabs.map((tab) => tab.label()).join('・'));
    this._updateHandle();
  }

  /** Show tab `id`; with expand, make sure the body is visible (peek -> half). */
  select(id, { expand = false } = {}) {
    for (const tab of this._tabs) {
      const on = tab.id === id;
      tab.button.setAttribute('aria-selected', String(on));
      tab.button.tabIndex = on ? 0 : -1;
      tab.panel.hidden = !on;
    }
    this.selected = id;
    if (expand && !this.isOpen()) this.setState(this.narrow ? 'half' : 'open');
  }

  isOpen() {
    return this.state !== 'peek' && this.state !== 'closed';
  }

  /** peek | half | full on phones, open | closed on wide screens. */
  setState(state, { quiet = false } = {}) {
    this.state = state;
    this.element.dataset.state = state;
    this.element.style.height = '';
    this._body.hidden = state === 'peek' || state === 'closed';
    this._updateHandle();
    if (!quiet) this._resized();
  }

  /** Tap on the handle: the next height (phones), open/closed (wide screens). */
  cycle() {
    if (!this.narrow) this.setState(this.isOpen() ? 'closed' : 'open');
    else this.setState(STATES[(STATES.indexOf(this.state) + 1) % STATES.length]);
  }

  _applyLayout({ quiet = false } = {}) {
    this.element.dataset.layout = this.narrow ? 'sheet' : 'card';
    this.setState(this.narrow ? 'peek' : 'open', { quiet });
  }

  _updateHandle() {
    const open = this.isOpen();
    this._handle.setAttribute('aria-expanded', String(open));
    const label = t(open ? 'hidePanel' : 'showPanel');
    this._handle.setAttribute('aria-label', this.narrow ? `${t('sheetHandle')}（${label}）` : label);
    this._handle.title = label;
    this._handle.lastChild.textContent = this.narrow ? '' : label;
  }

  _resized() {
    // After the CSS height transition (or at once without one), the map gets the space left.
    clearTimeout(this._resizeTimer);
    this._resizeTimer = setTimeout(() => this.options.onResize(), 220);
  }

  _tabKey(event) {
    const index = this._tabs.findIndex((tab) => tab.button === event.currentTarget);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = this._tabs[(index + step + this._tabs.length) % this._tabs.length];
    this.select(next.id);
    next.button.focus();
  }

  _dragStart(event) {
    if (!this.narrow || event.button > 0) return;
    const startY = event.clientY;
    const startHeight = this.element.getBoundingClientRect().height;
    this._dragged = false;
    let height = startHeight;
    const move = (e) => {
      const dy = startY - e.clientY;
      if (Math.abs(dy) > 6) this._dragged = true;
      if (!this._dragged) return;
      this._body.hidden = false;
      this.element.classList.add('tg-dragging');
      height = Math.max(48, Math.min(window.innerHeight * 0.92, startHeight + dy));
      this.element.style.height = `${height}px`;
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', up);
      this.element.classList.remove('tg-dragging');
      if (this._dragged) {
        const ratio = height / window.innerHeight;
        this.setState(ratio < 0.25 ? 'peek' : ratio < 0.7 ? 'half' : 'full');
        setTimeout(() => { this._dragged = false; }, 0);
      }
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', up);
  }
}

export function sheet(element, options) {
  return new Sheet(element, options);
}
