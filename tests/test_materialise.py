"""Per-version results kept in the store (``frontline.store.results``, ``frontline.analysis.materialise``),
``frontline recompute`` and the web map serving them.

Expected values are the direct computations (the analysis functions on the version's partition) or the
web answer computed with stored results turned off: a stored result must be the same bytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from testdata import build_demo

from frontline.analysis import materialise as m
from frontline.state import version_control
from frontline.store import open_store
from frontline.store import results as res

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from frontline.web import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _copy(src: Path, dst: Path) -> Path:
    """A consistent copy of a store (the SQLite backup API: the WAL's content included)."""
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()
    return dst


@pytest.fixture
def store_copy(demo_store, tmp_path):
    st = open_store(_copy(Path(demo_store.path), tmp_path / "copy.gpkg"))
    yield st
    st.close()


@pytest.fixture(scope="module")
def materialised(demo_store, tmp_path_factory):
    """A copy of the demo store with every result materialised (two worker processes)."""
    p = _copy(Path(demo_store.path), tmp_path_factory.mktemp("mat") / "mat.gpkg")
    st = open_store(p)
    rep = m.materialise(st, workers=2, progress=False)
    st.close()
    return p, rep


def _row(v, what="contact-line", pkey="", rule="r1", body=b'{"a":1}'):
    return res.ResultRow(what, pkey, v.source, v.version_id, v.revision, rule, body)


# ---------------------------------------------------------------------------- the store module


def test_absent_table_reads_nothing(demo_store, tmp_path):
    p = _copy(Path(demo_store.path), tmp_path / "plain.gpkg")
    ro = open_store(p, readonly=True)
    v = ro.versions()[0]
    assert ro.db.execute("SELECT 1 FROM sqlite_master WHERE name='analysis_results'").fetchone() is None
    assert res.get_result(ro, "contact-line", "", v, rule=m.RULES["contact-line"]) is None
    assert res.stored_count(ro) == 0
    assert res.current_keys(ro, "contact-line", "", "x", v.source) == {}
    reader = res.ResultReader(p)
    assert reader.get("contact-line", "", v, "x") is None
    reader.close()
    ro.close()


def test_round_trip_and_compression(store_copy):
    v = store_copy.versions()[0]
    big = json.dumps({"coordinates": list(range(5000))}).encode()
    rows = [_row(v, body=b'{"small":true}'), _row(v, "corridors", "side=ua", body=big)]
    assert res.put_results(store_copy, rows) == 2
    assert res.get_result(store_copy, "contact-line", "", v, rule="r1") == b'{"small":true}'
    assert res.get_result(store_copy, "corridors", "side=ua", v, rule="r1") == big
    codec, blob = store_copy.db.execute("SELECT codec, body FROM analysis_results WHERE what='corridors'").fetchone()
    assert codec == "json+zstd" and len(blob) < len(big) / 5
    assert res.stored_count(store_copy) == 2 and res.stored_count(store_copy, "corridors") == 1


def test_rule_change_invalidates(store_copy):
    v = store_copy.versions()[0]
    res.put_results(store_copy, [_row(v, rule="old")])
    assert res.get_result(store_copy, "contact-line", "", v, rule="old") is not None
    assert res.get_result(store_copy, "contact-line", "", v, rule="new") is None
    assert res.stored_count(store_copy, rule="new") == 0


def _revise(st, v, tmp_path: Path) -> None:
    """Import the demo's snapshot of ``v`` again with one feature dropped: a real revision."""
    from frontline.ingest import import_files
    from frontline.sources import deepstate
    from frontline.sources._archive import iter_members

    obj = json.loads((_DEMO_INPUT[0] / "versions" / f"{v.version_id}.json").read_text(encoding="utf-8"))
    feats = obj["map"]["features"]
    obj["map"]["features"] = feats[:-1]
    folder = tmp_path / "rev"
    folder.mkdir(exist_ok=True)
    (folder / f"{v.version_id}.json").write_text(json.dumps(obj), encoding="utf-8")
    rep = import_files(st, iter_members(folder, deepstate.FILE_SUFFIXES), workers=1, progress=False)
    assert rep.revised == 1, rep.as_dict()


_DEMO_INPUT: list[Path] = []  # the demo's input folder (its snapshots and gazetteer), set per test


@pytest.fixture(autouse=True)
def _demo_input(demo_store):
    _DEMO_INPUT[:] = [Path(demo_store.path).parent / (Path(demo_store.path).stem + "-input")]


def test_revision_invalidates(store_copy, tmp_path):
    v = store_copy.versions()[2]
    res.put_results(store_copy, [_row(v)])
    assert res.get_result(store_copy, "contact-line", "", v, rule="r1") is not None
    _revise(store_copy, v, tmp_path)
    now = store_copy.version(v.source, v.version_id)
    assert now.revision == v.revision + 1
    # neither the old revision (the version moved on) nor the new one (nothing computed for it) is answered
    assert res.get_result(store_copy, "contact-line", "", v, rule="r1") is None
    assert res.get_result(store_copy, "contact-line", "", now, rule="r1") is None
    assert res.stored_count(store_copy) == 0
    # materialise computes the revised version again and skips the rest
    m.materialise(store_copy, what=["contact-line"], workers=1, progress=False)
    again = m.materialise(store_copy, what=["contact-line"], workers=1, progress=False)
    assert again.count("computed") == 0
    got = res.get_result(store_copy, "contact-line", "", now, rule=m.RULES["contact-line"])
    assert got == m.contact_line_body(version_control(store_copy, now), now)


def test_crash_mid_batch_keeps_earlier_batches(store_copy):
    """A process that dies inside its second write transaction leaves the first batch, and no part of the second."""
    vs = store_copy.versions()
    path = str(store_copy.path)
    store_copy.close()
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from frontline.store import open_store
from frontline.store import results as res
st = open_store({path!r})
vs = st.versions()
res.put_results(st, [res.ResultRow("contact-line", "", v.source, v.version_id, v.revision, "r", b"{{}}")
                     for v in vs[:2]])
st.db.execute("BEGIN IMMEDIATE")
st.db.execute("INSERT INTO analysis_results VALUES ('contact-line','',?,?,?,'r','json',x'7b7d',0)",
              (vs[3].source, vs[3].version_id, vs[3].revision))
os._exit(3)  # dies before COMMIT
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    st = open_store(path)
    try:
        assert st.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = res.current_keys(st, "contact-line", "", "r", vs[0].source)
        assert kept == {vs[0].version_id: vs[0].revision, vs[1].version_id: vs[1].revision}
    finally:
        st.close()


def test_failed_batch_rolls_back_whole(store_copy):
    v = store_copy.versions()[0]
    bad = res.ResultRow(None, "", v.source, v.version_id, v.revision, "r", b"{}")  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        res.put_results(store_copy, [_row(v, "corridors", "side=ua"), bad])
    assert res.stored_count(store_copy) == 0
    assert not store_copy.db.in_transaction


# ---------------------------------------------------------------------------- materialise


def test_materialised_equal_direct_computation(materialised):
    from frontline.analysis.settlements import status_on_control
    from frontline.store.reference import load_settlements

    p, rep = materialised
    assert rep.failed == [] and rep.count("computed") > 0
    st = open_store(p, readonly=True)
    gaz = load_settlements(st)
    assert gaz is not None and len(gaz.lon) > 0
    jobs = m.jobs_for(st)
    assert {w for w, _ in jobs} == set(m.WHATS)
    for v in st.versions():
        vc = version_control(st, v)
        assert res.get_result(st, "contact-line", "", v, rule=m.RULES["contact-line"]) == m.contact_line_body(vc, v)
        for side in st.sides:
            got = res.get_result(st, "corridors", m.corridor_params(side), v, rule=m.RULES["corridors"])
            assert got == m.corridors_body(vc, v, side)
        ((_, pkey),) = [j for j in jobs if j[0] == "settlements"]
        codes, labels = m.codes_from_body(res.get_result(st, "settlements", pkey, v, rule=m.RULES["settlements"]))
        want, wlabels = status_on_control(vc, (gaz.lon, gaz.lat))
        assert tuple(labels) == tuple(wlabels)
        np.testing.assert_array_equal(codes, want)
    # the demo's front exists: the stored bodies are not empty answers
    body = json.loads(res.get_result(st, "contact-line", "", st.versions()[-1], rule=m.RULES["contact-line"]))
    assert body["summary"]["total_km"] > 10 and body["features"]
    st.close()


def test_rerun_does_no_work(materialised):
    p, first = materialised
    st = open_store(p)
    writes: list[int] = []
    rep = m.materialise(st, workers=2, progress=False, on_batch=writes.append)
    assert rep.count("computed") == 0 and rep.count("failed") == 0
    assert rep.count("skipped") == first.count("computed")
    assert writes == []
    st.close()


def test_settlement_matrix_computed_equals_stored(materialised, monkeypatch):
    """Codes computed for a series (StatusSeries: only places near changed tiles re-tested) are the stored
    ones (status_on_control on each whole version, computed by the workers), in any order and for a subset."""
    p, _ = materialised
    st = open_store(p, readonly=True)
    versions = st.versions()
    stored, labels, n_stored = m.settlement_matrix(st, versions)
    assert n_stored == len(versions) and labels == [None, *st.sides, "contested"]
    assert len({row.tobytes() for row in stored}) > 1  # the codes change between versions
    monkeypatch.setenv(m.STORED_ENV, "off")
    back, labels_back, n_back = m.settlement_matrix(st, versions[::-1], progress=True)
    assert n_back == 0 and labels_back == labels
    np.testing.assert_array_equal(back[::-1], stored)
    idx = np.arange(0, stored.shape[1], 2)
    some, _, _ = m.settlement_matrix(st, versions[1::2], idx)
    np.testing.assert_array_equal(some, stored[1::2][:, idx])
    st.close()


def test_new_gazetteer_import_invalidates_codes(store_copy):
    from frontline.sources.geonames import read_geonames
    from frontline.store.reference import put_settlements

    m.materialise(store_copy, what=["settlements"], workers=1, progress=False)
    ((_, old),) = m.jobs_for(store_copy, ["settlements"])
    put_settlements(store_copy, read_geonames(_DEMO_INPUT[0] / "settlements.txt"), origin="again", replace=True)
    ((_, new),) = m.jobs_for(store_copy, ["settlements"])
    assert new != old
    rep = m.materialise(store_copy, what=["settlements"], workers=1, progress=False)
    assert rep.count("computed") == len(store_copy.versions()) and rep.count("skipped") == 0


def _break_one_feature(st) -> set[str]:
    """Garble the stored pieces of a feature present in some versions only; return those versions' ids."""
    vs = st.versions()
    for (fid,) in st.db.execute("SELECT DISTINCT feature_fid FROM pieces ORDER BY feature_fid"):
        inside = {v.version_id for v in vs if fid in set(st.member_fids(v))}
        if 0 < len(inside) < len(vs):
            st.db.execute("UPDATE pieces SET wkb=x'00ff00ff' WHERE feature_fid=?", (fid,))
            return inside
    raise AssertionError("no feature is present in only some versions of the demo")


def test_failing_version_reported_and_skipped(store_copy):
    broken = _break_one_feature(store_copy)
    rep = m.materialise(store_copy, what=["contact-line"], workers=2, progress=False)
    assert {o.version_id for o in rep.failed} == broken
    assert all("WKB" in o.reason for o in rep.failed), [o.reason for o in rep.failed]  # the cause, named
    assert rep.count("computed") == len(store_copy.versions()) - len(broken)
    assert res.stored_count(store_copy, "contact-line") == rep.count("computed")


# ---------------------------------------------------------------------------- CLI


def test_cli_recompute(store_copy):
    from frontline.cli import main

    path = str(store_copy.path)
    r = CliRunner().invoke(
        main, ["recompute", "--store", path, "--what", "contact-line,corridors", "--workers", "1", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    n = len(store_copy.versions())
    assert "contact-line" in r.output and "side=ua" in r.output and "Traceback" not in r.output
    again = CliRunner().invoke(main, ["recompute", "--store", path, "--what", "contact-line", "--json"])
    assert again.exit_code == 0, again.output
    rows = {r_["what"]: r_ for r_ in json.loads(again.output)["summary"]}
    assert rows["contact-line"]["skipped"] == n and rows["contact-line"]["computed"] == 0
    bad = CliRunner().invoke(main, ["recompute", "--store", path, "--what", "contact,corridors"])
    assert bad.exit_code == 2 and "'contact' is not an analysis" in bad.output
    empty = CliRunner().invoke(main, ["recompute", "--store", path, "--from", "2001-01-01", "--to", "2001-02-01"])
    assert empty.exit_code == 1 and "No version" in empty.output


def test_cli_recompute_reports_failures(store_copy):
    from frontline.cli import main

    broken = _break_one_feature(store_copy)
    r = CliRunner().invoke(
        main,
        ["recompute", "--store", str(store_copy.path), "--what", "contact-line", "--workers", "1", "--quiet", "--json"],
    )
    assert r.exit_code == 0, r.output  # some versions computed: the rest went on
    out = json.loads(r.output)
    assert {f["version_id"] for f in out["failed"]} == broken
    assert out["summary"][0]["failed"] == len(broken)


def test_import_then_recompute(tmp_path):
    from frontline.cli import main
    from frontline.store import init_store

    p = tmp_path / "fresh.gpkg"
    init_store(p).close()
    folder = _DEMO_INPUT[0] / "versions"
    r = CliRunner().invoke(
        main, ["import", "--store", str(p), str(folder), "--recompute", "--quiet", "--json", "--workers", "1"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    n = out["added"]
    assert n >= 2
    rows = {(x["what"], x["params"]): x for x in out["recompute"]["summary"]}
    assert rows[("contact-line", "-")]["computed"] == n  # no gazetteer in this store: no settlements row
    assert not any(w == "settlements" for w, _ in rows)
    st = open_store(p, readonly=True)
    assert res.stored_count(st, "contact-line", rule=m.RULES["contact-line"]) == n
    st.close()


# ---------------------------------------------------------------------------- the web map


def _answers(path: Path, versions: list[str], sides) -> dict[str, bytes]:
    app = create_app(path)
    out = {}
    with TestClient(app) as c:
        for vid in versions:
            for url in (
                [f"/api/contact-line?at={vid}"]
                + [f"/api/corridors?at={vid}&side={s}" for s in sides]
                + [f"/api/settlements?at={vid}&zoom=7", f"/api/settlements?at={vid}"]
            ):
                r = c.get(url)
                assert r.status_code == 200, (url, r.text[:300])
                out[url] = r.content
        an = app.state.service.analyses
        out["_states"] = len(an._states)  # partitions the analysis service had to build
    return out


def test_web_serves_stored_equal_to_computed(materialised, monkeypatch):
    p, _ = materialised
    st = open_store(p, readonly=True)
    vids, sides = [v.version_id for v in st.versions()], st.sides
    before = res.stored_count(st)
    st.close()
    stored = _answers(p, vids, sides)
    monkeypatch.setenv("FRONTLINE_STORED_RESULTS", "off")
    computed = _answers(p, vids, sides)
    assert stored.pop("_states") == 0  # nothing was computed: every analysis came from the store
    assert computed.pop("_states") > 0
    assert stored.keys() == computed.keys()
    for url in stored:
        assert stored[url] == computed[url], url
    st = open_store(p, readonly=True)
    assert res.stored_count(st) == before  # the server never writes results
    st.close()


def test_web_non_default_parameters_are_computed(materialised):
    p, _ = materialised
    st = open_store(p, readonly=True)
    v = st.versions()[-1]
    st.close()
    app = create_app(p)
    with TestClient(app) as c:
        r = c.get(f"/api/corridors?at={v.version_id}&side=ua&alert_width_m=500")
        assert r.status_code == 200 and "500 m" in r.json()["rule"]
    assert len(app.state.service.analyses._states) == 1


# ---------------------------------------------------------------------------- the real archive store


@pytest.fixture(scope="module")
def real_copy(request, tmp_path_factory):
    """A copy of a real-archive store: $FRONTLINE_TRUTH_STORE (the whole archive) when set, else the Kursk period
    imported from ../shared/data (the ``kursk`` fixture; skips with a message when the archive is absent)."""
    given = os.environ.get("FRONTLINE_TRUTH_STORE")
    if given and Path(given).is_file():
        src = Path(given)
    else:
        st, _, _ = request.getfixturevalue("kursk")
        src = Path(st.path)
    return _copy(src, tmp_path_factory.mktemp("real") / "real.gpkg")


def test_real_archive_stored_equal_computed(real_copy, monkeypatch):
    st = open_store(real_copy)
    vs = st.versions()
    picked = [vs[len(vs) // 3], vs[-1]]  # one from 2023, the latest (Kursk over)
    rep = m.materialise(st, picked, what=["contact-line", "corridors"], workers=1, progress=False)
    assert rep.failed == [] and rep.count("computed") == len(picked) * (1 + len(st.sides))
    st.close()
    ids = [v.version_id for v in picked]
    app_stored = create_app(real_copy)
    monkeypatch.setenv("FRONTLINE_STORED_RESULTS", "on")
    with TestClient(app_stored) as c:
        stored = {
            u: c.get(u).content
            for u in [f"/api/contact-line?at={i}" for i in ids] + [f"/api/corridors?at={i}&side=ua" for i in ids]
        }
    assert len(app_stored.state.service.analyses._states) == 0
    monkeypatch.setenv("FRONTLINE_STORED_RESULTS", "off")
    with TestClient(create_app(real_copy)) as c:
        for u, body in stored.items():
            assert c.get(u).content == body, u
    assert json.loads(stored[f"/api/contact-line?at={ids[0]}"])["summary"]["total_km"] > 500


def _series_json(main, args, stored: str, monkeypatch):
    monkeypatch.setenv("FRONTLINE_STORED_RESULTS", stored)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def test_cli_series_read_stored_equal_computed(real_copy, monkeypatch):
    """`contact-line` and `corridors` series read stored rows (a note says how many), the same as computed ones."""
    from frontline.analysis.contact_line import pick_periods
    from frontline.cli import main

    st = open_store(real_copy)
    vs = st.versions()
    lo, hi = vs[len(vs) // 4], vs[len(vs) // 2]
    picked = [v for _, v in pick_periods([v for v in vs if lo.valid_time <= v.valid_time <= hi.valid_time], "month")]
    some = picked[::2]  # the others are computed: a series mixes both
    rep = m.materialise(st, some, what=["contact-line", "corridors"], workers=1, progress=False)
    assert rep.failed == []
    st.close()
    rng = ["--store", str(real_copy), "--from", str(lo.valid_time), "--to", str(hi.valid_time), "--every", "month"]
    for args in (["contact-line", *rng, "--json"], ["corridors", *rng, "--side", "ua", "--json"]):
        out_on, err_on = _series_json(main, args, "on", monkeypatch)
        out_off, err_off = _series_json(main, args, "off", monkeypatch)
        assert out_on == out_off, args[0]
        assert f"{len(some)} of {len(picked)} versions read from stored results" in err_on
        assert "stored results" not in err_off
    # non-default parameters never read the stored rows
    _, err = _series_json(
        main, ["corridors", *rng, "--side", "ua", "--threshold-m", "500", "--json"], "on", monkeypatch
    )
    assert "stored results" not in err


def test_materialise_on_postgis_equal_direct_computation(pg_new_url, tmp_path):
    """The stored results on PostGIS: contact line and corridors as computed directly, read back through the
    store and through :class:`ResultReader` on the URL; a re-run does nothing."""
    st = build_demo(pg_new_url, tmp_path / "in", weeks=3)
    rep = m.materialise(st, what=("contact-line", "corridors"), workers=1, progress=False)
    assert rep.failed == [] and rep.count("computed") == 3 * (1 + len(st.sides))
    reader = res.ResultReader(pg_new_url)
    for v in st.versions():
        vc = version_control(st, v)
        want = m.contact_line_body(vc, v)
        assert res.get_result(st, "contact-line", "", v, rule=m.RULES["contact-line"]) == want
        assert reader.get("contact-line", "", v, m.RULES["contact-line"]) == want
        for side in st.sides:
            got = res.get_result(st, "corridors", m.corridor_params(side), v, rule=m.RULES["corridors"])
            assert got == m.corridors_body(vc, v, side)
    assert res.stored_count(st, "contact-line") == 3 and res.stored_count(st, "corridors") == 3 * len(st.sides)
    again = m.materialise(st, what=("contact-line", "corridors"), workers=1, progress=False)
    assert again.count("computed") == 0 and again.count("skipped") == rep.count("computed")
    reader.close()
    st.close()
