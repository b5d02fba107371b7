"""Incremental pull against a local replay server with injected faults, and a pull killed midway.

Bars: after recovery the store holds exactly the versions served, revisions
recorded, no duplicates; a pull killed with SIGKILL and re-run reaches the same
end state as a clean import of the same versions.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shapely
from pyproj import Geod
from replay_server import ReplayServer, feature, iso
from shapely.geometry import box

from frontline.store._sql import sql_of

ROOT = Path(__file__).resolve().parent.parent

# A ru-held box deep inside Ukraine, clear of every scenario feature: added by a revision.
REVISION_BOX = box(31.0, 49.5, 31.2, 49.6)


@pytest.fixture(scope="module")
def weeks():
    from frontline.demo import scenario

    return scenario(8)


def _km2(geom) -> float:
    """Geodesic area straight from pyproj (independent of frontline.geodesy)."""
    a, _ = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(a) / 1e6


def _snapshot(store) -> dict:
    """Everything a pull decides: versions, revisions, areas, distinct features."""
    db = sql_of(store)  # the store's SQL with ? placeholders, on either backend
    return {
        "versions": db.execute(
            "SELECT version_id, valid_time, revision, content_hash, n_features FROM versions ORDER BY valid_time"
        ).fetchall(),
        "revisions": db.execute(
            "SELECT version_id, revision, content_hash FROM revisions ORDER BY version_id, revision"
        ).fetchall(),
        "areas": {
            (r[0], r[1], r[2], r[3]): r[4]
            for r in db.execute(
                "SELECT v.version_id, a.region, a.convention, a.side, a.km2 FROM version_areas a "
                "JOIN versions v ON v.pk=a.version_pk"
            )
        },
        "features": sorted(bytes(r[0]) for r in db.execute("SELECT fkey FROM features")),
    }


def _reference(tmp_path, objs) -> dict:
    """A store made by importing the final bodies directly (no HTTP)."""
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store

    st = init_store(tmp_path / "reference.gpkg")
    imp = Importer(st)
    for o in sorted(objs, key=lambda o: o["id"]):
        imp.add(
            deepstate.for_import(
                deepstate.snapshot_from_bytes(json.dumps(o, ensure_ascii=False).encode(), "ref", str(o["id"]))
            )
        )
    snap = _snapshot(st)
    st.close()
    return snap


def _assert_same(a: dict, b: dict) -> None:
    assert [r[:2] + r[3:] for r in a["versions"]] == [r[:2] + r[3:] for r in b["versions"]]
    assert a["features"] == b["features"]
    assert a["areas"].keys() == b["areas"].keys()
    for k, v in a["areas"].items():
        assert v == pytest.approx(b["areas"][k], abs=1e-6), k


def test_pull_recovers_from_every_fault(new_store_url, tmp_path, weeks):
    """On each backend (``new_store_url``): faults retried or reported by version, then a revision pulled."""
    from frontline.live_pull import pull
    from frontline.store import init_store

    objs = [dict(o) for o in weeks[:6]]
    ids = [o["id"] for o in objs]
    srv = ReplayServer(objs)
    try:
        srv.listing_order = "shuffled"
        srv.fail(srv.path_of(), "500", "429:1")  # listing: a 500, then rate limited for 1 s
        srv.fail(srv.path_of(ids[1]), "timeout:2")  # longer than the client's 0.5 s time-out
        srv.fail(srv.path_of(ids[2]), "500", "503")  # two server errors, then fine
        srv.fail_always(srv.path_of(ids[3]), "truncate")  # half the body under the full length
        srv.fail_always(srv.path_of(ids[4]), "invalid_json")  # a proxy's HTML error page with 200
        srv.fail_always(srv.path_of(ids[5]), "truncate_nolen")  # cut short, no Content-Length
        st = init_store(new_store_url)
        opts = dict(timeout=0.5, retries=2, backoff=0.02, progress=False)

        # -- run 1: three versions come through, three fail and are reported by version
        r1 = pull(st, srv.base_url, **opts)
        assert r1.error is None
        assert r1.listed == 6 and r1.pending == 6
        assert r1.report.added == 3
        failed = dict(r1.failed)
        assert set(failed) == {str(ids[3]), str(ids[4]), str(ids[5])}
        assert "truncated" in failed[str(ids[3])] and str(ids[3]) in failed[str(ids[3])]
        assert "not valid JSON" in failed[str(ids[4])]
        assert "not valid JSON" in failed[str(ids[5])]
        assert [v.version_id for v in st.versions()] == [str(i) for i in ids[:3]]
        # nothing of a failed version was stored (no half version)
        assert sql_of(st).execute("SELECT COUNT(*) FROM spans WHERE valid_from IN (?,?,?)", ids[3:]).fetchone()[0] == 0
        # Retry-After honoured: the retry came at least 1 s after the 429
        listing = srv.hits(srv.path_of())
        i429 = [k for k, h in enumerate(listing) if h[3].startswith("429")][0]
        assert listing[i429 + 1][0] - listing[i429][0] >= 0.95
        # time-out and server errors were retried: 2 and 3 requests
        assert len(srv.hits(srv.path_of(ids[1]))) == 2
        assert len(srv.hits(srv.path_of(ids[2]))) == 3
        assert all(h[2].startswith("Frontline/") and "+https://" in h[2] for h in srv.requests)

        # -- run 2: faults gone; only the three missing versions are fetched
        srv.clear_faults()
        t_run2 = time.time()
        r2 = pull(st, srv.base_url, **opts)
        assert r2.ok and r2.pending == 3 and r2.report.added == 3
        fetched = {h[1] for h in srv.requests if h[0] >= t_run2 and "/geojson" in h[1]}
        assert fetched == {srv.path_of(i) for i in ids[3:]}

        # -- run 3: an old version is revised (ru-held box added, later updatedAt) and
        #    another is re-published unchanged with a later updatedAt
        before = {r["version_id"]: r for r in _area_rows(st)}
        rev = json.loads(json.dumps(objs[2]))
        rev["map"]["features"].append(feature(REVISION_BOX, "occupied"))
        rev["updatedAt"] = iso(ids[2] + 3 * 86400)
        srv.revise(rev)
        touched = dict(objs[4], updatedAt=iso(ids[4] + 86400))
        srv.revise(touched)
        srv.listing_order = "reversed"
        r3 = pull(st, srv.base_url, **opts)
        assert r3.ok and r3.pending == 2
        assert r3.report.revised == 1 and r3.report.unchanged == 1 and r3.report.added == 0
        after = {r["version_id"]: r for r in _area_rows(st)}
        gained = after[str(ids[2])]["ru_km2"] - before[str(ids[2])]["ru_km2"]
        # the clipped convention counts the box within Ukraine's land outline (lakes excluded)
        home = st.regions()["home:ua"][1]
        assert gained == pytest.approx(_km2(shapely.intersection(REVISION_BOX, home)), abs=2e-3)
        assert 0.98 * _km2(REVISION_BOX) < gained < _km2(REVISION_BOX)
        for vid in before:
            if vid != str(ids[2]):
                assert after[vid]["ru_km2"] == pytest.approx(before[vid]["ru_km2"], abs=1e-9)

        # -- run 4: nothing new; nothing fetched (the unchanged re-publication is remembered)
        t_run4 = time.time()
        r4 = pull(st, srv.base_url, **opts)
        assert r4.ok and r4.pending == 0
        assert not [h for h in srv.requests if h[0] >= t_run4 and "/geojson" in h[1]]

        # -- end state: exactly the versions served, revisions recorded, no duplicates
        assert [v.version_id for v in st.versions()] == [str(i) for i in srv.served_ids()]
        revs = st.revisions("deepstate", str(ids[2]))
        assert [r["revision"] for r in revs] == [1, 2]
        assert revs[0]["content_hash"] != revs[1]["content_hash"]
        assert all(len(st.revisions("deepstate", str(i))) == 1 for i in ids if i != ids[2])
        db = sql_of(st)
        assert tuple(db.execute("SELECT COUNT(*), COUNT(DISTINCT version_id) FROM versions").fetchone()) == (6, 6)
        assert db.execute("SELECT COUNT(*) - COUNT(DISTINCT fkey) FROM features").fetchone()[0] == 0
        for v in st.versions():
            assert len(st.member_fids(v)) == v.n_features
        final = [rev if o["id"] == ids[2] else o for o in objs]
        _assert_same(_snapshot(st), _reference(tmp_path, final))
        st.close()
    finally:
        srv.close()


def _area_rows(store):
    from frontline.analysis.area import area_series

    return area_series(store, region="ukraine")


def _run_pull(url: str, store: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "frontline.cli",
            "pull",
            "deepstate",
            "--base-url",
            url,
            "--store",
            str(store),
            "--quiet",
            "--timeout",
            "5",
            "--retries",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kw,
    )


def test_pull_killed_midway_resumes_to_same_end_state(tmp_path, weeks):
    from frontline.store import init_store, open_store

    objs = list(weeks)
    path = tmp_path / "killed.gpkg"
    init_store(path).close()
    srv = ReplayServer(objs)
    try:
        srv.delay = 0.3  # slow downloads: the kill lands while versions are still coming
        proc = _run_pull(srv.base_url, path)
        deadline = time.time() + 60
        # wait until the 4th version has been served, then kill during its import
        while time.time() < deadline and len([h for h in srv.requests if "/geojson" in h[1]]) < 4:
            if proc.poll() is not None:
                pytest.fail(f"pull ended before it could be killed: {proc.communicate()}")
            time.sleep(0.01)
        time.sleep(random.Random(1).uniform(0.32, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

        st = open_store(path, readonly=True)
        partial = [v.version_id for v in st.versions()] if st.sources() else []
        st.close()
        assert 1 <= len(partial) < len(objs), partial
        assert partial == [str(o["id"]) for o in objs[: len(partial)]]

        srv.delay = 0.0
        proc = _run_pull(srv.base_url, path)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        refetched = [h[1] for h in srv.requests if "/geojson" in h[1]]
        # the resumed run fetched only what was missing
        assert len(refetched) - 4 <= len(objs) - len(partial) + 1

        st = open_store(path, readonly=True)
        got = _snapshot(st)
        assert [v.version_id for v in st.versions()] == [str(o["id"]) for o in objs]
        assert st.db.execute("SELECT COUNT(*) - COUNT(DISTINCT fkey) FROM features").fetchone()[0] == 0
        assert [r[:2] for r in got["revisions"]] == [(str(o["id"]), 1) for o in objs]
        st.close()
        _assert_same(got, _reference(tmp_path, objs))
    finally:
        srv.close()


def test_user_agent_and_client_errors(tmp_path):
    """A 404 is not retried; the User-Agent carries version, project URL and contact."""
    from frontline import __version__
    from frontline.sources import deepstate
    from frontline.sources.live import HttpOptions, http_get, user_agent

    ua = user_agent("ops@example.org")
    assert ua == f"Frontline/{__version__} (+https://github.com/frontline-osint/frontline; ops@example.org)"
    with ReplayServer([]) as srv:
        with pytest.raises(deepstate.FetchError, match="HTTP 404"):
            http_get(srv.base_url + "/history/1/geojson", HttpOptions(retries=3, backoff=0.01, user_agent=ua))
        assert len(srv.requests) == 1 and srv.requests[0][2] == ua


def test_listing_unreachable_is_reported_not_raised(tmp_path):
    from frontline.live_pull import pull
    from frontline.store import init_store

    with ReplayServer([]) as srv:
        srv.fail_always(srv.path_of(), "500")
        st = init_store(tmp_path / "s.gpkg")
        res = pull(st, srv.base_url, progress=False, retries=1, backoff=0.01)
        assert res.error and "HTTP 500" in res.error and "history/public" in res.error
        assert not res.ok and res.pending == 0
        st.close()
