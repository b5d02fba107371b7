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
        pytest.skip("DeepState archive not found: put history-2022-04_2025-08.tar.zst under "
                    "../shared/data/deepstate or set FRONTLINE_DATA (its licence forbids shipping it)")
    return p


@pytest.fixture(scope="session")
def theatre():
    from frontline.borders import default_theatre

    return default_theatre()


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    from frontline.demo import build_demo_store

    return build_demo_store(tmp_path_factory.mktemp("demo") / "demo.gpkg", weeks=6)
