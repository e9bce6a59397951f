// Leaflet path options from a layer's configured style
// {color, fill_color, fill_opacity, weight, radius, dash, by, categories}.
import { fallbackLang, picked } from '../i18n/index.js';

// Points are drawn nearly opaque whatever fill_opacity says (that is the polygons' setting), so
// markers stay legible on top of filled areas.
const POINT_FILL_OPACITY = 0.85;

/** The category matching `properties` in a categorised style (values compare as strings), or null. */
export function categoryOf(style, properties) {
  if (!style.by || !style.categories?.length) return null;
  const value = properties?.[style.by];
  if (value == null) return null;
  const key = String(value);
  return style.categories.find((category) => String(category.value) === key) ?? null;
}

/** Whether a layer draws filled areas (polygons unless fill_opacity is 0; never lines or points). */
export function isFilled(def) {
  return def.geometry === 'polygon' && def.style.fill_opacity > 0;
}

/** A function feature -> Leaflet path options for the layer definition `def`. */
export function featureStyle(def) {
  const { style, geometry } = def;
  const baseFill = style.fill_color ?? style.color;
  const common = { color: style.color, weight: style.weight, opacity: 1, dashArray: style.dash ?? null };
  return (feature) => {
    const category = categoryOf(style, feature?.properties);
    if (geometry === 'point') {
      return { ...common, radius: style.radius, fill: true, fillColor: category?.color ?? baseFill,
        fillOpacity: POINT_FILL_OPACITY };
    }
    if (geometry === 'line') return { ...common, color: category?.color ?? style.color, fill: false };
    return { ...common, fill: style.fill_opacity > 0, fillColor: category?.color ?? baseFill,
      fillOpacity: style.fill_opacity };
  };
}

/** Legend entries [{label, options}]: one per category, or a single unlabelled one. */
export function legendEntries(def) {
  const paint = featureStyle(def);
  const { style } = def;
  if (style.by && style.categories?.length) {
    return style.categories.map((category) => ({
      value: category.value,
      label: picked(category.label).text || String(category.value),
      lang: fallbackLang(picked(category.label)),
      options: paint({ properties: { [style.by]: category.value } }),
    }));
  }
  return [{ label: null, options: paint({ properties: {} }) }];
}
