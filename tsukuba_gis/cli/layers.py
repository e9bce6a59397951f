"""``tsukuba-gis layers list|validate``: what is defined, and whether the definitions are sound."""

import click

from tsukuba_gis.catalog import load_catalog


@click.group()
def layers() -> None:
    """Inspect the layer definitions under layers/."""


@layers.command("list")
@click.pass_obj
def list_layers(obj: dict) -> None:
    """One line per layer: id, access, department, geometry (``raster`` for rasters), title."""
    settings = obj["settings"]
    catalog = load_catalog(settings.layers_dir)
    every = [*catalog.layers.values(), *catalog.rasters.values()]
    for layer in sorted(every, key=lambda item: (item.department, item.id)):
        kind = layer.geometry if layer.kind == "vector" else "raster"
        click.echo(f"{layer.id}\t{layer.access}\t{layer.department}\t{kind}\t{layer.title.ja}")


@layers.command()
@click.pass_obj
def validate(obj: dict) -> None:
    """Check every definition (and that its source files exist); exit 1 listing every problem."""
    settings = obj["settings"]
    catalog = load_catalog(settings.layers_dir, settings.sources_dir)
    for problem in catalog.problems:
        click.echo(str(problem), err=True)
    if catalog.problems:
        raise click.ClickException(f"{len(catalog.problems)} problem(s) in {settings.layers_dir}")
    click.echo(
        f"{len(catalog.layers) + len(catalog.rasters)} layer definitions are valid"
        f" ({len(catalog.rasters)} raster)"
    )
