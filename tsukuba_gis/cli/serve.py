"""``tsukuba-gis serve``: the web server (viewer, OGC API, open data)."""

import os
import tempfile

import click

from tsukuba_gis.logs import log_line, uvicorn_config
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers", default=1, show_default=True, type=int, help="Worker processes (production: one per core)."
)
@click.option(
    "--notify",
    "deliver",
    is_flag=True,
    help="Also run the delivery worker (mails, webhooks) in this process; one leads across hosts.",
)
@click.pass_obj
def serve(obj: dict, host: str, port: int, workers: int, deliver: bool) -> None:
    """Serve the viewer at /, the OGC API at /api and the open data at /opendata."""
    import uvicorn

    settings: Settings = obj["settings"]
    # once, before the workers start: a fresh database needs nothing else
    open_store(settings.store_url, settings.keep_versions).migrate()
    public_url = settings.resolved_public_url(host, port)
    # Workers build their own app from the environment: pass the resolved URL that way.
    os.environ["TSUKUBA_GIS_PUBLIC_URL"] = public_url
    click.echo(log_line(f"serving {public_url}/ (OGC API: {public_url}/api)", settings.log_format), err=True)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics sums every worker's counters from files here (server/metrics.py); a fresh
        # directory per start, as prometheus-client's multiprocess mode wants.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tsukuba-gis-metrics-")
    from etl.publish.live import start as start_live_publisher
    from server.protocol import DeadlineHttpToolsProtocol

    # Open data of live layers follows their edits (the server itself must not import etl).
    start_live_publisher(settings)
    if deliver:
        import threading

        from tsukuba_gis.cli.notify import run_worker

        # One thread in the main process (not one per uvicorn worker); the store's lease
        # keeps it the only one across hosts.
        worker_obj = {**obj, "settings": settings.model_copy(update={"public_url": public_url})}
        threading.Thread(target=run_worker, args=(worker_obj,), name="notify", daemon=True).start()

    uvicorn.run(
        "server.main:app",
        host=host,
        port=port,
        workers=workers,
        # httptools with a deadline for each request to arrive whole (slow-loris: server/protocol.py)
        http=DeadlineHttpToolsProtocol,
        loop="uvloop",
        log_level="warning" if obj["quiet"] else "info",
        log_config=uvicorn_config(settings.log_format) or uvicorn.config.LOGGING_CONFIG,
        # Forwarding headers are applied by the app itself, only from TSUKUBA_GIS_TRUSTED_PROXIES
        # (server/security.py): uvicorn's default would believe any process on 127.0.0.1.
        proxy_headers=False,
        timeout_keep_alive=5,  # idle between requests (uvicorn's default, said here on purpose)
        # A worker starting on a busy host (imports, first snapshots) may not answer uvicorn's
        # health ping within its default 5 s and was killed and restarted over and over.
        timeout_worker_healthcheck=30,
    )
