"""``tsukuba-gis tokens create|revoke|list``: personal API tokens for QGIS, GDAL and scripts."""

import time

import click

from tsukuba_gis.cli.users import checked_departments, open_accounts, when


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
@click.option(
    "--scope",
    type=click.Choice(["read", "edit", "edit-unconditional"]),
    default="read",
    show_default=True,
    help="read: never writes. edit: writes need If-Match (a stale one gets 412). edit-unconditional:"
    " writes without If-Match are taken too (QGIS sends none): last write wins, every write is still"
    " recorded and revertible.",
)
@click.option(
    "--department",
    "departments",
    multiple=True,
    help="Limit the token to some of the user's departments (default: all of the user's); repeat.",
)
@click.pass_obj
def create(obj: dict, username: str, days: int, name: str, scope: str, departments: tuple[str, ...]) -> None:
    """Create a token for USERNAME and print it once (only its digest is kept)."""
    from server.auth import tokens as token_secrets
    from server.auth.accounts import TokenRecord

    store, _ = open_accounts(obj)
    user = store.get_user(username.strip().lower())
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    chosen = checked_departments(obj, departments) if departments else None
    beyond = [d for d in chosen or () if d not in user.departments]
    if beyond and user.role != "admin":
        raise click.BadParameter(
            f"{user.username} is not in {', '.join(beyond)} (their departments:"
            f" {', '.join(user.departments) or 'none'})",
            param_hint="--department",
        )
    token_id, token = token_secrets.new_token()
    now = time.time()
    record = TokenRecord(
        token_id,
        user.username,
        name,
        token_secrets.digest(token),
        now,
        now + days * 86400 if days else None,
        scope=scope,
        departments=chosen,
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
    """One line per token: id, user, status, scope, departments, created, expires, last used, name."""
    store, _ = open_accounts(obj)
    for t in store.list_tokens(username.strip().lower() if username else None):
        limited = ",".join(t.departments) if t.departments is not None else "(user's)"
        click.echo(
            f"{t.id}\t{t.username}\t{t.status()}\t{t.scope}\t{limited}\t{when(t.created)}\t"
            f"{when(t.expires)}\t{when(t.last_used)}\t{t.name}"
        )
