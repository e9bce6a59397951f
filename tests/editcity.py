"""A city to edit (issue 13): the real sample shelters, road areas and city boundary loaded into a
store of its own (the session's sample stores are never written), with staff of each department.

``EditCity(root, store_url)`` loads the layers; ``staff()`` makes the accounts and tokens:
kato-bousai (disaster), ito-douro (roads), sato-kanri (admin), mori-nashi (no department),
known to tests by the short aliases bousai, douro, kanri, nashi; and tokens of kato-bousai:
read, edit and edit-unconditional.

Loading takes seconds and a dozen modules need a city of their own: ``EditCities`` (the session
fixture ``edit_cities``) loads one per store kind and hands out copies.
"""

import itertools
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from server.auth import tokens
from server.auth.accounts import TokenRecord, open_account_store
from server.auth.passwords import Passwords
from server.auth.settings import AuthSettings
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

LAYERS = ["city_boundary", "shelters", "road_areas"]
PASSWORD = "tsukuba bousai 2025"
CHEAP_ARGON2 = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "8",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}
USERS = {
    "kato-bousai": ("staff", ["disaster"]),
    "ito-douro": ("staff", ["roads"]),
    "sato-kanri": ("admin", []),
    "mori-nashi": ("staff", []),
}
ALIASES = {"bousai": "kato-bousai", "douro": "ito-douro", "kanri": "sato-kanri", "nashi": "mori-nashi"}
_SCHEMAS = itertools.count()


def schema_url(database: str) -> str:
    """A fresh schema of a PostGIS test database."""
    return f"{database}?schema=edits_{next(_SCHEMAS)}_{int(time.time() * 1000) % 100000}"


@dataclass
class Staff:
    """Credentials of the city's staff: Basic pairs by user, tokens by scope (bousai's)."""

    basic: dict[str, tuple[str, str]]
    tokens: dict[str, str]

    def bearer(self, scope: str) -> dict[str, str]:
        """An Authorization header with bousai's token of ``scope``."""
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


class EditCity:
    """Definitions of the repository, a data directory and store of its own."""

    def __init__(self, root: Path, store: str = "", layers: list[str] = LAYERS, load: bool = True):
        from etl.runner import run_etl

        self.root, self.store = root, store
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(data_dir=self.data_dir, store=store or None)
        if load:  # else the data directory and store are a copy (EditCities)
            report = run_etl(self.settings, layers, quiet=True)
            assert report.ok, [(r.layer_id, r.error) for r in report.layers]

    @property
    def auth(self) -> AuthSettings:
        """Accounts where the server keeps them (the PostGIS store's database, else the data
        directory), cheap argon2 (tests only)."""
        return AuthSettings(
            accounts=self.accounts,
            argon2_time_cost=1,
            argon2_memory_cost=8,
            argon2_parallelism=1,
        )

    @property
    def accounts(self) -> str:
        """The account store's URL: the one a server of this city chooses by itself."""
        return AuthSettings(accounts="").accounts_url(self.data_dir, self.store)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a server process of this city."""
        return {
            "TSUKUBA_GIS_DATA_DIR": str(self.data_dir),
            "TSUKUBA_GIS_STORE": self.store,
            "TSUKUBA_GIS_AUTH_ACCOUNTS": self.accounts,
            **CHEAP_ARGON2,
        }

    def staff(self) -> Staff:
        """Make (once) the accounts and bousai's tokens."""
        accounts = open_account_store(self.auth.accounts_url(self.data_dir))
        passwords = Passwords(self.auth)
        for name, (role, departments) in USERS.items():
            if accounts.get_user(name) is None:
                accounts.add_user(name, role, passwords.hash(PASSWORD), departments)
        made = {}
        for scope in ("read", "edit", "edit-unconditional"):
            token_id, token = tokens.new_token()
            record = TokenRecord(
                token_id, "kato-bousai", scope, tokens.digest(token), time.time(), scope=scope
            )
            accounts.add_token(record)
            made[scope] = token
        return Staff({alias: (name, PASSWORD) for alias, name in ALIASES.items()}, made)


TEMPLATE_DB, TEMPLATE_SCHEMA = "tg_edit_city", "edits"


class EditCities:
    """Edit cities loaded once per store kind, handed out as copies of their own.

    A copy is the template's data directory and, on PostGIS, a database made from the
    template's with ``CREATE DATABASE ... TEMPLATE`` (as tests/pgcluster.py copies PostGIS): what
    a load would have made, in a fraction of its time. Nobody writes to a template.

    Attributes:
        root: where the templates' data directories are.
    """

    def __init__(self, root: Path):
        self.root = root
        self._templates: dict[str, EditCity] = {}
        self._copies = itertools.count()

    def new(self, root: Path, cluster=None) -> EditCity:
        """A city in ``root``: on the GeoPackage, or on PostGIS in ``cluster`` (a pgcluster.Cluster)."""
        template = self._template(cluster)
        # The template's store is checkpointed and closed: the database file is all of it.
        shutil.copytree(template.data_dir, root / "data", ignore=shutil.ignore_patterns("*-wal", "*-shm"))
        if cluster is None:
            return EditCity(root, load=False)
        name = f"tg_edit_city_{next(self._copies)}"
        cluster.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        return EditCity(root, f"{cluster.dsn(name)}?schema={TEMPLATE_SCHEMA}", load=False)

    def _template(self, cluster) -> EditCity:
        kind = "gpkg" if cluster is None else "postgis"
        if kind not in self._templates:
            store = ""
            if cluster is not None:
                store = f"{cluster.create_database(TEMPLATE_DB)}?schema={TEMPLATE_SCHEMA}"
            city = EditCity(self.root / kind, store)
            open_store(city.settings.store_url).close()
            if cluster is None:
                with sqlite3.connect(city.data_dir / "store.gpkg") as con:
                    busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                assert busy == 0, "the template's GeoPackage is still written to"
            else:  # a template database must have no sessions while it is copied
                cluster.execute(
                    f'ALTER DATABASE "{TEMPLATE_DB}" WITH ALLOW_CONNECTIONS false',
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    f" WHERE datname = '{TEMPLATE_DB}' AND pid <> pg_backend_pid()",
                )
            self._templates[kind] = city
        return self._templates[kind]


def edit_city_for(request, root: Path) -> EditCity:
    """The city of a fixture parametrised by store kind ("gpkg" or "postgis"): a copy (EditCities)."""
    cluster = request.getfixturevalue("postgis_cluster") if request.param == "postgis" else None
    return request.getfixturevalue("edit_cities").new(root, cluster)
