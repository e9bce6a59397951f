"""Copy a city from one store to another (GeoPackage <-> PostGIS) without re-running the ETL.

Every kept version of every layer goes across with its number, registry record (checksums,
load time, CRS decisions) and quarantine; the current version stays current. Both stores
number features 1..n in load order, so fid-based feature ids survive the trip too.

Raster versions go across too, with their registry records; their COG files are copied into
the target's raster directory (hard-linked when both directories are on one file system, left
as they are when both stores share one raster directory).

So do the pre-built vector tile sets of the current versions (``copy_tiles``): the same bytes,
so a PostGIS store copied in serves every zoom from its table at once instead of making each
tile with ``ST_AsMVT`` until the next ETL. A version edited live since its load is the
exception: its pre-built set is stale where the edits landed (the source makes those tiles
from the data, ``Store.tile_seq``), and the copy has no record of the edits, so the target
builds that set anew from the copied features.
"""

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tsukuba_gis.errors import GisError, StoreError
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store.base import LayerRecord, RasterRecord, Store, TileSpec
from tsukuba_gis.tiles.rules import tile_specs


@dataclass
class Copied:
    """What happened to one layer version: ``copied``, ``present`` (same content) or ``failed``."""

    layer_id: str
    version: int
    current: bool
    status: str
    features: int = 0
    rejects: int = 0
    error: str | None = None
    kind: str = "vector"


def _same(a: LayerRecord, b: LayerRecord) -> bool:
    return (a.source_checksum, a.definition_checksum, a.feature_count) == (
        b.source_checksum,
        b.definition_checksum,
        b.feature_count,
    )


def copy_version(source: Store, target: Store, record: LayerRecord) -> Copied:
    """Copy one version (features in chunks, then its quarantine) in one target transaction."""
    present = target.version(record.layer_id, record.version)
    if present is not None:
        if not _same(present, record):
            raise StoreError(
                f"{record.layer_id} v{record.version} already exists in the target"
                " with other content; copy into an empty store or schema"
            )
        if record.current and not present.current:
            target.activate(record.layer_id, record.version)
        return Copied(
            record.layer_id,
            record.version,
            record.current,
            "present",
            present.feature_count,
            present.rejected_count,
        )
    with target.writer(
        record.layer_id, record.columns, record.geometry_type, record.id_column, version=record.version
    ) as writer:
        expected = 1
        for frame in source.iter_frames(record):
            # Feature ids are fids only without an id column; live deletes leave gaps in fids.
            if record.id_column is None and list(frame.index) != list(range(expected, expected + len(frame))):
                raise StoreError(
                    f"{record.layer_id} v{record.version}: feature ids in the"
                    " source are not 1..n; reload it with `tsukuba-gis etl --force`"
                )
            writer.append(frame)
            expected += len(frame)
        rejects = source.rejects(record.layer_id, record.version)
        if rejects:
            writer.reject(rejects)
        meta = {
            "source_checksum": record.source_checksum,
            "title": record.layer_id,
            "definition_checksum": record.definition_checksum,
            "crs": record.crs,
            "loaded_at": record.loaded_at,
            "duration_s": record.duration_s,
        }
        done = writer.commit(meta, make_current=record.current)
    if done.feature_count != record.feature_count:
        raise StoreError(
            f"{record.layer_id} v{record.version}: copied {done.feature_count}"
            f" features of {record.feature_count}"
        )
    return Copied(
        record.layer_id, record.version, record.current, "copied", done.feature_count, done.rejected_count
    )


def _place_file(source: Path, target: Path) -> None:
    """Put a copy of ``source`` at ``target`` (a hard link where the file system allows it)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def copy_raster_version(
    source: Store, target: Store, record: RasterRecord, dirs: tuple[Path, Path]
) -> Copied:
    """Copy one raster version: its COG into the target's raster directory, then its record."""
    present = target.raster_version(record.layer_id, record.version)
    if present is not None:
        if present.checksum != record.checksum:
            raise StoreError(
                f"raster {record.layer_id} v{record.version} already exists in the target"
                " with another COG; copy into an empty store or schema"
            )
        if record.current and not present.current:
            target.activate_raster(record.layer_id, record.version)
        return Copied(record.layer_id, record.version, record.current, "present", kind="raster")
    cog = record.path(dirs[0])
    if not cog.is_file():
        raise StoreError(f"raster {record.layer_id} v{record.version}: its COG {cog} is missing")
    with target.raster_writer(record.layer_id, dirs[1], version=record.version) as writer:
        _place_file(cog, writer.path)
        meta = {
            "source_checksum": record.source_checksum,
            "definition_checksum": record.definition_checksum,
            "bands": record.bands,
            "decisions": record.decisions,
            "loaded_at": record.loaded_at,
            "duration_s": record.duration_s,
        }
        done = writer.commit(meta, make_current=record.current)
    if done.checksum != record.checksum:
        raise StoreError(
            f"raster {record.layer_id} v{record.version}: the copied COG differs from the source"
        )
    return Copied(record.layer_id, record.version, record.current, "copied", kind="raster")


