"""Build a missing MBTiles in the background of a server process (GeoPackage store).

``tsukuba-gis etl`` builds every tile set; this covers the cases it did not: a store moved in by
``store copy``, a tile publisher that failed, a store loaded before tiles existed. Meanwhile the
tiles answer 503 with Retry-After. One build per tile set across the server's processes: a
``.building`` file next to the target is taken with O_EXCL (a stale one, over an hour old, is
taken over). The build itself writes aside and renames, as the ETL's does.
"""

import logging
import os
import threading
import time
from pathlib import Path

from etl.publish.tiles import TileSpec, build_mbtiles
from tsukuba_gis.store import LayerRecord, Store

LOG = logging.getLogger(__name__)
STALE_S = 3600


class BackgroundBuilder:
    """Starts at most one build per tile set per process; the lock file covers the others."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()
        self._running: set[Path] = set()

    def request(self, record: LayerRecord, spec: TileSpec, path: Path) -> None:
        """Make sure ``path`` gets built (returns at once)."""
        with self._lock:
            if path in self._running:
                return
            self._running.add(path)
        threading.Thread(
            target=self._build, args=(record, spec, path), daemon=True, name=f"tiles-{spec.layer_id}"
        ).start()

    def _build(self, record: LayerRecord, spec: TileSpec, path: Path) -> None:
        marker = path.with_name(path.name + ".building")
        try:
            if not _take(marker):
                return  # another process builds it
            try:
                if not path.is_file():
                    LOG.info(
                        "building the missing tiles of %s v%s (%s)", spec.layer_id, spec.version, spec.variant
                    )
                    build_mbtiles(self.store, record, spec, path)
            finally:
                marker.unlink(missing_ok=True)
        except Exception:  # logged; the next tile request tries again
            LOG.exception("building the tiles of %s v%s failed", spec.layer_id, spec.version)
        finally:
            with self._lock:
                self._running.discard(path)


def _take(marker: Path) -> bool:
    marker.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return True
        except FileExistsError:
            try:
                if time.time() - marker.stat().st_mtime < STALE_S:
                    return False
            except FileNotFoundError:
                continue
            marker.unlink(missing_ok=True)  # a build that died: take it over
    return False
