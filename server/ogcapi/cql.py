"""The ``filter`` of an items request: CQL2 text or JSON, parsed by pygeofilter, checked here.

The result is the plain tree every store translates (``tsukuba_gis/store/cql.py``): only the
audience's queryable properties (``fields``) and ``geometry``; geometry literals moved from
``filter-crs`` to CRS84 (pyproj, the CRS's own axis order in, lon/lat out); the spatial
literal always on the right; temporal predicates on dates turned into comparisons; every value
of the property's type. Anything else is a :class:`BadRequest` that says where and why (the
expression itself is never echoed back).

pygeofilter 0.4's CQL2 text grammar lacks the temporal functions (``T_AFTER(d, DATE(..))``
fails to parse; compare dates with ``<``/``>`` instead, or use CQL2 JSON) and ``S_DWITHIN``;
property names need two characters or double quotes. Its CQL2 JSON reader takes a ``bbox``
in the wrong order and ``between`` not at all: both are rewritten before it reads them.
"""

import json
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

import lark
import pyproj
import shapely
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text
from shapely.geometry import mapping, shape

from server.ogcapi import crs
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.store.cql import COMPARISON_SQL, GEOMETRY, SPATIAL

LANGUAGES = ("cql2-text", "cql2-json")
# The draft names (GDAL 3.6 sends ``filter-lang=cql-text``).
ALIASES = {"cql-text": "cql2-text", "cql-json": "cql2-json"}
# The checked tree of the request being answered, for pygeoapi's parse step (patches.py).
FILTER: ContextVar[Any] = ContextVar("tsukuba_gis_filter", default=None)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_FILTER_CHARS = 20_000  # a filter is a query, not an upload
CONVERSE = {
    ast.GeometryWithin: ast.GeometryContains,
    ast.GeometryContains: ast.GeometryWithin,
}
TEMPORAL = {
    ast.TimeAfter: ast.GreaterThan,
    ast.TimeBefore: ast.LessThan,
    ast.TimeEquals: ast.Equal,
}
NUMBERS = {"integer", "number"}


def _fail(reason: str) -> BadRequest:
    return BadRequest(f"filter: {reason}")


def _json_fixes(node: Any) -> Any:
    """CQL2 JSON as pygeofilter 0.4 reads it: ``bbox`` as a polygon, ``between`` as and."""
    if isinstance(node, list):
        return [_json_fixes(n) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) == 4:
        return mapping(shapely.box(*node["bbox"]))
    if node.get("op") == "between" and isinstance(node.get("args"), list) and len(node["args"]) == 3:
        subject, low, high = _json_fixes(node["args"])
        return {
            "op": "and",
            "args": [{"op": ">=", "args": [subject, low]}, {"op": "<=", "args": [subject, high]}],
        }
    return {k: _json_fixes(v) for k, v in node.items()}


def parse(text: str, language: str | None) -> Any:
    """The pygeofilter tree of a filter in CQL2 text (default) or CQL2 JSON."""
    if len(text) > MAX_FILTER_CHARS:
        raise _fail(f"longer than {MAX_FILTER_CHARS} characters")
    language = ALIASES.get(language or "cql2-text", language or "cql2-text")
    if language not in LANGUAGES:
        raise BadRequest(f"filter-lang: one of {', '.join(LANGUAGES)}")
    if language == "cql2-json":
        try:
            document = json.loads(text)
        except ValueError as err:
            position = getattr(err, "pos", None)
            raise _fail(f"not JSON (at character {position}): {getattr(err, 'msg', err)}") from None
        try:
            return parse_json(_json_fixes(document))
        except (ValueError, KeyError, TypeError, IndexError):
            raise _fail(
                "not a CQL2 JSON expression (an unknown op, or arguments of the wrong kind)"
            ) from None
    try:
        return parse_text(text)
    except lark.exceptions.UnexpectedInput as err:
        found = getattr(err, "char", None) or getattr(getattr(err, "token", None), "value", None)
        what = f"unexpected {found!r}" if found else "the expression ends too early"
        raise _fail(f"{what} at line {err.line}, column {err.column}") from None
    except (lark.exceptions.LarkError, ValueError, TypeError) as err:
        raise _fail(f"not a CQL2 text expression ({type(err).__name__})") from None


