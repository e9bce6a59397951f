"""The corpus of broken raster hand-overs: each fails with a message naming the file and what is
wrong, and leaves the store exactly as it was (registry rows, generation, COG files, no leftovers).

Definition errors (file:line) are in tests/core/test_raster_layerdef.py.
"""

import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin
from rasters import GSI_PNG, GSI_TXT, ORIGIN, RasterProject, fgd_dem_xml, fgd_tuples, ramp, write_tif

ASK = "ask the department for the file again"


@dataclass
class Case:
    """One broken input: how to make it, and what the message must contain."""

    id: str
    build: Callable[[RasterProject], None]
    expect: tuple[str, ...]


def _tif(rp: RasterProject, data=None, name: str = "grid.tif", **definition) -> Path:
    path = write_tif(rp.sources / name, ramp() if data is None else data, **definition.pop("tif", {}))
    rp.define_raster("grid", {"path": name, **definition.pop("source", {})}, **definition)
    return path


def _truncated(rp):
    path = _tif(rp, np.tile(ramp(), (4, 4)))  # striped, uncompressed: the header survives the cut
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt(rp):
    path = _tif(rp, np.tile(ramp(), (20, 20)), tif={"tiled": True, "compress": "deflate"})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = bytes(4000)  # zeros in the middle of a compressed tile
    path.write_bytes(bytes(data))


def _absurd_header(rp):
    path = _tif(rp)
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] in (256, 257):  # ImageWidth, ImageLength
            data[entry + 2 : entry + 4] = struct.pack("<H", 4)  # LONG
            data[entry + 8 : entry + 12] = struct.pack("<I", 1_000_000)
    path.write_bytes(bytes(data))


def _gsi(rp, name: str, content: bytes | None = None, source: Path = GSI_PNG):
    target = rp.sources / "tiles" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        shutil.copy(source, target)
    else:
        target.write_bytes(content)
    rp.define_raster("grid", {"path": f"tiles/{name}"})


def _small_png(rp):
    small = rp.root / "small.tif"
    write_tif(small, np.zeros((3, 128, 128), dtype=np.uint8), crs=None, nodata=None)
    import rasterio.shutil

    rasterio.shutil.copy(small, rp.root / "small.png", driver="PNG")
    _gsi(rp, "14/14568/6425.png", (rp.root / "small.png").read_bytes())


def _fgd(rp, tuples=None, **options):
    values = 20 + np.arange(80, dtype=float).reshape(8, 10) / 10
    fgd_dem_xml(rp.sources / "dem.xml", fgd_tuples(values) if tuples is None else tuples, **options)
    rp.define_raster("grid", {"path": "dem.xml"})


def _fgd_truncated(rp):
    _fgd(rp)
    path = rp.sources / "dem.xml"
    path.write_bytes(path.read_bytes()[:-200])


def _two_crs(rp):
    write_tif(rp.sources / "tiles/a.tif", ramp(10, 10))
    write_tif(rp.sources / "tiles/b.tif", ramp(10, 10), crs="EPSG:6678")
    rp.define_raster("grid", {"path": "tiles/*.tif"})


def _two_cell_sizes(rp):
    write_tif(rp.sources / "tiles/a.tif", ramp(10, 10))
    write_tif(
        rp.sources / "tiles/b.tif", ramp(10, 10), transform=from_origin(ORIGIN[0] + 100, ORIGIN[1], 5, 5)
    )
    rp.define_raster("grid", {"path": "tiles/*.tif"})


def _out_of_range(rp):
    data = ramp()
    data[12, 7] = 3900.0  # centimetres where metres were expected
    _tif(rp, data, value_range={"min": 0, "max": 50})


