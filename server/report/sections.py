"""The point report in plain words: hazards and where to evacuate first, then planning rules.

From the report ``server/point.py`` computes (``layers``, ``nearest``) and the layer
definitions (``report:`` blocks, ``FieldDef.explain``/``meanings``), in one language. Each
section lists its layers: what applies at the point, in the fields residents see, with each
value translated and explained; codes and the other fields go under ``details``. Boundaries
are stated rather than contradicted: a point within ``EDGE_M`` of an area's boundary says so,
two areas of one layer at a point are named as a boundary or as an overlap. Emergency sites are
matched to the hazards at the point through the sites' own flags (GSI: 洪水, 地震, ...).
"""

import math
from typing import Any

import shapely

from server.point import WALK_M_PER_MIN, LocalPlane, _feature, _fields, _nearest
from server.report.texts import word
from server.snapshot import Snapshot
from tsukuba_gis.i18n import text_in
from tsukuba_gis.layerdef import FieldDef, LayerDef
from tsukuba_gis.presentdef import SECTIONS, ReportDef
from tsukuba_gis.store import Query

EDGE_M = 5.0  # closer than this to an area's boundary, the point is "on the boundary"
MATCHED_SITES = 3  # emergency sites listed per hazard
SITE_POOL = 50  # nearest sites read before keeping those designated for a hazard
NO_REPORT = ReportDef()


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _value_words(spec: FieldDef | None, value: Any, lang: str) -> dict[str, Any]:
    """The value as residents read it: translated, explained, with advice where there is some."""
    words = (spec.meanings or {}).get(_plain(value)) if spec else None
    out: dict[str, Any] = {"value": {"text": _plain(value), "lang": "ja"}}
    if isinstance(value, int | float) and not isinstance(value, bool):
        out["value"]["lang"] = lang  # numbers read the same in every language
    if words and words.label:
        out["value"] = text_in(words.label, lang)
    explain = words.explain if words and words.explain else spec.explain if spec else None
    if explain is not None:
        text = text_in(explain, lang)
        out["explain"] = {**text, "text": text["text"].replace("{value}", _plain(value))}
    if words and words.advice:
        out["advice"] = text_in(words.advice, lang)
    return out


def _feature_words(layer: LayerDef, feature: dict[str, Any], lang: str) -> dict[str, Any]:
    shown = (layer.report or NO_REPORT).show
    specs = {f.name: f for f in layer.fields}
    props = {p["name"]: p for p in feature["properties"]}
    names = shown or list(props)
    lines = []
    for name in names:
        if name in props:
            prop = props[name]
            lines.append(
                {
                    "name": name,
                    "label": text_in(specs[name].label, lang),
                    **_value_words(specs[name], prop["value"], lang),
                }
            )
    heading = next((line["value"] for line in lines if (specs[line["name"]].meanings or {})), None)
    name = feature.get("name")
    details = [
        {"name": p["name"], "label": text_in(specs[p["name"]].label, lang), "value": _plain(p["value"])}
        for p in feature["properties"]
        if p["name"] not in shown or (specs[p["name"]].meanings and p["name"] in shown)
    ]
    return {
        "id": feature["id"],
        "name": heading or ({"text": _plain(name), "lang": "ja"} if name is not None else None),
        "lines": [line for line in lines if line["value"]["text"] != _plain(name) or heading],
        "details": details,
    }


def _boundary_distances(snapshot: Snapshot, layer_id: str, plane: LocalPlane, ids: list) -> list[float]:
    """Metres from the point to the boundary of each of these features of a layer."""
    published = snapshot.layer(layer_id)
    page = snapshot.store.query(
        published.record, Query(bbox=plane.box(EDGE_M * 4), select=(), limit=500, with_count=False)
    )
    wanted = {str(i) for i in ids}
    wkb = [w for fid, w in zip(page.ids, page.wkb, strict=True) if str(fid) in wanted]
    return [float(d) for d in plane.distances([shapely.to_wkb(shapely.from_wkb(w).boundary) for w in wkb])]


def _notes(snapshot: Snapshot, entry: dict, plane: LocalPlane, lang: str) -> list[dict[str, str]]:
    """What to know about a layer's boundaries at the point (on an edge; areas overlapping)."""
    here, title = entry["here"], text_in(entry["title"], lang)["text"]
    near_edge = [f for f in entry["nearby"] if f["distance_m"] <= EDGE_M]
    if not here and not near_edge:
        return []
    edges = _boundary_distances(snapshot, entry["id"], plane, [f["id"] for f in here]) if here else []
    on_edge = bool(near_edge) or any(d <= EDGE_M for d in edges)
    notes = []
    if on_edge:
        notes.append(word("edge", lang, layer=title, d=int(EDGE_M)))
    if len(here) > 1 and not on_edge:
        notes.append(word("overlap", lang, layer=title, n=len(here)))
    return notes


def _layer_item(snapshot: Snapshot, entry: dict, plane: LocalPlane, lang: str) -> dict[str, Any]:
    layer = snapshot.layer(entry["id"]).definition
    report = layer.report or NO_REPORT
    # Just outside an area, within EDGE_M of it: it is named, with the boundary note, rather
    # than left out (the point may be on either side at this precision).
    edge = [f for f in entry["nearby"] if f["distance_m"] <= EDGE_M] if layer.geometry == "polygon" else []
    status = (
        "here"
        if entry["here"]
        else "edge"
        if edge
        else "outside"
        if entry["coverage"] == "outside"
        else "none"
    )
    item = {
        "layer": layer.id,
        "title": text_in(layer.title, lang),
        "synthetic": layer.synthetic,
        "status": status,
        "features": [_feature_words(layer, f, lang) for f in entry["here"] or edge],
        "notes": _notes(snapshot, entry, plane, lang) if layer.geometry == "polygon" else [],
    }
    if report.source is not None:
        item["source"] = text_in(report.source, lang)
    if status == "outside":
        item["status_text"] = word("outside_data", lang)
    return item


