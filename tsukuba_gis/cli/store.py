"""``tsukuba-gis store migrate|copy``: the store's schema, and moving a city between stores.

``etl`` and ``serve`` run pending migrations themselves; ``store migrate`` is for doing it
ahead of a deployment (or with a role that may change the schema when the server's may not).
"""

from pathlib import Path

import click

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store, scheme_of
from tsukuba_gis.store.postgis_settings import redact
from tsukuba_gis.store.transfer import Copied, TilesCopied, copy_store, copy_tiles


@click.group()
def store() -> None:
    """Create/upgrade the store schema, or copy layers between stores.

    \b
    tsukuba-gis store migrate [--url URL]
    tsukuba-gis store copy --from data/store.gpkg --to postgresql://gis@db/tsukuba
    """


@store.command()
@click.option("--url", help="A .gpkg path or postgresql:// URL (default: TSUKUBA_GIS_STORE).")
@click.pass_obj
def migrate(obj: dict, url: str | None) -> None:
    """Apply the pending migrations of the store (either backend)."""
    settings: Settings = obj["settings"]
    url = url or settings.store_url
    applied = open_store(url, settings.keep_versions).migrate()
    where = f"{scheme_of(url)} store {redact(url)}"
    if applied:
        click.echo(f"{where}: applied migrations {', '.join(map(str, applied))}")
    elif not obj["quiet"]:
        click.echo(f"{where}: up to date")


def _line(result: Copied | TilesCopied) -> str:
    if isinstance(result, TilesCopied):
        return _tiles_line(result)
    mark = "*" if result.current else " "
    if result.status == "failed":
        return f"✗ {result.layer_id} v{result.version}: {result.error}"
    if result.kind == "raster":
        return f"{mark} {result.layer_id} raster v{result.version}: {result.status}"
    return (
        f"{mark} {result.layer_id} v{result.version}: {result.status}, {result.features}"
        f" features, {result.rejects} rejected"
    )


def _tiles_line(result: TilesCopied) -> str:
    what = f"{result.layer_id} v{result.version} tiles ({result.variant})"
    if result.status == "failed":
        return f"✗ {what}: {result.error}"
    if result.status == "present":
        return f"* {what}: present"
    if result.status == "none":
        return f"  {result.layer_id} v{result.version}: no tiles ({result.reason})"
    why = f" ({result.reason})" if result.reason else ""
    return f"* {what}: {result.status}{why}, {result.tiles} tiles"


@store.command()
@click.option("--from", "source", required=True, help="The store to read (.gpkg path or URL).")
@click.option("--to", "target", required=True, help="The store to write (.gpkg path or URL).")
@click.option("--current-only", is_flag=True, help="Only the current version of each layer.")
@click.option(
    "--raster-dir-from",
    type=click.Path(path_type=Path),
    help="The source's raster directory (default: TSUKUBA_GIS_RASTER_DIR or <data_dir>/rasters).",
)
@click.option(
    "--raster-dir-to",
    type=click.Path(path_type=Path),
    help="The target's raster directory (default: the same as --raster-dir-from).",
)
@click.option(
    "--no-tiles",
    is_flag=True,
    help="Leave the vector tiles to the next etl (a GeoPackage target builds them when first asked).",
)
@click.pass_obj
def copy(
    obj: dict,
    source: str,
    target: str,
    current_only: bool,
    raster_dir_from: Path | None,
    raster_dir_to: Path | None,
    no_tiles: bool,
) -> None:
    """Copy every layer with its kept versions, registry records and quarantine.

    Run it again after a failure: versions already copied are left as they are. Servers on
    the target pick the layers up within a second. Raster layers go across with their COG
    files (copied into --raster-dir-to when it differs from --raster-dir-from). The current
    versions' vector tile sets go across as they are, or are built on the target when the
    source has none or was edited live since its load (the layer definitions in
    TSUKUBA_GIS_LAYERS_DIR say which tile sets a layer has).
    """
    settings: Settings = obj["settings"]
    if source == target:
        raise click.ClickException("--from and --to are the same store")
    src = open_store(source, settings.keep_versions)
    if not src.layers() and not src.rasters():
        raise click.ClickException(f"{redact(source)} has no loaded layer to copy")
    dst = open_store(target, settings.keep_versions)
    echo = (lambda r: None) if obj["quiet"] else (lambda r: click.echo(_line(r)))
    from_dir = raster_dir_from or settings.rasters_path
    dirs = (from_dir, raster_dir_to or from_dir)
    definitions = {} if no_tiles else load_catalog(settings.layers_dir).layers
    if not no_tiles and not definitions:
        raise click.ClickException(
            f"no layer definition in {settings.layers_dir} to tell the tile sets:"
            " set TSUKUBA_GIS_LAYERS_DIR, or copy with --no-tiles"
        )
    results: list[Copied | TilesCopied] = []
    results += copy_store(src, dst, current_only, report=echo, raster_dirs=dirs)
    if not no_tiles:
        results += copy_tiles(src, dst, definitions, report=echo)
    failed = [r for r in results if r.status == "failed"]
    for result in failed if obj["quiet"] else []:
        click.echo(_line(result), err=True)
    if failed:
        raise SystemExit(1)
    versions = [r for r in results if isinstance(r, Copied)]
    copied = sum(r.features for r in versions if r.status == "copied")
    if not obj["quiet"]:
        click.echo(f"{len(versions)} versions in {redact(target)} ({copied} features copied)")
