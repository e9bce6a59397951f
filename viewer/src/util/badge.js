import { t } from '../i18n/index.js';
import { h } from './dom.js';

/** The 「サンプル（架空）」 mark of synthetic data, in the panel and in popups. */
export function syntheticBadge() {
  return h('span', { className: 'tg-badge tg-badge-synthetic' }, t('synthetic'));
}
