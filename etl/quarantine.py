"""The quarantine next to the report: ``rejects/<layer>.geojson`` and ``rejects/<layer>.csv``.

The store keeps every rejected feature (``tg_rejects``); these files put the current
version's rejects where staff can open them: the GeoJSON in any GIS, the CSV in Excel
(UTF-8 with BOM, so Japanese shows). Each row has the source file, the row in it, the reason,
the original attributes and the geometry when there was one (lon/lat, EPSG:4326).
"""

import csv
import json
import math
from pathlib import Path
from typing import Any

import shapely

from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Reject, Store

FOLDER = "rejects"
_FIXED = ["source", "row", "reason", "geometry_wkt"]


def _geometry(wkt: str | None) -> dict | None:
    if wkt is None:
        return None
    geom = shapely.from_wkt(wkt, on_invalid="ignore")
    if geom is None or geom.is_empty or not all(map(math.isfinite, geom.bounds)):
        return None  # e.g. infinite coordinates from a wrong CRS: the WKT stays in the CSV
    return json.loads(shapely.to_geojson(geom))


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _geojson(layer_id: str, version: int, rejects: list[Reject]) -> str:
    features = [
        {
            "type": "Feature",
            "geometry": _geometry(r.geometry_wkt),
            "properties": {
                "_source": r.source,
                "_row": r.row,
                "_reason": r.reason,
                **{k: _plain(v) for k, v in r.attributes.items()},
            },
        }
        for r in rejects
    ]
    # "version" first: publish_rejects reads only the head of the file to see if it is current.
    collection = {"version": version, "layer": layer_id, "type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False, default=str)


def _write_csv(path: Path, rejects: list[Reject]) -> None:
    names = list(dict.fromkeys(k for r in rejects for k in r.attributes))
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_FIXED + names)
        for r in rejects:
            writer.writerow(
                [r.source, r.row, r.reason, r.geometry_wkt or ""]
                + [_plain(r.attributes.get(n)) for n in names]
            )


def write_rejects(
    data_dir: Path, name: str, layer_id: str, version: int, rejects: list[Reject]
) -> tuple[Path, Path]:
    """Write ``rejects/<name>.geojson`` and ``.csv`` atomically; return their paths."""
    rejects = sorted(rejects, key=lambda r: (r.source, r.row))  # as staff look them up
    folder = data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    geojson, table = folder / f"{name}.geojson", folder / f"{name}.csv"
    tmp_json, tmp_csv = geojson.with_suffix(".geojson.tmp"), table.with_suffix(".csv.tmp")
    tmp_json.write_text(_geojson(layer_id, version, rejects), encoding="utf-8")
    _write_csv(tmp_csv, rejects)
    tmp_json.replace(geojson)
    tmp_csv.replace(table)
    return geojson, table


def _written_version(path: Path) -> int | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        head = handle.read(64)
    if not head.startswith('{"version": '):
        return None
    digits = head[len('{"version": ') :].split(",", 1)[0]
    return int(digits) if digits.isdigit() else None


def publish_rejects(settings: Settings, store: Store, layer: LayerDef, record: LayerRecord) -> dict[str, Any]:
    """The quarantine files of the current version (nothing to do when already written).

    Paths in the result are relative to the data directory (where report.html is).
    """
    geojson = settings.data_dir / FOLDER / f"{layer.id}.geojson"
    names = {"rejects": f"{FOLDER}/{layer.id}.geojson", "csv": f"{FOLDER}/{layer.id}.csv"}
    if _written_version(geojson) == record.version and geojson.with_suffix(".csv").is_file():
        return {**names, "count": record.rejected_count, "unchanged": True}
    rejects = store.rejects(layer.id, record.version)
    write_rejects(settings.data_dir, layer.id, layer.id, record.version, rejects)
    return {**names, "count": len(rejects)}
