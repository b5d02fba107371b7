"""The PostGIS store against the GeoPackage store: the demo imported into both through the one ingest path."""

from __future__ import annotations

import math
import threading
import time

import pytest
import shapely

from frontline.analysis.area import area_series
from frontline.demo import write_scenario
from frontline.ingest import Importer
from frontline.normalise import CONVENTIONS
from frontline.sources import deepstate
from frontline.state import state_at, version_control
from frontline.store import init_store

WEEKS = 6


@pytest.fixture(scope="module")
def pair(pg_url, tmp_path_factory):
    """``(GeoPackage store, PostGIS store, scenario folder)``, the demo imported into each."""
    from frontline.store.postgis import PostGISStore

    folder = tmp_path_factory.mktemp("pgdemo")
    write_scenario(folder, WEEKS)
    gp = init_store(folder / "demo.gpkg")
    pg = PostGISStore.create(pg_url, gp.regions(), gp.sides)
    for name, st in (("GeoPackage", gp), ("PostGIS", pg)):
        t0 = time.perf_counter()
        rep = Importer(st).run(deepstate.read_path(folder / "versions"), progress=False)
        st.log_import(str(folder), rep)
        print(f"demo import ({WEEKS} weeks) into {name}: {time.perf_counter() - t0:.2f} s")
        assert rep.failed == 0 and rep.added == WEEKS, rep.problems
    yield gp, pg, folder
    gp.close()
    pg.close()


def _close(a, b) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_same_versions(pair):
    gp, pg, _ = pair
    keys = ("version_id", "valid_time", "published_at", "revised_at", "revision", "content_hash", "n_features")
    assert [[getattr(v, k) for k in keys] for v in pg.versions()] == [
        [getattr(v, k) for k in keys] for v in gp.versions()
    ]
    assert pg.sources() == gp.sources() and pg.sides == gp.sides
    assert [m for _, m in pg.version_members("deepstate")] == [m for _, m in gp.version_members("deepstate")]


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
@pytest.mark.parametrize("region", ["theatre", "home:ua", "home:ru", "outside:ua", "outside:ru"])
def test_area_series_agree(pair, region, convention):
    gp, pg, _ = pair
    a = area_series(gp, region=region, convention=convention, progress=False)
    b = area_series(pg, region=region, convention=convention, progress=False)
    assert len(a) == len(b) == WEEKS
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        bad = {k: (ra[k], rb[k]) for k in ra if not _close(ra[k], rb[k])}
        assert not bad, bad


def _same_ground(a, b) -> bool:
    """The same ground: pieces unioned in another order may start their rings at other vertices (normalised)."""
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 1e-12)


def test_state_at_same_partition(pair):
    gp, pg, _ = pair
    for v in gp.versions():
        ca, fa = state_at(gp, v.valid_time)
        cb, fb = state_at(pg, v.valid_time)
        assert ca.version_id == cb.version_id
        assert [(f.fkey, f.kind, f.role, f.side, f.name, f.props) for f in fa] == [
            (f.fkey, f.kind, f.role, f.side, f.name, f.props) for f in fb
        ]
        assert all(shapely.equals_exact(x.geometry, y.geometry, 0) for x, y in zip(fa, fb))
        if v == gp.versions()[-1]:  # a side's ground takes the home complement: seconds each, so once
            for side in gp.sides:
                assert _same_ground(ca.held[side], cb.held[side]), (v.version_id, side)
        assert _same_ground(ca.contested, cb.contested), v.version_id
        assert version_control(pg, pg.version("deepstate", v.version_id)).areas() == pytest.approx(
            version_control(gp, v).areas(), rel=1e-9
        )


def _counts(pg) -> tuple:
    return tuple(
        pg.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("versions", "revisions", "features", "spans", "pieces", "version_areas")
    )


def test_reimport_adds_nothing(pair):
    _, pg, folder = pair
    before = _counts(pg)
    rep = Importer(pg).run(deepstate.read_path(folder / "versions"), progress=False)
    assert (rep.added, rep.revised, rep.unchanged, rep.new_features) == (0, 0, WEEKS, 0)
    assert _counts(pg) == before


