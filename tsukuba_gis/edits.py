"""Check a staff edit against its layer definition and make the store's EditRequest of it.

The HTTP side (``server/ogcapi/transactions.py``) gives the parsed JSON of a GeoJSON feature
(POST, PUT) or a JSON merge patch of one (PATCH, RFC 7396); this module decides what it means
for the layer: only ``editable.fields`` may be set, each to a value of its type (and among its
``values``, within ``max_length``, ``minimum``/``maximum``), the geometry must be of the layer's
type, valid, and inside the city. Every refusal is a BadRequest naming the member at fault.
Error messages never repeat a client's value (it may be megabytes, or markup).
"""

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry.base import BaseGeometry

from tsukuba_gis.errors import BadRequest, MethodNotAllowed
from tsukuba_gis.layerdef import FieldDef, LayerDef
from tsukuba_gis.store.base import Editor, EditRequest

JST = ZoneInfo("Asia/Tokyo")
DEFAULT_MAX_LENGTH = 2000  # characters of an edited text without max_length
SHAPES = {
    "point": ("Point",),
    "line": ("LineString", "MultiLineString"),
    "polygon": ("Polygon", "MultiPolygon"),
}
FEATURE_MEMBERS = {"type", "id", "geometry", "properties", "bbox", "links"}
SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Draft:
    """An edit's checked parts, before it becomes an EditRequest.

    Attributes:
        properties: field -> value, only the editable fields the body set.
        geometry: lon/lat WKB of the layer's geometry type, None when the body had none.
    """

    properties: dict[str, Any]
    geometry: bytes | None


def now_jst() -> str:
    """The time written into ``updated_field``: ISO 8601 in Japan time, to the second."""
    return datetime.now(JST).isoformat(timespec="seconds")


def _name(name: Any) -> str:
    """A property name fit for an error message (a client's own, so only if it is plain)."""
    return f"properties.{name}" if isinstance(name, str) and SAFE_NAME.match(name) else "a property name"


def _typed(spec: FieldDef, value: Any) -> Any:
    where = f"properties.{spec.name}"
    if value is None:
        if spec.required:
            raise BadRequest(f"{where}: required, it cannot be emptied")
        return None
    if spec.type == "string":
        if not isinstance(value, str):
            raise BadRequest(f"{where}: must be text")
        value = value.strip()
        limit = spec.max_length or DEFAULT_MAX_LENGTH
        if len(value) > limit:
            raise BadRequest(f"{where}: at most {limit} characters")
        return value or None
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise BadRequest(f"{where}: must be true or false")
        return value
    if spec.type == "date":
        try:
            return date.fromisoformat(value).isoformat() if isinstance(value, str) else _bad(where, "a date")
        except ValueError:
            raise BadRequest(f"{where}: must be a date (YYYY-MM-DD)") from None
    return _number(spec, value, where)


def _bad(where: str, what: str) -> Any:
    raise BadRequest(f"{where}: must be {what}")


