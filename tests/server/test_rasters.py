"""Raster layers published, on both stores (GeoPackage and PostGIS registry + the raster dir):
collections, OGC API - Coverages (GeoTIFF read back with rasterio), map tiles (decoded with
Pillow), the legend, values in the point report, and the staff-only photograph.

In-process (Starlette's TestClient over ``create_app``), except GDAL reading the coverage over
HTTP, which needs a real server (``each_live_server``).
"""

import io

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer
from rasterio.io import MemoryFile

from server.app import create_app
from server.auth.settings import AuthSettings
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.rasterstyle import style_of
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import open_store

TMS = morecantile.tms.get("WebMercatorQuad")
CATALOG = load_catalog(PROJECT_ROOT / "layers")
FLOOD, DEM, PHOTO = "flood_depth_sample", "dem_sample", "aerial_photo_sample"
REL = "http://www.opengis.net/def/rel/ogc/1.0"
STAFF, PASSWORD = "raster-staff", "correct horse battery staple"
STATION = (140.1115, 36.0828)  # つくば駅


@pytest.fixture(scope="module")
def app(each_sample_settings, tmp_path_factory):
    from server.auth.accounts import open_account_store
    from server.auth.passwords import Passwords

    auth = AuthSettings(accounts=str(tmp_path_factory.mktemp("accounts") / "accounts.sqlite"))
    accounts = open_account_store(auth.accounts_url(each_sample_settings.data_dir))
    if accounts.get_user(STAFF) is None:
        accounts.add_user(STAFF, "staff", Passwords(auth).hash(PASSWORD))
    return create_app(each_sample_settings.model_copy(update={"public_url": "http://testserver"}), auth)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def cog(settings, layer_id: str) -> rasterio.DatasetReader:
    record = open_store(settings.store_url).current_raster(layer_id)
    return rasterio.open(record.path(settings.rasters_path))


def find_cell(ds, accept, near=STATION, margin: int = 2) -> tuple[float, float]:
    """(lon, lat) of the centre of the cell nearest ``near`` whose whole neighbourhood passes
    ``accept`` (masked array of values -> bool array): no resampling edge reaches it."""
    data = ds.read(1, masked=True)
    ok = accept(data)
    rows, cols = np.nonzero(ok)
    keep = [
        (r, c)
        for r, c in zip(rows, cols, strict=True)
        if margin <= r < ds.height - margin
        and margin <= c < ds.width - margin
        and ok[r - margin : r + margin + 1, c - margin : c + margin + 1].all()
    ]
    to_native = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True)
    x0, y0 = to_native.transform(*near)
    xs, ys = ds.xy([r for r, _ in keep], [c for _, c in keep])
    best = int(np.argmin(np.hypot(np.array(xs) - x0, np.array(ys) - y0)))
    return Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True).transform(xs[best], ys[best])


@pytest.fixture(scope="module")
def flood_point(each_sample_settings) -> tuple[float, float]:
    """A point inside the 0.5–3.0 m class of the sample depths."""
    with cog(each_sample_settings, FLOOD) as ds:
        return find_cell(ds, lambda d: (d.filled(-1) >= 0.5) & (d.filled(-1) < 3.0))


