// What a link (the URL hash) may ask for, checked against what this map has: unknown layer ids
// and base maps are dropped, an unknown language is ignored, a view outside the city is not
// followed. Each drop comes with a note for the user, so a broken link is visible, not silent,
// and nothing broken is remembered (the state saved afterwards is the map's, not the link's).
import { isLanguage, t } from '../i18n/index.js';

/**
 * Check a parsed hash (see permalink.parseHash) against the map's layers, base maps and area.
 * @param {object} asked {view?, layers?, lang?, pt?, base?}
 * @param {{layerIds: string[], baseIds: string[], area: L.LatLngBounds|null}} known
 * @returns {{state: object, notes: string[]}} state: the usable part of `asked` (same keys)
 */
export function checkLink(asked, { layerIds, baseIds, area }) {
  const state = { ...asked };
  const notes = [];
  if (asked.layers) {
    const known = new Set(layerIds);
    const unknown = asked.layers.filter((id) => !known.has(id));
    if (unknown.length) {
      notes.push(t('linkUnknownLayers', { ids: unknown.join('、') }));
      state.layers = asked.layers.filter((id) => known.has(id));
      // Only unknown ids: as if the link named no layers (an empty map helps nobody).
      if (state.layers.length === 0) delete state.layers;
    }
  }
  if (asked.base && !baseIds.includes(asked.base)) {
    notes.push(t('linkUnknownBase', { id: asked.base }));
    delete state.base;
  }
  if (asked.lang && !isLanguage(asked.lang)) {
    notes.push(t('linkUnknownLanguage', { code: asked.lang }));
    delete state.lang;
  }
  if (asked.view && area && !area.contains([asked.view.lat, asked.view.lon])) {
    notes.push(t('linkOutside'));
    delete state.view;
  }
  return { state, notes };
}
