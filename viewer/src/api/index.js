export { HttpError, getJson, loadViewerConfig, loadCollections, itemsUrl } from './client.js';
