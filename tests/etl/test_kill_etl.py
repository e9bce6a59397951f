"""SIGKILL an ETL in the middle of loading a big layer: the store stays as it was, and the next
run succeeds (on both stores)."""

import os
import signal
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
from minicity import MiniCity, loaded_city

from tsukuba_gis.store import Query, open_store
from tsukuba_gis.store.postgis_settings import split_schema

BIG = 120_000  # three chunks of the reader (50 000 each): there is a middle


@pytest.fixture(params=["gpkg", "postgis"])
def city(request, tmp_path) -> MiniCity:
    # Internal: no open-data files to write, the load itself is what is killed.
    return loaded_city(request, tmp_path, 50, access="internal")


def _read_fraction(pid: int, path: Path) -> float:
    """How far process ``pid`` has read ``path`` (0 when it has not opened it)."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                return int(info.split("pos:")[1].split()[0]) / path.stat().st_size
        except (FileNotFoundError, ProcessLookupError):
            return 0.0
    return 0.0


def _writer_active(city: MiniCity) -> bool:
    """Whether an ETL holds the store's write transaction open (and, in PostGIS, copies)."""
    if not city.store:
        con = sqlite3.connect(city.data_dir / "store.gpkg", timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")  # fails while the ETL holds the write lock
            con.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            con.close()
    with psycopg.connect(split_schema(city.store, "tsukuba_gis")[0]) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name ="
            " 'tsukuba-gis writer' AND xact_start IS NOT NULL"
        ).fetchall()
    return any(r[0].startswith("COPY") for r in rows)


def _past_half(pid: int, path: Path) -> bool:
    """Whether the load's reader is past half of the file.

    The ETL reads the file whole twice before it loads (checksum, encoding scan), each in a
    few milliseconds; only the chunk reader stays past half for longer than 0.2 s.
    """
    if _read_fraction(pid, path) < 0.5:
        return False
    time.sleep(0.2)
    return _read_fraction(pid, path) >= 0.5


def _kill_in_the_middle(city: MiniCity) -> None:
    """SIGKILL the ETL inside its write transaction, after its first chunk, before its last."""
    process = city.etl_process()
    deadline = time.monotonic() + 60
    while not (_past_half(process.pid, city.source) and _writer_active(city)):
        assert process.poll() is None, "the ETL ended before its middle"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _leftover_tables(city: MiniCity) -> set[str]:
    if not city.store:
        with sqlite3.connect(city.data_dir / "store.gpkg") as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'l_sites_v2%'")
            return {r[0] for r in rows}
    deadline = time.monotonic() + 15
    dsn, schema = split_schema(city.store, "tsukuba_gis")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The killed ETL's backend rolls back as soon as it notices its client is gone.
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'tsukuba-gis writer'"
        ).fetchone():
            assert time.monotonic() < deadline, "the killed ETL's transaction is still open"
            time.sleep(0.1)
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'l_sites_v2%%'",
            (schema,),
        )
        return {r[0] for r in rows}


def test_sigkill_mid_load_keeps_the_current_version_and_the_next_run_succeeds(city):
    store = open_store(city.store or str(city.data_dir / "store.gpkg"))
    generation = store.generation()
    city.hand_over(BIG, "B")
    _kill_in_the_middle(city)
    assert [r.version for r in store.history("sites")] == [1]
    assert store.generation() == generation
    page = store.query(store.current("sites"), Query(limit=100))
    assert page.number_matched == 50 and {p["edition"] for p in page.properties} == {"A"}
    assert _leftover_tables(city) == set()
    city.etl()
    record = store.current("sites")
    assert (record.version, record.feature_count) == (2, BIG)
    assert store.query(record, Query(limit=1, offset=BIG - 1)).properties[0]["edition"] == "B"
