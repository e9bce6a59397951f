"""OGC API - Coverages of the raster collections, and their legend.

    /collections/{id}/coverage              GeoTIFF: the whole COG as stored (Range requests
                                            work: GDAL reads it over /vsicurl/), or the native
                                            cells of ``bbox`` (CRS84) or ``subset``, with the
                                            bands of ``properties``
    /collections/{id}/coverage/domainset    the grid (CIS 1.1 JSON DomainSet)
    /collections/{id}/coverage/rangetype    the bands (CIS 1.1 JSON DataRecord)
    /collections/{id}/legend                the legend (PNG; f=json: its rows)

``subset`` takes the grid's axes ``x`` (easting) and ``y`` (northing) in the raster's CRS, or
``Lon``/``Lat`` in degrees: ``subset=x(22000:23000),y(8000:9000)``. Cells are never resampled:
the values are the stored ones, so a client reads what the point report says.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server import caching
from server.rasters import reader
from server.rasters.config import GEOTIFF, GEOTIFF_FORMAT
from server.rasters.published import PublishedRaster
from server.rasters.service import RasterService
from tsukuba_gis.errors import BadRequest, NotFound
from tsukuba_gis.rasterstyle import legend_png

MAX_CELLS = 4096 * 4096  # per band, in one subset (64 MB of float32); the whole file has no limit
SUBSET = re.compile(r"^\s*(\w+)\s*\(\s*([^:()]+?)\s*:\s*([^:()]+?)\s*\)\s*$")
AXES = {"x": "x", "y": "y", "lon": "lon", "long": "lon", "lat": "lat"}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
INDEX_CRS = "http://www.opengis.net/def/crs/OGC/0/Index2D"
COVERAGE_FORMATS = (GEOTIFF_FORMAT, "tif")


def crs_uri(crs: str) -> str:
    """The OGC URI of ``EPSG:nnnn`` (the WKT of a CRS without a code as it is)."""
    if crs.upper().startswith("EPSG:"):
        return f"http://www.opengis.net/def/crs/EPSG/0/{crs.split(':', 1)[1]}"
    return crs


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{what}: {text[:40]!r} is not a number") from None
    if not np.isfinite(value):
        raise BadRequest(f"{what} must be finite")
    return value


def _bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    if len(parts) != 4:
        raise BadRequest("bbox: four numbers, west,south,east,north in degrees (CRS84)")
    west, south, east, north = (_float(p, "bbox") for p in parts)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("bbox: west < east within ±180, south < north within ±90")
    return west, south, east, north


def _subsets(text: str) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for part in re.split(r",(?=\s*\w+\s*\()", text):
        match = SUBSET.match(part)
        if match is None or match.group(1).lower() not in AXES:
            raise BadRequest(
                f"subset: {part.strip()[:60]!r} is not axis(low:high) with axis x, y, Lon or Lat"
            )
        axis = AXES[match.group(1).lower()]
        low, high = _float(match.group(2), f"subset {axis}"), _float(match.group(3), f"subset {axis}")
        if low >= high or axis in found:
            raise BadRequest(f"subset {axis}: low below high, each axis once")
        found[axis] = (low, high)
    native, degrees = {"x", "y"} & set(found), {"lon", "lat"} & set(found)
    if native and degrees:
        raise BadRequest("subset: use x/y (the grid's CRS) or Lon/Lat (degrees), not both")
    return found


def _bounds(raster: PublishedRaster, params) -> tuple[float, float, float, float] | None:
    """The requested box in the raster's CRS (None: the whole coverage)."""
    crs = raster.record.crs
    left, bottom, right, top = raster.record.bounds
    bbox_crs = params.get("bbox-crs")
    if bbox_crs not in (None, CRS84):
        raise BadRequest(f"bbox-crs: only {CRS84} (the bbox is in degrees)")
    subsets = _subsets(params["subset"]) if params.get("subset") else {}
    if params.get("bbox") and subsets:
        raise BadRequest("give bbox or subset, not both")
    if params.get("bbox"):
        return transform_bounds("EPSG:4326", crs, *_bbox(params["bbox"]), densify_pts=21)
    if {"lon", "lat"} & set(subsets):
        west, south, east, north = transform_bounds(crs, "EPSG:4326", left, bottom, right, top)
        w, e = subsets.get("lon", (west, east))
        s, n = subsets.get("lat", (south, north))
        return transform_bounds("EPSG:4326", crs, w, s, e, n, densify_pts=21)
    if subsets:
        x0, x1 = subsets.get("x", (left, right))
        y0, y1 = subsets.get("y", (bottom, top))
        return x0, y0, x1, y1
    return None


