"""A version revised while the app is open: answers and ETags come from one revision, never a mix."""

from __future__ import annotations

import json
import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402
from webtools import T0, WEEK, _version  # noqa: E402

from frontline.ingest import Importer  # noqa: E402
from frontline.sources import deepstate  # noqa: E402
from frontline.store import init_store, open_store  # noqa: E402
from frontline.web import create_app  # noqa: E402

# The occupied block of version 1 spans lon 37.82..38.6 (webtools._version); the revision
# re-publishes that version with the block reaching 38.9 instead.
EAST_BEFORE, EAST_AFTER = 38.6, 38.9


def _write(folder, i, east):
    fc = _version(i)
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    for c in ring:
        if c[0] == EAST_BEFORE:
            c[0] = east
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{T0 + i * WEEK}.geojson").write_text(json.dumps(fc))


def _import(path, folder):
    st = open_store(path)
    try:
        return Importer(st).run(deepstate.read_path(folder), progress=False)
    finally:
        st.close()


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "r.gpkg"
    for i in range(3):
        _write(tmp_path / "src", i, EAST_BEFORE)
    st = init_store(path)
    Importer(st).run(deepstate.read_path(tmp_path / "src"), progress=False)
    st.close()
    return path


def _ru_east(body: dict) -> float:
    """Easternmost longitude of ru's held ground in a /api/state answer."""
    xs = []
    for f in body["features"]:
        if f["properties"]["status"] == "held" and f["properties"]["side"] == "ru":

            def walk(c):
                if isinstance(c[0], (int, float)):
                    xs.append(c[0])
                else:
                    for x in c:
                        walk(x)

            walk(f["geometry"]["coordinates"])
    return max(xs)


def test_revision_committed_between_resolve_and_read(store, tmp_path):
    with TestClient(create_app(store)) as c:
        vid = str(c.get("/api/versions").json()["versions"][1]["id"])
        before = c.get("/api/state", params={"at": str(T0 + 2 * WEEK)}).json()  # another version: as imported
        assert _ru_east(before) == pytest.approx(EAST_BEFORE)

        # The race: the request resolves revision 1, then the revision commits before the content is read.
        svc = c.app.state.service
        real = svc.resolve
        fired = []

        def resolve_then_revise(at, parameter="at"):
            v, exact = real(at, parameter)
            if not fired:
                fired.append(v.revision)
                _write(tmp_path / "rev", 1, EAST_AFTER)
                rep = _import(store, tmp_path / "rev")
                assert rep.revised == 1
            return v, exact

        svc.resolve = resolve_then_revise
        r = c.get("/api/state", params={"at": vid, "zoom": 9})
        assert fired == [1]
        assert r.status_code == 200, r.text
        assert r.headers["etag"].startswith(f'"{vid}.2.v')  # not revision 1's id on revision 2's content
        body = r.json()
        assert body["revision"] == 2 and _ru_east(body) == pytest.approx(EAST_AFTER)

        # Later answers: revision 2 everywhere, the old ETag no longer matches, points follow too.
        svc.resolve = real
        r = c.get("/api/state", params={"at": vid}, headers={"If-None-Match": f'"{vid}.1"'})
        assert r.status_code == 200 and r.headers["etag"].startswith(f'"{vid}.2.v')
        assert _ru_east(r.json()) == pytest.approx(EAST_AFTER)
        p = c.get("/api/points", params={"at": vid})
        assert p.headers["etag"].startswith(f'"{vid}.2.v')
        assert [v["revision"] for v in c.get("/api/versions").json()["versions"]] == [1, 2, 1]


def test_stale_version_is_refused_inside_the_snapshot(store, tmp_path):
    from frontline.web.app import StaleVersion

    with TestClient(create_app(store)) as c:
        svc = c.app.state.service
        vid = str(c.get("/api/versions").json()["versions"][1]["id"])
        v1, exact = svc.resolve(vid)
        assert exact and v1.revision == 1
        _write(tmp_path / "rev", 1, EAST_AFTER)
        assert _import(store, tmp_path / "rev").revised == 1
        with pytest.raises(StaleVersion):
            svc.state(v1)  # revision 1's key must never get revision 2's content
        v2, _ = svc.resolve(vid)
        assert v2.revision == 2
        vc, _ = svc.state(v2)
        assert vc.abroad("ru").bounds[2] == pytest.approx(EAST_AFTER)
