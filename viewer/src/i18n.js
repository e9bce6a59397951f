// Every UI string, in Japanese and English. The viewer speaks Japanese first; `setLanguage('en')`
// switches, and listeners (`onLanguageChange`) re-render. Data labels come from the server as
// {ja, en} objects: `pick` them.

const STRINGS = {
  ja: {
    mapLabel: '地図',
    mapHelp: '矢印キーで移動、+/− で拡大縮小、Enter で地図の中心の情報を表示',
    panelTitle: 'レイヤ',
    showPanel: 'パネルを開く',
    hidePanel: 'パネルを閉じる',
    sheetHandle: 'パネルの大きさを変える',
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
    opacity: '不透明度',
    openData: 'オープンデータ',
    openDataOf: '{name} のオープンデータ',
    language: 'English',
    languageLabel: 'Switch to English',
    searchLabel: '地名・施設名・座標で検索',
    searchPlaceholder: '地名・施設名・緯度経度',
    searchButton: '検索',
    searchNone: '見つかりませんでした',
    searchCount: '{n}件の候補があります。上下キーで選んで Enter',
    searchError: '検索できませんでした',
    kindPlace: '町丁目・大字',
    kindFacility: '施設',
    kindCoordinate: '座標',
    outsideCity: 'つくば市の範囲外です',
    infoTab: 'この地点',
    pointTitle: 'この地点の情報',
    pointHint: '地図をタップ（クリック）すると、その地点に当てはまる情報を表示します。',
    pointCentre: '地図の中心を調べる',
    pointLoading: '調べています…',
    pointError: 'この地点の情報を取得できませんでした',
    pointHere: 'この地点に当てはまるもの',
    pointNone: '該当なし',
    pointOutside: 'データの範囲外',
    pointNoneList: '当てはまらないもの',
    pointNearby: '周辺（半径{r}m以内）',
    pointNearbyNone: '半径{r}m以内にほかの区域・施設はありません。',
    pointNearest: '最寄りの{name}',
    distance: '直線距離 約{d}',
    walk: '徒歩 約{m}分（推定）',
    distanceNote: '距離は直線距離です（道路に沿った距離ではありません）。徒歩時間は80m/分で換算した目安です。',
    singlePointNote: '一地点だけでは誤解を招くことがあります。周辺の情報も確認してください。正式な内容は市の窓口で確認してください。',
    downloadCsv: 'CSVで保存',
    openReport: '印刷用レポート',
    clearPoint: '地点を消す',
    showOnMap: '地図で見る',
    locate: '現在地',
    locateLabel: '現在地を表示して、その地点の情報を調べる',
    locating: '現在地を取得しています…',
    locateError: '現在地を取得できませんでした',
    print: '印刷',
    printTitle: '印刷日',
    staffLogin: '職員ログイン',
    staffLogout: 'ログアウト',
    staffMode: '庁内モード（内部データを含む）：{user}',
    username: 'ユーザー名',
    password: 'パスワード',
    login: 'ログイン',
    cancel: 'キャンセル',
    loginFailed: 'ユーザー名またはパスワードが違います',
    loginLocked: '試行回数が多すぎます。しばらく待ってから再試行してください',
    loginError: 'ログインできませんでした',
    locale: 'ja-JP',
    disasterMode: '災害時モード',
    disasterOpen: '開設中の避難所 {n}か所',
    disasterList: '開設中の避難所を見る',
    disasterListTitle: '開設中の{name}',
    disasterOthers: 'ほかの{n}か所は未開設または閉鎖です。',
    updatedAt: '更新 {time}',
    pointOpenOnly: '災害時モード：開設中・満員の避難所だけを表示しています。',
    edit: '編集',
    editLoadError: 'この地物を読み込めませんでした',
    save: '保存',
    unset: '（未設定）',
    move: '位置を移動',
    moveHint: '印をドラッグして新しい位置に置き、「この位置に保存」を押してください。',
    moveSave: 'この位置に保存',
    editSaved: '保存しました',
    editConflict: 'ほかの職員が先にこの地物を更新しました。最新の内容を表示しています。確認して、もう一度保存してください。',
    editForbidden: '保存できません：{reason}',
    editError: '保存できませんでした',
  },
  en: {
    mapLabel: 'Map',
    mapHelp: 'Arrow keys pan, +/− zoom, Enter shows what applies at the map centre',
    panelTitle: 'Layers',
    showPanel: 'Open the panel',
    hidePanel: 'Close the panel',
    sheetHandle: 'Resize the panel',
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
    opacity: 'Opacity',
    openData: 'Open data',
    openDataOf: 'Open data: {name}',
    language: '日本語',
    languageLabel: '日本語に切り替える',
    searchLabel: 'Search places, facilities, coordinates',
    searchPlaceholder: 'Place, facility or lat, lon',
    searchButton: 'Search',
    searchNone: 'Nothing found',
    searchCount: '{n} suggestions. Use up and down, then Enter',
    searchError: 'Search failed',
    kindPlace: 'Town',
    kindFacility: 'Facility',
    kindCoordinate: 'Coordinates',
    outsideCity: 'Outside Tsukuba City',
    infoTab: 'This point',
    pointTitle: 'What applies here',
    pointHint: 'Tap (click) the map to see what applies at that point.',
    pointCentre: 'Look up the map centre',
    pointLoading: 'Looking up…',
    pointError: 'Could not get the information for this point',
    pointHere: 'What applies at this point',
    pointNone: 'None',
    pointOutside: 'Outside this data’s coverage',
    pointNoneList: 'What does not apply',
    pointNearby: 'Nearby (within {r} m)',
    pointNearbyNone: 'No other areas or facilities within {r} m.',
    pointNearest: 'Nearest {name}',
    distance: 'about {d} in a straight line',
    walk: 'about {m} min walk (estimate)',
    distanceNote: 'Distances are straight lines, not along roads. Walking times are estimates at 80 m/min.',
    singlePointNote: 'A single point can mislead: check the surroundings too. Confirm official details with the city.',
    downloadCsv: 'Save as CSV',
    openReport: 'Printable report',
    clearPoint: 'Clear the point',
    showOnMap: 'Show on map',
    locate: 'My location',
    locateLabel: 'Show my location and what applies there',
    locating: 'Finding your location…',
    locateError: 'Your location could not be found',
    print: 'Print',
    printTitle: 'Printed',
    staffLogin: 'Staff login',
    staffLogout: 'Log out',
    staffMode: 'Staff mode (internal data included): {user}',
    username: 'User name',
    password: 'Password',
    login: 'Log in',
    cancel: 'Cancel',
    loginFailed: 'Wrong user name or password',
    loginLocked: 'Too many attempts. Please wait and try again',
    loginError: 'Could not log in',
    locale: 'en-GB',
    disasterMode: 'Disaster mode',
    disasterOpen: '{n} shelters open',
    disasterList: 'See open shelters',
    disasterListTitle: 'Open: {name}',
    disasterOthers: 'The other {n} are not open or closed.',
    updatedAt: 'Updated {time}',
    pointOpenOnly: 'Disaster mode: only open or full shelters are listed.',
    edit: 'Edit',
    editLoadError: 'This feature could not be loaded',
    save: 'Save',
    unset: '(not set)',
    move: 'Move',
    moveHint: 'Drag the mark to the new place, then press "Save this position".',
    moveSave: 'Save this position',
    editSaved: 'Saved',
    editConflict: 'Another staff member updated this feature first. It is shown as it is now: check it and save again.',
    editForbidden: 'Cannot save: {reason}',
    editError: 'Could not save',
  },
};

export const LANGUAGES = Object.keys(STRINGS);

let language = 'ja';
const listeners = new Set();

/** Switch the UI language ('ja' or 'en'); unknown codes are ignored. Listeners run on a change. */
export function setLanguage(code) {
  if (!STRINGS[code] || code === language) return;
  language = code;
  document.documentElement.lang = code;
  for (const listener of listeners) listener(code);
}

export function getLanguage() {
  return language;
}

/** Call `listener(code)` after every language change; returns a function that stops it. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The UI string `key` in the current language, with {name} placeholders filled from `values`. */
export function t(key, values) {
  const text = STRINGS[language][key] ?? STRINGS.ja[key] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (match, name) => String(values[name] ?? match)) : text;
}

/** The current language's text of a server {ja, en} object (or a plain string). */
export function pick(text) {
  if (text == null) return '';
  if (typeof text === 'string') return text;
  return text[language] || text.ja || '';
}

/** A distance in metres as text: "850 m", "1.2 km". */
export function formatDistance(metres) {
  if (metres < 1000) return `${Math.round(metres)} m`;
  return `${(metres / 1000).toFixed(metres < 10000 ? 1 : 0)} km`;
}
