"""The store and importer: dedupe, validity intervals, revisions, bad input, crash and re-run.

Every test runs on both backends (``backend``: a GeoPackage file, then a PostGIS database); the
file's own integrity check after a killed import is the GeoPackage's only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from frontline.analysis.area import area_series
from frontline.demo import scenario, write_scenario
from frontline.ingest import Importer
from frontline.sources import deepstate
from frontline.store import init_store, is_server_url, open_store
from frontline.store._sql import sql_of

GEOD = Geod(ellps="WGS84")


def _areas(store, region="theatre", convention="clipped"):
    return [
        (r["version_id"], r["ua_km2"], r["ru_km2"], r["contested_km2"])
        for r in area_series(store, region=region, convention=convention)
    ]


@pytest.fixture
def new_store(backend, tmp_path, request):
    """A maker of fresh store targets on the test's backend: ``new_store(name)`` → a file path or a database URL."""

    def make(name: str) -> str:
        if backend == "gpkg":
            return str(tmp_path / f"{name}.gpkg")
        return request.getfixturevalue("pg_cluster").new_database(name)

    return make


def _rows(st, sql: str, args=()) -> list[tuple]:
    """A query's rows on either backend (``?`` placeholders)."""
    return sql_of(st).fetchall(sql, args)


@pytest.fixture()
def scenario_dir(tmp_path):
    write_scenario(tmp_path / "in", weeks=5)
    return tmp_path / "in" / "versions"


def test_reimport_changes_nothing(new_store, scenario_dir):
    st = init_store(new_store("s"))
    rep = Importer(st).run(deepstate.read_path(scenario_dir), progress=False)
    assert (rep.added, rep.failed) == (5, 0)
    spans = "SELECT COUNT(*), SUM(valid_from), SUM(COALESCE(valid_to,0)) FROM spans"
    before = _rows(st, spans)
    nfeat = _rows(st, "SELECT COUNT(*) FROM features")
    rep2 = Importer(st).run(deepstate.read_path(scenario_dir), progress=False)
    assert (rep2.added, rep2.unchanged, rep2.new_features) == (0, 5, 0)
    assert _rows(st, spans) == before
    assert _rows(st, "SELECT COUNT(*) FROM features") == nfeat
    st.close()


def test_unchanged_features_stored_once_with_intervals(new_store, scenario_dir):
    st = init_store(new_store("s"))
    Importer(st).run(deepstate.read_path(scenario_dir), progress=False)
    vs = st.versions()
    # Crimea is drawn identically every week: one feature row, one interval covering all versions.
    crimea = _rows(st, "SELECT fid FROM features WHERE key='territories.crimea'")
    assert len(crimea) == 1
    assert st.feature_history(crimea[0][0]) == [(vs[0].valid_time, None)]
    # The salient changes every week: one row per week, each valid for exactly one version.
    sal = _rows(st, "SELECT fid FROM features WHERE key='status.dismissed' AND counted ORDER BY fid")
    assert len(sal) == 5
    hist = [st.feature_history(f) for (f,) in sal]
    assert hist[0] == [(vs[0].valid_time, vs[1].valid_time)]
    assert hist[-1] == [(vs[-1].valid_time, None)]
    removed, added = st.changed_features(vs[0], vs[1])
    assert sal[0][0] in removed and sal[1][0] in added and crimea[0][0] not in removed + added
    st.close()


def test_out_of_order_import_equals_in_order(tmp_path, new_store, scenario_dir):
    a = init_store(new_store("a"))
    Importer(a).run(deepstate.read_path(scenario_dir), progress=False)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    files = sorted(scenario_dir.iterdir())
    b = init_store(new_store("b"))
    imp = Importer(b)
    for f in [files[4], files[0], files[2], files[1], files[3]]:  # out of order, one at a time
        imp.run(deepstate.read_path(f), progress=False)

    def spans(st):
        rows = _rows(st, "SELECT f.fkey, s.valid_from, s.valid_to FROM spans s JOIN features f ON f.fid=s.feature_fid")
        return sorted((bytes(k), a, -1 if b is None else b) for k, a, b in rows)

    assert spans(a) == spans(b)
    assert _areas(a) == _areas(b)