def _number(spec: FieldDef, value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{where}: must be a {'whole ' if spec.type == 'integer' else ''}number")
    if spec.type == "integer":
        if value != int(value) or not -(2**63) <= value < 2**63:
            raise BadRequest(f"{where}: must be a whole number")
        value = int(value)
    if spec.minimum is not None and value < spec.minimum or spec.maximum is not None and value > spec.maximum:
        raise BadRequest(f"{where}: must be from {spec.minimum} to {spec.maximum}")
    return value


def check_value(spec: FieldDef, value: Any) -> Any:
    """The value as stored, or BadRequest naming the field (type, allowed values, limits)."""
    value = _typed(spec, value)
    if value is not None and spec.values is not None and value not in spec.values:
        allowed = ", ".join(str(v) for v in spec.values)
        raise BadRequest(f"properties.{spec.name}: not one of the allowed values ({allowed})")
    return value


def check_properties(
    layer: LayerDef, properties: Any, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The editable fields a body sets, checked.

    Fields that are not editable may be sent back unchanged (a client sending the whole feature,
    ``current`` its values now) and are then ignored; ``updated_field`` is always ignored.
    """
    fields = layer.editable.fields
    return _checked(layer, properties, set(fields), current, f"editable: {', '.join(fields)}")


def check_new_properties(layer: LayerDef, properties: Any) -> dict[str, Any]:
    """Every field of a new feature (any field may be given; live fields start at their
    ``value``), checked; a required field missing is a BadRequest."""
    names = {f.name for f in layer.fields}
    if isinstance(properties, dict) and properties.get(layer.id_field, 0) is None:
        # An empty id (QGIS sends every attribute, null when left empty): the server makes one.
        properties = {k: v for k, v in properties.items() if k != layer.id_field}
    found = _checked(layer, properties, names, None, f"fields: {', '.join(sorted(names))}")
    for spec in layer.fields:
        if spec.name not in found and spec.live and spec.value is not None:
            found[spec.name] = spec.value
        if spec.required and found.get(spec.name) is None and spec.name != layer.id_field:
            raise BadRequest(f"properties.{spec.name}: required for a new feature")
    return found


def _checked(
    layer: LayerDef, properties: Any, settable: set[str], current: dict[str, Any] | None, hint: str
) -> dict[str, Any]:
    if not isinstance(properties, dict):
        raise BadRequest("properties: must be an object of field names and values")
    names = {f.name for f in layer.fields}
    found = {}
    for name, value in properties.items():
        if name not in names:
            raise BadRequest(f"{_name(name)}: not a field of {layer.id} ({hint})")
        if name == layer.editable.updated_field:
            continue  # set by the server
        if name not in settable:
            if current is not None and current.get(name) == value:
                continue
            raise BadRequest(f"properties.{name}: not editable on {layer.id} ({hint})")
        found[name] = check_value(layer.field(name), value)
    return found


def check_geometry(layer: LayerDef, geometry: Any, area: BaseGeometry | None) -> bytes:
    """The WKB of a GeoJSON geometry fit for the layer: its type, valid, 2-D, inside ``area``."""
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise BadRequest("geometry: must be a GeoJSON geometry object")
    allowed = SHAPES[layer.geometry]
    if geometry["type"] not in allowed:
        raise BadRequest(f"geometry: {layer.id} holds {' or '.join(allowed)} geometries")
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise BadRequest(
            "geometry: not a valid GeoJSON geometry (coordinates: [longitude, latitude])"
        ) from None
    shape = shapely.force_2d(shape)
    if shape.is_empty or not bool(shapely.is_valid(shape)):
        reason = shapely.is_valid_reason(shape) if not shape.is_empty else "empty"
        raise BadRequest(f"geometry: not valid ({reason})")
    coords = shapely.get_coordinates(shape)
    if not (
        (-180 <= coords[:, 0]) & (coords[:, 0] <= 180) & (-90 <= coords[:, 1]) & (coords[:, 1] <= 90)
    ).all():
        raise BadRequest("geometry: coordinates are longitude, latitude in degrees (CRS84)")
    if area is not None and not area.covers(shape):
        raise BadRequest("geometry: outside the city (edits stay inside the area this map covers)")
    if layer.geometry == "line" and shape.geom_type == "LineString":
        shape = shapely.MultiLineString([shape])
    elif layer.geometry == "polygon" and shape.geom_type == "Polygon":
        shape = shapely.MultiPolygon([shape])
    return shapely.to_wkb(shape, output_dimension=2)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: ``patch`` applied to ``target`` (null members remove)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def check_members(document: Any, url_id: str | None) -> dict[str, Any]:
    """A feature object (or merge patch of one): known members, an id that matches the URL's."""
    if not isinstance(document, dict):
        raise BadRequest("the body must be a GeoJSON Feature object")
    unknown = [k for k in document if k not in FEATURE_MEMBERS]
    if unknown:
        raise BadRequest(
            f"{_name(unknown[0]).removeprefix('properties.')}: not a member of a GeoJSON Feature"
        )
    if document.get("type", "Feature") != "Feature":
        raise BadRequest("type: must be Feature")
    if (
        url_id is not None
        and "id" in document
        and document["id"] is not None
        and str(document["id"]) != url_id
    ):
        raise BadRequest("id: differs from the feature's id in the URL (ids cannot be edited)")
    return document


def writable(layer: LayerDef, kind: str) -> None:
    """MethodNotAllowed when the layer takes no edit of this kind."""
    editable = layer.editable
    if editable is None:
        raise MethodNotAllowed(f"{layer.id} is not editable", ("GET", "HEAD"))
    if kind == "add" and not editable.create:
        raise MethodNotAllowed(f"{layer.id} takes no new features", ("GET", "HEAD", "OPTIONS"))
    if kind == "delete" and not editable.delete:
        raise MethodNotAllowed(
            f"features of {layer.id} cannot be deleted", ("GET", "HEAD", "OPTIONS", "PUT", "PATCH")
        )


def new_id(layer: LayerDef, properties: dict[str, Any], document: dict[str, Any]) -> str:
    """The id of a new feature: the id field's value (or the feature's ``id``), else a new one."""
    spec = layer.field(layer.id_field)
    given = properties.get(layer.id_field, document.get("id"))
    if given is None:
        if spec.type != "string":
            raise BadRequest(f"properties.{layer.id_field}: required for a new feature")
        return f"{layer.id}-{uuid.uuid4().hex[:12]}"
    value = _typed(spec.model_copy(update={"required": True}), given)
    return str(value)


def request_for(
    layer: LayerDef,
    kind: str,
    feature_id: str,
    editor: Editor,
    draft: Draft,
    expect: tuple[int, int] | None,
) -> EditRequest:
    """The store's request for a checked edit (``updated_field`` stamped with the time now)."""
    if draft.geometry is not None and not layer.editable.geometry and kind != "add":
        raise BadRequest(f"geometry: the features of {layer.id} cannot be moved")
    stamp = (layer.editable.updated_field, now_jst()) if layer.editable.updated_field else None
    return EditRequest(
        kind,
        feature_id,
        editor,
        properties=draft.properties,
        geometry=draft.geometry,
        expect=expect,
        stamp=stamp,
    )
