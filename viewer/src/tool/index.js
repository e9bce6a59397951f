// The tools' modules are built apart (package.json: public/build/tools/, each self-contained) and
// fetched on first use, so neither the bundle nor its start carries them.

/** Import the tool module `name` (geodesic, qr, report, reportsdesk) from next to the bundle. */
export function loadTool(name) {
  return import(new URL(`tools/${name}.js`, import.meta.url).href);
}
