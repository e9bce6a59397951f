// What the viewer remembers between visits (localStorage): visible layers, opacities, base map,
// language. Storage may be disabled or full: then nothing is remembered and nothing breaks.

export function loadState(key) {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? 'null');
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

export function saveState(key, state) {
  try {
    localStorage.setItem(key, JSON.stringify(state));
  } catch { /* not remembered */ }
}
