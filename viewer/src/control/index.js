export { LayerPanel, layerPanel } from './LayerPanel.js';
export { swatch, layerSwatch, categoryLegend } from './legend.js';
