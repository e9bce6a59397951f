// Staff edit mode: a signed-in member of an editing department taps a feature of an editable layer
// (its popup, or the point report), gets a form with the fields they may change (ja/en), and saves
// a JSON merge patch with the feature's ETag. A change saved meanwhile by someone else (412) is
// explained and the form shows the feature as it is now; a point can be dragged to a new place.
// The server decides every save again (departments, values, the city area): the form only offers.
import { divIcon, marker } from '../leaflet.js';
import { readFeature, saveFeature } from '../api/index.js';
import { pick, t } from '../i18n/index.js';
import { h } from '../util/index.js';

/** Whether a session ({role, departments}) may edit a layer of the config ({editable}). */
export function mayEdit(session, def) {
  const editable = def?.editable;
  if (!session || !editable || session.scope === 'read') return false;
  return session.role === 'admin' || (session.departments ?? []).some((d) => editable.departments.includes(d));
}

export class EditPanel {
  /** @param {{map, apiUrl: URL, config, session, onSaved(layerId): void, onMessage(text): void}} options */
  constructor(options) {
    this.options = options;
    this.dialog = h('dialog', { className: 'tg-dialog tg-edit', 'aria-labelledby': 'tg-edit-title' });
    document.body.append(this.dialog);
    this._moving = null;
  }

  /** The 「編集」 button for a feature, or null when this user may not edit its layer. */
  actionFor(layerId, featureId) {
    const def = this.options.config.layers[layerId];
    if (featureId == null || !mayEdit(this.options.session, def)) return null;
    return h('button', {
      type: 'button', className: 'tg-button tg-edit-button', 'data-layer': layerId, 'data-id': String(featureId),
      onClick: () => this.open(layerId, featureId),
    }, t('edit'));
  }

  async open(layerId, featureId, notice = '') {
    const def = this.options.config.layers[layerId];
    let read;
    try {
      read = await readFeature(this.options.apiUrl, layerId, featureId);
    } catch (error) {
      this.options.onMessage?.(error.description || t('editLoadError'));
      return;
    }
    this._render(layerId, def, featureId, read, notice);
    if (typeof this.dialog.showModal === 'function' && !this.dialog.open) this.dialog.showModal();
    else this.dialog.setAttribute('open', '');
  }

  _render(layerId, def, featureId, { feature, etag }, notice) {
    const props = feature.properties ?? {};
    const inputs = def.editable.fields.map((field) => [field, this._input(field, props[field.name])]);
    const error = h('p', { className: 'tg-error', role: 'alert' }, notice);
    const save = async (event) => {
      event.preventDefault();
      const changed = {};
      for (const [field, input] of inputs) {
        const value = valueOf(field, input);
        if (value !== (props[field.name] ?? null)) changed[field.name] = value;
      }
      if (!Object.keys(changed).length) return this.close();
      await this._save(layerId, featureId, { properties: changed }, etag, error);
    };
    const point = def.geometry === 'point' && def.editable.geometry && feature.geometry?.type === 'Point';
    const updated = def.editable.updated_field && props[def.editable.updated_field];
    this.dialog.replaceChildren(h('form', { method: 'dialog', onSubmit: save }, [
      h('h2', { id: 'tg-edit-title' }, `${t('edit')}：${props[def.title_field] ?? featureId}`),
      h('p', { className: 'tg-edit-layer' }, pick(def.title)),
      updated ? h('p', { className: 'tg-note' }, t('updatedAt', { time: updated })) : null,
      ...inputs.map(([field, input]) => h('label', { className: 'tg-field' }, [h('span', {}, pick(field.label) || field.name), input])),
      error,
      h('div', { className: 'tg-dialog-actions' }, [
        h('button', { type: 'submit', className: 'tg-button tg-primary tg-edit-save' }, t('save')),
        point ? h('button', { type: 'button', className: 'tg-button tg-edit-move', onClick: () => this._startMove(layerId, featureId, feature, etag) }, t('move')) : null,
        h('button', { type: 'button', className: 'tg-button', onClick: () => this.close() }, t('cancel')),
      ]),
    ]));
  }

  _input(field, value) {
    if (field.values) {
      return h('select', { name: field.name }, [
        h('option', { value: '' }, t('unset')),
        ...field.values.map((v) => h('option', { value: String(v), selected: String(v) === String(value ?? '') }, String(v))),
      ]);
    }
    if (field.type === 'boolean') return h('input', { type: 'checkbox', name: field.name, checked: Boolean(value) });
    if (field.type === 'integer' || field.type === 'number') {
      return h('input', { type: 'number', name: field.name, value: value ?? '', step: field.type === 'integer' ? '1' : 'any' });
    }
    return h('textarea', { name: field.name, rows: '2', maxlength: field.max_length ?? 2000 }, value ?? '');
  }

  async _save(layerId, featureId, patch, etag, errorElement) {
    try {
      await saveFeature(this.options.apiUrl, layerId, featureId, patch, { etag, csrfToken: this.options.session?.csrf_token });
    } catch (error) {
      if (error.status === 412) {
        // Someone saved first: show the feature as it is now, and say so.
        await this.open(layerId, featureId, t('editConflict'));
        return false;
      }
      const text = error.status === 403 ? t('editForbidden', { reason: error.description ?? '' }) : (error.description || t('editError'));
      if (errorElement && this.dialog.open) errorElement.textContent = text;
      else this.options.onMessage?.(text);
      return false;
    }
    this.close();
    this.options.onMessage?.(t('editSaved'));
    this.options.onSaved?.(layerId);
    return true;
  }

  _startMove(layerId, featureId, feature, etag) {
    this.close();
    this._moving?.remove();
    const [lon, lat] = feature.geometry.coordinates;
    const handle = marker([lat, lon], {
      draggable: true, autoPan: true, keyboard: true, title: t('moveHint'),
      icon: divIcon({ className: 'tg-move-marker', iconSize: [28, 28], iconAnchor: [14, 14] }),
    }).addTo(this.options.map);
    const bar = h('div', { className: 'tg-move-bar', role: 'dialog', 'aria-label': t('move') }, [
      h('p', {}, t('moveHint')),
      h('button', { type: 'button', className: 'tg-button tg-primary tg-move-save', onClick: async () => {
        const { lat: y, lng: x } = handle.getLatLng();
        const geometry = { type: 'Point', coordinates: [Number(x.toFixed(7)), Number(y.toFixed(7))] };
        this._endMove();  // saved, or refused (412: the form shows the feature as it is now)
        await this._save(layerId, featureId, { geometry }, etag, null);
      } }, t('moveSave')),
      h('button', { type: 'button', className: 'tg-button', onClick: () => this._endMove() }, t('cancel')),
    ]);
    this.options.map.getContainer().after(bar);
    this._moving = { remove: () => { handle.remove(); bar.remove(); } };
  }

  _endMove() {
    this._moving?.remove();
    this._moving = null;
  }

  close() {
    if (this.dialog.open) this.dialog.close?.();
    this.dialog.removeAttribute('open');
  }
}

function valueOf(field, input) {
  if (field.type === 'boolean') return input.checked;
  const text = input.value.trim();
  if (text === '') return null;
  if (field.type === 'integer') return Number.parseInt(text, 10);
  if (field.type === 'number') return Number(text);
  return text;
}

export function editPanel(options) {
  return new EditPanel(options);
}
