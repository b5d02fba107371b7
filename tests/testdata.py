"""Plain helpers the fixtures and tests share: the repository root, the archive's path, the demo on any backend.

They live here, not in ``conftest.py``, because every ``conftest.py`` is imported under the one module name
``conftest``: ``from conftest import …`` inside a test gets whichever was imported last (``tests/web/`` one
in a full run).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def archive_path() -> Path | None:
    """The DeepState history archive: $FRONTLINE_DATA or ../shared/data (never inside the repo)."""
    base = Path(os.environ.get("FRONTLINE_DATA", ROOT.parent / "shared" / "data"))
    p = base / "deepstate" / "history-2022-04_2025-08.tar.zst"
    return p if p.is_file() else None


def build_demo(target, folder: Path, weeks: int):
    """The demo scenario imported into a new store at ``target`` (a file or a ``postgresql://`` URL).

    As :func:`frontline.demo.build_demo_store` (versions, then its gazetteer and road as the store's
    reference layers), for either backend.
    """
    from frontline.demo import write_scenario
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.sources.geonames import read_geonames
    from frontline.sources.osm import read_roads
    from frontline.store import init_store

    write_scenario(folder, weeks)
    st = init_store(target)
    rep = Importer(st).run(deepstate.read_path(folder / "versions"), total=weeks, progress=False)
    st.log_import(str(folder), rep)
    assert rep.failed == 0, rep.problems
    st.put_settlements(read_geonames(folder / "settlements.txt"), origin=str(folder / "settlements.txt"))
    st.put_roads(read_roads(folder / "roads.geojson"), origin=str(folder / "roads.geojson"))
    return st
