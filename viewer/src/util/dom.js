// Tiny DOM helpers. Data only ever reaches the page as text nodes or attributes, never as HTML.

/**
 * Create an element: h('label', {className: 'x', for: 'id'}, [child, 'text']).
 * Props: className, style (object), on<Event> listeners, other attributes (null/false skipped).
 */
export function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'className') el.className = value;
    else if (key === 'style') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return fill(el, children);
}

/** Replace the children of `el` by `children` (nodes or text; null, undefined and false skipped). */
export function fill(el, children = []) {
  const nodes = [].concat(children).filter((child) => child != null && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
  el.replaceChildren(...nodes);
  return el;
}

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for the few Leaflet APIs that take HTML strings (attribution). */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const URL_PATTERN = /https?:\/\/[^\s<>"'（）()「」、，,]+/g;

/** Escaped HTML for a plain-text credit, with its http(s) URLs made into links. */
export function linkifiedHtml(text) {
  let html = '';
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    const url = escapeHtml(match[0]);
    html += escapeHtml(text.slice(last, match.index));
    html += `<a href="${url}" target="_blank" rel="noopener">${url}</a>`;
    last = match.index + match[0].length;
  }
  return html + escapeHtml(String(text).slice(last));
}
