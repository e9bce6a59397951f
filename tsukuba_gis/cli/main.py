"""Entry point: ``tsukuba-gis [-v|-q] COMMAND``; settings are read once here and passed down."""

import logging

import click

from tsukuba_gis import __version__
from tsukuba_gis.cli.backup import backup, restore
from tsukuba_gis.cli.etl import etl
from tsukuba_gis.cli.layers import layers
from tsukuba_gis.cli.notify import notify, webhooks
from tsukuba_gis.cli.options import GisGroup, quiet_opt
from tsukuba_gis.cli.reports import reports
from tsukuba_gis.cli.serve import serve
from tsukuba_gis.cli.store import store
from tsukuba_gis.cli.tokens import tokens
from tsukuba_gis.cli.users import users
from tsukuba_gis.logs import configure
from tsukuba_gis.settings import Settings


@click.group(cls=GisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tsukuba-gis")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@quiet_opt
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Tsukuba integrated GIS: layer ETL, OGC API server and viewer."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    settings = Settings()
    configure(level, settings.log_format)
    ctx.obj = {"settings": settings, "quiet": quiet}


cli.add_command(backup)
cli.add_command(etl)
cli.add_command(reports)
cli.add_command(restore)
cli.add_command(layers)
cli.add_command(notify)
cli.add_command(serve)
cli.add_command(store)
cli.add_command(tokens)
cli.add_command(users)
cli.add_command(webhooks)