def _hazards_here(snapshot: Snapshot, report: dict) -> list[str]:
    kinds = []
    for entry in report["layers"]:
        layer = snapshot.layer(entry["id"]).definition
        at_edge = any(f["distance_m"] <= EDGE_M for f in entry["nearby"])
        if layer.report and layer.report.hazard and (entry["here"] or at_edge):
            kinds.append(layer.report.hazard)
    return list(dict.fromkeys(kinds))


def _site(feature: dict[str, Any]) -> dict[str, Any]:
    """A site as a section lists it: name, distance and position (its fields are in ``layers``)."""
    return {k: feature[k] for k in ("id", "name", "distance_m", "lat", "lon") if k in feature}


def _matched_sites(snapshot: Snapshot, plane: LocalPlane, hazards: list[str], lang: str) -> list[dict]:
    """Per hazard at the point (and those that strike anywhere), the nearest sites designated for it."""
    groups = []
    for published in snapshot.layers:
        layer, record = published.definition, published.record
        report = layer.report or NO_REPORT
        kinds = [k for k in dict.fromkeys([*hazards, *report.always]) if k in report.shelter_flags]
        if not kinds:
            continue
        fields = _fields(layer, record, snapshot.audience)
        rows = _nearest(snapshot.store, record, plane, tuple(n for n, _, _ in fields), SITE_POOL)
        for kind in kinds:
            flag = report.shelter_flags[kind]
            chosen = [r for r in rows if r[2].get(flag)][:MATCHED_SITES]
            sites = [_site(_feature(layer, fields, fid, p, w, d)) for d, fid, p, w in chosen]
            for site in sites:
                site["walk_min"] = math.ceil(site["distance_m"] / WALK_M_PER_MIN)
                site["distance_text"] = word("distance", lang, d=site["distance_m"], m=site["walk_min"])
            hazard = word(f"hazard_{kind}", lang)["text"]
            groups.append(
                {
                    "hazard": kind,
                    "layer": layer.id,
                    "title": word("sites_for", lang, hazard=hazard),
                    "sites": sites,
                    **({} if sites else {"status_text": word("sites_none", lang, hazard=hazard)}),
                }
            )
    return groups


def _nearest_groups(report: dict, lang: str) -> list[dict]:
    groups = []
    for group in report["nearest"]:
        # 災害時モード (issue 13): each site's status, and whether only the open ones are listed.
        sites = [
            {**_site(f), "walk_min": f["walk_min"], **({"status": f["status"]} if "status" in f else {})}
            for f in group["features"]
        ]
        for site in sites:
            site["distance_text"] = word("distance", lang, d=site["distance_m"], m=site["walk_min"])
        name = text_in(group["title"], lang)
        groups.append(
            {
                "layer": group["layer"],
                "title": word("nearest_shelters", lang, name=name["text"]),
                "sites": sites,
                **({"open_only": group["open_only"]} if "open_only" in group else {}),
            }
        )
    return groups


def build_sections(snapshot: Snapshot, report: dict, lang: str) -> list[dict[str, Any]]:
    """The report's sections in order (hazard, shelter, planning, other), in ``lang``."""
    plane = LocalPlane(report["point"]["lat"], report["point"]["lon"])
    items: dict[str, list] = {s: [] for s in SECTIONS}
    for entry in report["layers"]:
        layer = snapshot.layer(entry["id"]).definition
        section = (layer.report or NO_REPORT).section
        at_edge = any(f["distance_m"] <= EDGE_M for f in entry["nearby"])
        if layer.geometry == "point" or (
            section in ("other", "planning") and not entry["here"] and not at_edge
        ):
            continue  # points are listed with distances; absent rules are not news
        items[section].append(_layer_item(snapshot, entry, plane, lang))
    hazards = _hazards_here(snapshot, report)
    sections = []
    for section in SECTIONS:
        body: dict[str, Any] = {
            "id": section,
            "title": word(f"section_{section}", lang),
            "items": items[section],
        }
        covered = [i for i in items[section] if i["status"] != "outside"]
        if section == "hazard" and not hazards and covered:
            body["status_text"] = word("no_hazard", lang)
        if section == "shelter":
            body["matched"] = _matched_sites(snapshot, plane, hazards, lang)
            matched = {g["layer"] for g in body["matched"]}
            # A layer whose sites are matched to the hazards is not listed again unmatched.
            body["nearest"] = [g for g in _nearest_groups(report, lang) if g["layer"] not in matched]
        sections.append(body)
    return sections


def summary(place: dict | None, sections: list[dict], lang: str) -> list[dict[str, str]]:
    """A few lines for the top of a report: the place, the hazards, the zoning."""
    lines = [place["name"]] if place else []
    for section in sections:
        if section["id"] not in ("hazard", "planning"):
            continue
        if section.get("status_text"):
            lines.append(section["status_text"])
        for item in section["items"]:
            for feature in item["features"][:1]:
                if feature["name"]:
                    text = f"{item['title']['text']}: {feature['name']['text']}"
                    lines.append({"text": text, "lang": feature["name"]["lang"]})
    return lines
