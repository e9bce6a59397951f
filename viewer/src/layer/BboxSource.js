// Features of one OGC API collection inside a bounding box, page by page (rel="next"), bounded.
import { getJson } from '../api/index.js';

/** The bbox query value "minlon,minlat,maxlon,maxlat" of Leaflet LatLngBounds, clamped to the globe. */
export function bboxParam(bounds) {
  const clamp = (value, limit) => Math.max(-limit, Math.min(limit, value));
  const round = (value) => Number(value.toFixed(6));
  return [
    clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90),
    clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90),
  ].map(round).join(',');
}

/**
 * The next page's URL of an items response, or null.
 * A server behind a proxy may write absolute links with another origin than the one the page came
 * from; then only its query (offset, limit, bbox) is kept, on our own items URL.
 */
export function nextPageUrl(page, itemsUrl) {
  const link = (page.links ?? []).find((candidate) => candidate.rel === 'next' && candidate.href);
  if (!link) return null;
  const next = new URL(link.href, itemsUrl);
  if (next.origin === itemsUrl.origin) return next;
  const local = new URL(itemsUrl);
  local.search = next.search;
  return local;
}

export class BboxSource {
  /**
   * @param {URL} itemsUrl the collection's /items URL
   * @param {{limit?: number, maxPages?: number}} options features per request, requests per load
   */
  constructor(itemsUrl, { limit = 1000, maxPages = 3 } = {}) {
    this.itemsUrl = new URL(itemsUrl);
    this.limit = limit;
    this.maxPages = maxPages;
  }

  /**
   * Load the features inside `bounds` (Leaflet LatLngBounds).
   * @returns {Promise<{features: object[], matched: number, complete: boolean}>} complete is false
   *   when maxPages pages were read and the server still had more.
   */
  async load(bounds, { signal } = {}) {
    let url = new URL(this.itemsUrl);
    url.searchParams.set('f', 'json');
    url.searchParams.set('bbox', bboxParam(bounds));
    url.searchParams.set('limit', String(this.limit));
    const features = [];
    let matched = null;
    for (let pages = 0; url && pages < this.maxPages; pages += 1) {
      const page = await getJson(url, { signal });
      features.push(...(page.features ?? []));
      matched ??= page.numberMatched ?? null;
      url = nextPageUrl(page, this.itemsUrl);
    }
    return { features, matched: matched ?? features.length, complete: !url };
  }
}
