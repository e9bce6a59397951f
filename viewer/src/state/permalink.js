// The URL hash, OpenStreetMap style: #map=ZOOM/LAT/LON&layers=a,b&lang=ja&pt=LAT,LON&base=id.
// Parsing is lenient (unknown or broken parts are ignored); formatting rounds the coordinates to
// what the zoom can show, as openstreetmap.org does.

/** Decimal places that resolve about a pixel at `zoom`. */
export function precision(zoom) {
  return Math.max(0, Math.ceil(Math.log(Math.max(zoom, 1)) / Math.LN2));
}

function number(text) {
  const value = Number(text);
  return text !== '' && Number.isFinite(value) ? value : null;
}

/**
 * The state a hash asks for: {view?: {zoom, lat, lon}, layers?: string[], lang?, pt?: {lat, lon},
 * base?}; keys are present only when the hash has a valid value for them.
 */
export function parseHash(hash) {
  const params = new URLSearchParams(String(hash).replace(/^#/, ''));
  const state = {};
  const map = params.get('map')?.split('/').map(number);
  if (map?.length === 3 && map.every((v) => v !== null) && Math.abs(map[1]) <= 90 && Math.abs(map[2]) <= 180) {
    state.view = { zoom: Math.round(map[0]), lat: map[1], lon: map[2] };
  }
  if (params.has('layers')) state.layers = params.get('layers').split(',').filter(Boolean);
  if (params.has('lang')) state.lang = params.get('lang');
  const pt = params.get('pt')?.split(',').map(number);
  if (pt?.length === 2 && pt.every((v) => v !== null) && Math.abs(pt[0]) <= 90 && Math.abs(pt[1]) <= 180) {
    state.pt = { lat: pt[0], lon: pt[1] };
  }
  if (params.get('base')) state.base = params.get('base');
  return state;
}

/** The hash of a state {view, layers, lang, pt, base} (the same keys as parseHash). */
export function formatHash({ view, layers, lang, pt, base }) {
  const parts = [];
  if (view) {
    const digits = precision(view.zoom);
    parts.push(`map=${view.zoom}/${view.lat.toFixed(digits)}/${view.lon.toFixed(digits)}`);
  }
  if (layers) parts.push(`layers=${layers.map(encodeURIComponent).join(',')}`);
  if (lang) parts.push(`lang=${lang}`);
  if (pt) parts.push(`pt=${pt.lat.toFixed(6)},${pt.lon.toFixed(6)}`);
  if (base) parts.push(`base=${encodeURIComponent(base)}`);
  return `#${parts.join('&')}`;
}
