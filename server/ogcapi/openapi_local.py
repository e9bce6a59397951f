"""Make pygeoapi's OpenAPI document self-contained for LGWAN (closed network).

pygeoapi's OpenAPI generator (``pygeoapi.openapi.get_oas``) points its
``$ref``s at the OGC schema repository (https://schemas.opengis.net/...) and
at raw GitHub files of the OGC standards repositories.  Swagger UI / ReDoc
and every other OpenAPI tool fetch those documents at run time, which is
impossible on LGWAN.

This module rewrites such references to a copy of the official files that is
vendored in :data:`SCHEMAS_DIR` (see ``schemas/PROVENANCE.md``) and that the
application serves as a plain static directory, e.g. at ``/api/schemas``::

    from server.ogcapi.openapi_local import SCHEMAS_DIR, localize
    app.mount("/api/schemas", StaticFiles(directory=SCHEMAS_DIR))
    doc = localize(get_oas(config), "http://127.0.0.1:8000/api/schemas")

Layout of :data:`SCHEMAS_DIR` (relative layout of the originals is kept, so
relative ``$ref``s between the vendored files keep working):

* ``<path>``  mirrors ``https://schemas.opengis.net/<path>`` (this is also the
  layout pygeoapi expects for its ``server.ogc_schemas_location`` option, so
  references that pygeoapi already emits as ``{server.url}/schemas/<path>``
  resolve against the same tree);
* ``github/opengeospatial/<repo>/<branch>/<path>`` mirrors
  ``https://raw.githubusercontent.com/opengeospatial/<repo>/<branch>/<path>``
  (``refs/heads/<branch>`` is treated as ``<branch>``).

:func:`localize` raises :class:`UnmappedReferenceError` (a ``ValueError``)
listing every reference it cannot map to an existing vendored file / node, so
that a pygeoapi upgrade that starts emitting a new external reference fails
loudly in the tests instead of silently breaking the API docs on LGWAN.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

import yaml

from tsukuba_gis.errors import GisError

__all__ = [
    "SCHEMAS_DIR",
    "OGC_SCHEMA_HOSTS",
    "UnmappedReferenceError",
    "localize",
    "map_external_url",
    "load_schema_file",
    "resolve_pointer",
]

#: Directory holding the vendored OGC schema files (static-mount this).
SCHEMAS_DIR: Path = Path(__file__).resolve().parent / "schemas"

#: Hosts from which OpenAPI tooling would fetch OGC schema documents.
#: Any whole-string URL on these hosts is rewritten when it can be mapped;
#: a ``$ref`` on them that cannot be mapped is an error.
OGC_SCHEMA_HOSTS: frozenset[str] = frozenset(
    {
        "schemas.opengis.net",
        "beta.schemas.opengis.net",
        "raw.githubusercontent.com",
        "opengeospatial.github.io",
    }
)

#: Keys whose (string) value is dereferenced by OpenAPI / JSON Schema tools.
_FETCHED_KEYS = ("$ref", "$dynamicRef", "$recursiveRef", "externalValue")

_SCHEMAS_OPENGIS = re.compile(r"^https?://(?:beta\.)?schemas\.opengis\.net/(?P<path>[^#?]*)$")
_RAW_GITHUB_OGC = re.compile(
    r"^https?://raw\.githubusercontent\.com/opengeospatial/"
    r"(?P<repo>[^/]+)/(?:refs/heads/)?(?P<branch>[^/]+)/(?P<path>[^#?]*)$"
)
_URL = re.compile(r"^https?://[^\s]+$")


class UnmappedReferenceError(GisError, ValueError):
    """Some external references could not be mapped to vendored files.

    ``unmapped`` is a list of ``(json_path, value, reason)`` tuples.
    """

    def __init__(self, unmapped: list[tuple[str, str, str]]):
        self.unmapped = unmapped
        lines = [f"  {p}: {v!r} ({why})" for p, v, why in unmapped]
        super().__init__(
            f"{len(unmapped)} external reference(s) cannot be served from "
            f"{SCHEMAS_DIR} (vendor them, see schemas/PROVENANCE.md):\n" + "\n".join(lines)
        )


def _relative_path(url_without_fragment: str) -> str | None:
    """Vendored-tree relative path for an external schema URL, or None."""
    m = _SCHEMAS_OPENGIS.match(url_without_fragment)
    if m:
        return m.group("path")
    m = _RAW_GITHUB_OGC.match(url_without_fragment)
    if m:
        return "github/opengeospatial/{repo}/{branch}/{path}".format(**m.groupdict())
    return None


@functools.lru_cache(maxsize=256)
def _load_cached(path: str, mtime_ns: int) -> Any:
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def load_schema_file(path: Path) -> Any:
    """Parse a vendored YAML/JSON schema file (cached)."""
    path = Path(path)
    return _load_cached(str(path), path.stat().st_mtime_ns)


def _iter_nodes(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _iter_nodes(v)
    elif isinstance(node, list):
        for v in node:
            yield from _iter_nodes(v)


def resolve_pointer(document: Any, fragment: str) -> Any:
    """Resolve a URI fragment (``/json/pointer`` or a plain-name anchor).

    ``fragment`` is the part after ``#`` (may be empty).  Raises ``KeyError``
    when the target does not exist.
    """
    fragment = unquote(fragment)
    if fragment == "":
        return document
    if not fragment.startswith("/"):
        # JSON Schema plain-name fragment: "$anchor" / "$dynamicAnchor"
        for node in _iter_nodes(document):
            if fragment in (node.get("$anchor"), node.get("$dynamicAnchor")):
                return node
        raise KeyError(f"anchor #{fragment} not found")
    node = document
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(f"#{fragment}: no member {token!r}")
    return node


def _check_target(rel_path: str, fragment: str | None) -> str | None:
    """Return an error reason, or None if SCHEMAS_DIR/rel_path[#fragment] exists."""
    target = (SCHEMAS_DIR / unquote(rel_path)).resolve()
    try:
        target.relative_to(SCHEMAS_DIR)
    except ValueError:
        return "points outside the vendored tree"
    if not target.is_file():
        return f"not vendored: {rel_path}"
    if fragment:
        try:
            resolve_pointer(load_schema_file(target), fragment)
        except (KeyError, yaml.YAMLError, json.JSONDecodeError) as err:
            return f"{rel_path}#{fragment}: {err}"
    return None


def map_external_url(url: str, schemas_url: str) -> tuple[str | None, str | None]:
    """Map one URL to its vendored copy.

    Returns ``(new_url, None)`` on success, ``(None, None)`` if the URL is not
    an OGC schema URL at all, and ``(None, reason)`` if it is one (or already
    points into ``schemas_url``) but the target is not vendored.
    """
    schemas_url = schemas_url.rstrip("/")
    base, _, fragment = url.partition("#")
    if base.startswith(schemas_url + "/"):
        rel = base[len(schemas_url) + 1 :]
        reason = _check_target(rel, fragment)
        return (url, None) if reason is None else (None, reason)
    rel = _relative_path(base)
    if rel is None:
        return None, None
    reason = _check_target(rel, fragment)
    if reason is not None:
        return None, reason
    return f"{schemas_url}/{rel}" + (f"#{fragment}" if "#" in url else ""), None


def _is_ogc_schema_host(url: str) -> bool:
    return (urlsplit(url).hostname or "") in OGC_SCHEMA_HOSTS


def _json_path_token(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


class _Localizer:
    """Walks a JSON-like tree in place, rewriting references (see :func:`localize`)."""

    def __init__(self, schemas_url: str):
        self.schemas_url = schemas_url
        self.unmapped: list[tuple[str, str, str]] = []

    def visit(self, node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key in list(node.keys()):
                self._visit_member(node, key, f"{path}/{_json_path_token(key)}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    node[i] = self._plain_string(value)
                else:
                    self.visit(value, f"{path}/{i}")

    def _visit_member(self, node: dict, key: Any, path: str) -> None:
        value = node[key]
        if not isinstance(value, str):
            self.visit(value, path)
        elif key in _FETCHED_KEYS:
            node[key] = self._reference(value, path)
        elif key == "$id" and _URL.match(value):
            if not value.startswith(self.schemas_url + "/"):
                del node[key]
        else:
            node[key] = self._plain_string(value)

    def _reference(self, value: str, path: str) -> str:
        if value.startswith("#"):
            return value
        new, reason = map_external_url(value, self.schemas_url)
        if new is not None:
            return new
        if reason is None:
            reason = (
                "external reference with no vendored copy"
                if _URL.match(value)
                else "relative reference (no base document on this server)"
            )
        self.unmapped.append((path, value, reason))
        return value

    def _plain_string(self, value: str) -> str:
        if _URL.match(value) and _is_ogc_schema_host(value):
            new, _reason = map_external_url(value, self.schemas_url)
            if new is not None:
                return new
        return value


def localize(doc: dict, schemas_url: str) -> dict:
    """Return a deep copy of ``doc`` that references only local schema files.

    * every ``$ref`` (also ``$dynamicRef``, ``$recursiveRef``,
      ``externalValue``) to schemas.opengis.net or
      raw.githubusercontent.com/opengeospatial is rewritten to
      ``{schemas_url}/<relative path>#fragment`` under :data:`SCHEMAS_DIR`,
      after checking that the file and the JSON-pointer target exist;
    * references already under ``schemas_url`` are checked the same way;
    * any other absolute or document-relative ``$ref`` is an error
      (internal ``#/...`` references are kept);
    * other string values that are exactly an OGC-schema-host URL are
      rewritten when a vendored copy exists (they are not fetched by tools,
      so unmappable ones are left alone);
    * absolute ``$id`` values of embedded JSON Schemas (pygeoapi's admin
      config schema carries ``$id: https://raw.githubusercontent.com/...``)
      are removed: they are identifiers, but a JSON Schema aware resolver
      would resolve the schema's internal ``#/definitions/...`` refs against
      that remote base; without ``$id`` they resolve in this document, where
      pygeoapi also places ``definitions``.

    Raises :class:`UnmappedReferenceError` (``ValueError``) listing every
    reference that cannot be served locally.
    """
    if not re.match(r"^https?://", schemas_url) and not schemas_url.startswith("/"):
        raise ValueError(f"schemas_url must be absolute: {schemas_url!r}")
    localizer = _Localizer(schemas_url.rstrip("/"))
    out = copy.deepcopy(doc)
    localizer.visit(out, "#")
    if localizer.unmapped:
        raise UnmappedReferenceError(localizer.unmapped)
    return out
