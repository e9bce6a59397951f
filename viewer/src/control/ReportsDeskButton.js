// Staff mode: the 「通報の対応」 button of the layers panel; the desk (tool/reportsdesk.js) is
// loaded on its first press (issue 17).
import { circleMarker } from '../leaflet.js';
import { t } from '../i18n/index.js';
import { h } from '../util/index.js';
import { loadTool } from '../tool/index.js';

/** {element, relabel}: the button for a signed-in staff member ({csrf_token, ...}). */
export function reportsDeskButton({ map, session, onMessage }) {
  let desk = null;
  const open = async () => {
    try {
      if (!desk) {
        const { reportsDesk } = await loadTool('reportsdesk');
        desk = reportsDesk({ map, t, h, session, circleMarker, onMessage, button: element });
      }
      await desk.open();
    } catch (error) {
      console.error('viewer: the reports desk could not be opened', error);
      onMessage(t('reportError'));
    }
  };
  const element = h('button', { type: 'button', className: 'tg-button tg-desk-button', onClick: open });
  const relabel = () => { element.textContent = t('deskTitle'); };
  relabel();
  return { element, relabel };
}
