"""The PostGIS store's schema through ``pg_dump`` custom format and back with ``pg_restore``.

The password goes to the child in ``PGPASSWORD`` (never on its command line, which every user
of the host can read); the other connection parameters go as libpq variables too.
"""

import os
import shutil
import subprocess
from pathlib import Path

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store.postgis_settings import DatabaseSettings, redact, split_schema

# libpq connection keywords -> the environment variables libpq reads them from.
_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise StoreError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def connection(url: str) -> tuple[dict[str, str], str]:
    """The libpq environment of a store URL, and the store's schema."""
    from psycopg.conninfo import conninfo_to_dict

    dsn, schema = split_schema(url, DatabaseSettings().schema_name)
    params = conninfo_to_dict(dsn)
    unknown = sorted(set(params) - set(_ENV))
    if unknown:
        raise StoreError(f"{redact(url)}: parameters {unknown} cannot be passed to pg_dump")
    return {_ENV[k]: str(v) for k, v in params.items() if v is not None}, schema


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, timeout=6 * 3600)
    if done.returncode != 0:
        raise StoreError(f"{what} failed: {done.stderr.strip()[-2000:]}")
    return done


def dump(url: str, target: Path) -> str:
    """Dump the store's schema (a consistent snapshot while serving) into ``target``; its name."""
    env, schema = connection(url)
    _run(
        [_tool("pg_dump"), "--format=custom", f"--schema={schema}", "--no-owner", "--no-privileges"]
        + ["--file", str(target)],
        env,
        f"pg_dump of {redact(url)}",
    )
    return schema


def listing(path: Path) -> str:
    """``pg_restore --list`` of a dump: reads every entry's header (a truncated file fails)."""
    return _run([_tool("pg_restore"), "--list", str(path)], {}, f"pg_restore --list {path.name}").stdout


def schema_is_empty(url: str) -> bool:
    """True when the URL's schema is absent or has no table (a restore may go there)."""
    import psycopg

    dsn, schema = split_schema(url, DatabaseSettings().schema_name)
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()
        return row[0] == 0


def restore(url: str, path: Path, dumped_schema: str) -> None:
    """Restore a dump into the URL's database; the schema must be the one dumped."""
    import psycopg

    env, schema = connection(url)
    if schema != dumped_schema:
        raise StoreError(
            f"the backup holds schema {dumped_schema!r} but the target URL names {schema!r};"
            f" restore with ?schema={dumped_schema} and rename it afterwards if needed"
        )
    dsn, _ = split_schema(url, schema)
    with psycopg.connect(dsn, connect_timeout=10, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")  # the dump holds the schema only
        conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {}").format(psycopg.sql.Identifier(schema)))
    _run(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        + ["--dbname", env.get("PGDATABASE") or env.get("PGUSER") or "postgres", str(path)],
        env,
        f"pg_restore into {redact(url)}",
    )
