"""``tsukuba-gis tokens create|revoke|list``: personal API tokens for QGIS, GDAL and scripts."""

import time

import click

from tsukuba_gis.cli.users import open_accounts, when


@click.group()
def tokens() -> None:
    """Manage personal API tokens (sent as 'Authorization: Bearer …' or 'X-API-Key: …')."""


@tokens.command()
@click.argument("username")
@click.option(
    "--expires",
    "days",
    type=click.IntRange(min=0),
    default=365,
    show_default=True,
    help="Days until the token stops working; 0 for never.",
)
@click.option("--name", default="", help="What the token is for (e.g. 'QGIS on PC-123').")
@click.pass_obj
def create(obj: dict, username: str, days: int, name: str) -> None:
    """Create a token for USERNAME and print it once (only its digest is kept)."""
    from server.auth import tokens as token_secrets
    from server.auth.accounts import TokenRecord

    store, _ = open_accounts(obj)
    user = store.get_user(username.strip().lower())
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    token_id, token = token_secrets.new_token()
    now = time.time()
    record = TokenRecord(
        token_id, user.username, name, token_secrets.digest(token), now, now + days * 86400 if days else None
    )
    store.add_token(record)
    click.echo(
        f"token {token_id} for {user.username}, expires {when(record.expires)}; "
        "copy it now, it is not shown again:",
        err=True,
    )
    click.echo(token)


@tokens.command()
@click.argument("token_id")
@click.pass_obj
def revoke(obj: dict, token_id: str) -> None:
    """Revoke a token by its id (see `tokens list`); it stops working at once."""
    store, _ = open_accounts(obj)
    if not store.revoke_token(token_id.strip().lower(), time.time()):
        raise click.ClickException(f"no active token {token_id!r}")
    click.echo(f"revoked {token_id}", err=True)


@tokens.command("list")
@click.argument("username", required=False)
@click.pass_obj
def list_tokens(obj: dict, username: str | None) -> None:
    """One line per token: id, user, status, created, expires, last used, name."""
    store, _ = open_accounts(obj)
    for t in store.list_tokens(username.strip().lower() if username else None):
        click.echo(
            f"{t.id}\t{t.username}\t{t.status()}\t{when(t.created)}\t{when(t.expires)}\t"
            f"{when(t.last_used)}\t{t.name}"
        )
