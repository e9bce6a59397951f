"""Settings of the PostGIS store (prefix ``TSUKUBA_GIS_DB_``) and DSN handling without secrets.

The store URL stays the one public contract (``TSUKUBA_GIS_STORE=postgresql://...``); these
settings tune it. A ``schema`` query parameter in the URL (``postgresql://h/db?schema=staging``)
overrides ``TSUKUBA_GIS_DB_SCHEMA``, so one URL says everything a pygeoapi provider needs.
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tsukuba_gis.errors import StoreError

SCHEMA_NAME = re.compile(r"^(?!pg_)[a-z_][a-z0-9_]{0,62}$")  # pg_* is reserved by PostgreSQL


class DatabaseSettings(BaseSettings):
    """How the PostGIS store connects, pools and times out.

    Attributes:
        schema_name: the schema of this environment (``production``, ``staging``, ...); every
            table of the store lives there, so several environments share one database.
        read_url: a DSN for serving queries (a read replica, or a read-only role); ETL, migrations
            and rollbacks always use the primary ``TSUKUBA_GIS_STORE``.
        pool_min_size, pool_max_size: connections per server process (each uvicorn worker).
        pool_timeout_s: how long a request waits for a free connection before failing.
        connect_timeout_s: how long connecting may take (a down database fails fast).
        statement_timeout_ms: the longest a serving query may run (0: no limit).
        prepare_threshold: executions of one query before psycopg prepares it on the server
            (None: never, for PgBouncer < 1.21 in transaction mode).
    """

    # An empty variable means "not set" (TSUKUBA_GIS_DB_PREPARE_THRESHOLD= : never prepare).
    model_config = SettingsConfigDict(
        env_prefix="TSUKUBA_GIS_DB_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_parse_none_str="",
    )

    schema_name: str = Field(default="tsukuba_gis", alias="TSUKUBA_GIS_DB_SCHEMA")
    read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TSUKUBA_GIS_STORE_READ", "TSUKUBA_GIS_DB_READ_URL", "read_url"),
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: int = Field(default=3, ge=1)
    statement_timeout_ms: int = Field(default=15_000, ge=0)
    prepare_threshold: int | None = Field(default=2, ge=0)

    @field_validator("schema_name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not SCHEMA_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a plain lower-case SQL name (a-z, 0-9, _; not starting with pg_)"
            )
        return value

    @field_validator("read_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


def split_schema(url: str, default: str) -> tuple[str, str]:
    """The URL without its ``schema`` parameter (libpq rejects unknown ones), and the schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), default)
    if not SCHEMA_NAME.match(schema):
        raise StoreError(f"schema={schema!r} in the store URL is not a plain lower-case SQL name")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redact(url: str) -> str:
    """A DSN fit for messages and logs: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def describe(url: str) -> str:
    """``host:port/database`` of a DSN, for messages (never the user or the password)."""
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"
