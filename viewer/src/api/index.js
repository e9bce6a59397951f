export {
  HttpError, getJson, loadViewerConfig, loadCollections, itemsUrl, searchPlaces, pointUrl, loadPointReport,
} from './client.js';
export { staffSession, login, logout, authMethods, ssoLogin } from './auth.js';
export { EditError, readFeature, saveFeature, loadLive } from './edits.js';
