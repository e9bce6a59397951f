// Live layers (issue 13): reload what staff edited, and switch to 災害時モード while a shelter is
// open. The LiveWatcher (layer/disasterMode.js) polls live.json; this module says what the map, the
// 災害時モード list and the point report do when it reports a change.
import { liveWatcher } from './layer/index.js';

// Another worker may answer the next requests from the snapshot before the edit (each worker looks
// for a new store generation at most once a second): what changed is read once more a little later.
const LIVE_SETTLE_MS = 1200;

/** Follow the server's live.json (null when the config names none); returns the watcher. */
export function followLive({ config, entries, ui }) {
  if (!config.endpoints?.live) return null;
  const watcher = liveWatcher(new URL(config.endpoints.live, document.baseURI));
  const requery = () => { if (ui.query.latlng) ui.query.query(ui.query.latlng); };
  const refresh = (ids) => { for (const entry of entries) if (ids.includes(entry.id)) entry.layer.refresh?.(); };
  const reread = async () => {
    if (ui.disaster.state.active) {
      await ui.disaster.reload();
      ui.disaster.render();
    }
    requery();
  };
  let settle = null;
  const again = (ids = []) => {
    clearTimeout(settle);
    settle = setTimeout(() => { refresh(ids); reread(); }, LIVE_SETTLE_MS);
  };
  watcher.on('layerchange', async ({ ids }) => {
    refresh(ids);
    await reread();
    again(ids);
  });
  watcher.on('mode', async ({ mode, initial }) => {
    await ui.disaster.setMode(mode);
    // The page's first answer, with no 災害時モード: the point report was asked for in this state.
    if (initial && !mode.active) return;
    requery();
    again();
  });
  if (ui.edit) ui.edit.options.onSaved = () => watcher.poke();
  return watcher.start();
}
