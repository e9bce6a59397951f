// Entry point (bundled by esbuild into public/build/index.js). The page's #map may name another
// config with data-config (e.g. a staff page: data-config="/internal/viewer-config.json").
import { showStartError, startViewer } from './app.js';

const element = document.getElementById('map');
const configUrl = element.dataset.config ? new URL(element.dataset.config, document.baseURI) : undefined;
startViewer(element, { configUrl }).catch((error) => showStartError(element, error));
