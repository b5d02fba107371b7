"""Shared fixtures: the theatre, a demo store built once (on each backend), the DeepState archive when present.

``backend_demo_store`` is the demo on each backend in turn (``gpkg``, then ``postgis`` on a throwaway
cluster, :mod:`pgcluster`), for store-facing tests that should hold on both; ``new_store_url`` gives
a fresh, empty store target per test on each backend (``backend`` says which).
"""

from __future__ import annotations

import pytest
from pgcluster import pg_cluster, pg_new_url, pg_url  # noqa: F401  (fixtures, for every test module)
from testdata import archive_path, build_demo


@pytest.fixture(scope="session")
def archive():
    p = archive_path()
    if p is None:
        pytest.skip(
            "DeepState archive not found: put history-2022-04_2025-08.tar.zst under "
            "../shared/data/deepstate or set FRONTLINE_DATA (its licence forbids shipping it)"
        )
    return p


@pytest.fixture(scope="session")
def theatre():
    from frontline.borders import default_theatre

    return default_theatre()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    from frontline.demo import build_demo_store

    return build_demo_store(tmp_path_factory.mktemp("demo") / "demo.gpkg", weeks=6)


BACKENDS = ("gpkg", "postgis")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """``gpkg`` or ``postgis`` (each test using it runs on both)."""
    return request.param


@pytest.fixture(scope="session")
def backend_demo_store(backend, tmp_path_factory, request):
    """The 6-week demo store on each backend: ``demo_store`` for ``gpkg``, a PostGIS database for ``postgis``."""
    if backend == "gpkg":
        return request.getfixturevalue("demo_store")
    cluster = request.getfixturevalue("pg_cluster")
    return build_demo(cluster.new_database("demo"), tmp_path_factory.mktemp("pgdemo"), weeks=6)


@pytest.fixture
def new_store_url(backend, tmp_path, request) -> str:
    """Where a fresh store can be made for one test: a file path, or an empty PostGIS database's URL."""
    if backend == "gpkg":
        return str(tmp_path / "store.gpkg")
    return request.getfixturevalue("pg_cluster").new_database()


KURSK_START, KURSK_END = 1722470400, 1743465599  # 2024-08-01 .. 2025-03-31 UTC


@pytest.fixture(scope="session")
def kursk(archive, tmp_path_factory):
    """The Kursk period from the real archive: every 5th version Aug 2024 – Mar 2025, imported once.

    Returns ``(store, report, raw)`` with ``raw`` = ``{version id (epoch s): file bytes}`` of the
    imported versions (for independent recomputation or replay).
    """
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.sources._archive import iter_members
    from frontline.store import init_store

    raw = {}
    for name, data in iter_members(archive, (".geojson",)):
        vid = int(name.rsplit("/", 1)[-1].split(".")[0])
        if KURSK_START <= vid <= KURSK_END:
            raw[vid] = data
    picked = sorted(raw)[::5]
    st = init_store(tmp_path_factory.mktemp("kursk") / "kursk.gpkg")
    items = (deepstate.for_import(deepstate.snapshot_from_bytes(raw[v], f"{v}.geojson", str(v))) for v in picked)
    rep = Importer(st).run(items, progress=False)
    return st, rep, {v: raw[v] for v in picked}
