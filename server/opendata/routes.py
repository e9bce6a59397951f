"""The /opendata routes: the page, the DCAT catalog and the download files.

Everything here is built from the public layer definitions and the manifests the ETL wrote
(``etl.publish``); a layer that is internal now is not listed and its files are not served,
whatever is still on disk. Errors are OGC-style JSON (``code``, ``description``).
"""

from email.utils import formatdate

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from server import caching
from server.errors import ogc_error
from server.opendata.datasets import datasets
from server.opendata.dcat import catalog_document
from server.opendata.page import choose_language, page_language, render
from tsukuba_gis.i18n import LANGUAGES
from tsukuba_gis.opendata import download_path, read_manifest

router = APIRouter()
GET = ["GET", "HEAD"]
OTHER = ["POST", "PUT", "PATCH", "DELETE"]


def not_found() -> JSONResponse:
    """The same 404 for an unknown, internal or never-published file (nothing to tell apart)."""
    return ogc_error(404, "NotFound", "no such open-data resource")


def _public(request: Request):
    return request.app.state.snapshots.get("public")


@router.api_route("/opendata", methods=GET, include_in_schema=False)
@router.api_route("/opendata/", methods=GET, include_in_schema=False)
def page(request: Request, lang: str | None = None) -> Response:
    """The list of datasets, in Japanese (default) or English (``?lang=en`` or Accept-Language)."""
    chosen = choose_language(lang, request.headers.get("accept-language"))
    if chosen is None:
        return ogc_error(400, "InvalidParameterValue", f"lang must be one of {', '.join(LANGUAGES)}")
    settings = request.app.state.settings
    found = datasets(settings, _public(request))
    return HTMLResponse(
        render(settings, found, chosen),
        headers={
            "Content-Language": page_language(chosen),
            "Vary": "Accept-Language",
            "Cache-Control": "no-cache",
        },
    )


@router.api_route("/opendata/catalog.jsonld", methods=GET, include_in_schema=False)
def dcat(request: Request) -> Response:
    """The DCAT catalog (JSON-LD) of every published dataset."""
    settings = request.app.state.settings
    found = datasets(settings, _public(request))
    return JSONResponse(
        catalog_document(settings, found),
        media_type="application/ld+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.api_route("/opendata/files/{layer_id}/{name}", methods=GET, include_in_schema=False)
def download(request: Request, layer_id: str, name: str) -> Response:
    """One download, with a content ETag (its SHA-256), Last-Modified, 304 and Range (206)."""
    settings = request.app.state.settings
    snapshot = _public(request)
    layer = snapshot.layer(layer_id) or snapshot.raster(layer_id)
    manifest = read_manifest(settings.data_dir, layer_id) if layer is not None else None
    if layer is None or layer.definition.access != "public" or manifest is None:
        return not_found()
    path = download_path(settings.data_dir, manifest, name)
    if path is None:
        return not_found()
    entry = next(f for f in manifest["files"] if f["name"] == name)
    stat = path.stat()
    headers = {
        "ETag": f'"{entry["sha256"]}"',
        "Cache-Control": "public, max-age=300",
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
    }
    if caching.not_modified(request.headers, caching.Validators(headers["ETag"], stat.st_mtime)):
        return Response(status_code=304, headers=headers)
    # FileResponse answers Range (206, 416) and If-Range itself; it does not answer 304.
    return FileResponse(
        path, media_type=entry["media_type"], filename=name, headers=headers, stat_result=stat
    )


@router.api_route("/opendata", methods=OTHER, include_in_schema=False)
@router.api_route("/opendata/{rest:path}", methods=OTHER, include_in_schema=False)
def read_only(rest: str = "") -> JSONResponse:
    """Open data is read-only."""
    return ogc_error(405, "InvalidOperation", "open data is read-only: use GET", {"Allow": "GET, HEAD"})


@router.api_route("/opendata/{rest:path}", methods=GET, include_in_schema=False)
def unknown(rest: str) -> JSONResponse:
    """Anything else under /opendata (including path tricks) is a plain 404."""
    return not_found()
