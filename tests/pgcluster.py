"""A throwaway PostgreSQL + PostGIS cluster for tests: initdb in a temp folder, start, yield a URL, delete.

The cluster listens on a free loopback port with its socket in its own
folder, trusts local connections (nothing outside the machine reaches it) and
skips durability (``fsync=off``): it lives for one test session. PostgreSQL
refuses to run as root, so as root the folder is handed to ``nobody`` and the
server programs run under ``runuser``. Tests get the ``pg_url`` fixture (one
database for the session), ``pg_new_url`` (a fresh database per test) or
``pg_cluster`` (:meth:`PgCluster.new_database`) from ``conftest.py``; they
skip, saying why, only when the PostgreSQL or PostGIS binaries are absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("FRONTLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
INSTALL_HINT = (
    "apt-get install -y --no-install-recommends postgresql-15-postgis-3 "
    "(or set FRONTLINE_PG_BIN to a PostgreSQL bin folder with PostGIS installed)"
)
USER = "frontline"
DATABASE = "frontline"


def missing() -> str | None:
    """Why a cluster cannot be made here (None when it can)."""
    for prog in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / prog).is_file():
            return f"PostgreSQL not installed ({PG_BIN / prog} missing): {INSTALL_HINT}"
    if "FRONTLINE_PG_BIN" not in os.environ and not POSTGIS_CONTROL.is_file():
        return f"PostGIS not installed ({POSTGIS_CONTROL} missing): {INSTALL_HINT}"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg not installed: pip install "psycopg[binary]"'
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One temporary cluster: :meth:`start` it, use :attr:`url`, :meth:`stop` it (the folder goes too)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="frontline-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root: run them as an unprivileged user
            shutil.chown(self.folder, "nobody", "nogroup")
            self._as = ["runuser", "-u", "nobody", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> PgCluster:
        """initdb, start the server and create the database with PostGIS."""
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        log = self.folder / "server.log"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start")
        import psycopg

        admin = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while True:  # pg_ctl -w waits for the server; a slow machine may still refuse the very first connection
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the folder goes anyway; a server left behind dies with its data directory's lock
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_database(self, prefix: str = "t") -> str:
        """A fresh database with PostGIS on this cluster (named ``<prefix>_<n>``); its URL."""
        import psycopg

        self._n = getattr(self, "_n", 0) + 1
        name = f"{prefix}_{self._n}"
        admin = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's throwaway cluster (skips, saying why, when PostgreSQL or PostGIS is absent)."""
    why = missing()
    if why:
        pytest.skip(why)
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_url(pg_cluster: PgCluster) -> str:
    """``postgresql://…`` URL of a fresh PostGIS database for the session (skips when PostgreSQL is absent)."""
    return pg_cluster.url


@pytest.fixture
def pg_new_url(pg_cluster: PgCluster) -> str:
    """A fresh PostGIS database for one test."""
    return pg_cluster.new_database()
