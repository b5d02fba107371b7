"""``frontline copy``: GeoPackage → PostGIS → GeoPackage round trip of the demo with claims, events, a revision,
settlements, roads, alert and pull state and a stored result; a re-run adds nothing.

Expected values are read from the source store's own tables (and the areas recomputed independently from the
source's polygons would be redundant here: the round trip must reproduce the stored km² to 1e-9 relative).
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from click.testing import CliRunner
from testdata import build_demo

from frontline.cli import main
from frontline.ingest import Importer
from frontline.model import Event
from frontline.sources import deepstate
from frontline.sources.claims import parse_claim
from frontline.store import open_store
from frontline.store._sql import sql_of
from frontline.store.results import ResultRow

WEEKS = 4


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The demo (4 weeks) with a revised version, two claims with statuses, an event and the bookkeeping state."""
    folder = tmp_path_factory.mktemp("copysrc")
    st = build_demo(folder / "src.gpkg", folder / "input", WEEKS)
    second = sorted((folder / "input" / "versions").iterdir())[1]
    doc = json.loads(second.read_text())
    doc["map"]["features"] = doc["map"]["features"][1:]
    doc["updatedAt"] = "2030-01-01T00:00:00.000Z"
    (folder / "rev").mkdir()
    (folder / "rev" / second.name).write_text(json.dumps(doc))
    assert Importer(st).run(deepstate.read_path(folder / "rev"), progress=False).revised == 1
    base = {"claimant": "test", "source_url": "https://example.org", "text": "t", "language": "en"}
    claims = [
        parse_claim(base | {"time": "2024-08-20T00:00:00Z", "lon": 35.3, "lat": 51.2, "side": "ru", "change": "taken"}),
        parse_claim(base | {"time": "2024-08-21T00:00:00Z", "lon": 35.2, "lat": 51.1, "side": "ua", "change": "lost"}),
    ]
    st.add_claims(claims)
    v = st.versions()[-1]
    st.save_claim_statuses([(claims[0].claim_id, "pending", {"why": "x"})], v)
    st.save_claim_statuses([(claims[0].claim_id, "confirmed", {"lag_days": 2.5})], v)
    st.add_events([Event(time=1724112000, lon=35.25, lat=51.15, type="strike", title="a strike", origin="t.csv")])
    st.set_alert_state("r1", "fp", True, v.valid_time, v.revision, {"k": [1, 2]})
    st.append_alert_log("r1", "corridor", v.version_id, v.valid_time, "narrow", {"w": 400}, False)
    st.remember_pull("deepstate", v.version_id, 1700000000, v.content_hash)
    st.put_results([ResultRow("contact-line", "", "deepstate", v.version_id, v.revision, "1", b'{"a": 1}' * 100)])
    st.close()
    return folder / "src.gpkg"


