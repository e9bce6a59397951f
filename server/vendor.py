"""``/vendor``: the npm files the pages load, and nothing else of ``viewer/node_modules``."""

import os
import posixpath
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from server.ogcapi.config import HERE as OGCAPI_DIR

_TEMPLATE_ASSET = re.compile(r"local\.vendor \}\}/([^\"'\s]+)")
_CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)")


def vendor_files(modules: Path, templates: Path = OGCAPI_DIR / "templates") -> frozenset[str]:
    """The npm files the pages load: those the templates name, and what their CSS names.

    node_modules holds far more (package.json files, the lock file, sources, licences, tools):
    serving all of it published the dependency tree with versions to anyone who asked.
    """
    named = {
        m for path in templates.rglob("*.html") for m in _TEMPLATE_ASSET.findall(path.read_text("utf-8"))
    }
    files = {n for n in named if (modules / n).is_file()}
    for css in [n for n in files if n.endswith(".css")]:
        for ref in _CSS_URL.findall((modules / css).read_text("utf-8", errors="replace")):
            if ref.startswith(("data:", "#", "http:", "https:", "/")):
                continue
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(css), ref.split("?")[0].split("#")[0])
            )
            if not target.startswith("..") and (modules / target).is_file():
                files.add(target)
                # Leaflet's script finds its marker images next to the one its CSS names.
                folder = posixpath.dirname(target)
                files.update(f"{folder}/{p.name}" for p in (modules / folder).glob("*.png"))
    return frozenset(files)


class VendorFiles(StaticFiles):
    """StaticFiles over node_modules that serves only an allow-list of files (others: 404).

    Attributes:
        allowed: paths relative to node_modules, with forward slashes.
    """

    def __init__(self, directory: Path, allowed: frozenset[str]):
        super().__init__(directory=directory)
        self.allowed = allowed

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file if it is on the list, else 404 (as if it did not exist)."""
        if path.replace(os.sep, "/") not in self.allowed:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