def test_revision_is_kept_as_revision(tmp_path, new_store):
    objs = scenario(3)
    folder = tmp_path / "v"
    folder.mkdir()
    for o in objs:
        (folder / f"{o['id']}.json").write_text(json.dumps(o))
    st = init_store(new_store("s"))
    Importer(st).run(deepstate.read_path(folder), progress=False)
    before = _areas(st)
    # The middle version is re-published with its grey zone removed.
    o = objs[1]
    o["updatedAt"] = "2025-01-20T10:00:00.000Z"
    o["map"]["features"] = [
        f
        for f in o["map"]["features"]
        if "unknown" not in f["properties"]["name"].lower() or f["properties"]["fill"] != "#bcaaa4" or True
    ][:1] + o["map"]["features"][2:]
    rev = tmp_path / "rev"
    rev.mkdir()
    (rev / f"{o['id']}.json").write_text(json.dumps(o))
    rep = Importer(st).run(deepstate.read_path(rev), progress=False)
    assert (rep.revised, rep.added) == (1, 0)
    vs = st.versions()
    assert len(vs) == 3 and vs[1].revision == 2
    assert [r["revision"] for r in st.revisions("deepstate", vs[1].version_id)] == [1, 2]
    after = _areas(st)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1][3] < before[1][3]  # less contested ground in the revised version
    # intervals still consistent: version 3 sees its own features only
    assert len(st.member_fids(vs[2])) == vs[2].n_features


def test_bad_input_reported_by_file_rest_imported(tmp_path, new_store, scenario_dir, theatre):
    bad = tmp_path / "mixed"
    shutil.copytree(scenario_dir, bad)
    (bad / "1736000000.geojson").write_text('{"type": "FeatureCollection", "features": [{"type": "Fe')  # truncated
    (bad / "1736100000.geojson").write_text("")  # empty
    (bad / "notes.json").write_text('{"type": "FeatureCollection", "features": []}')  # no version id
    weird = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "x /// geoJSON.status.occupied"},
                "geometry": {"type": "LineString", "coordinates": [[37, 48], [37.1, 48.1]]},
            },
            {
                "type": "Feature",
                "properties": {"name": "bow /// geoJSON.status.occupied"},  # self-intersecting
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[37.0, 48.0], [37.2, 48.2], [37.2, 48.0], [37.0, 48.2], [37.0, 48.0]]],
                },
            },
            {"type": "Feature", "properties": {"name": "x"}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"name": "x /// geoJSON.brand.new"},
                "geometry": {"type": "Polygon", "coordinates": [[[36, 48], [36.1, 48], [36.1, 48.1], [36, 48]]]},
            },
        ],
    }
    (bad / "1736200000.geojson").write_text(json.dumps(weird))
    st = init_store(new_store("s"))
    rep = Importer(st).run(deepstate.read_path(bad), progress=False)
    assert rep.added == 6 and rep.failed == 3
    msgs = {Path(o).name: m for o, m in rep.problems}
    assert "not valid JSON" in msgs["1736000000.geojson"]
    assert "empty file" in msgs["1736100000.geojson"]
    assert "cannot tell the version id" in msgs["notes.json"]
    weird_msgs = [m for o, m in rep.problems if o.endswith("1736200000.geojson")]
    assert any("unsupported geometry type LineString" in m for m in weird_msgs)
    assert any("repaired" in m for m in weird_msgs) and rep.repaired == 1
    assert any("no geometry" in m for m in weird_msgs)
    assert any("unclassified" in m for m in weird_msgs) and rep.unclassified == 1
    # the repaired bow-tie counts as its two triangles, on land (the borders leave out a reservoir there)
    v = [x for x in st.versions() if x.version_id == "1736200000"][0]
    row = [r for r in area_series(st, region="ukraine") if r["version_id"] == v.version_id][0]
    tri1 = shapely.Polygon([(37.0, 48.0), (37.1, 48.1), (37.0, 48.2)])
    tri2 = shapely.Polygon([(37.2, 48.0), (37.1, 48.1), (37.2, 48.2)])
    land = shapely.intersection(shapely.MultiPolygon([tri1, tri2]), theatre.homes["ua"])
    expected = abs(GEOD.geometry_area_perimeter(land)[0]) / 1e6
    assert row["ru_km2"] == pytest.approx(expected, rel=1e-3)


def _versions_committed(path: str) -> int:
    """How many versions the store at ``path`` holds, read straight from its database (no store handle)."""
    if is_server_url(path):
        import psycopg

        with psycopg.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM versions").fetchone()[0]