def _bands(raster: PublishedRaster, params) -> list[int] | None:
    text = params.get("properties")
    if not text:
        return None
    names = [b.name for b in raster.definition.bands]
    chosen = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in names]
    if unknown or not chosen:
        raise BadRequest(f"properties: band names of this coverage ({', '.join(names)})")
    return [names.index(n) + 1 for n in chosen]


def _geotiff(raster: PublishedRaster, cells: reader.Cells, bands: list[int]) -> bytes:
    count, rows, cols = cells.data.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": count,
        "dtype": cells.profile["dtype"],
        "crs": cells.profile["crs"],
        "transform": cells.transform,
        "nodata": cells.profile["nodata"],
        "compress": "deflate",
        "tiled": cols > 256 and rows > 256,
    }
    with MemoryFile() as memory:
        with memory.open(**profile) as out:
            out.write(cells.data)
            for i, band in enumerate(bands, start=1):
                out.set_band_description(i, raster.definition.bands[band - 1].name)
        return memory.read()


def _subset_answer(raster: PublishedRaster, bounds, bands: list[int] | None, headers: dict) -> Response:
    bands = bands or list(range(1, raster.record.band_count + 1))
    left, bottom, right, top = raster.record.bounds
    bounds = bounds or (left, bottom, right, top)
    cols, rows = reader.cells_of(raster, bounds)
    if cols == 0 or rows == 0:
        raise BadRequest("the subset does not intersect the coverage (see its extent or domainset)")
    if cols * rows > MAX_CELLS:
        raise BadRequest(
            f"the subset has {cols} x {rows} cells; at most {MAX_CELLS:,} per request: ask a smaller"
            " bbox/subset, or the whole coverage without parameters (the stored file)"
        )
    data = _geotiff(raster, reader.window(raster, bounds, bands), bands)
    return Response(data, media_type=GEOTIFF, headers=headers)


def _coverage(service: RasterService, request: Request) -> Response:
    params = request.query_params
    fmt = params.get("f", GEOTIFF_FORMAT)
    if fmt not in COVERAGE_FORMATS:
        raise BadRequest(f"f must be one of: {', '.join(COVERAGE_FORMATS)} (GeoTIFF)")
    raster = service.raster(request.path_params["collection_id"])
    bounds, bands = _bounds(raster, params), _bands(raster, params)
    record = raster.record
    whole = bounds is None and bands is None
    loaded = datetime.fromisoformat(record.loaded_at).timestamp()
    # The stored file's bytes are fixed by its checksum: a strong tag; a subset's is made anew.
    tag = f'"{record.checksum}"' if whole else caching.layer_validators([], record.etag, str(params)).etag
    validators = caching.Validators(tag, loaded)
    headers = {
        **caching.headers(validators, service.public),
        "Content-Crs": f"<{crs_uri(record.crs)}>",
        "Content-Disposition": f'attachment; filename="{raster.id}-v{record.version}.tif"',
    }
    if caching.not_modified(request.headers, validators):
        return caching.not_modified_response(headers)
    if whole:  # FileResponse answers Range (206) itself: GDAL reads the COG over HTTP
        return FileResponse(raster.path, media_type=GEOTIFF, headers=headers)
    return _subset_answer(raster, bounds, bands, headers)


