"""Series read from stored results at scale (issue 18): compact series rows, settlement changes, no re-work.

Expected values come from independent computations on the demo store: the contact line's and
the corridors' ``series`` members of the stored bodies, settlement statuses from
:func:`frontline.analysis.contact_line.locate` (another lookup than the stored codes'), and
counts written out from those.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from frontline.analysis import materialise as m
from frontline.state import version_control
from frontline.store import open_store
from frontline.store.reference import load_settlements

warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from frontline.web import create_app  # noqa: E402


def _copy(src: Path, dst: Path) -> Path:
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()
    return dst


@pytest.fixture(scope="module")
def mat(demo_store, tmp_path_factory) -> Path:
    """A copy of the demo store with every result materialised (one process)."""
    p = _copy(Path(demo_store.path), tmp_path_factory.mktemp("series") / "mat.gpkg")
    st = open_store(p)
    rep = m.materialise(st, workers=1, progress=False)
    assert not rep.failed, rep.failed
    st.close()
    return p


def _located(st, versions) -> tuple[np.ndarray, list]:
    """Status labels of the gazetteer per version, by contact_line.locate (not the stored codes' lookup)."""
    from frontline.analysis.contact_line import locate

    gz = load_settlements(st)
    return np.array([list(locate(version_control(st, v), gz.lon, gz.lat)) for v in versions], dtype=object), gz


def test_compact_rows_are_the_bodies_series(mat):
    st = open_store(mat, readonly=True)
    vs = st.versions()
    con = sqlite3.connect(mat)
    n = con.execute("SELECT COUNT(*) FROM analysis_results WHERE what='contact-line.series'").fetchone()[0]
    assert n == len(vs)
    got = m.stored_series(st, "contact-line", "", vs)
    assert set(got) == {v.version_id for v in vs}
    from frontline.store.results import get_result

    for v in vs:
        body = orjson.loads(get_result(st, "contact-line", "", v, rule=m.RULES["contact-line"]))
        assert got[v.version_id] == body["series"]
        assert got[v.version_id]["total_km"] > 0
    for side in st.sides:
        pk = m.corridor_params(side, **m.CORRIDOR_DEFAULTS)
        necks = m.stored_series(st, "corridors", pk, vs)
        for v in vs:
            body = orjson.loads(get_result(st, "corridors", pk, v, rule=m.RULES["corridors"]))
            assert necks.get(v.version_id) == body.get("series")


def test_backfill_keeps_compact_rows_without_computing(mat, tmp_path):
    p = _copy(mat, tmp_path / "old.gpkg")
    con = sqlite3.connect(p)
    con.execute("DELETE FROM analysis_results WHERE what LIKE '%.series'")
    con.commit()
    con.close()
    st = open_store(p)
    n_corr = sum(
        1 for s in st.sides for v in st.versions() if m.stored_series(st, "corridors", m.corridor_params(s), [v])
    )
    rep = m.materialise(st, workers=1, progress=False)
    assert rep.count("computed") == 0
    n_v = len(st.versions())
    # one compact row per contact line and per corridors result (a side holding no ground has a null row)
    assert rep.backfilled == n_v * (1 + len(st.sides))
    assert n_corr <= n_v * len(st.sides)
    rep2 = m.materialise(st, workers=1, progress=False)
    assert rep2.backfilled == 0 and rep2.count("computed") == 0
    st.close()


def test_settlement_changes_match_an_independent_lookup(mat):
    st = open_store(mat, readonly=True)
    vs = st.versions()
    assert len(m.stored_codes(st, vs)) == len(vs)  # read from the store
    rows, n_stored = m.settlement_changes_series(st)
    assert n_stored == len(vs) and len(rows) == len(vs) - 1
    lab, _ = _located(st, vs)
    for t, row in enumerate(rows, start=1):
        moved = lab[t] != lab[t - 1]
        assert row["version_id"] == vs[t].version_id and row["previous_version_id"] == vs[t - 1].version_id
        assert row["changed"] == int(moved.sum())
        for s in (*st.sides, "contested"):
            assert row[f"to_{s}"] == int(((lab[t] == s) & moved).sum())
    assert sum(r["changed"] for r in rows) > 0  # the demo's front moves over villages


def test_settlements_changed_same_bytes_stored_or_computed(mat, monkeypatch):
    from frontline.cli import main

    st = open_store(mat, readonly=True)
    vs = st.versions()
    args = ["settlements", "changed", "--store", str(mat), "--json", "--include-reverted"]
    args += ["--from", str(int(vs[0].valid_time)), "--to", str(int(vs[-1].valid_time))]
    stored = CliRunner().invoke(main, args)
    assert stored.exit_code == 0, stored.output
    assert f"{len(vs)} of {len(vs)} versions read from stored results" in stored.stderr
    monkeypatch.setenv(m.STORED_ENV, "off")
    computed = CliRunner().invoke(main, args)
    assert computed.exit_code == 0, computed.output
    assert "read from stored results" not in computed.stderr
    assert stored.stdout == computed.stdout
    assert json.loads(stored.stdout)["settlements"]


def _import_again(p: Path, folder: Path) -> dict:
    from frontline.cli import main

    r = CliRunner().invoke(main, ["import", "--store", str(p), str(folder), "--recompute", "--json", "--workers", "1"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_reimport_of_nothing_new_computes_nothing(mat, demo_store, tmp_path):
    p = _copy(mat, tmp_path / "again.gpkg")
    folder = Path(demo_store.path).parent / (Path(demo_store.path).stem + "-input") / "versions"
    out = _import_again(p, folder)
    assert out["recompute"]["computed"] == 0
    assert all(r["computed"] == 0 and r["failed"] == 0 for r in out["recompute"]["summary"])


def test_revised_version_recomputes_only_itself(mat, demo_store, tmp_path):
    p = _copy(mat, tmp_path / "rev.gpkg")
    folder = Path(demo_store.path).parent / (Path(demo_store.path).stem + "-input") / "versions"
    st = open_store(p, readonly=True)
    vs = st.versions()
    target = vs[len(vs) // 2]
    st.close()
    obj = json.loads((folder / f"{target.version_id}.json").read_text(encoding="utf-8"))
    obj["map"]["features"] = obj["map"]["features"][:-1]
    rev = tmp_path / "revised"
    rev.mkdir()
    (rev / f"{target.version_id}.json").write_text(json.dumps(obj), encoding="utf-8")
    out = _import_again(p, rev)
    st = open_store(p, readonly=True)
    n_jobs = len(m.jobs_for(st))
    assert out["recompute"]["computed"] == n_jobs  # every result of the revised version, nothing else
    assert all(r["computed"] == 1 for r in out["recompute"]["summary"])
    # the successor's change row is derived from the revised codes: the same as an independent lookup
    vs = st.versions()
    k = [v.version_id for v in vs].index(target.version_id)
    rows, n_stored = m.settlement_changes_series(st)
    assert n_stored == len(vs)
    lab, _ = _located(st, vs[k - 1 : k + 2])
    assert rows[k - 1]["changed"] == int((lab[1] != lab[0]).sum())
    assert rows[k]["changed"] == int((lab[2] != lab[1]).sum())


def test_api_series_reads_stored_rows(mat):
    st = open_store(mat, readonly=True)
    vs = st.versions()
    with TestClient(create_app(mat)) as c:
        front = c.get("/api/series", params={"what": "front"}).json()
        assert front["key"] == "total_km" and front["n_stored"] == len(vs)
        want = m.stored_series(st, "contact-line", "", vs)
        assert [r["total_km"] for r in front["rows"]] == [want[v.version_id]["total_km"] for v in vs]
        side = st.sides[-1]
        neck = c.get("/api/series", params={"what": "neck", "side": side}).json()
        assert [r["version_id"] for r in neck["rows"]] == [v.version_id for v in vs]
        necks = m.stored_series(st, "corridors", m.corridor_params(side), vs)
        for r in neck["rows"]:
            assert r["width_m"] == (necks.get(r["version_id"]) or {}).get("width_m")
        sett = c.get("/api/series", params={"what": "settlements", "every": "week"}).json()
        lab, _ = _located(st, vs)
        weekly = c.get("/api/contact-line/series", params={"every": "week"}).json()["rows"]
        ids = [r["version_id"] for r in weekly]
        assert [r["version_id"] for r in sett["rows"]] == ids[1:]
        pos = {v.version_id: i for i, v in enumerate(vs)}
        for r in sett["rows"]:
            a, b = pos[r["previous_version_id"]], pos[r["version_id"]]
            assert r["changed"] == int((lab[b] != lab[a]).sum())
        bad = c.get("/api/series", params={"what": "roads"})
        assert bad.status_code == 400 and "what must be one of" in bad.text
        no_side = c.get("/api/series", params={"what": "neck"})
        assert no_side.status_code == 400 and "side" in no_side.text


# -- bulk reads: a series' stored rows in one query (issue 18 bar 1) ----------------------------


def test_get_results_is_get_result_for_every_version(mat):
    from dataclasses import replace

    from frontline.store.results import get_result, get_results

    st = open_store(mat, readonly=True)
    vs = st.versions()
    rule = m.RULES["contact-line"]
    for what in ("contact-line", "contact-line.series"):
        many = get_results(st, what, "", vs, rule=rule)
        assert set(many) == {v.version_id for v in vs}
        for v in vs:
            assert many[v.version_id] == get_result(st, what, "", v, rule=rule)
    # another revision than the stored one, or another rule, is not answered (as get_result)
    other = [replace(vs[0], revision=vs[0].revision + 1), *vs[1:3]]
    assert set(get_results(st, "contact-line", "", other, rule=rule)) == {vs[1].version_id, vs[2].version_id}
    assert get_results(st, "contact-line", "", vs, rule="0-old") == {}
    st.close()


@pytest.mark.parametrize("compact", [True, False])
def test_stored_series_members_are_the_bodies_series(mat, tmp_path, compact):
    from frontline.store.results import get_result, stored_series_members

    p = mat if compact else _copy(mat, tmp_path / "no-compact.gpkg")
    if not compact:  # a store materialised before the compact rows: the bodies' series members are read
        con = sqlite3.connect(p)
        con.execute("DELETE FROM analysis_results WHERE what LIKE '%.series'")
        con.commit()
        con.close()
    st = open_store(p, readonly=True)
    vs = st.versions()
    jobs = [("contact-line", "")] + [("corridors", m.corridor_params(s, **m.CORRIDOR_DEFAULTS)) for s in st.sides]
    for what, pk in jobs:
        got = stored_series_members(st, what, pk, vs, rule=m.RULES[what])
        for v in vs:
            body = orjson.loads(get_result(st, what, pk, v, rule=m.RULES[what]))
            assert got.get(v.version_id) == body.get("series"), (what, v.version_id)
    st.close()


def _cli(args, env=None, monkeypatch=None):
    from frontline.cli import main

    if env is not None:
        monkeypatch.setenv(m.STORED_ENV, env)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r


@pytest.mark.parametrize("cmd", [["contact-line"], ["corridors", "--side", "ua"]])
def test_series_say_how_many_versions_were_computed(mat, tmp_path, monkeypatch, cmd):
    p = _copy(mat, tmp_path / "half.gpkg")
    st = open_store(p, readonly=True)
    vs = st.versions()
    st.close()
    gone = [v.version_id for v in vs[::2]]  # half the versions lose their stored results
    con = sqlite3.connect(p)
    con.executemany(
        "DELETE FROM analysis_results WHERE what LIKE ? AND version_id=?", [(cmd[0] + "%", g) for g in gone]
    )
    con.commit()
    con.close()
    args = [*cmd, "--store", str(p), "--from", str(int(vs[0].valid_time)), "--json"]
    half = _cli(args, "on", monkeypatch)
    kept = len(vs) - len(gone)
    assert f"{kept} of {len(vs)} versions read from stored results" in half.stderr
    assert f"{len(gone)} computed (not stored: frontline recompute --what {cmd[0]})" in half.stderr
    computed = _cli(args, "off", monkeypatch)
    assert "stored" not in computed.stderr
    assert json.loads(half.stdout) == json.loads(computed.stdout)
    assert [r["version_id"] for r in json.loads(half.stdout)] == [v.version_id for v in vs]


def test_settlements_changed_from_before_the_first_version_starts_there(mat, monkeypatch):
    st = open_store(mat, readonly=True)
    vs = st.versions()
    st.close()
    base = ["settlements", "changed", "--store", str(mat), "--json", "--include-reverted"]
    early = _cli([*base, "--from", "2000-01-01", "--to", str(int(vs[-1].valid_time))], "on", monkeypatch)
    exact = _cli([*base, "--from", str(int(vs[0].valid_time)), "--to", str(int(vs[-1].valid_time))])
    out = json.loads(early.stdout)
    assert out["from"] == json.loads(exact.stdout)["from"] and out["versions"] == len(vs)  # the first once
    assert out == json.loads(exact.stdout)
    assert "before the first version" in early.stderr and "the range starts there" in early.stderr
    from frontline.cli import main

    r = CliRunner().invoke(main, [*base, "--from", "2000-01-01", "--to", "2000-02-01"])
    assert r.exit_code == 1 and "the first is" in r.stderr and "Traceback" not in r.output
    assert "before the first version" not in r.stderr  # the error alone, no note before it


def test_corridors_version_stored_as_holding_no_ground_is_not_recomputed(mat, tmp_path, monkeypatch):
    """A null stored series member (recompute's note: no ground abroad) gives the computed path's row, no work."""
    p = _copy(mat, tmp_path / "null.gpkg")
    st = open_store(p, readonly=True)
    vs = st.versions()
    st.close()
    pk = m.corridor_params("ua", **m.CORRIDOR_DEFAULTS)
    target = vs[1]
    con = sqlite3.connect(p)
    n = con.execute(
        "UPDATE analysis_results SET body=?, codec='json' WHERE what='corridors.series' AND params_key=? "
        "AND version_id=?",
        (b"null", pk, target.version_id),
    ).rowcount
    con.commit()
    con.close()
    assert n == 1
    args = ["corridors", "--side", "ua", "--store", str(p), "--from", str(int(vs[0].valid_time)), "--json"]
    r = _cli(args, "on", monkeypatch)
    assert f"{len(vs)} of {len(vs)} versions read from stored results" in r.stderr  # nothing computed
    row = next(x for x in json.loads(r.stdout) if x["version_id"] == target.version_id)
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(target.valid_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        row["error"]
        == f"Side 'ua' holds no ground outside its home at {target.version_id} ({when}); nothing to analyse."
    )
    assert row["n_necks"] == 0 and row["width_m"] is None
