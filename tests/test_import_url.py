"""``frontline import --url`` through the real CLI (a subprocess) against the local replay server.

Bars: the versions served are stored (and only those), the printed report
counts them, a version the feed serves broken is named and fetched again
next time, the import is logged once, and nothing ends in a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from replay_server import ReplayServer

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "frontline.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def weeks():
    from frontline.demo import scenario

    return scenario(4)


@pytest.fixture()
def store(tmp_path):
    from frontline.store import init_store

    path = tmp_path / "url.gpkg"
    init_store(path).close()
    return path


def _stored(path) -> list[str]:
    from frontline.store import open_store

    st = open_store(path, readonly=True)
    try:
        return [v.version_id for v in st.versions()] if st.sources() else []
    finally:
        st.close()


def _imports(path) -> list[tuple[str, dict]]:
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(o, json.loads(s)) for o, s in db.execute("SELECT origin, summary FROM imports ORDER BY rowid")]
    finally:
        db.close()


def test_import_url_stores_versions_and_prints_the_report(store, weeks):
    ids = [str(o["id"]) for o in weeks]
    with ReplayServer(weeks) as srv:
        srv.fail_always(srv.path_of(weeks[2]["id"]), "invalid_json")  # one version served broken
        r = _cli("import", "--store", str(store), "--url", srv.base_url, "--quiet", "--retries", "1")
        assert r.returncode == 0, r.stderr[-2000:]
        assert "Traceback" not in r.stderr + r.stdout
        assert f"{srv.base_url}: 4 versions listed, 4 new or revised fetched." in r.stdout
        assert "3 added, 0 revised, 0 unchanged, 1 failed" in r.stdout
        assert ids[2] in r.stdout and "not valid JSON" in r.stdout  # the broken one, by URL
        assert _stored(store) == [ids[0], ids[1], ids[3]]
        logged = _imports(store)
        assert len(logged) == 1 and logged[0][0] == f"pull {srv.base_url}"
        assert logged[0][1]["added"] == 3 and logged[0][1]["failed"] == 1

        # fixed on the feed: only the missing version is fetched, as JSON
        srv.clear_faults()
        r = _cli("import", "--store", str(store), "--url", srv.base_url, "--json")
        assert r.returncode == 0, r.stderr[-2000:]
        out = json.loads(r.stdout)
        assert (out["listed"], out["pending"], out["added"], out["failed"]) == (4, 1, 1, 0)
        assert out["imported"] == [{"version": ids[2], "status": "added"}]
        assert _stored(store) == ids

        # nothing new: said in words, exit 0, no second log row without work
        r = _cli("import", "--store", str(store), "--url", srv.base_url)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "the store holds them all (nothing new)" in r.stdout
        assert len(_imports(store)) == 2


def test_import_url_errors_are_one_line(store):
    with ReplayServer([]) as srv:
        srv.fail_always(srv.path_of(), "500")
        r = _cli("import", "--store", str(store), "--url", srv.base_url, "--quiet", "--retries", "1")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("Error: cannot read the feed's listing:")
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("import", "--store", str(store), "--url", "ftp://example.org/api")
    assert r.returncode == 1 and "--url must be an http(s) URL" in r.stderr
    r = _cli("import", "--store", str(store), "some.tar", "--url", "http://127.0.0.1:9/api")
    assert r.returncode == 2 and "not both" in r.stderr
