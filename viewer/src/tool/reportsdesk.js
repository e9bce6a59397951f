// Staff: 「通報の対応」 (issue 17): the residents' reports of the member's departments, filtered by
// status, category and date, shown on the map too; each handled in place: accept (the public
// text, the photo's approval), reject with a reason, merge into a duplicate, status 受付/対応中/完了
// with a public reply. Every action is a JSON POST to /internal/reports/{id}/... with the
// session's CSRF token; the server checks the department again (a 403 says whose it is).
// Built apart like the other tools; the app's helpers are passed in (one i18n state).
import { jsonAnswer } from './answer.js';


const STATUSES = ['受付待ち', '受付', '対応中', '完了', '却下'];
const PUBLIC = ['受付', '対応中', '完了'];

let h;
let t;

/** The desk over the app's helpers: {map, t, h, session, circleMarker, onMessage, button}. */
export function reportsDesk(deps) {
  return new ReportsDesk(deps);
}

class ReportsDesk {
  constructor(deps) {
    ({ h, t } = deps);
    this.deps = deps;
    this.dialog = h('dialog', { className: 'tg-dialog tg-reports-desk', 'aria-labelledby': 'tg-desk-title' });
    this.dialog.addEventListener('close', () => deps.button?.focus());
    document.body.append(this.dialog);
    this.filters = { status: '受付待ち', category: '', since: '' };
    this.markers = [];
  }

  _url(path, params = {}) {
    const url = new URL(`internal/reports${path}`, document.baseURI);
    for (const [key, value] of Object.entries(params)) if (value) url.searchParams.set(key, value);
    return url;
  }

  async open() {
    if (!this.categories) {
      this.categories = await fetch(new URL('open311/v2/services.json', document.baseURI)).then(jsonAnswer).catch(() => []);
    }
    await this.load();
    if (typeof this.dialog.showModal === 'function' && !this.dialog.open) this.dialog.showModal();
    else this.dialog.setAttribute('open', '');
  }

  async load(notice = '') {
    let reports = [];
    let error = '';
    try {
      ({ reports } = await fetch(this._url('', this.filters), { cache: 'no-store' }).then(jsonAnswer));
    } catch (failure) {
      error = failure.description || t('reportError');
    }
    this._render(reports, notice, error);
    this._mark(reports);
  }

  _mark(reports) {
    for (const old of this.markers) old.remove();
    this.markers = reports.map((r) => this.deps.circleMarker([r.lat, r.lon], { radius: 8, className: 'tg-desk-marker', color: '#8250df' }).addTo(this.deps.map));
  }

