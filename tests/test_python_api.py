"""``frontline.open``: the notebook facade gives the CLI's numbers, and docs/python.md runs as written."""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import frontline
from frontline.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def _cli_json(*args):
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.fixture(scope="module")
def store(backend_demo_store):
    """The 6-week demo store on each backend (a GeoPackage, then PostGIS)."""
    return backend_demo_store


@pytest.fixture()
def nb(store):
    with frontline.open(store.path) as st:
        yield st


def test_versions_and_state_match_the_store_and_frontline_area(nb, store):
    df = nb.versions()
    assert list(df["version_id"]) == [v.version_id for v in store.versions()]
    gdf = nb.state().to_geodataframe()
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == len(store.sides) + 1
    want = _cli_json("area", "--store", store.path, "--region", "theatre", "--at", df["time"].iloc[-1].isoformat())
    for row in gdf.itertuples():
        what = row.side if row.status == "held" else "contested"
        assert row.area_km2 == pytest.approx(want[0][f"{what}_km2"], rel=2e-3)


def test_area_series_change_and_contact_line_are_the_cli_answers(nb, store):
    series = nb.area_series(region="ukraine", every="week")
    cli = _cli_json("area", "--store", store.path, "--region", "ukraine", "--every", "week")
    assert list(series["version_id"]) == [r["version_id"] for r in cli]
    assert list(series["ru_km2"]) == pytest.approx([r["ru_km2"] for r in cli])
    change = nb.change("2025-01-07", "2025-02-10")
    cli = _cli_json("change", "--store", store.path, "--from", "2025-01-07", "--to", "2025-02-10")
    assert change.to_dict()["totals"] == cli["totals"]
    line = nb.contact_line("2025-02-10")
    cli = _cli_json("contact-line", "--store", store.path, "--at", "2025-02-10")
    assert line.to_dict()["length_km"] == cli["length_km"]


def test_corridors_and_settlements_are_the_cli_answers(nb, store):
    necks = nb.corridors("2025-02-10", side="ua").to_dict()["necks"]
    cli = _cli_json("corridors", "--store", store.path, "--at", "2025-02-10", "--side", "ua")
    assert [round(n["width_m"], 3) for n in necks] == [round(n["width_m"], 3) for n in cli["necks"]]
    places = nb.settlements("2025-02-10")
    cli = _cli_json("settlements", "status", "--store", store.path, "--at", "2025-02-10")
    assert places["status"].value_counts().to_dict() == cli["counts"]
    with pytest.raises(frontline.errors.InputError, match="unknown side"):
        nb.corridors(side="xx")


def test_a_missing_extra_says_how_to_install_it(nb, monkeypatch):
    real = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name.split(".")[0] in ("pandas", "geopandas"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match=re.escape("frontline[notebook]")):
        nb.versions()
    with pytest.raises(ImportError, match=re.escape("frontline[notebook]")):
        nb.state().to_geodataframe()


def test_docs_python_md_examples_run(demo_store, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5, "docs/python.md lost its examples"
    monkeypatch.chdir(Path(demo_store.path).parent)  # the docs open "demo.gpkg", as `frontline demo` writes it
    namespace: dict = {}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"docs/python.md block {i + 1}", "exec"), namespace)
        except Exception as exc:  # say which block broke
            raise AssertionError(f"docs/python.md block {i + 1} failed: {exc!r}\n{code}") from exc
    assert "ua|ru" in capsys.readouterr().out  # the last blocks printed


def test_no_store_is_a_store_error(tmp_path):
    with pytest.raises(frontline.errors.StoreError, match="No store"):
        frontline.open(tmp_path / "none.gpkg")