def test_killed_import_reruns_to_the_same_result(new_store, backend, scenario_dir):
    ref = init_store(new_store("ref"))
    Importer(ref).run(deepstate.read_path(scenario_dir), progress=False)
    path = new_store("s")
    init_store(path).close()
    cmd = [sys.executable, "-m", "frontline.cli", "import", "--store", path, "--quiet", str(scenario_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    n = 0
    while time.time() < deadline and proc.poll() is None:
        n = _versions_committed(path)
        if n >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert 2 <= n < 5, "the import should have been killed midway"
    st = open_store(path)
    if backend == "gpkg":  # the file itself is sound (PostgreSQL's own recovery is not Frontline's to test)
        assert st.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    partial = len(st.versions())
    assert partial < 5
    # every committed version is whole: its feature count matches its intervals
    for v in st.versions():
        assert len(st.member_fids(v)) == v.n_features
    st.close()
    subprocess.run(cmd, check=True)
    st = open_store(path)
    assert _areas(st) == _areas(ref)
    st.close()
    ref.close()


def test_areas_agree_with_independent_computation(new_store, scenario_dir, theatre):
    """The salient's clipped area = (drawn salient ∩ Russia) − grey, measured with pyproj directly."""
    st = init_store(new_store("s"))
    Importer(st).run(deepstate.read_path(scenario_dir), progress=False)
    rows = {r["version_id"]: r for r in area_series(st, region="russia")}
    drawn_rows = {r["version_id"]: r for r in area_series(st, region="russia", convention="as_drawn")}
    rus = theatre.homes["ru"]
    for f in sorted(scenario_dir.iterdir()):
        obj = json.loads(f.read_text())
        feats = obj["map"]["features"]
        sal = shapely.force_2d(shape(feats[0]["geometry"]))
        grey = shapely.force_2d(shape(feats[1]["geometry"]))
        held = shapely.difference(shapely.intersection(sal, rus), grey)
        expected = abs(GEOD.geometry_area_perimeter(held)[0]) / 1e6
        got = rows[str(obj["id"])]["ua_km2"]
        assert got == pytest.approx(expected, rel=1e-3)
        assert drawn_rows[str(obj["id"])]["ua_km2"] == pytest.approx(
            abs(GEOD.geometry_area_perimeter(sal)[0]) / 1e6, rel=1e-3
        )


def test_jokes_and_labels_never_count(backend_demo_store):
    demo_store = backend_demo_store
    row = area_series(demo_store, region="theatre", convention="as_drawn")[0]
    feats = demo_store.features_at(demo_store.versions()[0], kinds=["area"])
    karelia = [f for f in feats if f.key == "territories.karelia"]
    label = [f for f in feats if f.key == "status.dismissed_at"]
    assert karelia and karelia[0].role == "excluded"
    assert label and label[0].role == "held"
    counted = {r[0] for r in _rows(demo_store, "SELECT fid FROM features WHERE counted")}
    assert karelia[0].fid not in counted and label[0].fid not in counted
    # as drawn, ru = the drawn occupied boxes + Crimea box, nothing from Karelia
    assert row["ru_km2"] < 200_000


def test_parallel_import_equals_sequential(tmp_path, new_store):
    """Worker processes give the same store content and report as the one-process import."""
    from frontline.ingest import import_files
    from frontline.sources._archive import iter_members

    write_scenario(tmp_path / "in", weeks=10)
    src = tmp_path / "in" / "versions"
    (src / "1999999999.geojson").write_bytes(b'{"type": "FeatureCollection", "features": [')  # truncated
    out = {}
    for workers in (1, 2):
        st = init_store(new_store(f"w{workers}"))
        rep = import_files(st, iter_members(src, (".geojson", ".json")), workers=workers, progress=False)
        members = [
            sorted(
                bytes(k)
                for (k,) in _rows(
                    st,
                    "SELECT f.fkey FROM spans s JOIN features f ON f.fid=s.feature_fid "
                    "WHERE s.valid_from<=? AND (s.valid_to IS NULL OR s.valid_to>?)",
                    (v.valid_time, v.valid_time),
                )
            )
            for v in st.versions()
        ]
        out[workers] = (rep.as_dict(), _areas(st), _areas(st, "russia", "as_drawn"), members)
        st.close()
    assert out[1][0]["added"] == 10 and out[1][0]["failed"] == 1
    assert any("1999999999" in p["origin"] and "JSON" in p["message"] for p in out[2][0]["problems"])
    assert out[1] == out[2]
