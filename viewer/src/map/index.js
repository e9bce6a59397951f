export { createMap, extentBounds, showInitialView } from './createMap.js';
export { BaseMapLayer, baseMapLayer } from './basemap.js';