def test_collections_list_the_public_rasters_with_their_links(client):
    listed = {c["id"]: c for c in client.get("/api/collections", params={"f": "json"}).json()["collections"]}
    assert FLOOD in listed and DEM in listed and PHOTO not in listed
    flood = client.get(f"/api/collections/{FLOOD}", params={"f": "json"}).json()
    links = {(link["rel"], link["type"]): link["href"] for link in flood["links"]}
    base = f"http://testserver/api/collections/{FLOOD}"
    assert links[(f"{REL}/coverage", "image/tiff; application=geotiff")] == f"{base}/coverage?f=GTiff"
    assert links[(f"{REL}/tilesets-map", "application/json")] == f"{base}/map/tiles?f=json"
    assert links[(f"{REL}/legend", "image/png")] == f"{base}/legend"
    assert f"{REL}/coverage-domainset" in {rel for rel, _ in links}
    # Only what is served: no CoverageJSON, no coverage HTML, no queryables for a coverage.
    assert not [h for (rel, t), h in links.items() if rel.endswith("/queryables")]
    assert not [
        h for (rel, t), h in links.items() if "/coverage?" in h and t != "image/tiff; application=geotiff"
    ]
    for href in set(links.values()):
        if href.startswith("http://testserver/"):
            assert client.get(href.removeprefix("http://testserver")).status_code == 200, href
    assert flood["extent"]["spatial"]["grid"][0]["cellsCount"] == 1500
    schema = client.get(f"/api/collections/{FLOOD}/schema", params={"f": "json"}).json()
    assert schema["properties"]["depth"] == {
        "title": "想定浸水深 / Inundation depth",
        "type": "number",
        "x-ogc-unit": "m",
    }
    conformance = client.get("/api/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-subset" in conformance
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png" in conformance


def test_the_openapi_document_has_the_raster_paths_it_serves(client):
    paths = client.get("/api/openapi", params={"f": "json"}).json()["paths"]
    coverage = paths[f"/collections/{FLOOD}/coverage"]["get"]
    assert list(coverage["responses"]["200"]["content"]) == ["image/tiff; application=geotiff"]
    tile = paths[f"/collections/{FLOOD}/map/tiles/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"]
    assert set(tile["get"]["responses"]["200"]["content"]) == {"image/png", "image/webp"}
    assert not [p for p in paths if PHOTO in p]


def test_the_coverage_geotiff_holds_the_values_the_point_report_gives(
    client, flood_point, each_sample_settings
):
    lon, lat = flood_point
    report = client.get("/point", params={"lat": lat, "lon": lon}).json()
    (flood,) = [r for r in report["rasters"] if r["id"] == FLOOD]
    (dem,) = [r for r in report["rasters"] if r["id"] == DEM]
    assert report["rasters"][0]["id"] == FLOOD and flood["hazard"]  # hazards first
    depth = flood["here"][0]
    assert depth["class"]["ja"] == "0.5〜3.0m" and 0.5 <= depth["value"] < 3.0
    assert depth["text"]["ja"].startswith("想定浸水深 0.5〜3.0m（")
    assert dem["here"][0]["text"]["ja"].startswith("標高 ") and dem["here"][0]["text"]["ja"].endswith(" m")
    whole = client.get(f"/api/collections/{FLOOD}/coverage")
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/tiff; application=geotiff"
    assert whole.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/6677>"
    box = f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}"
    part = client.get(f"/api/collections/{FLOOD}/coverage", params={"bbox": box, "properties": "depth"})
    assert part.status_code == 200, part.text
    to_native = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True)
    x, y = to_native.transform(lon, lat)
    for body in (whole.content, part.content):
        with MemoryFile(body) as memory, memory.open() as ds:
            assert ds.crs.to_epsg() == 6677 and ds.res == (10.0, 10.0)
            (value,) = next(ds.sample([(x, y)]))
            assert round(float(value), 2) == depth["value"]
    with MemoryFile(part.content) as memory, memory.open() as ds:
        assert ds.width < 60 and ds.descriptions == ("depth",)
    # The same cells by subset in the grid's own coordinates (x east, y north, metres).
    subset = f"x({x - 50}:{x + 50}),y({y - 50}:{y + 50})"
    cut = client.get(f"/api/collections/{FLOOD}/coverage", params={"subset": subset})
    with MemoryFile(cut.content) as memory, memory.open() as ds:
        assert (ds.width, ds.height) in {(10, 10), (11, 11), (10, 11), (11, 10)}
        assert round(float(next(ds.sample([(x, y)]))[0]), 2) == depth["value"]


