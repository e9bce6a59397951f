"""One self-contained OpenAPI document: every vendored ``$ref`` copied into ``components``.

``openapi_local.localize`` points pygeoapi's references at the vendored OGC files served under
``{api}/schemas``. A client still has to fetch and resolve those files (relative references
between them included) and some tools do it wrongly or not at all. :func:`bundle` copies each
referenced fragment into the document's own ``components`` (responses, parameters, schemas,
by where the fragment sits), following references inside the copies, so every ``$ref`` of the
served document is ``#/components/...`` and resolves with no request at all.
"""

import copy
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from server.ogcapi.openapi_local import SCHEMAS_DIR, UnmappedReferenceError, load_schema_file, resolve_pointer

KINDS = ("responses", "parameters", "schemas", "headers", "examples", "requestBodies")


def _kind(path: str, fragment: str) -> str:
    """The components section a fragment belongs in (by its pointer, else by its file's folder)."""
    parts = fragment.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "components" and parts[1] in KINDS:
        return parts[1]
    folders = Path(path).parts
    for kind in ("responses", "parameters"):
        if kind in folders:
            return kind
    return "schemas"


def _name(path: str, fragment: str) -> str:
    tail = fragment.strip("/").split("/")[-1] if fragment.strip("/") else Path(path).stem
    return tail.replace("~1", "_").replace("~0", "_") or "fragment"


class _Bundler:
    def __init__(self, document: dict[str, Any], schemas_url: str):
        self.document = document
        self.prefix = schemas_url.rstrip("/") + "/"
        self.components = document.setdefault("components", {})
        self.done: dict[tuple[str, str], str] = {}  # (file, fragment) -> local ref

    def local(self, url: str) -> str:
        """The local ``#/components/...`` ref of a vendored URL (copied on first use)."""
        base, fragment = urldefrag(url)
        path = base[len(self.prefix) :]
        key = (path, fragment)
        if key in self.done:
            return self.done[key]
        file = SCHEMAS_DIR / path
        if not file.is_file():
            raise UnmappedReferenceError([(url, url, "not vendored")])
        node = resolve_pointer(load_schema_file(file), fragment) if fragment else load_schema_file(file)
        kind = _kind(path, fragment)
        section = self.components.setdefault(kind, {})
        name, n = _name(path, fragment), 1
        while name in section or any(ref == f"#/components/{kind}/{name}" for ref in self.done.values()):
            n += 1
            name = f"{_name(path, fragment)}{n}"
        ref = f"#/components/{kind}/{name}"
        self.done[key] = ref  # before the copy's own refs: cycles end here
        section[name] = self.walk(copy.deepcopy(node), base)
        return ref

    def walk(self, node: Any, base: str | None) -> Any:
        """``node`` with its refs local; relative refs resolve against ``base`` (a vendored file)."""
        if isinstance(node, list):
            return [self.walk(item, base) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = self.ref(value, base)
            else:
                out[key] = self.walk(value, base)
        return out

    def ref(self, value: str, base: str | None) -> str:
        if value.startswith("#"):
            # Within the served document: as it is. Within a vendored file: that file's fragment.
            return value if base is None else self.local(base + value)
        absolute = urljoin(base, value) if base is not None else value
        if absolute.startswith(self.prefix):
            return self.local(absolute)
        raise UnmappedReferenceError([(str(base), value, "not a vendored schema")])


def bundle(document: dict[str, Any], schemas_url: str) -> dict[str, Any]:
    """A copy of a localized document whose every ``$ref`` is local (``#/components/...``)."""
    bundler = _Bundler(copy.deepcopy(document), schemas_url)
    result = bundler.document
    for key in [k for k in result if k != "components"]:
        result[key] = bundler.walk(result[key], None)
    own = result.get("components", {})
    for kind in list(own):
        for name in list(own[kind]):
            own[kind][name] = bundler.walk(own[kind][name], None)
    return result
