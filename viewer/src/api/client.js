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
