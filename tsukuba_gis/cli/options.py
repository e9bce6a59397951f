"""Options and behaviour shared by every command (as Fiona's ``fio/options.py``)."""

import click

from tsukuba_gis.errors import GisError

quiet_opt = click.option("-q", "--quiet", is_flag=True, help="Print nothing unless something fails (cron).")


def is_quiet(obj: dict, quiet: bool = False) -> bool:
    """Quiet when asked at the group (``tsukuba-gis -q ...``) or at the command."""
    return quiet or bool(obj.get("quiet"))


# The top-level module of an optional dependency -> the extra that installs it (pyproject.toml).
EXTRAS = {
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "pygeoapi": "server",
    "argon2": "server",
    "jwt": "server",
    "prometheus_client": "server",
    "lxml": "etl",
    "tky2jgd": "etl",
    "folium": "etl",
    "psycopg": "postgis",
    "psycopg_pool": "postgis",
}


class GisGroup(click.Group):
    """A command group that turns the product's errors into a one-line message and exit code 1.

    Commands raise ``GisError`` (a broken store URL, an unknown layer, a bad account name)
    and never catch it just to print it: the message is made for people already.
    """

    def invoke(self, ctx: click.Context):
        """Run the command; a ``GisError`` becomes a ``click.ClickException``."""
        try:
            return super().invoke(ctx)
        except GisError as err:
            raise click.ClickException(str(err)) from None
        except ModuleNotFoundError as err:
            extra = EXTRAS.get((err.name or "").partition(".")[0])
            if extra is None:
                raise
            raise click.ClickException(
                f"this command needs {err.name!r}, part of the {extra!r} extra:"
                f" pip install 'tsukuba-gis[{extra}]'"
            ) from None
