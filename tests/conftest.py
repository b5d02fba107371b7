"""Shared fixtures: the theatre, a demo store built once, the DeepState archive when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def archive_path() -> Path | None:
    """The DeepState history archive: $FRONTLINE_DATA or ../shared/data (never inside the repo)."""
    base = Path(os.environ.get("FRONTLINE_DATA", ROOT.parent / "shared" / "data"))
    p = base / "deepstate" / "history-2022-04_2025-08.tar.zst"
    return p if p.is_file() else None


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
