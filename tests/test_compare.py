"""``frontline compare``: two generated sources with known differences, imported with ``import --source``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod
from shapely.geometry import box, mapping, shape

from frontline.cli import main

OCCUPIED = "Окуповано /// Occupied /// geoJSON.status.occupied\n"
UNKNOWN = "Статус невідомий /// Unknown status\u00a0/// geoJSON.status.unknown"
START = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAYS = 5
# Well inside Ukraine (Dnipropetrovsk oblast), far from any border or sea.
BASE = box(36.2, 47.7, 37.0, 48.5)  # occupied in both
STRIP = box(36.1, 47.7, 36.2, 48.5)  # alpha: occupied; beta: grey
VILLAGE = box(36.0, 48.0, 36.05, 48.05)  # occupied from day 1 in alpha, day 3 in beta
VILLAGE_AT = (36.025, 48.025)
FLIP = {"alpha": 1, "beta": 3}
GEOD = Geod(ellps="WGS84")


BORDERS = Path(__file__).resolve().parents[1] / "node_modules" / "@geo-maps" / "countries-land-10m" / "map.geo.json"


@lru_cache(maxsize=1)
def _ukraine():
    """Ukraine's land from the npm border file (the store's home:ua), read with json + shapely only."""
    if not BORDERS.is_file():
        pytest.skip(f"{BORDERS} missing: run scripts/setup.sh")
    for f in json.loads(BORDERS.read_text(encoding="utf-8"))["features"]:
        p = f.get("properties") or {}
        if "UKR" in (p.get("A3"), p.get("ISO_A3")):
            return shapely.clip_by_rect(shape(f["geometry"]), 35.0, 47.0, 38.0, 49.0)  # near the shapes: fast
    raise AssertionError("no UKR in the border file")


def km2(g) -> float:
    """Geodesic km² of the land of ``g`` (the border file has small holes here: lakes, enclaves)."""
    return abs(GEOD.geometry_area_perimeter(g.intersection(_ukraine()))[0]) / 1e6


def _feature(geom, name) -> dict:
    return {"type": "Feature", "properties": {"name": name}, "geometry": mapping(geom)}


def _write_source(folder, name: str) -> None:
    folder.mkdir()
    for k in range(DAYS):
        t = START + timedelta(days=k)
        feats = [_feature(BASE, OCCUPIED), _feature(STRIP, OCCUPIED if name == "alpha" else UNKNOWN)]
        if k >= FLIP[name]:
            feats.append(_feature(VILLAGE, OCCUPIED))
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        obj = {
            "id": int(t.timestamp()),
            "createdAt": stamp,
            "updatedAt": stamp,
            "map": {"type": "FeatureCollection", "features": feats},
        }
        (folder / f"{obj['id']}.json").write_text(json.dumps(obj), encoding="utf-8")


GAZ_ROW = "\t".join(
    ["900001", "Testivka", "Testivka", "", f"{VILLAGE_AT[1]:.5f}", f"{VILLAGE_AT[0]:.5f}", "P", "PPL", "UA"]
    + [""] * 5
    + ["1000", "", "150", "Europe/Kyiv", "2025-01-01"]
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    path = str(d / "s.gpkg")
    run = CliRunner()
    assert run.invoke(main, ["init", "--store", path]).exit_code == 0
    for name in ("alpha", "beta"):
        _write_source(d / name, name)
        r = run.invoke(main, ["import", str(d / name), "--store", path, "--source", name, "--quiet"])
        assert r.exit_code == 0, r.output
    (d / "gaz.txt").write_text(GAZ_ROW + "\n", encoding="utf-8")
    r = run.invoke(main, ["settlements", "import", str(d / "gaz.txt"), "--store", path])
    assert r.exit_code == 0, r.output
    return path


def _json(args):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_import_source_names_the_versions(store):
    from frontline.store import open_store

    st = open_store(store, readonly=True)
    try:
        assert set(st.sources()) >= {"alpha", "beta"}
        assert "deepstate" not in st.sources()
        assert len(st.versions("alpha")) == DAYS and len(st.versions("beta")) == DAYS
    finally:
        st.close()


def test_disagreement_at_the_end_is_the_strip(store, tmp_path):
    gj = tmp_path / "d.geojson"
    d = _json(["compare", "alpha", "beta", "--at", "2025-03-05", "--store", store, "--json", "--geojson", str(gj)])
    pairs = {(r["a"], r["b"]): r["km2"] for r in d["pairs"]}
    assert pairs[("ru", "contested")] == pytest.approx(km2(STRIP), rel=1e-3)
    assert sum(v for p, v in pairs.items() if p != ("ru", "contested")) < 1e-3
    assert d["totals"]["disagree_km2"] == pytest.approx(km2(STRIP), rel=1e-3)
    assert d["settlements"] == []
    fc = json.loads(gj.read_text())
    assert [(f["properties"]["a"], f["properties"]["b"]) for f in fc["features"]] == [("ru", "contested")]
    agree = {r["status"]: r for r in d["agreement"]}
    assert agree["ru"]["a_km2"] - agree["ru"]["b_km2"] == pytest.approx(km2(STRIP), rel=2e-3)


def test_disagreement_while_the_village_differs(store):
    d = _json(["compare", "alpha", "beta", "--at", "2025-03-02", "--store", store, "--json"])
    pairs = {(r["a"], r["b"]): r["km2"] for r in d["pairs"]}
    assert pairs[("ru", "ua")] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert pairs[("ru", "contested")] == pytest.approx(km2(STRIP), rel=1e-3)
    assert [(s["name"], s["a"], s["b"]) for s in d["settlements"]] == [("Testivka", "ru", "ua")]


def test_region_russia_sees_no_disagreement(store):
    d = _json(["compare", "alpha", "beta", "--at", "2025-03-02", "--region", "russia", "--store", store, "--json"])
    assert d["totals"]["disagree_km2"] == 0


def test_lags(store):
    d = _json(["compare", "alpha", "beta", "--from", "2025-03-01", "--to", "2025-03-05", "--store", store, "--json"])
    assert len(d["ground"]) == 1
    g = d["ground"][0]
    assert g["lag_days"] == 2.0 and g["first"] == "alpha"
    assert g["a_km2"] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert d["mean_lag_days"] == 2.0
    assert [(s["name"], s["to"], s["lag_days"], s["first"]) for s in d["settlements"]] == [
        ("Testivka", "ru", 2.0, "alpha")
    ]
    # the other way round, the lag changes sign
    d = _json(["compare", "beta", "alpha", "--from", "2025-03-01", "--to", "2025-03-05", "--store", store, "--json"])
    assert d["ground"][0]["lag_days"] == -2.0 and d["ground"][0]["first"] == "alpha"


def test_tables_and_errors(store):
    r = CliRunner().invoke(main, ["compare", "alpha", "beta", "--at", "2025-03-02", "--store", store])
    assert r.exit_code == 0, r.output
    assert "Testivka" in r.output and "contested" in r.output
    r = CliRunner().invoke(main, ["compare", "alpha", "nope", "--store", store])
    assert r.exit_code == 1 and "nope" in r.output
    r = CliRunner().invoke(
        main, ["compare", "alpha", "beta", "--at", "2025-03-02", "--from", "2025-03-01", "--store", store]
    )
    assert r.exit_code == 1
