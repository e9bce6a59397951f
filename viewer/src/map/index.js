export { createMap, extentBounds, showInitialView, relabelMap } from './createMap.js';
export { BaseMapLayer, baseMapLayer } from './basemap.js';
export { PointQuery, pointQuery } from './PointQuery.js';
export { mapArea } from './area.js';