CASES = [
    Case("truncated_tiff", _truncated, ("grid.tif", "truncated or corrupt", ASK)),
    Case("corrupt_tiff", _corrupt, ("grid.tif", "truncated or corrupt")),
    Case(
        "not_a_tiff",
        lambda rp: (_tif(rp), (rp.sources / "grid.tif").write_text("これはTIFFではありません")),
        ("grid.tif", "not a readable geotiff raster", ASK),
    ),
    Case(
        "no_crs_anywhere",
        lambda rp: _tif(rp, tif={"crs": None}),
        ("grid.tif", "declares no CRS", "add `crs: EPSG:xxxx`"),
    ),
    Case(
        "no_georeferencing",
        lambda rp: _tif(rp, tif={"crs": None, "transform": None}, source={"crs": "EPSG:6677"}),
        ("grid.tif", "no georeferencing"),
    ),
    Case(
        "absurd_dimensions",
        _absurd_header,
        ("grid.tif", "claims 1000000 x 1000000 cells", "over the limit", "TSUKUBA_GIS_RASTER_MAX_BYTES"),
    ),
    Case(
        "absurd_ascii_grid",
        lambda rp: (
            (rp.sources / "grid.asc").write_text(
                "ncols 1000000\nnrows 1000000\nxllcorner 0\nyllcorner 0\ncellsize 10\n1 2 3\n"
            ),
            rp.define_raster("grid", {"path": "grid.asc", "crs": "EPSG:6677"}),
        ),
        ("grid.asc", "Too large raster dimension"),
    ),
    Case(
        "all_nodata",
        lambda rp: _tif(rp, np.full((40, 30), -9999, "float32")),
        ("grid.tif", "every cell is no data"),
    ),
    Case(
        "values_outside_the_range",
        _out_of_range,
        (
            "grid.tif",
            "1 cell(s) outside the declared value_range 0..50",
            "3900 in band 1",
            "row 12, column 7",
            "lon 140.",
        ),
    ),
    Case(
        "band_count_differs",
        lambda rp: _tif(rp, np.stack([ramp(), ramp()]), bands=1),
        ("grid.tif", "2 band(s), the definition describes 1"),
    ),
    Case("gsi_tile_wrong_size", _small_png, ("tiles/14/14568/6425.png", "256x256 RGB", "128x128")),
    Case(
        "gsi_text_tile_short",
        lambda rp: _gsi(rp, "8/229/94.txt", b"\n".join(GSI_TXT.read_bytes().splitlines()[:200])),
        ("tiles/8/229/94.txt", "has 256 lines; this one has 200"),
    ),
    Case("gsi_tile_without_position", lambda rp: _gsi(rp, "dem.png"), ("dem.png", "{z}/{x}/{y}.png")),
    Case(
        "fgd_more_tuples_than_cells",
        lambda rp: _fgd(rp, fgd_tuples(np.arange(90, dtype=float))),
        ("dem.xml", "90 tuples do not fit the grid: 80 cells"),
    ),
    Case(
        "fgd_start_point_leaves_too_little_room",
        lambda rp: _fgd(rp, start="5 7"),
        ("dem.xml", "80 tuples do not fit", "room for 5"),
    ),
    Case("fgd_truncated_xml", _fgd_truncated, ("dem.xml", "not well-formed XML", "truncated")),
    Case(
        "fgd_absurd_grid",
        lambda rp: _fgd(rp, high="999999 999999"),
        ("dem.xml", "claims 1000000 x 1000000 cells", "limit"),
    ),
    Case(
        "fgd_unknown_srs",
        lambda rp: _fgd(rp, srs="fguuid:tokyo.bl"),
        ("dem.xml", "srsName 'fguuid:tokyo.bl'"),
    ),
    Case("fgd_other_order", lambda rp: _fgd(rp, order="+y+x"), ("dem.xml", "sequenceRule '+y+x'")),
    Case(
        "fgd_bad_tuple",
        lambda rp: _fgd(rp, ["地表面,12.5", "地表面,abc"]),
        ("dem.xml", "tuple 2 地表面,abc is not '種別,標高'"),
    ),
    Case("mosaic_of_two_crs", _two_crs, ("tiles/b.tif", "cannot be mosaicked with tiles/a.tif", "CRS")),
    Case("mosaic_of_two_cell_sizes", _two_cell_sizes, ("tiles/b.tif", "cell size 5 x 5")),
    Case(
        "glob_matches_nothing",
        lambda rp: rp.define_raster("grid", {"path": "tiles/*.tif"}),
        ("tiles/*.tif", "no file in", "matches this pattern"),
    ),
]


def _preload(rp: RasterProject) -> None:
    write_tif(rp.sources / "good.tif", ramp())
    rp.define_raster("grid", {"path": "good.tif"})
    assert rp.run("grid").ok


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_broken_raster(tmp_path, case):
    rp = RasterProject(tmp_path)
    _preload(rp)
    before = rp.raster_snapshot("grid")
    case.build(rp)
    report = rp.run("grid")
    assert not report.ok
    result = report.rasters[0]
    assert result.status == "failed"
    message = result.error
    for fragment in case.expect:
        assert fragment in message, (fragment, message)
    assert rp.raster_snapshot("grid") == before  # registry, generation and files untouched
    assert not [p for p in rp.settings.rasters_path.rglob("*") if p.name.startswith(".")]


@pytest.mark.parametrize("store", ["postgis"])
def test_broken_raster_leaves_postgis_untouched(tmp_path, postgis_url, store):
    rp = RasterProject(tmp_path, store_url=postgis_url)
    _preload(rp)
    before = rp.raster_snapshot("grid")
    _truncated(rp)
    result = rp.run("grid").rasters[0]
    assert result.status == "failed" and "truncated or corrupt" in result.error
    assert rp.raster_snapshot("grid") == before


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)