def _copy_rasters(source, target, current_only, report, dirs) -> list[Copied]:
    results = []
    for current in source.rasters():
        kept = source.raster_history(current.layer_id)
        for record in [current] if current_only else sorted(kept, key=lambda r: r.version):
            try:
                result = copy_raster_version(source, target, record, dirs)
            except StoreError as err:
                result = Copied(
                    record.layer_id, record.version, record.current, "failed", error=str(err), kind="raster"
                )
            results.append(result)
            report(result)
            if result.status == "failed":
                break
    return results


def copy_store(
    source: Store,
    target: Store,
    current_only: bool = False,
    report: Callable[[Copied], None] = lambda c: None,
    raster_dirs: tuple[Path, Path] | None = None,
) -> list[Copied]:
    """Copy every layer (its kept versions, oldest first); one failed layer spares the others.

    ``raster_dirs``: the (source, target) raster directories; raster layers are copied when given.
    """
    target.migrate()
    results = []
    for current in source.layers():
        versions = (
            [current] if current_only else sorted(source.history(current.layer_id), key=lambda r: r.version)
        )
        for record in versions:
            try:
                result = copy_version(source, target, record)
            except StoreError as err:
                result = Copied(record.layer_id, record.version, record.current, "failed", error=str(err))
            results.append(result)
            report(result)
            if result.status == "failed":
                break
    if raster_dirs is not None:
        results += _copy_rasters(source, target, current_only, report, raster_dirs)
    return results


@dataclass
class TilesCopied:
    """What happened to one tile set: ``copied`` (its bytes), ``built`` (anew on the target),
    ``present`` (the target had it), ``failed``, or ``none`` (a layer with no definition, so no
    tile set to carry)."""

    layer_id: str
    version: int
    variant: str
    status: str
    tiles: int = 0
    reason: str | None = None
    error: str | None = None


def copy_tile_set(source: Store, target: Store, record: LayerRecord, spec: TileSpec) -> TilesCopied:
    """One tile set of a copied version: its bytes when the source has it unedited, else built."""
    there = target.tile_set(spec)
    if there is not None:
        there.close()  # only asked whether it exists
        return TilesCopied(spec.layer_id, spec.version, spec.variant, "present")
    copied = target.version(record.layer_id, record.version)
    if copied is None:
        raise StoreError(f"{record.layer_id} v{record.version} is not in the target")
    tiles = None if record.edit_seq else source.tile_set(spec)
    if tiles is not None:
        count = target.load_tile_set(copied, spec, tiles)
        return TilesCopied(spec.layer_id, spec.version, spec.variant, "copied", count)
    reason = "edited since its load" if record.edit_seq else "not pre-built in the source"
    target.publish_tiles(copied, [spec])
    count = sum(1 for _ in target.tile_set(spec) or ())
    return TilesCopied(spec.layer_id, spec.version, spec.variant, "built", count, reason)


def copy_tiles(
    source: Store,
    target: Store,
    definitions: Mapping[str, LayerDef],
    report: Callable[[TilesCopied], None] = lambda c: None,
) -> list[TilesCopied]:
    """The tile sets of every current version the definitions give tiles to (``tile_specs``:
    the key holds the rules and fields, so a changed definition asks for a new set)."""
    results = []
    for record in source.layers():
        layer = definitions.get(record.layer_id)
        if layer is None:  # e.g. the place-name index the ETL writes: said, not skipped silently
            none = TilesCopied(record.layer_id, record.version, "-", "none", reason="no layer definition")
            results.append(none)
            report(none)
            continue
        for spec in tile_specs(layer, record):
            try:
                result = copy_tile_set(source, target, record, spec)
            except GisError as err:
                result = TilesCopied(record.layer_id, record.version, spec.variant, "failed", error=str(err))
            results.append(result)
            report(result)
    return results
