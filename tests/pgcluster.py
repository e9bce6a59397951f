"""A throwaway PostgreSQL + PostGIS cluster for the tests (Debian's packages, no Docker).

initdb and postgres refuse to run as root, so as root the cluster belongs to the ``postgres``
system user (created by Debian's postgresql package) and the binaries run under ``runuser``.
The cluster listens on 127.0.0.1 on a free port only, with its socket in its own directory, and
trades durability for speed (fsync off): it lives for one test session.
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("TSUKUBA_GIS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PACKAGE = "postgresql-15-postgis-3"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class Cluster:
    """One PostgreSQL cluster in a temporary directory.

    Attributes:
        port: the TCP port on 127.0.0.1.
        password: of the superuser ``postgres`` (password authentication, even on loopback).
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(12)
        self.root = Path(tempfile.mkdtemp(prefix="tsukuba-gis-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        """initdb with ICU Japanese collation (as a Japanese city would), password auth."""
        missing = [b for b in ("initdb", "pg_ctl") if not (BIN / b).exists()]
        if missing or not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
            raise RuntimeError(
                f"PostgreSQL 15 with PostGIS is missing: apt-get install {PACKAGE} (`make test-deps` does it)"
            )
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--locale-provider=icu",
            "--icu-locale=ja-JP",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        )
        pwfile.unlink()
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        self.options = f"{options} -p {self.port} -c unix_socket_directories={self.root}"

    def start(self) -> None:
        """Start (or restart after ``stop``) and wait until it accepts connections."""
        self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            self.options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop (``immediate`` is a crash, as far as clients can tell)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def dsn(self, database: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        """A postgresql:// URL on the loopback port."""
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each in autocommit."""
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def create_database(self, name: str) -> str:
        """A new database with PostGIS (copied from a template: fast); its DSN."""
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE tg_template')
        return self.dsn(name)

    def make_template(self) -> None:
        """The template every test database is copied from: PostGIS installed once."""
        self.execute("CREATE DATABASE tg_template")
        self.execute("CREATE EXTENSION postgis", database="tg_template")

    def destroy(self) -> None:
        """Stop and remove the cluster directory."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_down(cluster: Cluster, timeout: float = 30) -> None:
    """Until the cluster refuses connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg.connect(cluster.dsn(), connect_timeout=1).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.1)
    raise TimeoutError("the cluster did not stop")
