"""``tsukuba-gis etl``: load department files into the store, and manage the kept versions.

``tsukuba-gis etl [LAYER ...] [--force] [--dry-run]`` runs the ETL (the ``run`` subcommand is
implied); ``history``, ``diff``, ``rollback`` and ``activate`` work on the kept versions. A
layer that happens to share a subcommand's name is loaded with ``tsukuba-gis etl run NAME``.
"""

import json

import click

from tsukuba_gis.cli.options import is_quiet, quiet_opt
from tsukuba_gis.settings import Settings


class _RunByDefault(click.Group):
    """A group whose first argument, unless it names a subcommand, goes to ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def etl() -> None:
    """Load LAYERs (all when none are given) or manage their versions.

    \b
    tsukuba-gis etl [LAYER ...] [--force] [--dry-run]
    tsukuba-gis etl history LAYER [--changes N] [--feature ID]
    tsukuba-gis etl revert CHANGE_ID
    tsukuba-gis etl diff LAYER [--from V] [--to V]
    tsukuba-gis etl rollback LAYER [--to V]
    tsukuba-gis etl activate LAYER VERSION
    """


@etl.command()
@click.argument("layer_ids", nargs=-1)
@click.option("--force", is_flag=True, help="Reload even when sources and definition are unchanged.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Keep each new version without publishing it; the report shows what it would"
    " change. Publish it later with `etl activate LAYER VERSION`.",
)
@quiet_opt
@click.pass_obj
def run(obj: dict, layer_ids: tuple[str, ...], force: bool, dry_run: bool, quiet: bool) -> None:
    """Load LAYER_IDS (all layers when none are given); exit 1 if any layer failed."""
    from etl.runner import run_etl

    settings: Settings = obj["settings"]
    quiet = is_quiet(obj, quiet)
    report = run_etl(settings, layer_ids, force=force, quiet=quiet, dry_run=dry_run)
    for problem in report.problems:
        click.echo(problem, err=True)
    if not quiet or not report.ok:
        click.echo(f"report: {settings.data_dir / 'report.html'}", err=True)
    if not report.ok:
        raise SystemExit(1)


def _transform_text(crs: dict) -> str:
    transforms = crs.get("transforms", [])
    return "; ".join(f"{t['source_crs']} via {t['method']} ({t['accuracy_m']} m)" for t in transforms)


def _is_raster(obj: dict, layer_id: str) -> bool:
    from etl.raster.versions import is_raster

    return is_raster(obj["settings"], layer_id)


def _raster_history(obj: dict, layer_id: str) -> None:
    from etl.raster.versions import history as kept

    records = kept(obj["settings"], layer_id)
    for r in records:
        mark = "*" if r.current else " "
        first = r.bands[0]
        values = f"{first.min:g}..{first.max:g}" if first.min is not None else "no values"
        click.echo(
            f"{mark} v{r.version}\t{r.loaded_at}\t{r.width} x {r.height} x {r.band_count} {r.dtype}\t"
            f"{r.crs}\t{values}\t{r.size_bytes} bytes\tcog {r.checksum[:12]}\t"
            f"source {r.source_checksum[:12]}\t{r.duration_s} s"
        )


@etl.command()
@click.argument("layer_id")
@click.option(
    "--changes",
    "limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many of the last live edits to list (0: all).",
)
@click.option("--feature", "feature_id", help="Only the live edits of this feature.")
@click.pass_obj
def history(obj: dict, layer_id: str, limit: int, feature_id: str | None) -> None:
    """List the kept versions of LAYER_ID, newest first (* = current), then its live edits."""
    from etl.versions import changes
    from etl.versions import history as kept

    if _is_raster(obj, layer_id):
        return _raster_history(obj, layer_id)
    records = kept(obj["settings"], layer_id)
    for r in records:
        mark = "*" if r.current else " "
        edits = f"\t{r.edit_seq} live edit(s), last {r.edited_at}" if r.edit_seq else ""
        click.echo(
            f"{mark} v{r.version}\t{r.loaded_at}\t{r.feature_count} features\t"
            f"{r.rejected_count} rejected\tsource {r.source_checksum[:12]}\t"
            f"{r.duration_s} s\t{_transform_text(r.crs)}{edits}"
        )
    found = changes(obj["settings"], layer_id, limit, feature_id)
    if found:
        click.echo("live edits (oldest first; undo one with `tsukuba-gis etl revert ID`):")
    for c in found:
        click.echo(_change_line(c))


def _change_line(c) -> str:
    """One live edit: id, time, version, kind, feature, who, what changed."""
    role = "cli" if c.via == "cli" else (c.department or "admin")
    who = f"{c.user} ({role}, {c.via})"
    if c.kind == "modify":
        what = "; ".join(
            f"{k}: {(c.before or {}).get(k)!r} -> {(c.after or {}).get(k)!r}" for k in c.changed_fields()
        )
        if c.geometry_after is not None:
            what = f"{what}; moved" if what else "moved"
    else:
        what = {"add": "added", "delete": "deleted"}[c.kind]
    cause = f" [{c.cause}]" if c.cause != "edit" else ""
    return f"  #{c.id}\t{c.at}\tv{c.version}\t{c.kind}\t{c.feature_id}\t{who}\t{what}{cause}"


@etl.command()
@click.argument("change_id", type=int)
@click.pass_obj
def revert(obj: dict, change_id: int) -> None:
    """Undo live edit CHANGE_ID (see `etl history`) with a new edit; later edits of the feature
    must be reverted first."""
    from etl.versions import revert as undo

    result = undo(obj["settings"], change_id)
    if result.change is None:
        click.echo(f"change #{change_id}: nothing to undo (the feature is already as before it)")
        return
    click.echo(f"reverted #{change_id} with #{result.change.id}: {_change_line(result.change).strip()}")


def _activate(obj: dict, layer_id: str, version: int | None) -> None:
    from etl.raster.versions import activate as activate_raster
    from etl.versions import activate

    if _is_raster(obj, layer_id):
        record = activate_raster(obj["settings"], layer_id, version)
        click.echo(f"{layer_id}: raster v{record.version} is current ({record.file})")
        return
    record, published = activate(obj["settings"], layer_id, version)
    click.echo(f"{layer_id}: v{record.version} is current ({record.feature_count} features)")
    failed = [p for p in published if "error" in p]
    for p in failed:
        click.echo(f"publisher {p.get('publisher', '?')} failed: {p['error']}", err=True)
    if failed:
        raise SystemExit(1)


@etl.command()
@click.argument("layer_id")
@click.option(
    "--to", "version", type=int, help="The version to go back to (default: the one before the current)."
)
@click.pass_obj
def rollback(obj: dict, layer_id: str, version: int | None) -> None:
    """Make an earlier kept version of LAYER_ID current again, and re-publish its files."""
    _activate(obj, layer_id, version)


@etl.command()
@click.argument("layer_id")
@click.argument("version", type=int)
@click.pass_obj
def activate(obj: dict, layer_id: str, version: int) -> None:
    """Make VERSION of LAYER_ID current (e.g. one staged by --dry-run), and publish its files."""
    _activate(obj, layer_id, version)


def _echo_raster_diff(d: dict) -> None:
    click.echo(f"{d['layer_id']} raster v{d['from']} -> v{d['to']} (grid {d['grid']})")
    click.echo(
        f"  changed {d['changed_cells']} cells ({d['changed_area_m2']} m²), unchanged"
        f" {d['unchanged_cells']}; gained a value {d['appeared_cells']}, lost it {d['disappeared_cells']}"
    )
    big = d["largest_change"]
    if big:
        click.echo(
            f"  largest change: band {big['band']} {big['old']:g} -> {big['new']:g} at row {big['row']},"
            f" column {big['col']} (lon {big['lon']}, lat {big['lat']})"
        )


def _echo_diff(d: dict) -> None:
    click.echo(f"{d['layer_id']} v{d['from']} -> v{d['to']} (matched by {d['matched_by']})")
    click.echo(
        f"  added {d['added']}, removed {d['removed']}, changed {d['changed']}, unchanged {d['unchanged']}"
    )
    for kind, sign in (("added", "+"), ("removed", "-")):
        for item in d["examples"][kind]:
            click.echo(f"  {sign} {item}")
    for c in d["examples"]["changed"]:
        fields = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in c.get("fields", {}).items())
        geometry = " geometry" if c.get("geometry") else ""
        click.echo(f"  ~ {c['id']}: {fields}{';' if fields and geometry else ''}{geometry}")
    if d["columns"]["added"] or d["columns"]["removed"]:
        click.echo(f"  columns: +{d['columns']['added']} -{d['columns']['removed']}")


@etl.command()
@click.argument("layer_id")
@click.option("--from", "old", type=int, help="Older version (default: see below).")
@click.option("--to", "new", type=int, help="Newer version (default: the newest kept).")
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@click.pass_obj
def diff(obj: dict, layer_id: str, old: int | None, new: int | None, as_json: bool) -> None:
    """What changes between two versions of LAYER_ID: added, removed, changed features.

    By default the newest kept version is compared with the current one (after `--dry-run`:
    what publishing it would change), or, when the newest is current, with the one before.
    """
    from etl.raster.versions import diff as compare_rasters
    from etl.versions import diff as compare

    raster = _is_raster(obj, layer_id)
    result = (compare_rasters if raster else compare)(obj["settings"], layer_id, old, new)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        (_echo_raster_diff if raster else _echo_diff)(result)
