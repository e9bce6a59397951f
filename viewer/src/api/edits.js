// Live edits through the staff OGC API (OGC API - Features Part 4, server/ogcapi/transactions.py):
// read a feature with its ETag, save a JSON merge patch with If-Match (a change saved meanwhile
// by someone else answers 412), and follow what changed through live.json.
import { itemsUrl } from './client.js';

export class EditError extends Error {
  /** A refused save: status (412 stale, 403 not allowed, 400 bad value, ...) and the server's reason. */
  constructor(status, description) {
    super(description || `HTTP ${status}`);
    this.name = 'EditError';
    this.status = status;
    this.description = description;
  }
}

function featureUrl(apiUrl, layerId, featureId) {
  const url = itemsUrl(apiUrl, layerId);
  url.pathname += `/${encodeURIComponent(String(featureId))}`;
  return url;
}

async function refusal(response) {
  const body = await response.json().catch(() => ({}));
  return new EditError(response.status, body.description);
}

/** One feature as it is now and its ETag (the If-Match of the next save). */
export async function readFeature(apiUrl, layerId, featureId) {
  const url = featureUrl(apiUrl, layerId, featureId);
  url.searchParams.set('f', 'json');
  // no-store: the form must show the feature as it is now, never a kept copy.
  const response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/geo+json' } });
  if (!response.ok) throw await refusal(response);
  return { feature: await response.json(), etag: response.headers.get('ETag') };
}

/** Save a merge patch ({properties: {...}} and/or {geometry}); the saved feature and its new ETag. */
export async function saveFeature(apiUrl, layerId, featureId, patch, { etag, csrfToken }) {
  const response = await fetch(featureUrl(apiUrl, layerId, featureId), {
    method: 'PATCH',
    headers: {
      'Content-Type': 'application/merge-patch+json',
      Accept: 'application/geo+json',
      'If-Match': etag,
      'X-CSRF-Token': csrfToken ?? '',
    },
    body: JSON.stringify(patch),
  });
  if (!response.ok) throw await refusal(response);
  return { feature: await response.json(), etag: response.headers.get('ETag') };
}

/** live.json (server/live.py), or null when it did not change since `etag` (304). */
export async function loadLive(url, etag) {
  const response = await fetch(url, { cache: 'no-cache', headers: { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) } });
  if (response.status === 304) return null;
  if (!response.ok) throw new EditError(response.status);
  return { live: await response.json(), etag: response.headers.get('ETag') };
}
