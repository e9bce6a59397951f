"""Open data of live layers, written again after staff edits (issue 13), by ``tsukuba-gis serve``.

The server must not import ``etl`` (the open-data writers live here), so ``serve`` (the
composition root) runs this loop in a thread of its main process, one per host: every
``POLL_S`` it compares each public editable layer's current version and edit sequence with its
manifest, and writes the set again (``etl.publish.opendata.publish``: aside, then the manifest
switched atomically) once no edit came for ``opendata_debounce_s`` or the first unpublished one
is ``opendata_max_delay_s`` old. A set costs about a second for the 114 shelters, so a burst of
edits is one rewrite, and a download is never older than the last edit by more than a few
seconds. With several hosts sharing the data directory, a ``.publishing`` file (O_EXCL, taken
over after ``STALE_S``) lets one host write a layer while the others skip it.
"""

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

from etl.publish.manifest import layer_dir, read_manifest
from etl.publish.opendata import publish
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store, open_store

LOG = logging.getLogger(__name__)
POLL_S = 0.5
STALE_S = 600


def _published(settings: Settings, record: LayerRecord) -> bool:
    manifest = read_manifest(settings.data_dir, record.layer_id) or {}
    return manifest.get("version") == record.version and manifest.get("edit_seq", 0) == record.edit_seq


def _age_s(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return time.time() - datetime.fromisoformat(iso).timestamp()


def _take(marker: Path) -> bool:
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        try:
            if time.time() - marker.stat().st_mtime < STALE_S:
                return False
        except FileNotFoundError:
            return False
        marker.unlink(missing_ok=True)  # a writer that died: the next poll takes it
        return False


class LivePublisher:
    """Keeps the open data of public live layers in step with their edits.

    Attributes:
        settings: data directory, definitions, debounce times.
        store: the store the server serves.
    """

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self.store = store or open_store(settings.store_url, settings.keep_versions)
        self._pending: dict[str, tuple[int, float]] = {}  # layer -> (edit_seq, first seen)

    def _live_layers(self) -> list[LayerDef]:
        catalog = cached_catalog(self.settings.layers_dir)
        return [layer for layer in catalog.public_layers() if layer.editable is not None]

    def due(self) -> list[tuple[LayerDef, LayerRecord]]:
        """The live layers whose files are behind their edits and waited long enough."""
        found = []
        for layer in self._live_layers():
            record = self.store.current(layer.id)
            if record is None or not record.edit_seq or _published(self.settings, record):
                self._pending.pop(layer.id, None)
                continue
            seq, first = self._pending.setdefault(layer.id, (record.edit_seq, time.monotonic()))
            quiet = _age_s(record.edited_at) >= self.settings.opendata_debounce_s
            if quiet or time.monotonic() - first >= self.settings.opendata_max_delay_s:
                found.append((layer, record))
        return found

    def publish(self, layer: LayerDef, record: LayerRecord) -> dict | None:
        """Write the layer's set for its current state (None when another process writes it)."""
        marker = layer_dir(self.settings.data_dir, layer.id) / ".publishing"
        if not _take(marker):
            return None
        try:
            result = publish(self.settings, self.store, layer, self.store.current(layer.id) or record)
        finally:
            marker.unlink(missing_ok=True)
        self._pending.pop(layer.id, None)
        LOG.info("open data of %s written again after edits: %s", layer.id, result)
        return result

    def run_once(self) -> list[str]:
        """One poll: the layers written."""
        written = []
        for layer, record in self.due():
            try:
                if self.publish(layer, record) is not None:
                    written.append(layer.id)
            except (GisError, OSError, ValueError) as err:  # the next poll tries again
                LOG.warning("open data of %s not written yet: %s", layer.id, err)
        return written

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set (a failing store is retried on the next poll)."""
        while not stop.wait(POLL_S):
            try:
                self.run_once()
            except GisError as err:
                LOG.warning("live open-data publisher: %s", err)
            except Exception:  # never let the thread die silently
                LOG.exception("live open-data publisher failed; retrying")


def start(settings: Settings) -> tuple[threading.Thread, threading.Event]:
    """Run a LivePublisher in a daemon thread; set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=LivePublisher(settings).run, args=(stop,), daemon=True, name="live-opendata"
    )
    thread.start()
    return thread, stop
