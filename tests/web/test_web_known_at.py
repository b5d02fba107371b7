"""``known_at`` in the web API: the map valid at a time as the source had published it by another.

A version is published, pulled and revised through the local replay server
(as in ``tests/test_known_at.py``); then ``/api/state`` and ``/api/areas``
with ``known_at`` before the revision give the first content, after it the
revised one, and asking both alternately never mixes their cached answers.
"""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402
from pyproj import Geod  # noqa: E402
from replay_server import api_object, feature, iso, pull_then_revise  # noqa: E402
from shapely.geometry import box, shape  # noqa: E402
from shapely.ops import unary_union  # noqa: E402

from frontline.web import create_app  # noqa: E402

V = 1_740_000_000  # the version's id and valid time (2025-02-19)
FIRST = box(31.0, 49.5, 31.2, 49.6)  # a ru-held box deep inside Ukraine, on land clear of rivers
REVISED = box(31.0, 49.4, 31.2, 49.6)  # the revision doubles it southwards
PUBLISHED, REVISED_AT = V + 600, V + 7200
BEFORE, AFTER = iso(REVISED_AT - 60), iso(REVISED_AT + 60)
CUT = 0.03  # the state is cut to land: the revised box loses a little to water (the first lies on land only)


def _km2(geom) -> float:
    """Geodesic area straight from pyproj (independent of frontline.geodesy)."""
    a, _ = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(a) / 1e6


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The app on a store that pulled version V, then its revision."""
    path = tmp_path_factory.mktemp("web_known_at") / "live.gpkg"
    pull_then_revise(
        path,
        api_object(V, [feature(FIRST, "occupied")], updated=PUBLISHED),
        api_object(V, [feature(REVISED, "occupied")], updated=REVISED_AT),
    )
    with TestClient(create_app(path)) as c:
        yield c


def _held(client, **params):
    """The ru-held ground of ``/api/state`` (one geometry) and the response."""
    r = client.get("/api/state", params={"at": iso(V + 60), **params})
    assert r.status_code == 200, r.text
    feats = [f for f in r.json()["features"] if f["properties"]["status"] == "held"]
    return unary_union([shape(f["geometry"]) for f in feats]), r


def _ru_km2(client, **params) -> float:
    """ru km² in Ukraine as drawn (the source's own polygon, no land/water cut) from ``/api/areas``."""
    q = {"region": "ukraine", "convention": "as_drawn", "to": iso(V + 60), **params}
    r = client.get("/api/areas", params=q)
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    return row["ru_km2"]


def test_state_known_at_before_and_after_the_revision(client):
    before, rb = _held(client, known_at=BEFORE)
    assert before.area == pytest.approx(FIRST.area, rel=1e-3)
    after, ra = _held(client, known_at=AFTER)
    assert after.area == pytest.approx(REVISED.area, rel=CUT)
    now, rn = _held(client)
    assert now.area == pytest.approx(REVISED.area, rel=CUT)
    assert rb.json()["revision"] == 1 and ra.json()["revision"] == 2
    # the ETag names the revision served: a past one never answers as the current one
    assert rb.headers["etag"].startswith(f'"{V}.1.v')
    assert ra.headers["etag"] == rn.headers["etag"] and ra.headers["etag"].startswith(f'"{V}.2.v')


def test_state_known_at_alternately_never_mixes_cached_answers(client):
    for _ in range(3):
        for known, geom in ((BEFORE, FIRST), (AFTER, REVISED), (None, REVISED)):
            got, _ = _held(client, **({"known_at": known} if known else {}), zoom="12")
            assert got.area == pytest.approx(geom.area, rel=CUT)


def test_state_known_at_etag_revalidates_its_own_revision(client):
    _, rb = _held(client, known_at=BEFORE)
    hit = client.get(
        "/api/state", params={"at": iso(V + 60), "known_at": BEFORE}, headers={"If-None-Match": rb.headers["etag"]}
    )
    assert hit.status_code == 304
    miss = client.get("/api/state", params={"at": iso(V + 60)}, headers={"If-None-Match": rb.headers["etag"]})
    assert miss.status_code == 200  # the current revision is not the past one the client holds


def test_areas_known_at_before_and_after_the_revision(client):
    for _ in range(2):  # alternately: each answer its own
        assert _ru_km2(client, known_at=BEFORE) == pytest.approx(_km2(FIRST), rel=1e-3)
        assert _ru_km2(client, known_at=AFTER) == pytest.approx(_km2(REVISED), rel=1e-3)
        assert _ru_km2(client) == pytest.approx(_km2(REVISED), rel=1e-3)


def test_known_at_before_first_publication_is_404(client):
    r = client.get("/api/state", params={"known_at": iso(PUBLISHED - 60)})
    assert r.status_code == 404 and "known at" in r.text


def test_known_at_not_a_time_is_400(client):
    r = client.get("/api/state", params={"known_at": "yesterday-ish"})
    assert r.status_code == 400 and "known_at" in r.text


def test_versions_and_points_take_known_at(client):
    r = client.get("/api/versions", params={"known_at": BEFORE})
    assert r.status_code == 200 and [v["revision"] for v in r.json()["versions"]] == [1]
    r = client.get("/api/points", params={"at": iso(V + 60), "known_at": BEFORE})
    assert r.status_code == 200 and r.headers["etag"].startswith(f'"{V}.1.v')


def _report_text(client, **params) -> str:
    """The text of ``/api/report`` of ru ground in Ukraine at V (tags dropped, spaces collapsed)."""
    import re

    q = {"at": iso(V + 60), "since": iso(V), "region": "ukraine", "side": "ru", **params}
    r = client.get("/api/report", params=q)
    assert r.status_code == 200, r.text[:300]
    return " ".join(re.sub(r"<[^>]+>", " ", r.text).split()), r


def test_report_and_map_take_known_at(client):
    first, rb = _report_text(client, known_at=BEFORE)
    revised, ra = _report_text(client, known_at=AFTER)
    # the area the report states is the revision's own: the first box's km², then the revised box's
    want_first, want_revised = _km2(FIRST), _km2(REVISED)
    assert f"as drawn: {want_first:,.1f} km²" in first, first[first.find("The numbers") :][:400]
    assert f"as drawn: {want_revised:,.1f} km²" in revised, revised[revised.find("The numbers") :][:400]
    assert rb.headers["etag"] != ra.headers["etag"]
    png_b = client.get("/api/map.png", params={"at": iso(V + 60), "known_at": BEFORE, "width": 200, "height": 150})
    png_a = client.get("/api/map.png", params={"at": iso(V + 60), "known_at": AFTER, "width": 200, "height": 150})
    assert png_b.status_code == png_a.status_code == 200
    assert png_b.content[:8] == b"\x89PNG\r\n\x1a\n" and png_b.content != png_a.content
    assert png_b.headers["etag"] != png_a.headers["etag"]
    assert want_revised > 1.9 * want_first  # the revision doubled the box: the two reports differ for that reason


def _ogc_held(client, **params):
    """The ru-held ground of the OGC control collection at V (one geometry) and the answer's JSON."""
    r = client.get("/ogc/collections/control/items", params={"datetime": iso(V + 60), "f": "json", **params})
    assert r.status_code == 200, r.text[:300]
    doc = r.json()
    held = [shape(f["geometry"]) for f in doc["features"] if f["properties"].get("status") == "held" and f["geometry"]]
    return unary_union(held), doc


def test_ogc_items_take_known_at(client):
    for _ in range(2):  # alternately: each answer its own
        before, doc = _ogc_held(client, known_at=BEFORE)
        assert before.area == pytest.approx(FIRST.area, rel=1e-3)
        after, _ = _ogc_held(client, known_at=AFTER)
        assert after.area == pytest.approx(REVISED.area, rel=CUT)
        now, _ = _ogc_held(client)
        assert now.area == pytest.approx(REVISED.area, rel=CUT)
    fid = doc["features"][0]["id"]
    one = client.get(f"/ogc/collections/control/items/{fid}", params={"known_at": BEFORE, "f": "json"})
    assert one.status_code == 200 and one.json()["id"] == fid
    nxt = [ln["href"] for ln in doc["links"] if ln["rel"] == "self"]
    assert nxt and "known_at" in nxt[0]  # links keep the reading the client asked for
