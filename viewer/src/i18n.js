// Every UI string, in Japanese and English. The viewer speaks Japanese; `setLanguage('en')` is the
// hook for a later language switch. Data labels come from the server as {ja, en} objects: `pick` them.

const STRINGS = {
  ja: {
    mapLabel: '地図',
    panelTitle: 'レイヤ',
    showPanel: 'レイヤ一覧を開く',
    hidePanel: 'レイヤ一覧を閉じる',
    basemaps: '背景地図',
    synthetic: 'サンプル（架空）',
    syntheticNote: 'このデータは架空のサンプルです。実際の判断には使わないでください。',
    legend: '凡例',
    loading: '読み込み中…',
    loadError: '読み込めませんでした',
    partial: '一部のみ表示（拡大すると全件）',
    noLayers: '表示できるレイヤがありません。',
    startError: '地図を開けませんでした。時間をおいて再読み込みしてください。',
    zoomIn: '拡大',
    zoomOut: '縮小',
    closePopup: '閉じる',
    yes: 'はい',
    no: 'いいえ',
  },
  en: {
    mapLabel: 'Map',
    panelTitle: 'Layers',
    showPanel: 'Open the layer list',
    hidePanel: 'Close the layer list',
    basemaps: 'Base map',
    synthetic: 'Synthetic sample',
    syntheticNote: 'Invented sample data: do not use it for real decisions.',
    legend: 'Legend',
    loading: 'Loading…',
    loadError: 'Could not be loaded',
    partial: 'Partly shown (zoom in for all)',
    noLayers: 'No layers to show.',
    startError: 'The map could not start. Please reload later.',
    zoomIn: 'Zoom in',
    zoomOut: 'Zoom out',
    closePopup: 'Close',
    yes: 'Yes',
    no: 'No',
  },
};

let language = 'ja';

/** Switch the UI language ('ja' or 'en'); unknown codes are ignored. */
export function setLanguage(code) {
  if (STRINGS[code]) language = code;
}

export function getLanguage() {
  return language;
}

/** The UI string `key` in the current language (falls back to Japanese, then to the key). */
export function t(key) {
  return STRINGS[language][key] ?? STRINGS.ja[key] ?? key;
}

/** The current language's text of a server {ja, en} object (or a plain string). */
export function pick(text) {
  if (text == null) return '';
  if (typeof text === 'string') return text;
  return text[language] ?? text.ja ?? '';
}
