export { h, fill, escapeHtml, linkifiedHtml } from './dom.js';
export { syntheticBadge } from './badge.js';
export { localized, isFallback } from './label.js';
