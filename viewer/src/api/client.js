// The server's JSON: the viewer configuration and the OGC API - Features collections list.
import { serverLanguage } from '../i18n/index.js';

export class HttpError extends Error {
  /** @param {string} description the server's own words (an OGC error's `description`), or '' */
  constructor(url, status, description = '') {
    super(`${url} answered ${status}${description ? `: ${description}` : ''}`);
    this.name = 'HttpError';
    this.status = status;
    this.description = description;
  }
}

// The `description` of an OGC API error body ({code, type?, description}), or ''.
async function errorDescription(response) {
  try {
    const body = await response.json();
    return typeof body?.description === 'string' ? body.description : '';
  } catch {
    return '';
  }
}

/** GET a JSON document; rejects with HttpError on a non-2xx answer, AbortError when aborted. */
export async function getJson(url, { signal } = {}) {
  const response = await fetch(url, {
    signal,
    headers: { Accept: 'application/geo+json, application/json' },
  });
  if (!response.ok) throw new HttpError(String(url), response.status, await errorDescription(response));
  return response.json();
}

/** The viewer configuration (styles, labels, departments, base maps); see server/viewer.py. */
export function loadViewerConfig(url = new URL('viewer-config.json', document.baseURI)) {
  return getJson(url);
}

/** The OGC API collections (id, title, extent, links) at the API root `apiUrl` (a URL). */
export async function loadCollections(apiUrl) {
  const url = new URL('collections', withSlash(apiUrl));
  url.searchParams.set('f', 'json');
  const body = await getJson(url);
  return body.collections ?? [];
}

/** The items URL of collection `id` under the API root `apiUrl` (a URL). */
export function itemsUrl(apiUrl, id) {
  return new URL(`collections/${encodeURIComponent(id)}/items`, withSlash(apiUrl));
}

function withSlash(url) {
  const copy = new URL(url);
  if (!copy.pathname.endsWith('/')) copy.pathname += '/';
  return copy;
}

/**
 * Place suggestions from the server's /search for a typed query: {results, suggestions,
 * matchLevel}. `suggestions` (other spellings to try when nothing matched: strings, or objects
 * with `q` or `text`) and `match_level` (how well the results match: exact, prefix, substring,
 * fuzzy, town) are optional fields of the answer: an older server without them gives [] and null.
 */
export async function searchPlaces(query, { signal, limit = 8, endpoint = 'search', baseUrl = document.baseURI } = {}) {
  const url = new URL(endpoint, baseUrl);
  url.searchParams.set('q', query);
  url.searchParams.set('limit', String(limit));
  if (serverLanguage() !== 'ja') url.searchParams.set('lang', serverLanguage());
  const body = await getJson(url, { signal });
  const suggestions = (Array.isArray(body.suggestions) ? body.suggestions : [])
    .map((item) => (typeof item === 'string' ? item : item?.q ?? item?.text))
    .filter((text) => typeof text === 'string' && text.trim() && text !== query);
  const matchLevel = typeof body.match_level === 'string' ? body.match_level : null;
  return { results: body.results ?? [], suggestions, matchLevel };
}

/** The URL of the point report ("この地点の情報") at `latlng` in format `f` (json, csv, html). */
export function pointUrl(latlng, { f = 'json', lang = 'ja', radius, endpoint = 'point', baseUrl = document.baseURI } = {}) {
  const url = new URL(endpoint, baseUrl);
  url.searchParams.set('lat', latlng.lat.toFixed(6));
  url.searchParams.set('lon', latlng.lng.toFixed(6));
  if (radius != null) url.searchParams.set('radius', String(radius));
  if (f !== 'json') url.searchParams.set('f', f);
  if (f !== 'json' || lang !== 'ja') url.searchParams.set('lang', lang);
  return url;
}

/** The point report of `latlng` (see server/point.py). */
export function loadPointReport(latlng, { signal, radius, endpoint } = {}) {
  return getJson(pointUrl(latlng, { radius, endpoint, lang: serverLanguage() }), { signal });
}