def test_gdal_reads_the_coverage_over_http(each_live_server, flood_point):
    lon, lat = flood_point
    url = f"{each_live_server.url}/api/collections/{FLOOD}/coverage"
    report = httpx.get(f"{each_live_server.url}/point", params={"lat": lat, "lon": lon}).json()
    (flood,) = [r for r in report["rasters"] if r["id"] == FLOOD]
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(lon, lat)
    with rasterio.Env(GDAL_HTTP_TIMEOUT="20", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with rasterio.open(url) as ds:  # GDAL's /vsicurl/: Range requests on the stored COG
            assert ds.driver == "GTiff" and ds.overviews(1)
            assert round(float(next(ds.sample([(x, y)]))[0]), 2) == flood["here"][0]["value"]


def test_domain_set_and_range_type_describe_the_grid(client, each_sample_settings):
    domain = client.get(f"/api/collections/{FLOOD}/coverage/domainset").json()["generalGrid"]
    assert domain["srsName"] == "http://www.opengis.net/def/crs/EPSG/0/6677"
    assert [a["axisLabel"] for a in domain["axis"]] == ["x", "y"]
    with cog(each_sample_settings, FLOOD) as ds:
        assert domain["axis"][0]["lowerBound"] == ds.bounds.left
        assert domain["gridLimits"]["axis"][1]["upperBound"] == ds.height - 1
    (band,) = client.get(f"/api/collections/{FLOOD}/coverage/rangetype").json()["field"]
    assert band["name"] == "depth" and band["uom"]["code"] == "m" and band["nilValues"][0]["value"] == -9999.0


def tile_of(lon: float, lat: float, z: int) -> tuple[morecantile.Tile, int, int]:
    """The tile holding a point and the point's pixel in it."""
    tile = TMS.tile(lon, lat, z)
    box = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    px = int((x - box.left) / (box.right - box.left) * 256)
    py = int((box.top - y) / (box.top - box.bottom) * 256)
    return tile, px, py


def get_tile(client, layer_id, tile, fmt="png", prefix="", **kw) -> Image.Image:
    url = f"{prefix}/api/collections/{layer_id}/map/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
    response = client.get(url, params={"f": fmt}, **kw)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"image/{fmt}"
    return Image.open(io.BytesIO(response.content)).convert("RGBA")


def test_map_tiles_draw_the_class_colours_and_nodata_transparent(client, flood_point, each_sample_settings):
    lon, lat = flood_point
    tile, px, py = tile_of(lon, lat, 16)
    for fmt in ("png", "webp"):  # WebP is lossless: the same colours
        assert get_tile(client, FLOOD, tile, fmt).getpixel((px, py)) == (0xFF, 0xD8, 0xC0, 255)  # 0.5–3.0 m
    with cog(each_sample_settings, FLOOD) as ds:
        dry = find_cell(ds, lambda d: np.ma.getmaskarray(d), near=flood_point, margin=3)
    tile, px, py = tile_of(*dry, 16)
    assert get_tile(client, FLOOD, tile).getpixel((px, py))[3] == 0


def test_elevation_tiles_are_a_hillshaded_ramp(client, each_sample_settings):
    tile, _, _ = tile_of(140.0995, 36.2253, 12)  # 筑波山
    image = np.asarray(get_tile(client, DEM, tile))
    style = style_of(CATALOG.rasters[DEM], 1, None)
    ramp = {tuple(c) for c in style._ramp_lut.tolist()}
    opaque = image[image[..., 3] == 255][:, :3]
    shaded = np.mean([tuple(p) not in ramp for p in opaque.tolist()])
    assert len(opaque) > 10_000 and shaded > 0.3, shaded  # slopes darken the ramp's colours


def test_tiles_revalidate_and_stay_in_their_limits(client):
    tileset = client.get(f"/api/collections/{FLOOD}/map/tiles/WebMercatorQuad").json()
    assert tileset["dataType"] == "map"
    limit = tileset["tileMatrixSetLimits"][-1]
    z, row, col = limit["tileMatrix"], limit["minTileRow"], limit["minTileCol"]
    url = f"/api/collections/{FLOOD}/map/tiles/WebMercatorQuad/{z}/{row}/{col}"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["etag"].startswith('"flood_depth_sample-r')
    assert first.headers["cache-control"].startswith("public")
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
    tilejson = client.get(
        f"/api/collections/{FLOOD}/map/tiles/WebMercatorQuad", params={"f": "tilejson"}
    ).json()
    assert tilejson["tiles"][0].endswith("/map/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert client.get(f"/api/collections/{FLOOD}/map/tiles/WebMercatorQuad/3/0/0").status_code == 404


def test_the_legend_shows_the_classes(client):
    legend = client.get(f"/api/collections/{FLOOD}/legend", params={"f": "json"}).json()
    assert [row["color"] for row in legend["legend"]] == [
        "#f7f5a9", "#ffd8c0", "#ffb7b7", "#ff9191", "#f285c9", "#dc7adc"
    ]  # fmt: skip
    image = client.get(f"/api/collections/{FLOOD}/legend")
    assert image.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(image.content)).convert("RGB")
    assert (0xF7, 0xF5, 0xA9) in {c for _, c in picture.getcolors(100_000)}


@pytest.mark.parametrize(
    "query",
    [
        {"subset": "x(1:x)"},
        {"subset": "z(1:2)"},
        {"subset": "x(5:1)"},
        {"subset": "x(1:2),Lat(36:37)"},
        {"bbox": "1,2,3"},
        {"bbox": "140,36,140.1,36.1", "subset": "x(1:2)"},
        {"bbox-crs": "EPSG:4326", "bbox": "140,36,140.1,36.1"},
        {"properties": "nope"},
        {"f": "json"},
        {"bbox": "100,10,101,11"},  # nowhere near the grid
    ],
)
def test_bad_coverage_requests_are_clear_400s(client, query):
    response = client.get(f"/api/collections/{FLOOD}/coverage", params=query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "type", "description"} and body["description"]


def test_the_staff_photo_is_internal_and_drawn_as_it_is(client, each_sample_settings):
    for suffix in (
        "",
        "/coverage",
        "/coverage/domainset",
        "/map/tiles",
        "/map/tiles/WebMercatorQuad",
        "/legend",
    ):
        hidden, unknown = (
            client.get(f"/api/collections/{PHOTO}{suffix}"),
            client.get(f"/api/collections/nope{suffix}"),
        )
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json() == unknown.json()
    auth = (STAFF, PASSWORD)
    listed = client.get("/internal/api/collections", params={"f": "json"}, auth=auth).json()
    assert PHOTO in {c["id"] for c in listed["collections"]}
    with cog(each_sample_settings, PHOTO) as ds:
        row, col = ds.height // 2, ds.width // 2
        lon, lat = Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True).transform(*ds.xy(row, col))
        pixel = tuple(int(v) for v in ds.read(window=((row, row + 1), (col, col + 1)))[:, 0, 0])
    tile, px, py = tile_of(lon, lat, 19)
    drawn = get_tile(client, PHOTO, tile, prefix="/internal", auth=auth).getpixel((px, py))
    assert drawn[3] == 255 and max(abs(a - b) for a, b in zip(drawn[:3], pixel, strict=True)) <= 12
    staff = client.get("/internal/point", params={"lat": lat, "lon": lon}, auth=auth).json()
    (photo,) = [r for r in staff["rasters"] if r["id"] == PHOTO]
    assert [b["value"] for b in photo["here"]] == list(pixel)
    public = client.get("/point", params={"lat": lat, "lon": lon}).json()
    assert PHOTO not in {r["id"] for r in public["rasters"]}


def test_point_downloads_carry_the_raster_values(client, flood_point):
    lon, lat = flood_point
    csv = client.get("/point", params={"lat": lat, "lon": lon, "f": "csv"}).text
    lines = csv.splitlines()
    # The first row after the headings (the report's place name and point come before them).
    first = next(i for i, line in enumerate(lines) if line.startswith("区分,")) + 1
    assert lines[first].startswith("この地点,想定浸水深 サンプル（架空）,,想定浸水深,想定浸水深 0.5〜3.0m（")
    page = client.get("/point", params={"lat": lat, "lon": lon, "f": "html", "lang": "en"}).text
    assert "Inundation depth 0.5–3.0 m (" in page and page.index("Inundation depth") < page.index("Elevation")
