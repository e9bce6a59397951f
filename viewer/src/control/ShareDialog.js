// 「共有」: a map button opening a dialog with the link to this view (the permalink: view, layers,
// language, point, base map), a button to copy it, the phone's own share sheet where there is one
// (navigator.share), and the link as a QR code to read with another phone (tool/qr.js, loaded
// when the dialog first opens).
import { Control } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { fill, h } from '../util/index.js';
import { ICONS, mapButton } from './mapButton.js';
import { loadTool } from '../tool/index.js';

export const ShareDialog = Control.extend({
  options: {
    position: 'topleft',
    // The link to share (called when the dialog opens): the page's URL with its current hash.
    link: () => window.location.href,
  },

  onAdd() {
    const { container, button } = mapButton({ className: 'tg-share-button', iconPath: ICONS.share, onClick: () => this.open() });
    this._button = button;
    this._dialog = h('dialog', { className: 'tg-dialog tg-share', 'aria-labelledby': 'tg-share-title' });
    this._dialog.addEventListener('close', () => this._button.focus());
    document.body.append(this._dialog);
    this.relabel();
    return container;
  },

  onRemove() {
    this._dialog.remove();
  },

  async open() {
    const link = this.options.link();
    this._link = link;
    this._render(link, null);
    showModal(this._dialog);
    this._dialog.querySelector('input')?.select();
    const code = await qrCode(link, t('shareQr'));
    if (this._link === link) this._dialog.querySelector('.tg-share-qr')?.replaceChildren(code);
  },

  close() {
    closeModal(this._dialog);
  },

  _render(link, code) {
    const { row, status } = copyableLink(link, 'tg-share-link-label', { copyClass: 'tg-primary' });
    const native = typeof navigator.share === 'function' && h('button', {
      type: 'button', className: 'tg-button tg-share-native',
      onClick: () => navigator.share({ title: document.title, url: link }).catch(() => {}),
    }, t('shareVia'));
    fill(this._dialog, [
      h('h2', { id: 'tg-share-title' }, t('shareTitle')),
      h('p', { id: 'tg-share-link-label', className: 'tg-share-label' }, t('shareLink')),
      row,
      status,
      h('div', { className: 'tg-share-qr' }, code ?? h('p', {}, t('loading'))),
      h('div', { className: 'tg-dialog-actions' }, [
        native,
        h('button', { type: 'button', className: 'tg-button tg-share-close', onClick: () => this.close() }, t('close')),
      ]),
    ]);
  },

  relabel() {
    if (!this._button) return;
    this._button.setAttribute('aria-label', t('share'));
    this._button.title = t('share');
  },
});

/** Open a <dialog> as modal (or just open, where showModal is missing). */
export function showModal(dialog) {
  if (typeof dialog.showModal === 'function') dialog.showModal();
  else dialog.setAttribute('open', '');
}

export function closeModal(dialog) {
  dialog.close?.();
  dialog.removeAttribute('open');
}

/** The QR code of `text` (tool/qr.js, loaded when first needed), or a line saying it failed. */
export async function qrCode(text, label) {
  try {
    const { qrSvg } = await loadTool('qr');
    return qrSvg(text, { label });
  } catch (error) {
    console.error('viewer: the QR code could not be made', error);
    return h('p', { className: 'tg-error' }, t('shareError'));
  }
}

/** Copy a read-only input's text to the clipboard and say so in `status` (also the subscribe dialog's). */
/**
 * A read-only link with its copy button in one row, and the line that says whether it was
 * copied: `{row, status}` (`labelledBy`: the id of the text naming the link).
 */
export function copyableLink(value, labelledBy, { inputClass = '', copyClass = '' } = {}) {
  const input = h('input', { type: 'url', className: ['tg-share-link', inputClass].filter(Boolean).join(' '), readonly: true, value,
    'aria-labelledby': labelledBy, onFocus: (event) => event.target.select() });
  const status = h('p', { className: 'tg-share-status', role: 'status' });
  const copy = h('button', { type: 'button', className: ['tg-button', copyClass, 'tg-share-copy'].filter(Boolean).join(' '),
    onClick: () => copyInput(input, status) }, t('copy'));
  return { row: h('div', { className: 'tg-share-row' }, [input, copy]), status };
}

async function copyInput(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = t('copied');
  } catch {
    input.select(); // clipboard refused (no permission, not a secure page): the user copies
    status.textContent = t('copyFailed');
  }
}

export function shareDialog(options) {
  return new ShareDialog(options);
}
