export { LayerPanel, layerPanel } from './LayerPanel.js';
export { swatch, layerSwatch, categoryLegend } from './legend.js';
export { SearchBox, searchBox } from './SearchBox.js';
export { Sheet, sheet } from './Sheet.js';
export { PointPanel, pointPanel } from './PointPanel.js';
export { LocateControl, locateControl } from './LocateControl.js';
export { StaffLogin, staffLogin } from './StaffLogin.js';
export { PrintHeader, printHeader } from './PrintHeader.js';
export { EditPanel, editPanel, mayEdit } from './EditPanel.js';
