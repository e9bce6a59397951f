"""The raster layers in 「この地点の情報」: the value at the point in plain words, and the largest
within the radius (e.g. 想定浸水深 0.5〜3.0m（1.20 m）; 標高 22.6 m). Hazard layers come first.

Each value is the stored cell holding the point (no interpolation), the same cell a GIS reads
from the coverage GeoTIFF; the peak is the largest cell whose centre lies within the radius.
"""

import html
from typing import Any

from server.rasters import reader
from server.rasters.published import PublishedRaster
from tsukuba_gis.layerdef import I18n

TEXT = {
    "ja": {"here": "この地点", "peak": "半径{r}m以内の最大", "none": "該当なし", "outside": "データの範囲外"},
    "en": {
        "here": "At this point",
        "peak": "Largest within {r} m",
        "none": "None",
        "outside": "Outside this data's coverage",
    },
}


def _number(value: float, dtype: str) -> float | int:
    return int(value) if dtype.startswith(("int", "uint")) else round(value, 2)


def _words(raster: PublishedRaster, band_index: int, value: float) -> dict[str, str]:
    """The value in plain words, per language: label, class, value and unit."""
    band = raster.definition.bands[band_index]
    shown = _number(value, raster.record.dtype)
    found: I18n | None = raster.style.class_of(value) if band_index == 0 else None
    out = {}
    for lang in ("ja", "en"):
        unit = f" {getattr(band.unit, lang)}" if band.unit else ""
        label = getattr(band.label, lang)
        if found is not None:
            open_, close = ("（", "）") if lang == "ja" else (" (", ")")
            out[lang] = f"{label} {getattr(found, lang)}{open_}{shown}{unit}{close}"
        else:
            out[lang] = f"{label} {shown}{unit}"
    return out


def _band_values(raster: PublishedRaster, values: list[float | None]) -> list[dict[str, Any]]:
    found = []
    for i, (band, value) in enumerate(zip(raster.definition.bands, values, strict=False)):
        if value is None:
            continue
        label = raster.style.class_of(value) if i == 0 else None
        found.append(
            {
                "name": band.name,
                "label": band.label.model_dump(),
                "unit": band.unit.model_dump() if band.unit else None,
                "value": _number(value, raster.record.dtype),
                "class": label.model_dump() if label else None,
                "text": _words(raster, i, value),
            }
        )
    return found


def raster_entry(raster: PublishedRaster, department: I18n, lat: float, lon: float, radius: float) -> dict:
    """What one raster layer says at (lat, lon) and within ``radius`` metres."""
    layer = raster.definition
    values = reader.values_at(raster, lon, lat)
    bands = _band_values(raster, values) if values else []
    entry: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title.model_dump(),
        "department": layer.department,
        "department_name": department.model_dump(),
        "hazard": raster.style.hazard,
        "synthetic": layer.synthetic,
        "coverage": "outside" if values is None else "inside",
        "here": bands,
        "peak": None,
    }
    if raster.style.kind != "rgb" and radius > 0:
        peak = reader.peak_within(raster, lon, lat, radius)
        if peak is not None:
            label = raster.style.class_of(peak.value)
            entry["peak"] = {
                "value": _number(peak.value, raster.record.dtype),
                "class": label.model_dump() if label else None,
                "distance_m": round(peak.distance_m),
                "text": _words(raster, 0, peak.value),
            }
    return entry


def raster_entries(snapshot, lat: float, lon: float, radius: float) -> list[dict[str, Any]]:
    """Every raster layer of the snapshot at the point: hazards first, each group in the one order."""
    ordered = sorted(snapshot.rasters, key=lambda r: not r.style.hazard)  # stable: keeps the order
    return [
        raster_entry(r, snapshot.department_name(r.definition.department), lat, lon, radius) for r in ordered
    ]


def csv_rows(report: dict[str, Any], lang: str) -> list[list[str]]:
    """Rows (section, layer, name, field, value, distance, walk) of the raster layers."""
    words, rows = TEXT[lang], []
    for entry in report.get("rasters", []):
        title = entry["title"].get(lang) or entry["title"]["ja"]
        for band in entry["here"]:
            rows.append([words["here"], title, "", band["label"][lang], band["text"][lang], "0", ""])
        peak = entry["peak"]
        if peak is not None:
            section = words["peak"].format(r=int(report["radius_m"]))
            rows.append([section, title, "", "", peak["text"][lang], str(peak["distance_m"]), ""])
    return rows


def html_sections(report: dict[str, Any], lang: str, synthetic_mark: str) -> str:
    """The raster layers as sections of the printable report."""
    words, esc, parts = TEXT[lang], html.escape, []
    for entry in report.get("rasters", []):
        title = entry["title"].get(lang) or entry["title"]["ja"]
        mark = f' <span class="mark">{esc(synthetic_mark)}</span>' if entry["synthetic"] else ""
        parts.append(f"<h2>{esc(title)}{mark}</h2>")
        if entry["here"]:
            cells = "".join(f"<li>{esc(b['text'][lang])}</li>" for b in entry["here"])
            parts.append(f"<ul>{cells}</ul>")
        else:
            parts.append(f"<p>{esc(words['outside' if entry['coverage'] == 'outside' else 'none'])}</p>")
        if entry["peak"] is not None:
            peak = entry["peak"]
            what = words["peak"].format(r=int(report["radius_m"]))
            parts.append(f"<p>{esc(what)}: {esc(peak['text'][lang])}（{peak['distance_m']} m）</p>")
    return "".join(parts)
