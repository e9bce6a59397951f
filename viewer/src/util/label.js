import { fallbackLang, getLanguage, picked } from '../i18n/index.js';
import { h } from './dom.js';

/**
 * A server label ({ja, en, ...}) as a node in the UI language: plain text, or, when the label has
 * no text in that language, a <span lang="..."> so screen readers read the fallback right.
 */
export function localized(label, className) {
  const choice = picked(label);
  const lang = fallbackLang(choice);
  if (!lang && !className) return choice.text;
  return h('span', { className, lang }, choice.text);
}

/** Whether a server label has no text in the UI language (its text is English or Japanese). */
export function isFallback(label) {
  return Boolean(label) && typeof label === 'object' && picked(label).lang !== getLanguage();
}
