// Staff sign-in through the server's /auth endpoints (server/auth/README.md). The session cookie
// is HttpOnly: the viewer only learns who is signed in and the CSRF token for logout.
import { HttpError } from './client.js';

// Set after a login so that a reload asks /auth/me; residents' pages never call it (no 401s).
const HINT_KEY = 'tsukuba-gis.staff';

function hint(on) {
  try {
    if (on) localStorage.setItem(HINT_KEY, '1');
    else localStorage.removeItem(HINT_KEY);
  } catch { /* storage disabled: staff log in again after a reload */ }
}

function hinted() {
  try { return localStorage.getItem(HINT_KEY) === '1'; } catch { return false; }
}

// The SSO callback (server/auth/sso_routes.py) lands on the viewer with ?staff=sso: a login.
function landedFromSso() {
  const url = new URL(window.location.href);
  if (url.searchParams.get('staff') !== 'sso') return false;
  url.searchParams.delete('staff');
  window.history.replaceState(window.history.state, '', url);
  return true;
}

/** The signed-in staff member {user, role, csrf_token}, or null (only asked after a login). */
export async function staffSession(baseUrl = document.baseURI) {
  if (landedFromSso()) hint(true);
  if (!hinted()) return null;
  const response = await fetch(new URL('auth/me', baseUrl), { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    hint(false);
    return null;
  }
  return response.json();
}

/** Sign in; rejects with HttpError (401 wrong credentials, 429 locked) on failure. */
export async function login(username, password, baseUrl = document.baseURI) {
  const url = new URL('auth/login', baseUrl);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new HttpError(String(url), response.status);
  hint(true);
  return response.json();
}

/** How staff may sign in here: {password: true, sso: boolean} (public, asked when the dialog opens). */
export async function authMethods(baseUrl = document.baseURI) {
  const url = new URL('auth/methods', baseUrl);
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new HttpError(String(url), response.status);
  return response.json();
}

/** Sign in at the city's identity provider: the browser leaves and comes back signed in. */
export function ssoLogin(baseUrl = document.baseURI) {
  hint(true);
  window.location.assign(new URL('auth/oidc/login', baseUrl));
}

/** Sign out (the session ends on the server too). */
export async function logout(csrfToken, baseUrl = document.baseURI) {
  hint(false);
  await fetch(new URL('auth/logout', baseUrl), { method: 'POST', headers: { 'X-CSRF-Token': csrfToken ?? '' } });
}
