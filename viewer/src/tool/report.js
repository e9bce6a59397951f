// 「困りごとを報告」 (issue 17): a resident reports a problem at a place, in steps, one dialog:
// place (tap the map, my location or the map centre) -> category -> text and optional photo ->
// confirm the place on the map -> send -> the status link. It posts to the same Open311 endpoint
// other apps use (/open311/v2/requests.json), with a proof of work the browser solves with
// WebCrypto (server/reports/challenge.py) and a honeypot field people never see. Loaded on the
// first press of the button (control/ReportButton.js), so the bundle does not carry it.
import { jsonAnswer } from './answer.js';

const OPEN311 = 'open311/v2/';
const BATCH = 64; // digests in flight at once while solving the challenge

/** Leading zero bits of a digest (ArrayBuffer). */
function zeroBits(buffer) {
  let count = 0;
  for (const byte of new Uint8Array(buffer)) {
    if (byte) return count + Math.clz32(byte) - 24;
    count += 8;
  }
  return count;
}

/** A nonce whose SHA-256 with the challenge has `bits` leading zero bits. */
export async function solveChallenge(challenge, bits) {
  const encoder = new TextEncoder();
  for (let start = 0; ; start += BATCH) {
    const tries = Array.from({ length: BATCH }, (_, i) => start + i);
    const digests = await Promise.all(tries.map((n) => crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${n}`))));
    const found = digests.findIndex((digest) => zeroBits(digest) >= bits);
    if (found >= 0) return String(tries[found]);
  }
}

/**
 * The flow over the app's own helpers (this module is built apart and must not carry a second
 * copy of the i18n state): {map, t, getLanguage, h, fill, marker, divIcon, onMessage, button}.
 */
export function reportFlow(deps) {
  return new ReportFlow(deps);
}

// The helpers, set once by the first flow (the app has one of each).
let h;
let fill;
let t;

class ReportFlow {
  constructor(deps) {
    ({ h, fill, t } = deps);
    this.deps = deps;
    this.options = deps;
    this._map = deps.map;
    this._dialog = h('dialog', { className: 'tg-dialog tg-report', 'aria-labelledby': 'tg-report-title' });
    this._dialog.addEventListener('close', () => deps.button?.focus());
    document.body.append(this._dialog);
    this._draft = {};
  }

  relabel() {
    if (this._dialog.open) this._render();
  }

  /** Whether the next map tap chooses the report's place. */
  isPicking() {
    return Boolean(this._picking);
  }

  /** The place tapped on the map while picking. */
  pick(latlng) {
    this._picking = false;
    this._setPlace(latlng);
    this._show('category');
  }

  start() {
    this._draft = {};
    this._receipt = null;
    this._show('place');
  }

  _show(step, error = '') {
    this._step = step;
    this._error = error;
    this._render();
    if (!this._dialog.open) {
      if (typeof this._dialog.showModal === 'function') this._dialog.showModal();
      else this._dialog.setAttribute('open', '');
    }
    this._dialog.querySelector('h2')?.focus();
  }

  _close() {
    this._dialog.close?.();
    this._dialog.removeAttribute('open');
  }

  _setPlace(latlng) {
    this._draft.place = latlng;
    const icon = this.deps.divIcon({ className: 'tg-report-marker', html: '', iconSize: [22, 22] });
    this._marker?.remove();
    this._marker = this.deps.marker(latlng, { icon, keyboard: false, interactive: false, alt: t('reportPlace') }).addTo(this._map);
  }

  _render() {
    const steps = { place: this._place, category: this._category, details: this._details, confirm: this._confirm, sent: this._sent };
    const title = h('h2', { id: 'tg-report-title', tabindex: '-1' }, t('reportTitle'));
    const error = h('p', { className: 'tg-error', role: 'alert' }, this._error);
    const cancel = h('button', { type: 'button', className: 'tg-button tg-report-cancel', onClick: () => this._close() },
      this._step === 'sent' ? t('close') : t('cancel'));
    fill(this._dialog, [title, h('p', { className: 'tg-report-step' }, t(`reportStep_${this._step}`)), ...steps[this._step].call(this), error,
      h('div', { className: 'tg-dialog-actions' }, cancel)]);
  }

  _place() {
    const use = (latlng) => { this._setPlace(latlng); this._show('category'); };
    const locate = () => navigator.geolocation?.getCurrentPosition(
      (position) => use({ lat: position.coords.latitude, lng: position.coords.longitude }),
      () => this._show('place', t('reportNoLocation')),
      { enableHighAccuracy: true, timeout: 10000 },
    );
    const tap = () => {
      this._picking = true;
      this._close();
      this.options.onMessage(t('reportTapMap'), { long: true });
    };
    return [h('div', { className: 'tg-report-choices' }, [
      h('button', { type: 'button', className: 'tg-button tg-report-tap', onClick: tap }, t('reportTap')),
      h('button', { type: 'button', className: 'tg-button tg-report-locate', onClick: locate }, t('reportLocate')),
      h('button', { type: 'button', className: 'tg-button tg-report-centre', onClick: () => use(this._map.getCenter()) }, t('reportCentre')),
    ])];
  }

  _category() {
    const list = h('fieldset', { className: 'tg-report-categories' }, h('legend', {}, t('reportCategory')));
    const form = h('form', { onSubmit: (event) => {
      event.preventDefault();
      const chosen = form.querySelector('input[name="service_code"]:checked');
      if (!chosen) return this._show('category', t('reportChooseCategory'));
      this._draft.category = { code: chosen.value, name: chosen.dataset.name };
      this._show('details');
    } }, [list, h('button', { type: 'submit', className: 'tg-button tg-primary tg-report-next' }, t('next'))]);
    fetch(new URL(`${OPEN311}services.json?lang=${encodeURIComponent(this.deps.getLanguage())}`, document.baseURI))
      .then(jsonAnswer)
      .then((services) => list.append(...services.map((s) => h('label', { className: 'tg-report-category' }, [
        h('input', { type: 'radio', name: 'service_code', value: s.service_code, 'data-name': s.service_name,
          checked: this._draft.category?.code === s.service_code }),
        h('span', {}, s.service_name), h('small', {}, s.description)]))))
      .catch((error) => this._show('place', error.description || t('reportError')));
    return [form];
  }

  _details() {
    const text = h('textarea', { name: 'description', required: true, maxlength: '2000', rows: '4', className: 'tg-report-text' });
    text.value = this._draft.text ?? '';
    const email = h('input', { type: 'email', name: 'email', maxlength: '254', autocomplete: 'email', value: this._draft.email ?? '' });
    const photo = h('input', { type: 'file', name: 'media', accept: 'image/jpeg,image/png,image/webp', className: 'tg-report-photo' });
    // The honeypot: hidden from people (and screen readers), filled in by form-filling robots.
    const trap = h('input', { type: 'text', name: 'website', tabindex: '-1', autocomplete: 'off', 'aria-hidden': 'true', className: 'tg-report-trap' });
    const form = h('form', { onSubmit: (event) => {
      event.preventDefault();
      if (!text.value.trim()) return this._show('details', t('reportNeedText'));
      Object.assign(this._draft, { text: text.value, email: email.value, photo: photo.files?.[0] ?? this._draft.photo, trap: trap.value });
      this._show('confirm');
    } }, [
      h('label', { className: 'tg-field' }, [h('span', {}, t('reportText')), text]),
      h('label', { className: 'tg-field' }, [h('span', {}, t('reportPhoto')), photo]),
      h('label', { className: 'tg-field' }, [h('span', {}, t('reportEmail')), email]),
      h('p', { className: 'tg-note' }, t('reportPrivacy')),
      trap,
      h('button', { type: 'submit', className: 'tg-button tg-primary tg-report-next' }, t('next')),
    ]);
    return [form];
  }

  _confirm() {
    const { place, category, text, photo } = this._draft;
    this._map.setView(place, Math.max(this._map.getZoom(), 17));
    const send = h('button', { type: 'button', className: 'tg-button tg-primary tg-report-send', onClick: () => this._send(send) }, t('reportSend'));
    return [
      h('dl', { className: 'tg-report-summary' }, [
        h('dt', {}, t('reportPlace')), h('dd', {}, `${place.lat.toFixed(5)}, ${place.lng.toFixed(5)}`),
        h('dt', {}, t('reportCategory')), h('dd', {}, category.name),
        h('dt', {}, t('reportText')), h('dd', {}, text),
        h('dt', {}, t('reportPhoto')), h('dd', {}, photo ? photo.name : t('reportNoPhoto')),
      ]),
      h('p', { className: 'tg-note' }, t('reportConfirmPlace')),
      h('div', { className: 'tg-report-choices' }, [
        send,
        h('button', { type: 'button', className: 'tg-button tg-report-move', onClick: () => this._show('place') }, t('reportChangePlace')),
      ]),
    ];
  }

  async _send(button) {
    button.disabled = true;
    button.textContent = t('reportSending');
    const { place, category, text, email, photo, trap } = this._draft;
    try {
      const given = await fetch(new URL(`${OPEN311}challenge.json`, document.baseURI), { cache: 'no-store' }).then(jsonAnswer);
      const form = new FormData();
      const fields = { service_code: category.code, lat: place.lat, long: place.lng, description: text, email, website: trap,
        challenge: given.challenge, nonce: await solveChallenge(given.challenge, given.bits) };
      for (const [key, value] of Object.entries(fields)) if (value != null && value !== '') form.append(key, String(value));
      if (photo) form.append('media', photo, 'photo');
      const [receipt] = await fetch(new URL(`${OPEN311}requests.json`, document.baseURI), { method: 'POST', body: form }).then(jsonAnswer);
      this._receipt = receipt;
      this._show('sent');
    } catch (error) {
      this._show('confirm', error.description || t('reportError'));
    }
  }

  _sent() {
    const { status_url: url, duplicates } = this._receipt;
    return [
      h('p', { role: 'status' }, t('reportSent')),
      h('p', {}, h('a', { href: url, className: 'tg-report-status-link', target: '_blank', rel: 'noopener' }, t('reportStatusLink'))),
      h('p', { className: 'tg-note' }, t('reportKeepLink')),
      duplicates?.length ? h('p', { className: 'tg-note tg-report-duplicates' }, t('reportDuplicates', { count: duplicates.length })) : null,
    ];
  }
}
