// 「この場所の変更を受け取る」 (issue 16): from the point report, a dialog with the Atom feed of the
// changes around the point (copyable, and as a QR code for a phone's feed reader: tool/qr.js) and
// an e-mail subscription form. The server mails a confirmation link (double opt-in); the form
// only says it was sent. Keyboard and screen readers: a modal <dialog> (Esc closes it, focus
// returns to the button that opened it), labelled fields, results announced in a status line.
import { getLanguage, t } from '../i18n/index.js';
import { h, fill } from '../util/index.js';
import { closeModal, copyableLink, qrCode, showModal } from './ShareDialog.js';

export const RADIUS_M = 500; // the feeds' default circle (server/feeds/params.py)

/** The language the server's mails and feeds are in for the UI language (they know ja and en). */
export function mailLanguage(code = getLanguage()) {
  return code === 'ja' || code === 'ja-x-easy' ? 'ja' : 'en';
}

/** The Atom feed of the changes within RADIUS_M of a point. */
export function areaFeedUrl(latlng, lang = mailLanguage(), baseUrl = document.baseURI) {
  const url = new URL('feeds/changes.atom', baseUrl);
  url.search = new URLSearchParams({ lat: latlng.lat.toFixed(6), lon: latlng.lng.toFixed(6), radius: String(RADIUS_M), lang }).toString();
  return url.href;
}

export class SubscribeDialog {
  constructor({ baseUrl = document.baseURI } = {}) {
    this.baseUrl = baseUrl;
    this.dialog = h('dialog', { className: 'tg-dialog tg-subscribe', 'aria-labelledby': 'tg-subscribe-title' });
    this.dialog.addEventListener('close', () => this._opener?.focus());
    document.body.append(this.dialog);
  }

  /** Open for a point; `opener` gets the focus back when the dialog closes. */
  async open(latlng, opener) {
    this._opener = opener;
    const feed = areaFeedUrl(latlng, mailLanguage(), this.baseUrl);
    this._feed = feed;
    this._render(latlng, feed);
    showModal(this.dialog);
    const code = await qrCode(feed, t('subscribeQr'));
    if (this._feed === feed) this.dialog.querySelector('.tg-share-qr')?.replaceChildren(code);
  }

  close() {
    closeModal(this.dialog);
  }

  _render(latlng, feed) {
    const { row, status } = copyableLink(feed, 'tg-subscribe-feed-label', { inputClass: 'tg-subscribe-feed' });
    fill(this.dialog, [
      h('h2', { id: 'tg-subscribe-title' }, t('subscribe')),
      h('p', {}, t('subscribeIntro', { radius: RADIUS_M })),
      h('p', { id: 'tg-subscribe-feed-label', className: 'tg-share-label' }, t('subscribeFeed')),
      row,
      status,
      h('div', { className: 'tg-share-qr' }, h('p', {}, t('loading'))),
      this._form(latlng),
      h('div', { className: 'tg-dialog-actions' }, [
        h('button', { type: 'button', className: 'tg-button tg-subscribe-close', onClick: () => this.close() }, t('close')),
      ]),
    ]);
  }

  _form(latlng) {
    const email = h('input', { type: 'email', id: 'tg-subscribe-email', className: 'tg-share-link', required: true,
      maxLength: 254, autocomplete: 'email', inputMode: 'email', 'aria-describedby': 'tg-subscribe-note' });
    const status = h('p', { className: 'tg-share-status tg-subscribe-status', role: 'status' });
    const send = h('button', { type: 'submit', className: 'tg-button tg-primary tg-subscribe-send' }, t('subscribeSend'));
    const form = h('form', { className: 'tg-subscribe-form' }, [
      h('label', { for: 'tg-subscribe-email', className: 'tg-share-label' }, t('subscribeEmail')),
      h('div', { className: 'tg-share-row' }, [email, send]),
      h('p', { id: 'tg-subscribe-note', className: 'tg-note' }, t('subscribeNote')),
      status,
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this._send(latlng, email.value, send, status);
    });
    return form;
  }

  async _send(latlng, email, button, status) {
    button.disabled = true;
    status.textContent = t('loading');
    const body = { email, lat: latlng.lat.toFixed(6), lon: latlng.lng.toFixed(6), radius: String(RADIUS_M), lang: mailLanguage() };
    try {
      const response = await fetch(new URL('subscriptions', this.baseUrl), {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      // The server's own words for a refusal (which field, what is wrong), ours for success.
      status.textContent = response.ok ? t('subscribeSent') : `${t('subscribeError')}: ${answer.description ?? response.status}`;
    } catch {
      status.textContent = t('subscribeError');
    } finally {
      button.disabled = false;
    }
  }
}

export function subscribeDialog(options) {
  return new SubscribeDialog(options);
}