def domain_set(raster: PublishedRaster) -> dict[str, Any]:
    """The coverage's grid as a CIS 1.1 JSON DomainSet (x east, y north, cell-edge bounds)."""
    record = raster.record
    left, bottom, right, top = record.bounds
    resx, resy = record.resolution
    uom = "deg" if record.crs in ("EPSG:4326", "EPSG:6668") else "metre"
    return {
        "type": "DomainSet",
        "generalGrid": {
            "type": "GeneralGridCoverage",
            "srsName": crs_uri(record.crs),
            "axisLabels": ["x", "y"],
            "axis": [
                {
                    "type": "RegularAxis",
                    "axisLabel": "x",
                    "lowerBound": left,
                    "upperBound": right,
                    "uomLabel": uom,
                    "resolution": resx,
                },
                {
                    "type": "RegularAxis",
                    "axisLabel": "y",
                    "lowerBound": bottom,
                    "upperBound": top,
                    "uomLabel": uom,
                    "resolution": -resy,
                },
            ],
            "gridLimits": {
                "type": "GridLimits",
                "srsName": INDEX_CRS,
                "axisLabels": ["i", "j"],
                "axis": [
                    {"type": "IndexAxis", "axisLabel": "i", "lowerBound": 0, "upperBound": record.width - 1},
                    {"type": "IndexAxis", "axisLabel": "j", "lowerBound": 0, "upperBound": record.height - 1},
                ],
            },
        },
    }


def range_type(raster: PublishedRaster) -> dict[str, Any]:
    """The coverage's bands as a CIS 1.1 JSON DataRecord (label, unit, no-data value)."""
    record = raster.record
    fields = []
    for band, stats in zip(raster.definition.bands, record.bands, strict=False):
        field: dict[str, Any] = {
            "type": "Quantity",
            "id": band.name,
            "name": band.name,
            "definition": record.dtype,
            "label": band.label.ja,
            "description": band.label.en,
            "statistics": {"minimum": stats.min, "maximum": stats.max, "mean": stats.mean},
        }
        if band.unit:
            field["uom"] = {"type": "UnitReference", "code": band.unit.en}
        if record.nodata is not None:
            field["nilValues"] = [
                {"reason": "http://www.opengis.net/def/nil/OGC/0/missing", "value": record.nodata}
            ]
        fields.append(field)
    return {"type": "DataRecord", "field": fields}


def _json(document: dict, service: RasterService, raster: PublishedRaster) -> Response:
    validators = caching.layer_validators([], raster.record.etag, raster.style.key)
    return Response(
        orjson.dumps(document),
        media_type="application/json",
        headers=caching.headers(validators, service.public),
    )


def _legend(service: RasterService, request: Request) -> Response:
    fmt = request.query_params.get("f", "png")
    if fmt not in ("png", "json"):
        raise BadRequest("f must be one of: png, json")
    raster = service.raster(request.path_params["collection_id"])
    style = raster.style
    if style.kind == "rgb":
        raise NotFound("this layer is a photograph: it has no legend")
    if fmt == "json":
        rows = [{"color": e.color, "label": e.label.model_dump(), "value": e.value} for e in style.legend()]
        return _json({"kind": style.kind, "legend": rows}, service, raster)
    validators = caching.Validators(f'"legend-{raster.id}-{style.key}"')
    headers = caching.headers(validators, service.public)
    if caching.not_modified(request.headers, validators):
        return caching.not_modified_response(headers)
    return Response(legend_png(style), media_type="image/png", headers=headers)


def _document(kind: str) -> Callable[[RasterService, Request], Response]:
    def answer(service: RasterService, request: Request) -> Response:
        if request.query_params.get("f", "json") != "json":
            raise BadRequest("f must be json")
        raster = service.raster(request.path_params["collection_id"])
        return _json(domain_set(raster) if kind == "domainset" else range_type(raster), service, raster)

    return answer


def _threaded(answer: Callable[[RasterService, Request], Response], service: RasterService) -> Callable:
    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(answer, service, request)

    return endpoint


def coverage_routes(service: RasterService) -> list[Route]:
    """The coverage and legend routes of the raster collections."""
    base = "/collections/{collection_id}"
    methods = ["GET", "HEAD"]
    return [
        Route(f"{base}/coverage", _threaded(_coverage, service), methods=methods),
        Route(f"{base}/coverage/domainset", _threaded(_document("domainset"), service), methods=methods),
        Route(f"{base}/coverage/rangetype", _threaded(_document("rangetype"), service), methods=methods),
        Route(f"{base}/legend", _threaded(_legend, service), methods=methods),
    ]
