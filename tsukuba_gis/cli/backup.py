"""``tsukuba-gis backup DEST`` / ``backup --verify ARCHIVE`` / ``restore ARCHIVE``."""

import time
from pathlib import Path

import click

from tsukuba_gis.settings import Settings


def _sources(settings: Settings) -> "Sources":  # noqa: F821 (imported late, as the other commands)
    from server.auth.settings import AuthSettings
    from tsukuba_gis.backup.archive import Sources

    auth = AuthSettings()
    accounts_url = auth.accounts_url(settings.data_dir, settings.store_url)
    accounts = None if "://" in accounts_url else Path(accounts_url)  # PostgreSQL accounts: in the dump
    return Sources(
        settings.data_dir,
        settings.store_url,
        settings.rasters_path,
        accounts,
        auth.audit_path(settings.data_dir),
    )


def _summary(manifest) -> str:
    size = sum(m["size"] for m in manifest.members.values())
    made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest.created))
    return f"{manifest.store} store, {len(manifest.members)} files, {size / 1e6:.1f} MB, made {made}"


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--verify", is_flag=True, help="Check an existing archive DEST instead of writing one.")
@click.pass_obj
def backup(obj: dict, dest: Path, verify: bool) -> None:
    """Write one archive DEST with everything needed to rebuild the service (while it serves).

    \b
    tsukuba-gis backup /backup/tsukuba-gis-$(date +%F).tar
    tsukuba-gis backup --verify /backup/tsukuba-gis-2026-04-01.tar
    """
    from tsukuba_gis.backup.archive import backup as write
    from tsukuba_gis.backup.restore import verify as check

    if verify:
        manifest = check(dest)
        if not obj["quiet"]:
            click.echo(f"{dest}: verified ({_summary(manifest)})")
        return
    if dest.exists():
        raise click.ClickException(f"{dest} exists; a backup never overwrites one")
    manifest = write(_sources(obj["settings"]), dest)
    if not obj["quiet"]:
        click.echo(f"{dest}: {_summary(manifest)}")


@click.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.pass_obj
def restore(obj: dict, archive: Path) -> None:
    """Restore ARCHIVE (after checking it) into an empty data directory and an empty store.

    The store kind must match the backup's (TSUKUBA_GIS_STORE: a GeoPackage path, or a
    PostgreSQL URL whose schema is the one backed up).
    """
    from tsukuba_gis.backup.restore import restore as put_back

    manifest = put_back(archive, _sources(obj["settings"]))
    if not obj["quiet"]:
        click.echo(f"restored {archive}: {_summary(manifest)}")