class Checker:
    """Puts a parsed tree in the plain form the stores translate, or says what is wrong.

    Attributes:
        fields: queryable property -> type ("string", "integer", "number", "boolean", "date").
        to_crs84: the transformer from ``filter-crs`` (None when it is CRS84).
    """

    def __init__(self, fields: dict[str, str], filter_crs: str | None):
        self.fields = fields
        self.to_crs84 = None
        if filter_crs and filter_crs != CRS84:
            try:
                source = pyproj.CRS.from_user_input(filter_crs)
            except pyproj.exceptions.CRSError:
                raise BadRequest("filter-crs: not a CRS this server knows") from None
            self.to_crs84 = pyproj.Transformer.from_crs(source, pyproj.CRS.from_user_input(CRS84))

    def check(self, node: Any) -> Any:  # noqa: C901 (one branch per node kind)
        """The plain form of ``node`` (raises BadRequest)."""
        if isinstance(node, ast.And | ast.Or):
            return type(node)(self.check(node.lhs), self.check(node.rhs))
        if isinstance(node, ast.Not):
            return ast.Not(self.check(node.sub_node))
        if isinstance(node, ast.Include):
            return node
        if type(node) in COMPARISON_SQL:
            kind, lhs = self.subject(node.lhs)
            return type(node)(lhs, self.literal(node.rhs, kind, lowered=_lowered(node.lhs)))
        if isinstance(node, ast.Between):
            kind, lhs = self.subject(node.lhs)
            return ast.Between(lhs, self.literal(node.low, kind), self.literal(node.high, kind), node.not_)
        if isinstance(node, ast.In):
            kind, lhs = self.subject(node.lhs)
            return ast.In(lhs, [self.literal(v, kind, _lowered(node.lhs)) for v in node.sub_nodes], node.not_)
        if isinstance(node, ast.IsNull):
            return ast.IsNull(self.subject(node.lhs)[1], node.not_)
        if isinstance(node, ast.Like):
            return self.like(node)
        if type(node) in SPATIAL:
            return self.spatial(node)
        if type(node) in TEMPORAL or isinstance(node, ast.TimeDuring):
            return self.temporal(node)
        if isinstance(node, ast.Arithmetic):
            raise _fail("arithmetic is not supported")
        raise _fail(f"{type(node).__name__} is not supported")

    def subject(self, node: Any) -> tuple[str, Any]:
        """(type, node) of the left side: a queryable property, or CASEI of one."""
        if _lowered(node):
            kind, inner = self.subject(node.arguments[0])
            if kind != "string":
                raise _fail("CASEI applies to text properties")
            return kind, ast.Function("lower", [inner])
        if isinstance(node, ast.Function):
            raise _fail(f"the function {node.name.upper()} is not supported")
        if isinstance(node, ast.Arithmetic):
            raise _fail("arithmetic is not supported")
        if not isinstance(node, ast.Attribute):
            raise _fail("the left side of a comparison must be a property")
        if node.name not in self.fields:
            # The name is not echoed (errors never reflect input); the client knows what it sent.
            raise _fail("a property that is not a queryable of this collection (see its /queryables)")
        return self.fields[node.name], node

    def literal(self, value: Any, kind: str, lowered: bool = False) -> Any:
        """A value of the property's type (CASEI of a string when ``lowered``)."""
        if _lowered(value):
            if not lowered:
                raise _fail("CASEI on one side only")
            return ast.Function("lower", [self.literal(value.arguments[0], kind)])
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int | float) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "date": isinstance(value, date | datetime) or (isinstance(value, str) and _is_date(value)),
        }[kind]
        if not ok:
            raise _fail(f"a {kind} property compared with a value of type {type(value).__name__}")
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        return value

    def like(self, node: ast.Like) -> ast.Like:
        """LIKE on a text property, with CQL2's wildcards (``%``, ``_``, ``\\``)."""
        kind, lhs = self.subject(node.lhs)
        if kind != "string":
            raise _fail("LIKE applies to text properties")
        pattern = node.pattern
        if _lowered(pattern) != _lowered(node.lhs):
            raise _fail("CASEI on both sides of LIKE, or on neither")
        text = pattern.arguments[0] if _lowered(pattern) else pattern
        if not isinstance(text, str):
            raise _fail("the pattern of LIKE must be a string")
        pattern = ast.Function("lower", [text]) if _lowered(pattern) else text
        return ast.Like(lhs, pattern, False, "%", "_", "\\", node.not_)

    def spatial(self, node: Any) -> Any:
        """``op(geometry, literal)``; a literal on the left swaps to the converse predicate."""
        kind = type(node)
        lhs, rhs = node.lhs, node.rhs
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs, kind = rhs, lhs, CONVERSE.get(kind, kind)
        if not (isinstance(lhs, ast.Attribute) and lhs.name == GEOMETRY):
            raise _fail(f"a spatial predicate compares {GEOMETRY!r} with a geometry")
        return kind(ast.Attribute(GEOMETRY), self.geometry(rhs))

    def geometry(self, node: Any) -> values.Geometry:
        """A geometry literal (POINT, POLYGON, BBOX, ...) as GeoJSON in CRS84."""
        if isinstance(node, ast.Function) and node.name == "bbox" and len(node.arguments) in (4, 6):
            args = node.arguments
            box = args if len(args) == 4 else [args[0], args[1], args[3], args[4]]
            geom = self.box(box)
        elif isinstance(node, values.Envelope):
            geom = self.box([node.x1, node.y1, node.x2, node.y2])
        elif isinstance(node, values.Geometry):
            try:
                geom = shape(node.geometry)
            except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
                raise _fail("an invalid geometry literal") from None
            if self.to_crs84 is not None:
                geom = shapely.transform(geom, lambda xy: _transformed(self.to_crs84, xy))
        else:
            raise _fail("a spatial predicate needs a geometry literal (POINT, POLYGON, BBOX, ...)")
        if geom.is_empty or not shapely.is_valid(geom) and geom.geom_type.endswith("Polygon"):
            raise _fail("an empty or invalid geometry literal")
        return values.Geometry(mapping(geom))

    def box(self, box: list[Any]) -> Any:
        """A BBOX in ``filter-crs`` as a CRS84 polygon (edges densified)."""
        if not all(isinstance(v, int | float) for v in box):
            raise _fail("BBOX takes numbers")
        if self.to_crs84 is None:
            return shapely.box(*box)
        return shapely.box(*self.to_crs84.transform_bounds(*box, densify_pts=21))

    def temporal(self, node: Any) -> Any:
        """T_AFTER, T_BEFORE, T_EQUALS, T_DURING on a date property, as comparisons."""
        kind, lhs = self.subject(node.lhs)
        if kind != "date":
            raise _fail("temporal predicates apply to date properties")
        if isinstance(node, ast.TimeDuring):
            interval = node.rhs
            if not isinstance(interval, values.Interval):
                raise _fail("T_DURING takes an INTERVAL")
            start, end = self.literal(interval.start, kind), self.literal(interval.end, kind)
            return ast.And(ast.GreaterThan(lhs, start), ast.LessThan(lhs, end))
        return TEMPORAL[type(node)](lhs, self.literal(node.rhs, kind))


def _transformed(transformer: pyproj.Transformer, xy):
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _lowered(node: Any) -> bool:
    return isinstance(node, ast.Function) and node.name == "lower"


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def checked_filter(text: str, language: str | None, filter_crs: str | None, fields: dict[str, str]) -> Any:
    """The plain tree of an items request's ``filter`` (raises BadRequest saying what is wrong)."""
    return Checker(fields, filter_crs).check(parse(text, language))


def request_filter(resource: dict[str, Any], params: Any) -> Any:
    """The checked tree of an items request's ``filter`` on a feature collection (None without
    one); ``filter-lang`` and ``filter-crs`` are checked even then."""
    if params.get("filter-crs") is not None and params["filter-crs"] not in crs.SUPPORTED:
        raise BadRequest(f"filter-crs: one of {', '.join(crs.SUPPORTED)}")
    language = params.get("filter-lang")
    if language is not None and language not in (*LANGUAGES, *ALIASES):
        raise BadRequest(f"filter-lang: one of {', '.join(LANGUAGES)}")
    if params.get("filter") is None:
        return None
    provider = next(p for p in resource["providers"] if p["type"] == "feature")
    fields = dict(provider["options"]["fields"])
    return checked_filter(params["filter"], language, params.get("filter-crs"), fields)