def test_direct_sql_read(pair):
    """What QGIS does: read the geometry columns and find their spatial index."""
    _, pg, _ = pair
    rows = pg.db.execute("SELECT DISTINCT ST_GeometryType(geom), ST_SRID(geom) FROM features").fetchall()
    assert rows and {srid for _, srid in rows} == {4326}
    assert {"ST_Polygon", "ST_MultiPolygon"} & {t for t, _ in rows}
    cols = pg.db.execute("SELECT f_table_name, type, srid FROM geometry_columns ORDER BY 1").fetchall()
    assert ("features", "GEOMETRY", 4326) in cols and ("regions", "MULTIPOLYGON", 4326) in cols
    gist = pg.db.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'features' AND indexdef ILIKE '%USING gist%'"
    ).fetchall()
    assert gist
    n = pg.db.execute("SELECT count(*) FROM feature_history WHERE valid_from IS NOT NULL").fetchone()[0]
    assert n == pg.db.execute("SELECT count(*) FROM spans").fetchone()[0]


def test_bookkeeping_tables_are_postgis_tables(pair):
    """The bookkeeping tables exist from creation, with PostgreSQL types; an empty ledger reads empty."""
    _, pg, _ = pair
    assert pg.list_claims() == [] and pg.list_events() == [] and pg.alert_log() == []
    assert pg.pull_checked("deepstate") == {} and pg.results_count() == 0
    types = dict(
        pg.db.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_name IN ('claims', 'events', 'analysis_results', 'alert_log')"
        ).fetchall()
    )
    assert types["claims.published_at"] == "bigint" and types["events.lon"] == "double precision"
    assert types["analysis_results.body"] == "bytea" and types["alert_log.row_id"] == "bigint"
    pg.remember_pull("deepstate", "1", 5, "h")
    pg.remember_pull("deepstate", "1", 7, "h")  # replaces, as INSERT OR REPLACE does in the GeoPackage
    assert pg.pull_checked("deepstate") == {"1": 7}


def test_writers_wait_for_each_other(pair, pg_url):
    """A second writer waits on the advisory lock until the first commits."""
    from frontline.store.postgis import PostGISStore

    _, pg, _ = pair
    other = PostGISStore(pg_url)
    order: list[str] = []
    pg.begin()
    thread = threading.Thread(target=lambda: (other.begin(), order.append("second in"), other.rollback()))
    thread.start()
    time.sleep(0.5)
    order.append("first out")
    pg.rollback()
    thread.join(10)
    other.close()
    assert order == ["first out", "second in"]


def test_snapshot_does_not_see_later_commits(pair, pg_url):
    from frontline.store.postgis import PostGISStore

    _, pg, _ = pair
    writer = PostGISStore(pg_url)
    with pg.snapshot():
        before = pg.get_meta("note")
        with writer.transaction():
            writer.db.execute("INSERT INTO meta VALUES ('note', 'x') ON CONFLICT (key) DO UPDATE SET value = 'x'")
        assert pg.get_meta("note") == before
    assert pg.get_meta("note") == "x"
    writer.close()


def _spans_by_key(st) -> list:
    keys = {f.fid: f.fkey for f in st.features_by_fid([f for _, m in st.version_members("deepstate") for f in m])}
    return sorted((keys.get(f, b""), a, b) for f, a, b in st.spans_of("deepstate", list(keys)))


def test_revision_and_changes_agree(pair, tmp_path):
    """A revised version (one feature dropped) splits and merges the intervals alike in both stores."""
    import json

    gp, pg, folder = pair
    third = sorted((folder / "versions").iterdir())[2]
    doc = json.loads(third.read_text())
    doc["map"]["features"] = doc["map"]["features"][1:]
    doc["updatedAt"] = "2030-01-01T00:00:00.000Z"
    (tmp_path / third.name).write_text(json.dumps(doc))
    for st in (gp, pg):
        rep = Importer(st).run(deepstate.read_path(tmp_path), progress=False)
        assert rep.revised == 1, rep.problems
    assert [m for _, m in pg.version_members("deepstate")] == [m for _, m in gp.version_members("deepstate")]
    assert _spans_by_key(pg) == _spans_by_key(gp)
    vid = third.stem
    assert [r["revision"] for r in pg.revisions("deepstate", vid)] == [1, 2]
    assert pg.revision_rows("deepstate") == [
        {k: (r[k] if k != "imported_at" else r2["imported_at"]) for k in r}
        for r, r2 in zip(gp.revision_rows("deepstate"), pg.revision_rows("deepstate"))
    ]
    a, b = gp.versions()[1], gp.versions()[3]
    assert pg.changed_features(a, b) == gp.changed_features(a, b)
    for convention in sorted(CONVENTIONS):
        ra = area_series(gp, region="theatre", convention=convention, progress=False)
        rb = area_series(pg, region="theatre", convention=convention, progress=False)
        assert all(_close(x[k], y[k]) for x, y in zip(ra, rb) for k in x)
