"""``tsukuba-gis notify``: the delivery worker; ``tsukuba-gis webhooks ...``: its webhooks.

The server side does the work (``server/notify/``); these commands compose it with the settings
and the store, as ``serve`` does with the app.
"""

import signal
import threading

import click

from tsukuba_gis.logs import log_line
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store


def _snapshots(obj: dict):
    from server.snapshot import Snapshots

    settings: Settings = obj["settings"]
    if not settings.public_url:
        # links in mails and webhook bodies: the URL residents reach the server at
        settings = settings.model_copy(update={"public_url": settings.resolved_public_url()})
    store = open_store(settings.store_url, settings.keep_versions)
    store.migrate()
    return Snapshots(settings, store)


def run_worker(obj: dict, once: bool = False, stop: threading.Event | None = None) -> None:
    """Run the worker until ``stop`` (or SIGTERM/SIGINT in the main thread)."""
    from server.notify.settings import NotifySettings
    from server.notify.worker import Worker

    snapshots = _snapshots(obj)
    worker = Worker(snapshots, NotifySettings())
    if once:
        worker.round()
        worker.close()
        return
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    click.echo(log_line(f"delivery worker {worker.holder} started", obj["settings"].log_format), err=True)
    worker.run(stop)


@click.command()
@click.option("--once", is_flag=True, help="One round (plan and send what is due), then exit.")
@click.pass_obj
def notify(obj: dict, once: bool) -> None:
    """Deliver change records: e-mail subscriptions and webhooks (one worker leads at a time)."""
    run_worker(obj, once)


@click.group()
def webhooks() -> None:
    """Webhooks of other city systems and the deliveries (dead ones, redelivery)."""


def _area_options(fn):
    for option in reversed(
        [
            click.option(
                "--layer", "layers", multiple=True, help="A layer id to follow (repeat; default all)."
            ),
            click.option("--lat", type=float, help="Area: a point's latitude (with --lon, --radius)."),
            click.option("--lon", type=float, help="Area: a point's longitude."),
            click.option(
                "--radius", type=float, help="Area: metres around the point (default 500, at most 2000)."
            ),
            click.option("--town", help="Area: a 町丁目 name (700 m around it)."),
            click.option("--bbox", help="Area: west,south,east,north (lon/lat)."),
        ]
    ):
        fn = option(fn)
    return fn


@webhooks.command()
@click.argument("url")
@_area_options
@click.option(
    "--audience",
    type=click.Choice(["public", "internal"]),
    default="public",
    show_default=True,
    help="What of a change the receiver gets: what the open feeds show, or everything.",
)
@click.option("--secret", help="The signing secret (default: a random one, printed once).")
@click.pass_obj
def add(obj: dict, url: str, layers: tuple[str, ...], audience: str, secret: str | None, **area) -> None:
    """Register URL to receive signed JSON of the changes from now on."""
    from server.notify.admin import add_webhook
    from tsukuba_gis.errors import BadRequest

    params = {k: str(v).removesuffix(".0") for k, v in area.items() if v is not None}  # 2000.0 -> 2000
    params |= {"url": url, "audience": audience, "layer": ",".join(layers), "secret": secret or ""}
    try:
        hook_id, made = add_webhook(_snapshots(obj), params)
    except BadRequest as err:
        raise click.BadParameter(str(err)) from None
    click.echo(f"webhook {hook_id}: {url}")
    click.echo(f"secret (shown once, give it to the receiver): {made}")


@webhooks.command(name="list")
@click.pass_obj
def list_(obj: dict) -> None:
    """List the webhooks (without their secrets)."""
    from server.notify.admin import webhook_json

    for hook in open_store(obj["settings"].store_url).webhooks():
        shown = webhook_json(hook)
        layers = ",".join(shown["layers"] or ["all"])
        click.echo(f"{shown['id']}\t{shown['url']}\t{shown['audience']}\t{shown['area'] or 'city'}\t{layers}")


@webhooks.command()
@click.argument("webhook_id", type=int)
@click.pass_obj
def remove(obj: dict, webhook_id: int) -> None:
    """Remove a webhook and its unsent deliveries."""
    if not open_store(obj["settings"].store_url).remove_webhook(webhook_id):
        raise click.ClickException(f"no webhook {webhook_id}")
    click.echo(f"removed webhook {webhook_id}")


@webhooks.command()
@click.pass_obj
def dead(obj: dict) -> None:
    """List the dead deliveries (mails and webhooks) with their last error."""
    for d in open_store(obj["settings"].store_url).deliveries("dead"):
        click.echo(f"{d.key}\t{d.attempts} attempts\t{d.last_error}")


@webhooks.command()
@click.argument("key", required=False)
@click.option("--all", "every", is_flag=True, help="Every dead delivery.")
@click.pass_obj
def redeliver(obj: dict, key: str | None, every: bool) -> None:
    """Send a dead delivery (KEY, or --all) again, with fresh attempts."""
    import time

    if bool(key) == every:
        raise click.UsageError("give a KEY or --all")
    count = open_store(obj["settings"].store_url).redeliver(key, time.time())
    if key and not count:
        raise click.ClickException(f"no dead delivery {key}")
    click.echo(f"{count} deliveries pending again")
