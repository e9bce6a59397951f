// The UI languages. Japanese is in the bundle; every other language is one file (./<code>.js) loaded
// on demand (esbuild splits each into its own chunk), so the bundle does not grow per language.
// `setLanguage(code)` loads the file, then switches, and listeners (`onLanguageChange`) re-render.
// Data labels come from the server as {ja, en, ...} objects: `pick` (text) and `picked` ({text,
// lang}) choose the UI language, then English, then Japanese (やさしい日本語: Japanese first), so a
// fallback can be marked with its own `lang` attribute.
import ja from './ja.js';

/** The UI languages, in the menu's order, each named in itself. */
export const LANGUAGES = [
  { code: 'ja', name: '日本語' },
  // Easy Japanese (やさしい日本語): a private-use BCP 47 tag, read as Japanese by browsers.
  { code: 'ja-x-easy', name: 'やさしい にほんご' },
  { code: 'en', name: 'English' },
  { code: 'zh-Hans', name: '简体中文' },
  { code: 'zh-Hant', name: '繁體中文' },
  { code: 'ko', name: '한국어' },
  { code: 'vi', name: 'Tiếng Việt' },
  { code: 'pt', name: 'Português' },
];

const LOADERS = {
  'ja-x-easy': () => import('./ja-x-easy.js'),
  en: () => import('./en.js'),
  'zh-Hans': () => import('./zh-Hans.js'),
  'zh-Hant': () => import('./zh-Hant.js'),
  ko: () => import('./ko.js'),
  vi: () => import('./vi.js'),
  pt: () => import('./pt.js'),
};

const strings = new Map([['ja', ja]]);
const loading = new Map();
let language = 'ja';
const listeners = new Set();

/** Whether `code` is one of the UI languages. */
export function isLanguage(code) {
  return LANGUAGES.some((entry) => entry.code === code);
}

/** Load a language's strings (once); resolves when `t` can use them. */
export function loadLanguage(code) {
  if (strings.has(code)) return Promise.resolve();
  if (!LOADERS[code]) return Promise.reject(new Error(`unknown language ${code}`));
  if (!loading.has(code)) {
    const load = LOADERS[code]().then((module) => { strings.set(code, module.default); });
    load.catch(() => loading.delete(code)); // a failed chunk may be asked again
    loading.set(code, load);
  }
  return loading.get(code);
}

/**
 * Switch the UI language (loading its file first); unknown codes are ignored. Listeners run on a
 * change. Resolves to whether `code` is now the language.
 */
export async function setLanguage(code) {
  if (!isLanguage(code)) return false;
  await loadLanguage(code);
  if (code === language) return true;
  language = code;
  document.documentElement.lang = code;
  for (const listener of listeners) listener(code);
  return true;
}

export function getLanguage() {
  return language;
}

/** The first of the browser's preferred languages that the UI speaks, or null. */
export function browserLanguage(preferred = navigator.languages ?? [navigator.language]) {
  for (const tag of preferred) {
    const lower = String(tag).toLowerCase();
    if (/^zh-(hant|tw|hk|mo)/.test(lower)) return 'zh-Hant';
    if (lower.startsWith('zh')) return 'zh-Hans';
    const base = lower.split('-')[0];
    if (['ja', 'en', 'ko', 'vi', 'pt'].includes(base)) return base;
  }
  return null;
}

/** Call `listener(code)` after every language change; returns a function that stops it. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The UI string `key` in the current language, with {name} placeholders filled from `values`. */
export function t(key, values) {
  const text = strings.get(language)?.[key] ?? ja[key] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (match, name) => String(values[name] ?? match)) : text;
}

// Where a data label without the UI language is taken from, in order.
function dataOrder() {
  if (language === 'ja-x-easy') return ['ja-x-easy', 'ja', 'en'];
  return [language, 'en', 'ja'];
}

/** {text, lang} of a server {ja, en, ...} object (or a plain string, taken as Japanese). */
export function picked(text) {
  if (text == null) return { text: '', lang: language };
  if (typeof text !== 'object') return { text: String(text), lang: null };
  for (const code of dataOrder()) {
    if (text[code]) return { text: String(text[code]), lang: code };
  }
  return { text: '', lang: language };
}

/** The current language's text of a server {ja, en, ...} object (or a plain string). */
export function pick(text) {
  return picked(text).text;
}

/** The `lang` attribute an element showing `picked` text needs, or null when it is the UI's. */
export function fallbackLang(choice) {
  if (!choice.lang || choice.lang === language) return null;
  if (language === 'ja-x-easy' && choice.lang === 'ja') return null;
  return choice.lang;
}

/** The language to ask the server's reports in: all eight (its CSV's own words are ja or en). */
export function serverLanguage() {
  return language;
}

/** The Intl locale of the UI language (Easy Japanese formats as Japanese). */
export function locale() {
  return language === 'ja-x-easy' ? 'ja' : language;
}

/** A number with the UI language's grouping, at most `digits` decimals. */
export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** A distance in metres as text: "850 m", "1.2 km". */
export function formatDistance(metres) {
  if (metres < 1000) return `${Math.round(metres)} m`;
  return `${(metres / 1000).toFixed(metres < 10000 ? 1 : 0)} km`;
}