def _table(path, sql):
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _copy(src, dest, *extra):
    res = CliRunner().invoke(main, ["copy", str(src), str(dest), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _copied(out):
    return {t["table"]: t["copied"] for t in out["tables"]}


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_round_trip_gpkg_postgis_gpkg(source, pg_new_url, tmp_path):
    back = tmp_path / "back.gpkg"
    first = _copy(source, pg_new_url)
    assert first["created"] is True
    src = open_store(source, readonly=True)
    n_versions = len(src.versions())
    assert _copied(first)["versions"] == n_versions == WEEKS
    assert _copied(first)["revisions"] == WEEKS + 1  # the revised version's two revisions
    assert _copied(first)["claims"] == 2 and _copied(first)["events"] == 1
    n_features = len(_table(source, "SELECT fid FROM features"))
    assert _copied(first)["features"] == n_features and _copied(first)["settlements"] > 0
    again = _copy(source, pg_new_url)
    assert again["created"] is False and sum(_copied(again).values()) == 0  # a re-run adds nothing
    assert _copied(_copy(pg_new_url, back))["versions"] == n_versions
    assert sum(_copied(_copy(pg_new_url, back)).values()) == 0
    pg, out = open_store(pg_new_url, readonly=True), open_store(back, readonly=True)
    for st in (pg, out):
        _same_store(src, st, source)
    pg.close()
    out.close()
    src.close()
    # the GeoPackage copy's ledger and state tables hold the source's rows (read with plain sqlite)
    for sql in (
        "SELECT uid, kind, claimant, published_at, lon, lat, data, ref FROM claims ORDER BY claim_id",
        "SELECT claim_id, old_status, new_status, version_id, version_time, detail FROM claim_status_history "
        "ORDER BY rowid",
        "SELECT uid, time, lon, lat, type, title, data FROM events ORDER BY event_id",
        "SELECT rule, fingerprint, active, last_time, last_revision, data FROM alert_state",
        "SELECT rule, kind, version_id, valid_time, fired_at, message, payload, delivered FROM alert_log",
        "SELECT source, version_id, updated_at, content_hash, checked_at FROM pull_state",
        "SELECT what, params_key, source, version_id, revision, rule, codec, body FROM analysis_results",
        "SELECT place_id, name, alternates, country, population, lon, lat, id_kind FROM settlements ORDER BY fid",
        "SELECT road_id, name, ref, highway FROM roads ORDER BY fid",
        "SELECT source, version_id, revision, revised_at, content_hash, origin, imported_at FROM revisions "
        "ORDER BY version_id, revision",
    ):
        assert _table(back, sql) == _table(source, sql), sql


def _same_store(src, st, path):
    """``st`` holds what the source does: versions, revisions with members (as feature keys), areas, layers."""
    keys = ("version_id", "valid_time", "published_at", "revised_at", "revision", "content_hash", "n_features")
    assert [[getattr(v, k) for k in keys] for v in st.versions()] == [
        [getattr(v, k) for k in keys] for v in src.versions()
    ]
    fkeys = dict(_table(path, "SELECT fid, fkey FROM features"))
    theirs = {f: bytes(k) for f, k in sql_of(st).fetchall("SELECT fid, fkey FROM features")}
    for r in src.revision_rows("deepstate"):
        want = sorted(fkeys[f] for f in src.revision_members("deepstate", r["version_id"], r["revision"]))
        got = sorted(theirs[f] for f in st.revision_members("deepstate", r["version_id"], r["revision"]))
        assert got == want, (r["version_id"], r["revision"])
    for region in ("theatre", "ua", "ru"):  # the regions the demo's areas are stored for
        for conv in ("clipped", "as_drawn"):
            a = [(s, k) for _, s, k in src.area_rows("deepstate", region, conv)]
            b = [(s, k) for _, s, k in st.area_rows("deepstate", region, conv)]
            n = _table(path, f"SELECT COUNT(*) FROM version_areas WHERE region='{region}' AND convention='{conv}'")
            assert len(a) == n[0][0] >= 2 * WEEKS  # at least two sides per version
            assert [s for s, _ in a] == [s for s, _ in b] and all(_close(x, y) for (_, x), (_, y) in zip(a, b))
    assert st.list_claims() == src.list_claims()  # ids included
    assert st.claim_statuses()[1]["status"] == "confirmed"
    assert [h["new_status"] for h in st.claim_status_history(1)] == ["pending", "confirmed"]
    assert [(e.time, e.lon, e.lat, e.title) for e in st.list_events()] == [(1724112000, 35.25, 51.15, "a strike")]
    assert st.get_alert_state("r1", "fp") == {"active": True, "last_time": src.versions()[-1].valid_time,
                                              "last_revision": 1, "data": {"k": [1, 2]}}  # fmt: skip
    assert [a["message"] for a in st.alert_log()] == ["narrow"]
    assert st.pull_checked("deepstate") == {src.versions()[-1].version_id: 1700000000}
    assert st.results_count() == 1
    gz, gz0 = st.load_settlements(), src.load_settlements()
    assert list(gz.names) == list(gz0.names) and list(gz.lon) == list(gz0.lon) and list(gz.lat) == list(gz0.lat)
    rd, rd0 = st.load_roads(), src.load_roads()
    assert [g.wkt for g in rd.geometry] == [g.wkt for g in rd0.geometry]
    assert st.reference_info("roads")["stamp"] == src.reference_info("roads")["stamp"]


def test_interrupted_copy_completes_on_rerun(source, tmp_path, monkeypatch):
    """A copy that dies after two versions leaves those whole; the re-run adds the rest and nothing twice."""
    from frontline.store import copy as copying

    dest = tmp_path / "half.gpkg"
    real, calls = copying._copy_version, []

    def dying(src, dst, v, *args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(v.version_id)
        return real(src, dst, v, *args)

    monkeypatch.setattr(copying, "_copy_version", dying)
    res = CliRunner().invoke(main, ["copy", str(source), str(dest)])
    assert res.exit_code == 130 and "Interrupted" in res.output
    half = open_store(dest, readonly=True)
    assert [v.version_id for v in half.versions()] == calls
    half.close()
    monkeypatch.setattr(copying, "_copy_version", real)
    out = _copy(source, dest)
    assert _copied(out)["versions"] == WEEKS - 2
    assert sum(_copied(_copy(source, dest)).values()) == 0
    src, st = open_store(source, readonly=True), open_store(dest, readonly=True)
    _same_store(src, st, source)


def test_copy_refuses_same_store_and_missing_source(source, tmp_path):
    res = CliRunner().invoke(main, ["copy", str(source), str(source)])
    assert res.exit_code == 1 and "same store" in res.output
    res = CliRunner().invoke(main, ["copy", str(tmp_path / "nope.gpkg"), str(tmp_path / "x.gpkg")])
    assert res.exit_code == 1 and "No store at" in res.output and "Traceback" not in res.output