  _render(reports, notice, error) {
    const select = (name, options, value) => h('select', { name, className: `tg-desk-${name}` },
      options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
    const status = select('status', [['', t('deskAll')], ...STATUSES.map((s) => [s, s])], this.filters.status);
    const category = select('category', [['', t('deskAll')], ...this.categories.map((c) => [c.service_code, c.service_name])], this.filters.category);
    const since = h('input', { type: 'date', name: 'since', value: this.filters.since });
    const filters = h('form', { className: 'tg-desk-filters', onSubmit: (event) => {
      event.preventDefault();
      this.filters = { status: status.value, category: category.value, since: since.value };
      this.load();
    } }, [
      h('label', {}, [t('deskStatus'), status]), h('label', {}, [t('reportCategory'), category]),
      h('label', {}, [t('deskSince'), since]),
      h('button', { type: 'submit', className: 'tg-button tg-desk-show' }, t('deskShow')),
    ]);
    const items = reports.length ? reports.map((r) => this._item(r)) : [h('li', {}, t('deskNone'))];
    this.dialog.replaceChildren(
      h('h2', { id: 'tg-desk-title' }, t('deskTitle')), filters,
      h('p', { role: 'status', className: 'tg-desk-notice' }, notice), h('p', { role: 'alert', className: 'tg-error' }, error),
      h('ul', { className: 'tg-desk-list' }, items),
      h('div', { className: 'tg-dialog-actions' }, h('button', { type: 'button', className: 'tg-button', onClick: () => this.close() }, t('close'))),
    );
  }

  _item(r) {
    const name = this.categories.find((c) => c.service_code === r.category)?.service_name ?? r.category;
    const personal = r.personal ?? {};
    return h('li', { className: 'tg-desk-report', 'data-id': r.id, 'data-status': r.status }, [
      h('h3', {}, `${name} · ${r.status} · ${r.created_at.slice(0, 10)}`),
      h('p', { className: 'tg-desk-original' }, personal.original_text ?? t('deskForgotten')),
      personal.email ? h('p', { className: 'tg-note' }, personal.email) : null,
      r.photo_url ? h('p', {}, h('a', { href: r.photo_url, target: '_blank', rel: 'noopener' }, t('reportPhoto'))) : null,
      r.public_text ? h('p', {}, `${t('deskPublicText')}: ${r.public_text}`) : null,
      r.reason ? h('p', {}, `${t('deskReason')}: ${r.reason}`) : null,
      h('button', { type: 'button', className: 'tg-link-button', onClick: () => this._show(r) }, t('deskOnMap')),
      ...this._actions(r),
    ]);
  }

  _show(r) {
    this.close();
    this.deps.map.setView([r.lat, r.lon], 18);
  }

  _actions(r) {
    if (r.status === '受付待ち') {
      const text = h('textarea', { name: 'text', rows: '2', maxlength: '1000', className: 'tg-desk-text' });
      text.value = r.personal?.original_text ?? '';
      const photo = h('input', { type: 'checkbox', name: 'photo_approved', className: 'tg-desk-photo' });
      const reason = h('input', { type: 'text', name: 'reason', maxlength: '1000', className: 'tg-desk-reason' });
      const into = h('input', { type: 'text', name: 'into', maxlength: '32', className: 'tg-desk-into' });
      return [
        this._form(r, 'accept', () => ({ text: text.value, photo_approved: photo.checked }), [
          h('label', { className: 'tg-field' }, [h('span', {}, t('deskPublicText')), text]),
          r.photo ? h('label', {}, [photo, t('deskApprovePhoto')]) : null,
        ], t('deskAccept')),
        this._form(r, 'reject', () => ({ reason: reason.value }), [h('label', { className: 'tg-field' }, [h('span', {}, t('deskReason')), reason])], t('deskReject')),
        this._form(r, 'merge', () => ({ into: into.value.trim() }), [h('label', { className: 'tg-field' }, [h('span', {}, t('deskInto')), into])], t('deskMerge')),
      ];
    }
    if (!PUBLIC.includes(r.status)) return [];
    const status = h('select', { name: 'status', className: 'tg-desk-new-status' }, PUBLIC.map((s) => h('option', { value: s, selected: s === r.status }, s)));
    const reply = h('textarea', { name: 'reply', rows: '2', maxlength: '1000', className: 'tg-desk-reply' });
    reply.value = r.reply ?? '';
    return [this._form(r, 'status', () => ({ status: status.value, reply: reply.value }), [
      h('label', { className: 'tg-field' }, [h('span', {}, t('deskStatus')), status]),
      h('label', { className: 'tg-field' }, [h('span', {}, t('deskReply')), reply]),
    ], t('save'))];
  }

  _form(r, action, body, fields, label) {
    const error = h('p', { role: 'alert', className: 'tg-error' });
    return h('form', { className: `tg-desk-action tg-desk-${action}`, onSubmit: async (event) => {
      event.preventDefault();
      try {
        await fetch(this._url(`/${encodeURIComponent(r.id)}/${action}`), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.deps.session.csrf_token ?? '' },
          body: JSON.stringify(body()),
        }).then(jsonAnswer);
        await this.load(t('deskDone'));
      } catch (failure) {
        error.textContent = failure.description || t('reportError');
      }
    } }, [...fields, error, h('button', { type: 'submit', className: 'tg-button tg-primary' }, label)]);
  }

  close() {
    this.dialog.close?.();
    this.dialog.removeAttribute('open');
  }
}
