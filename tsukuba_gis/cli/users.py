"""``tsukuba-gis users add|remove|list|passwd|attempts|departments``: local accounts for the staff API
and viewer; a user's departments decide whose layers they may edit (admins: every editable one)."""

import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from server.auth.accounts import AccountStore
    from server.auth.passwords import Passwords


def open_accounts(obj: dict) -> tuple["AccountStore", "Passwords"]:
    """The account store and password hasher from the settings (server extras imported late)."""
    from server.auth.accounts import open_account_store
    from server.auth.passwords import Passwords
    from server.auth.settings import AuthSettings

    auth = AuthSettings()
    store = open_account_store(auth.accounts_url(obj["settings"].data_dir, obj["settings"].store_url))
    return store, Passwords(auth)


def when(timestamp: float | None) -> str:
    """A timestamp for listings (local time, to the minute), or '-'."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def _username(name: str) -> str:
    from server.auth.accounts import AccountError, normalize_username

    try:
        return normalize_username(name)
    except AccountError as err:
        raise click.BadParameter(str(err), param_hint="USERNAME") from None


def _new_password(passwords: "Passwords", username: str, from_stdin: bool) -> str:
    """A new password, prompted twice or read as one line from stdin; checked, then hashed."""
    from server.auth.passwords import WeakPassword

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            f"New password for {username}", hide_input=True, confirmation_prompt=True, err=True
        )
    try:
        passwords.check_new(password, username)
    except WeakPassword as err:
        raise click.ClickException(str(err)) from None
    return passwords.hash(password)


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin (for scripts)."
)
department_opt = click.option(
    "--department",
    "departments",
    multiple=True,
    help="A department (a folder of layers/, e.g. disaster) whose editable layers the user may edit;"
    " repeat for several.",
)


def checked_departments(obj: dict, departments: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Department ids that exist in the layer definitions (a typo would edit nothing)."""
    from server.auth.accounts import AccountError, normalize_departments
    from tsukuba_gis.catalog import load_catalog

    try:
        found = normalize_departments(departments)
    except AccountError as err:
        raise click.BadParameter(str(err), param_hint="--department") from None
    known = load_catalog(obj["settings"].layers_dir).departments
    unknown = [d for d in found if d not in known]
    if unknown:
        where = obj["settings"].layers_dir
        raise click.BadParameter(
            f"no department {', '.join(unknown)} in {where} (known: {', '.join(sorted(known))})",
            param_hint="--department",
        )
    return found


@click.group()
def users() -> None:
    """Manage local staff accounts (roles: staff, admin)."""


@users.command()
@click.argument("username")
@click.option("--role", type=click.Choice(["staff", "admin"]), default="staff", show_default=True)
@department_opt
@password_stdin
@click.pass_obj
def add(obj: dict, username: str, role: str, departments: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account; the password is prompted (twice) unless --password-stdin."""

    name = _username(username)
    found = checked_departments(obj, departments)
    store, passwords = open_accounts(obj)
    if store.get_user(name) is not None:
        raise click.ClickException(f"user {name!r} already exists")
    store.add_user(name, role, _new_password(passwords, name, password_stdin), found)
    click.echo(f"added {name} ({role}{': ' + ', '.join(found) if found else ''})", err=True)


@users.command()
@click.argument("username")
@click.argument("departments", nargs=-1)
@click.option("--none", "clear", is_flag=True, help="Remove every department (the user may edit nothing).")
@click.pass_obj
def departments(obj: dict, username: str, departments: tuple[str, ...], clear: bool) -> None:
    """Show the departments of USERNAME, or set them to DEPARTMENTS (--none: none)."""
    name = _username(username)
    store, _ = open_accounts(obj)
    user = store.get_user(name)
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    if departments or clear:
        store.set_departments(name, checked_departments(obj, departments))
        user = store.get_user(name)
    click.echo(", ".join(user.departments) or "(none)")


@users.command()
@click.argument("username")
@click.confirmation_option(prompt="Remove the account with its tokens and sessions?")
@click.pass_obj
def remove(obj: dict, username: str) -> None:
    """Delete an account; its tokens and sessions stop working at once."""
    store, _ = open_accounts(obj)
    if not store.remove_user(_username(username)):
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"removed {username}", err=True)


@users.command("list")
@click.pass_obj
def list_users(obj: dict) -> None:
    """One line per account: name, role, departments, created, password changed (``sso`` for
    accounts of the single sign-on, which have none), active tokens, failed sign-ins."""
    from server.auth.accounts import SSO_PASSWORD

    store, _ = open_accounts(obj)
    throttle = _throttle(store)
    for user in store.list_users():
        active = sum(t.status() == "active" for t in store.list_tokens(user.username))
        failed = sum(a.failures for a in throttle.attempts(user.username))
        password = "sso" if user.password_hash == SSO_PASSWORD else when(user.password_changed)
        click.echo(
            f"{user.username}\t{user.role}\t{','.join(user.departments) or '-'}\t{when(user.created)}\t"
            f"{password}\t{active} token(s)\t{failed} failed sign-in(s)"
        )


def _throttle(store: "AccountStore"):
    from server.auth.lockout import Throttle
    from server.auth.settings import AuthSettings

    return Throttle(store, AuthSettings())


@users.command()
@click.argument("username")
@click.pass_obj
def attempts(obj: dict, username: str) -> None:
    """Failed sign-ins for a name (existing or not), per address: failures, last, locked until."""
    store, _ = open_accounts(obj)
    found = _throttle(store).attempts(username)
    if not found:
        click.echo(f"no failed sign-ins for {username} in the counting window", err=True)
    now = time.time()
    for a in found:
        locked = when(a.locked_until) if a.locked_until > now else "-"
        click.echo(f"{a.address}\t{a.failures} failure(s)\tlast {when(a.last)}\tlocked until {locked}")


@users.command()
@click.argument("username")
@password_stdin
@click.pass_obj
def passwd(obj: dict, username: str, password_stdin: bool) -> None:
    """Set a new password; the user's browser sessions end (tokens stay valid)."""
    name = _username(username)
    store, passwords = open_accounts(obj)
    if store.get_user(name) is None:
        raise click.ClickException(f"no user {name!r}")
    store.set_password(name, _new_password(passwords, name, password_stdin))
    click.echo(f"password of {name} changed; signed out everywhere", err=True)
