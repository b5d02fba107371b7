"""Fixtures of the truth suite: the real DeepState archive, raw and imported.

Truth tests hold Frontline's figures against numbers worked out *independently*
in the test (json + shapely + pyproj on the raw files and the npm border file,
never Frontline's own code) or against public figures named with their source.
They need the archive (``../shared/data`` or ``$FRONTLINE_DATA``) and skip with
a message when it is absent. ``$FRONTLINE_TRUTH_STORE`` names an already
imported store of the whole archive to reuse (read only); otherwise the whole
archive is imported once per session (about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from testdata import ROOT

BORDERS = ROOT / "node_modules" / "@geo-maps" / "countries-land-10m" / "map.geo.json"


@pytest.fixture(scope="session")
def raw_dir(archive, tmp_path_factory) -> Path:
    """The archive unpacked with tar (independent of Frontline's readers): ``raw_dir / '<id>.geojson'``.

    ``$FRONTLINE_RAW_DIR`` names a folder already unpacked (its ``geojsons/``) to reuse.
    """
    given = os.environ.get("FRONTLINE_RAW_DIR")
    if given:
        return Path(given) / "geojsons"
    if shutil.which("tar") is None or shutil.which("zstd") is None:
        pytest.skip("truth suite: tar and zstd are needed to unpack the archive")
    d = tmp_path_factory.mktemp("raw")
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(d)], check=True)
    return d / "geojsons"


@pytest.fixture(scope="session")
def raw(raw_dir):
    """``raw(version_id) → FeatureCollection dict`` read with the standard json module."""

    def load(vid) -> dict:
        return json.loads((raw_dir / f"{int(vid)}.geojson").read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def raw_ids(raw_dir) -> list[int]:
    """Every version id (epoch seconds) in the archive, sorted."""
    return sorted(int(p.stem) for p in raw_dir.glob("*.geojson"))


@pytest.fixture(scope="session")
def borders() -> dict:
    """The npm border file as plain GeoJSON (``A3 → geometry dict``)."""
    if not BORDERS.is_file():
        pytest.skip(f"truth suite: {BORDERS} missing: run scripts/setup.sh")
    fc = json.loads(BORDERS.read_text(encoding="utf-8"))
    out = {}
    for f in fc["features"]:
        p = f.get("properties") or {}
        a3 = p.get("A3") or p.get("ISO_A3") or p.get("iso_a3")
        if a3:
            out[a3] = f["geometry"]
    return out


@pytest.fixture(scope="session")
def store_path(archive, tmp_path_factory) -> Path:
    """A store of the whole archive: ``$FRONTLINE_TRUTH_STORE`` if set, else imported once now."""
    given = os.environ.get("FRONTLINE_TRUTH_STORE")
    if given:
        p = Path(given)
        if not p.is_file():
            pytest.fail(f"FRONTLINE_TRUTH_STORE={given} is not a file")
        return p
    from frontline.ingest import import_files
    from frontline.sources import deepstate
    from frontline.sources._archive import iter_members
    from frontline.store import init_store

    p = tmp_path_factory.mktemp("truth") / "archive.gpkg"
    st = init_store(p)
    rep = import_files(st, iter_members(archive, deepstate.FILE_SUFFIXES), progress=False)
    assert rep.failed == 0, rep.problems[:5]
    st.close()
    return p


@pytest.fixture(scope="session")
def store(store_path):
    """The whole-archive store, opened read only."""
    from frontline.store import open_store

    st = open_store(store_path, readonly=True)
    yield st
    st.close()


def run_cli(*args: str, store_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``frontline`` command as a user would (text output, no traceback allowed)."""
    exe = ROOT / ".venv" / "bin" / "frontline"
    cmd = [str(exe) if exe.exists() else "frontline", *args]
    if store_path is not None:
        cmd += ["--store", str(store_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in r.stderr, r.stderr
    return r
