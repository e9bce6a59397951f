"""What only the PostGIS store has: environments, a read DSN, rights, a down database, tiles."""

import threading
import time

import psycopg
import pytest
from pgcluster import free_port
from test_store_contract import COLUMNS, META, POINTS, ROWS, frame, load

from tsukuba_gis.errors import StoreError, StoreUnavailable
from tsukuba_gis.store import Query
from tsukuba_gis.store.postgis import PostGISStore
from tsukuba_gis.store.postgis_schema import MIGRATIONS
from tsukuba_gis.store.postgis_settings import DatabaseSettings, redact


def _tables(cluster, schema: str) -> set[str]:
    with psycopg.connect(cluster.dsn("stores")) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {r[0] for r in rows}


def test_environments_are_schemas_of_one_database(postgis_test_db, postgis_cluster, monkeypatch):
    db = postgis_test_db
    monkeypatch.setenv("TSUKUBA_GIS_DB_SCHEMA", "staging")
    staging = PostGISStore(db)  # the schema from the setting
    production = PostGISStore(f"{db}?schema=production")  # the URL wins
    load(staging)
    assert staging.schema == "staging" and production.schema == "production"
    assert production.layers() == [] and [r.layer_id for r in staging.layers()] == ["sites"]
    assert {"tg_layer_versions", "tg_rejects", "tg_meta", "tg_tile_cache", "l_sites_v1"} <= _tables(
        postgis_cluster, "staging"
    )
    assert DatabaseSettings().schema_name == "staging"
    with pytest.raises(StoreError, match="plain lower-case SQL name"):
        PostGISStore(f"{db}?schema=Robert'); DROP TABLE x")


def test_long_layer_ids_keep_distinct_tables(postgis_url):
    store = PostGISStore(postgis_url)
    layer = "a" * 63
    first = load(store, layer=layer)
    second = load(store, layer=layer, rows=ROWS[:2], geoms=POINTS[:2])
    assert first.table != second.table and max(len(first.table), len(second.table)) <= 63
    assert store.get(first, "A5").ids == ["A5"] and store.get(second, "A5").ids == []


def test_a_down_database_fails_fast_without_the_password():
    dsn = f"postgresql://gis:s3cret-pw@127.0.0.1:{free_port()}/tsukuba"  # nothing listens
    store = PostGISStore(dsn)
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.generation()
        assert time.monotonic() - started < 2.0
        assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    with pytest.raises(StoreUnavailable) as caught:
        store.writer("sites", COLUMNS, "point")
    assert "s3cret" not in str(caught.value)
    assert redact(dsn) == dsn.replace("s3cret-pw", "***")


def test_reads_use_the_read_dsn_and_never_write_there(postgis_cluster, postgis_url):
    url = postgis_url
    writer = PostGISStore(url)
    record = load(writer)
    schema = writer.schema
    postgis_cluster.execute(
        "DROP ROLE IF EXISTS tg_reader",
        "CREATE ROLE tg_reader LOGIN PASSWORD 'reader-pw'",
        "ALTER ROLE tg_reader SET default_transaction_read_only = on",  # as a hot standby is
        f"GRANT USAGE ON SCHEMA {schema} TO tg_reader",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO tg_reader",
        database="stores",
    )
    reader_dsn = postgis_cluster.dsn("stores", user="tg_reader", password="reader-pw")
    server = PostGISStore(url, settings=DatabaseSettings(read_url=reader_dsn))
    assert server.layers() == [record] and server.generation() == 1
    assert server.query(record, Query()).ids
    assert len(server.rejects("sites", 1)) == 0 and len(list(server.iter_frames(record))) == 1
    with psycopg.connect(postgis_cluster.dsn("stores")) as conn:
        users = {r[0] for r in conn.execute("SELECT usename FROM pg_stat_activity WHERE datname = 'stores'")}
    assert "tg_reader" in users
    # A write through the same instance goes to the primary, and its reads follow it there.
    with server.writer("sites", COLUMNS, "point", id_column="code") as w:
        w.append(frame(ROWS[:1], POINTS[:1]))
        assert w.commit(META).version == 2
    assert server.current("sites").version == 2


def test_migrations_run_once_under_concurrency_and_explain_missing_rights(postgis_url, postgis_cluster):
    stores = [PostGISStore(postgis_url) for _ in range(4)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.migrate())) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(tuple, results)) == [(), (), (), tuple(range(1, len(MIGRATIONS) + 1))]
    postgis_cluster.execute(
        "DROP DATABASE IF EXISTS bare",
        "DROP ROLE IF EXISTS tg_owner",
        "CREATE ROLE tg_owner LOGIN PASSWORD 'owner-pw'",
        "CREATE DATABASE bare OWNER tg_owner TEMPLATE template0",
    )
    bare = PostGISStore(postgis_cluster.dsn("bare", user="tg_owner", password="owner-pw"))
    with pytest.raises(StoreError, match="CREATE EXTENSION postgis") as caught:
        bare.migrate()
    assert "owner-pw" not in str(caught.value)


def test_tile_cache_is_per_version_and_pruned_with_it(postgis_url):
    store = PostGISStore(postgis_url, keep_versions=1)
    first = load(store)
    cache = store.tile_cache()
    assert cache.get("sites", first.version, "public", 12, 3638, 1612) is None
    cache.put("sites", first.version, "public", 12, 3638, 1612, b"\x1a\x02mvt")
    cache.put("sites", first.version, "public", 12, 3638, 1612, b"second writer loses")
    assert cache.get("sites", first.version, "public", 12, 3638, 1612) == b"\x1a\x02mvt"
    assert cache.get("sites", first.version, "internal", 12, 3638, 1612) is None
    load(store)  # v2 replaces v1 and, with keep_versions=1, prunes it and its tiles
    assert cache.get("sites", first.version, "public", 12, 3638, 1612) is None


def test_prebuilt_tiles_survive_a_crash_of_postgresql(own_cluster):
    """The ETL's tile sets live in a logged table: a crash keeps them and their marker, so no
    tile falls back to ST_AsMVT until the next ETL (an UNLOGGED table is emptied on recovery)."""
    url = own_cluster.create_database("crash")
    store = PostGISStore(url)
    version = load(store).version
    prebuilt = [(12, 3638, 1612, b"\x1a\x02z12"), (13, 7276, 3224, b"\x1a\x02z13")]
    assert store.tile_cache().put_prebuilt("sites", version, "public", prebuilt) == 2
    store.tile_cache().put("sites", version, "public@1", 14, 14553, 6449, b"\x1a\x02edit")
    store.close()
    # On disk first (the test cluster commits asynchronously), then an immediate stop: the
    # restart is a crash recovery, which resets every unlogged table to empty.
    own_cluster.execute("CHECKPOINT")
    own_cluster.stop("immediate")
    own_cluster.start()
    cache = PostGISStore(url).tile_cache()
    assert cache.prebuilt("sites", version, "public")
    assert [cache.get("sites", version, "public", z, x, y) for z, x, y, _ in prebuilt] == [
        t for *_, t in prebuilt
    ]
    assert cache.get("sites", version, "public@1", 14, 14553, 6449) == b"\x1a\x02edit"
    cache.store.close()
