// The one module that names Leaflet. Its package has no "module" field, so we import the ES build
// explicitly: it defines no `window.L`, and esbuild drops what we do not use.
export * from 'leaflet/dist/leaflet-src.esm.js';
