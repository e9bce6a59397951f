"""The file side of raster versions, shared by every store backend.

A raster version is a COG under the raster directory, ``<layer>/v<N>-<checksum12>.tif``, and a
registry row in the store. The ETL writes the COG aside (``<layer>/.incoming-...tif``); the
writer's commit takes the layer's lock, renames the file to its final name and registers it in
one registry transaction, so readers either see the old version or the new one with its file
in place. Files of pruned versions are deleted after that transaction commits.
"""

import hashlib
import json
import os
import secrets
import socket
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store.base import BandStats, RasterRecord, RasterWriter

# The registry columns, in this order, in both backends.
RASTER_COLUMNS = (
    "layer_id",
    "version",
    "current",
    "file",
    "checksum",
    "size_bytes",
    "crs",
    "width",
    "height",
    "band_count",
    "dtype",
    "nodata",
    "resolution",
    "bounds",
    "bbox",
    "bands",
    "source_checksum",
    "definition_checksum",
    "loaded_at",
    "duration_s",
    "decisions",
)
_JSON = {"resolution", "bounds", "bbox", "bands", "decisions"}
INCOMING = ".incoming-"


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def record_from_row(row: dict[str, Any]) -> RasterRecord:
    """A RasterRecord from a registry row (JSON columns as text or already decoded)."""
    values = {k: (_loads(row[k]) if k in _JSON else row[k]) for k in RASTER_COLUMNS}
    loaded_at = values["loaded_at"]
    if isinstance(loaded_at, datetime):
        loaded_at = loaded_at.astimezone(UTC).isoformat(timespec="seconds")
    return RasterRecord(
        **{
            **values,
            "current": bool(values["current"]),
            "resolution": tuple(values["resolution"]),
            "bounds": tuple(values["bounds"]),
            "bbox": tuple(values["bbox"]),
            "bands": tuple(
                BandStats(**{**b, "edges": tuple(b["edges"]), "histogram": tuple(b["histogram"])})
                for b in values["bands"]
            ),
            "loaded_at": loaded_at,
        }
    )


def to_row(fields: dict[str, Any]) -> dict[str, Any]:
    """Registry column -> value (JSON columns as text) from a record's fields."""
    return {
        k: (json.dumps(fields[k], ensure_ascii=False) if k in _JSON else fields[k]) for k in RASTER_COLUMNS
    }


def crs_text(crs: rasterio.crs.CRS) -> str:
    """``EPSG:nnnn`` when the CRS has a code, else its WKT."""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def describe(path: Path) -> dict[str, Any]:
    """What the registry records of a COG's structure, read from its header."""
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise StoreError(f"{path.name}: the COG has no CRS")
            bbox = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
            return {
                "crs": crs_text(ds.crs),
                "width": ds.width,
                "height": ds.height,
                "band_count": ds.count,
                "dtype": ds.dtypes[0],
                "nodata": ds.nodata,
                "resolution": (abs(ds.transform.a), abs(ds.transform.e)),
                "bounds": tuple(ds.bounds),
                "bbox": tuple(round(v, 7) for v in bbox),
            }
    except RasterioError as err:
        raise StoreError(f"{path.name}: not a readable raster ({err})") from None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def final_name(layer_id: str, version: int, checksum: str) -> str:
    """The COG's name relative to the raster directory."""
    return f"{layer_id}/v{version}-{checksum[:12]}.tif"


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_incoming(layer_dir: Path) -> None:
    """Remove COGs left aside by killed loads of this host (other hosts' are left alone)."""
    prefix = f"{INCOMING}{_host()}-"
    for path in layer_dir.glob(f"{prefix}*"):
        pid = path.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def orphans(layer_dir: Path, kept: set[str], layer_id: str) -> list[Path]:
    """Final-named COGs no registry row refers to (a load killed between rename and commit).

    Only meaningful while holding the layer's lock: no other writer is then between its
    rename and its commit.
    """
    found = []
    for path in layer_dir.glob("v*-*.tif"):
        if f"{layer_id}/{path.name}" not in kept:
            found.append(path)
    return found


class FileRasterWriter(RasterWriter):
    """The part of a raster writer every backend shares: the aside file, rename, pruning.

    A backend implements ``_register(place, fields, make_current)``: in one transaction
    holding the layer's lock, choose the version, call ``place(version)`` (renames the file,
    returns its relative name), insert the row, prune, move the generation; return the
    committed record and the relative names of files no longer referenced.
    """

    def __init__(self, layer_id: str, raster_dir: Path, version: int | None = None):
        self.layer_id, self.raster_dir, self.explicit_version = layer_id, raster_dir, version
        self.layer_dir = raster_dir / layer_id
        try:
            self.layer_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the raster directory {self.layer_dir}: {err}") from None
        remove_dead_incoming(self.layer_dir)
        token = secrets.token_hex(4)
        self.path = self.layer_dir / f"{INCOMING}{_host()}-{os.getpid()}-{token}.tif"
        self.started = time.monotonic()
        self.done = False
        self._placed: Path | None = None

    def commit(self, meta: dict[str, Any], make_current: bool = True) -> RasterRecord:
        """Describe and checksum the COG, then register it (see the class docstring)."""
        if not self.path.is_file():
            raise StoreError(f"{self.layer_id}: no COG was written to {self.path}")
        fields = {
            **describe(self.path),
            "checksum": sha256_file(self.path),
            "size_bytes": self.path.stat().st_size,
            "bands": [b if isinstance(b, dict) else asdict(b) for b in meta["bands"]],
            "source_checksum": meta["source_checksum"],
            "definition_checksum": meta["definition_checksum"],
            "decisions": meta.get("decisions", {}),
            "loaded_at": meta.get("loaded_at") or datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": meta.get("duration_s", round(time.monotonic() - self.started, 3)),
        }
        try:
            record, unreferenced = self._register(self._place, fields, make_current)
        except BaseException:
            if self._placed is not None:  # renamed, but the registry did not take it
                self._placed.unlink(missing_ok=True)
            raise
        self.done = True
        for name in unreferenced:
            (self.raster_dir / name).unlink(missing_ok=True)
        return record

    def _place(self, version: int, checksum: str) -> str:
        name = final_name(self.layer_id, version, checksum)
        target = self.raster_dir / name
        os.replace(self.path, target)
        # rename() does nothing when both names are links to one file (a store copy into the
        # same raster directory): the aside name must still go.
        self.path.unlink(missing_ok=True)
        self._placed = target
        return name

    @abstractmethod
    def _register(
        self, place: Callable[[int, str], str], fields: dict[str, Any], make_current: bool
    ) -> tuple[RasterRecord, list[str]]:
        """See the class docstring."""

    def __exit__(self, exc_type, exc, tb) -> None:
        # Leaving without commit (an error, or a caller that gave up) discards the version.
        if not self.done:
            self.path.unlink(missing_ok=True)
            for leftover in self.layer_dir.glob(self.path.name + "*"):  # GDAL's temporaries
                leftover.unlink(missing_ok=True)
            self.done = True
