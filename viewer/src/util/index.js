export { h, escapeHtml, linkifiedHtml } from './dom.js';
export { syntheticBadge } from './badge.js';
