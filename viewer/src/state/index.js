export { parseHash, formatHash, precision } from './permalink.js';
export { loadState, saveState } from './storage.js';
export { ViewState } from './ViewState.js';
export { checkLink } from './links.js';
