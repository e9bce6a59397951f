// Staff sign-in: a button that opens a <dialog> with a login form (POST /auth/login) and, where
// the server offers it, 「統合認証でログイン」 (SSO at the city's identity provider); or, when
// signed in, who is signed in and a logout button. Switching between the residents' and the
// staff view reloads the page (the viewer then starts on the other config).
import { authMethods, login, logout, ssoLogin } from '../api/index.js';
import { t } from '../i18n/index.js';
import { h } from '../util/index.js';

export class StaffLogin {
  /** @param {{session: object|null, onChange(): void}} options session: /auth/me, or null */
  constructor({ session = null, onChange = () => window.location.reload() } = {}) {
    this.session = session;
    this.onChange = onChange;
    this.element = h('div', { className: 'tg-staff' });
    this.render();
  }

  render() {
    if (this.session) {
      this.element.replaceChildren(
        h('p', { className: 'tg-staff-mode' }, t('staffMode', { user: this.session.user })),
        h('button', { type: 'button', className: 'tg-button', onClick: () => this._logout() }, t('staffLogout')),
      );
      return;
    }
    this._dialog = this._dialogElement();
    this.element.replaceChildren(
      h('button', { type: 'button', className: 'tg-button tg-staff-login', onClick: () => this.open() }, t('staffLogin')),
      this._dialog,
    );
  }

  open() {
    this._error.textContent = '';
    if (typeof this._dialog.showModal === 'function') this._dialog.showModal();
    else this._dialog.setAttribute('open', '');
    this._dialog.querySelector('input').focus();
    this._offerSso();
  }

  /** Show the SSO button once the server says it works here (asked at the first opening). */
  _offerSso() {
    this._methods ??= authMethods().catch(() => ({ sso: false }));
    this._methods.then((methods) => { this._sso.hidden = !methods.sso; });
  }

  _dialogElement() {
    const field = (name, type, autocomplete) => h('label', { className: 'tg-field' }, [
      h('span', {}, t(name)), h('input', { name, type, autocomplete, required: true }),
    ]);
    this._error = h('p', { className: 'tg-error', role: 'alert' });
    this._sso = h('button', { type: 'button', className: 'tg-button tg-sso-login', hidden: true, onClick: () => ssoLogin() }, t('ssoLogin'));
    const form = h('form', { method: 'dialog', onSubmit: (event) => this._submit(event) }, [
      h('h2', { id: 'tg-login-title' }, t('staffLogin')),
      this._sso,
      field('username', 'text', 'username'),
      field('password', 'password', 'current-password'),
      this._error,
      h('div', { className: 'tg-dialog-actions' }, [
        h('button', { type: 'submit', className: 'tg-button tg-primary' }, t('login')),
        h('button', { type: 'button', className: 'tg-button', onClick: () => this._dialog.close?.() }, t('cancel')),
      ]),
    ]);
    return h('dialog', { className: 'tg-dialog', 'aria-labelledby': 'tg-login-title' }, form);
  }

  async _submit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      await login(form.elements.username.value, form.elements.password.value);
      this._dialog.close?.();
      this.onChange();
    } catch (error) {
      this._error.textContent = t(error.status === 401 ? 'loginFailed' : error.status === 429 ? 'loginLocked' : 'loginError');
    }
  }

  async _logout() {
    await logout(this.session?.csrf_token).catch(() => {});
    this.onChange();
  }
}

export function staffLogin(options) {
  return new StaffLogin(options);
}
