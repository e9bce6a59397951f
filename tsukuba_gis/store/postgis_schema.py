"""The PostGIS store's tables, its versioned migrations, and names of layer tables.

Everything lives in one schema per environment (``{s}`` below); the layer tables are
``l_<layer>_v<version>`` next to the registry, like in the GeoPackage store, so a staff member
with QGIS finds the same names in both. Add a migration by appending a list of statements:
applied ones are never edited.
"""

import hashlib

import psycopg
from psycopg import sql

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store.postgis_notify import MIGRATION as NOTIFY_MIGRATION
from tsukuba_gis.store.postgis_outbox import MIGRATION as OUTBOX_MIGRATION
from tsukuba_gis.store.postgis_reports import MIGRATION as REPORTS_MIGRATION

MIGRATIONS: list[list[str]] = [
    [  # 1: the registry, the change counter and the quarantine
        """CREATE TABLE {s}.tg_meta (key text PRIMARY KEY, value text NOT NULL)""",
        """INSERT INTO {s}.tg_meta VALUES ('generation', '0')""",
        """CREATE TABLE {s}.tg_layer_versions (
            layer_id text NOT NULL, version integer NOT NULL, table_name text NOT NULL,
            current boolean NOT NULL DEFAULT false, geometry_type text NOT NULL,
            feature_count bigint NOT NULL, rejected_count bigint NOT NULL,
            bbox double precision[], columns json NOT NULL, id_column text,
            source_checksum text NOT NULL, definition_checksum text NOT NULL,
            loaded_at timestamptz NOT NULL, duration_s double precision NOT NULL,
            crs json NOT NULL, PRIMARY KEY (layer_id, version))""",
        # At most one current version per layer, whatever a buggy caller does.
        """CREATE UNIQUE INDEX tg_layer_versions_current ON {s}.tg_layer_versions (layer_id)
            WHERE current""",
        """CREATE TABLE {s}.tg_rejects (
            seq bigserial PRIMARY KEY, layer_id text NOT NULL, version integer NOT NULL,
            source text NOT NULL, "row" bigint NOT NULL, reason text NOT NULL,
            attributes json NOT NULL, geometry_wkt text)""",
        """CREATE INDEX tg_rejects_layer ON {s}.tg_rejects (layer_id, version)""",
    ],
    [  # 2: tiles shared by every server process (UNLOGGED then: a cache; logged since 8)
        """CREATE UNLOGGED TABLE {s}.tg_tile_cache (
            layer_id text NOT NULL, version integer NOT NULL, variant text NOT NULL,
            z smallint NOT NULL, x integer NOT NULL, y integer NOT NULL, tile bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (layer_id, version, variant, z, x, y))""",
    ],
    [  # 3: raster versions: a registry row per COG under the raster directory (postgis_raster.py)
        """CREATE TABLE {s}.tg_raster_versions (
            layer_id text NOT NULL, version integer NOT NULL, current boolean NOT NULL DEFAULT false,
            file text NOT NULL, checksum text NOT NULL, size_bytes bigint NOT NULL, crs text NOT NULL,
            width integer NOT NULL, height integer NOT NULL, band_count integer NOT NULL,
            dtype text NOT NULL, nodata double precision, resolution json NOT NULL, bounds json NOT NULL,
            bbox json NOT NULL, bands json NOT NULL, source_checksum text NOT NULL,
            definition_checksum text NOT NULL, loaded_at timestamptz NOT NULL,
            duration_s double precision NOT NULL, decisions json NOT NULL,
            PRIMARY KEY (layer_id, version))""",
        """CREATE UNIQUE INDEX tg_raster_versions_current ON {s}.tg_raster_versions (layer_id)
            WHERE current""",
    ],
    [  # 4: live edits: each version's edit sequence, the change table, the tiles edits touched
        """ALTER TABLE {s}.tg_layer_versions ADD COLUMN edit_seq integer NOT NULL DEFAULT 0,
            ADD COLUMN edited_at timestamptz""",
        """CREATE TABLE {s}.tg_changes (
            id bigserial PRIMARY KEY, layer_id text NOT NULL, version integer NOT NULL,
            seq integer NOT NULL, feature_id text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('add', 'modify', 'delete')),
            before jsonb, after jsonb, geometry_before bytea, geometry_after bytea,
            min_x double precision, min_y double precision, max_x double precision,
            max_y double precision, rev_before integer, rev_after integer,
            username text NOT NULL, department text, via text NOT NULL,
            at timestamptz NOT NULL, cause text NOT NULL, reverts bigint REFERENCES {s}.tg_changes (id))""",
        """CREATE INDEX tg_changes_layer ON {s}.tg_changes (layer_id, version, seq)""",
        """CREATE INDEX tg_changes_feature ON {s}.tg_changes (layer_id, feature_id)""",
        """CREATE TABLE {s}.tg_tile_touches (
            layer_id text NOT NULL, version integer NOT NULL, z smallint NOT NULL, x integer NOT NULL,
            y integer NOT NULL, seq integer NOT NULL, PRIMARY KEY (layer_id, version, z, x, y))""",
    ],
    OUTBOX_MIGRATION,  # 5: change records for feeds and deliveries (postgis_outbox.py)
    NOTIFY_MIGRATION,  # 6: subscriptions, webhooks, deliveries, the worker's cursor (notify.py)
    REPORTS_MIGRATION,  # 7: residents' reports and their personal part (postgis_reports.py)
    [  # 8: the tile table holds the ETL's pre-built tile sets since tiles were pre-built (issue
        # 19), not only a cache: a crash emptying it sent every tile, z10 included, to ST_AsMVT
        # (seconds each for a dense layer) until the next ETL. Logged, it survives a crash.
        """ALTER TABLE {s}.tg_tile_cache SET LOGGED""",
    ],
]

PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
}
GEOMETRY_TYPES = {"point": "Point", "line": "MultiLineString", "polygon": "MultiPolygon"}
_MAX_NAME = 63  # PostgreSQL truncates longer identifiers, which would merge two versions


def table_name(layer_id: str, version: int) -> str:
    """``l_<layer>_v<version>``, shortened with a hash when it would pass 63 characters."""
    name = f"l_{layer_id}_v{version}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha1(layer_id.encode()).hexdigest()[:8]
    return f"l_{layer_id[:40]}_{digest}_v{version}"


def statement(template: str, schema: str) -> sql.Composed:
    """A migration statement with ``{s}`` bound to the quoted schema."""
    return sql.SQL(template).format(s=sql.Identifier(schema))


def pending(conn: psycopg.Connection, schema: str) -> list[int]:
    """Migration numbers not applied yet (all of them when the schema is new); reads only."""
    row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".tg_migrations',)).fetchone()
    if row[0] is None:
        return list(range(1, len(MIGRATIONS) + 1))
    done = {
        r[0]
        for r in conn.execute(sql.SQL("SELECT version FROM {}.tg_migrations").format(sql.Identifier(schema)))
    }
    return [n for n in range(1, len(MIGRATIONS) + 1) if n not in done]


def migrate(conn: psycopg.Connection, schema: str, where: str) -> list[int]:
    """Apply pending migrations in one transaction; concurrent callers wait for each other."""
    if not pending(conn, schema):
        return []  # the common case; also works for a role that may not write DDL
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"tsukuba-gis migrate {schema}",)
        )
        _ensure_postgis(conn, where)
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            _create_schema(conn, schema, where)  # checked first: CREATE needs a database grant
        conn.execute(
            statement(
                "CREATE TABLE IF NOT EXISTS {s}.tg_migrations (version integer"
                " PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                schema,
            )
        )
        applied = []
        for number in pending(conn, schema):
            for template in MIGRATIONS[number - 1]:
                conn.execute(statement(template, schema))
            conn.execute(statement("INSERT INTO {s}.tg_migrations (version) VALUES (%s)", schema), (number,))
            applied.append(number)
    return applied


def _ensure_postgis(conn: psycopg.Connection, where: str) -> None:
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
        return
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.errors.InsufficientPrivilege:
        raise StoreError(
            f"PostGIS is not installed in {where} and this role may not install"
            " it: ask the database administrator to run `CREATE EXTENSION postgis;`"
            " in that database"
        ) from None
    except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported) as err:
        raise StoreError(
            f"PostGIS is not available on the server of {where} ({err}); install"
            " Debian's postgresql-15-postgis-3 (or your version's) there"
        ) from None


def _create_schema(conn: psycopg.Connection, schema: str, where: str) -> None:
    try:
        with conn.transaction():
            conn.execute(statement("CREATE SCHEMA {s}", schema))
    except psycopg.errors.InsufficientPrivilege:
        raise StoreError(
            f"this role may not create the schema {schema!r} in {where}: ask the"
            f" database administrator to run `CREATE SCHEMA {schema} AUTHORIZATION"
            " <the store's role>;`"
        ) from None
