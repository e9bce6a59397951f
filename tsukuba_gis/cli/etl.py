"""``tsukuba-gis etl [LAYER ...]``: load department files into the store."""

import click

from tsukuba_gis.settings import Settings


@click.command()
@click.argument("layer_ids", nargs=-1)
@click.option("--force", is_flag=True, help="Reload even when sources and definition are unchanged.")
@click.pass_obj
def etl(obj: dict, layer_ids: tuple[str, ...], force: bool) -> None:
    """Load LAYER_IDS (all layers when none are given); exit 1 if any layer failed."""
    from etl.runner import run_etl

    settings: Settings = obj["settings"]
    report = run_etl(settings, layer_ids, force=force, quiet=obj["quiet"])
    for problem in report.problems:
        click.echo(problem, err=True)
    if not obj["quiet"]:
        click.echo(f"report: {settings.data_dir / 'report.html'}", err=True)
    if not report.ok:
        raise SystemExit(1)
