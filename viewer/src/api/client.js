// The server's JSON: the viewer configuration and the OGC API - Features collections list.

export class HttpError extends Error {
  constructor(url, status) {
    super(`${url} answered ${status}`);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** GET a JSON document; rejects with HttpError on a non-2xx answer, AbortError when aborted. */
export async function getJson(url, { signal } = {}) {
  const response = await fetch(url, {
    signal,
    headers: { Accept: 'application/geo+json, application/json' },
  });
  if (!response.ok) throw new HttpError(String(url), response.status);
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

/** Place suggestions from the server's /search for a typed query. */
export async function searchPlaces(query, { signal, limit = 8, endpoint = 'search', baseUrl = document.baseURI } = {}) {
  const url = new URL(endpoint, baseUrl);
  url.searchParams.set('q', query);
  url.searchParams.set('limit', String(limit));
  const body = await getJson(url, { signal });
  return body.results ?? [];
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
  return getJson(pointUrl(latlng, { radius, endpoint }), { signal });
}
