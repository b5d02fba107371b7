"""The state answer on the wire: the three layers simplified together (no gaps, no overlaps at any zoom),
water holes filled only where there is water, compressed answers, ETags naming app and data version, and the
service reading through the store's snapshot.

Every check reads the answer as a client would (JSON parsed with the json module, shapes by shapely) and
works out the expected values from that or from hand-made geometry, never from the code under test.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

import frontline
from frontline.web import responses
from frontline.web.geojson import MAX_ZOOM_BUCKET, fill_water_holes
from frontline.web.service import Service

ZOOMS = list(range(0, MAX_ZOOM_BUCKET))  # every bucket that is simplified


def _layers(body: bytes) -> list:
    """The (non-empty) layer geometries of a state body."""
    return [shape(f["geometry"]) for f in json.loads(body)["features"]]


def _assert_coverage(geoms: list, where: str) -> None:
    """No gap and no overlap between the layers: union area == sum of areas, pairwise intersections ~0."""
    assert geoms, where
    for g in geoms:
        assert g.is_valid, f"{where}: {shapely.is_valid_reason(g)}"
    total = sum(g.area for g in geoms)
    union = shapely.union_all(geoms).area
    assert union == pytest.approx(total, rel=1e-9), where
    for a, b in itertools.combinations(geoms, 2):
        assert a.intersection(b).area <= 1e-9 * total, where


@pytest.fixture(scope="module")
def svc(demo_store):
    return Service(demo_store.path, analyses=False)


def test_layers_stay_a_coverage_at_every_zoom_on_the_demo(svc):
    for v in svc.versions():
        for z in ZOOMS:
            geoms = _layers(svc._state_body(v, z, None))
            _assert_coverage(geoms, f"version {v.version_id} zoom {z}")


def test_simplified_layers_keep_their_area_on_the_demo(svc):
    """At zoom 9 each layer's area stays within 1 % of full detail with its lakes counted as drawn (filled)."""
    v = svc.versions()[-1]
    countries = [g for kind, g in svc.store.regions().values() if kind == "country"]
    full = {(f["properties"]["status"], f["properties"]["side"]): shape(f["geometry"]) for f in _features(svc, v, None)}
    want = {}
    for key, g in full.items():
        others = shapely.union_all([o for k, o in full.items() if k != key])
        lakes = [
            shapely.Polygon(r).area
            for p in shapely.get_parts(g)
            for r in p.interiors
            if not any(c.intersects(shapely.Polygon(r).point_on_surface()) for c in countries)
            and not shapely.Polygon(r).intersects(others)
        ]
        want[key] = g.area + sum(lakes)
    for f in _features(svc, v, 9):
        key = (f["properties"]["status"], f["properties"]["side"])
        assert shape(f["geometry"]).area == pytest.approx(want[key], rel=0.01), key


def _features(svc, v, zoom):
    return json.loads(svc._state_body(v, zoom, None))["features"]


def test_box_answer_is_a_coverage_too(svc):
    v = svc.versions()[-1]
    x0, y0, x1, y1 = shapely.union_all(_layers(svc._state_body(v, None, None))).bounds
    box = (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)
    geoms = _layers(svc._state_body(v, 8, box))
    _assert_coverage(geoms, "box")
    for g in geoms:
        assert shapely.box(*box).buffer(1e-4).covers(g)  # cut to the box, written on a 1e-4° grid at zoom 8


@pytest.mark.skipif(not os.environ.get("FRONTLINE_TRUTH_STORE"), reason="needs FRONTLINE_TRUTH_STORE (real archive)")
def test_layers_stay_a_coverage_on_a_real_version():
    store = Path(os.environ["FRONTLINE_TRUTH_STORE"])
    real = Service(store, analyses=False)
    v = real.resolve("2025-03-06")[0]
    for z in ZOOMS:
        _assert_coverage(_layers(real._state_body(v, z, None)), f"real {v.version_id} zoom {z}")


def test_fill_water_holes_fills_water_only():
    """A lake hole is filled; a hole on land (an enclave) and a lake holding another layer's island are kept."""
    land = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    land2 = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(6, 6), (8, 6), (8, 8), (6, 8)]])
    lake = [(1, 1), (3, 1), (3, 3), (1, 3)]  # water: a hole of the land
    enclave = [(5, 1), (6, 1), (6, 2), (5, 2)]  # on land: another side's home ground
    lake2 = [(6, 6), (8, 6), (8, 8), (6, 8)]  # water, with an island of the second layer in it
    held = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [lake, enclave, lake2])
    island = shapely.box(6.5, 6.5, 7.5, 7.5)
    tree = shapely.STRtree(shapely.get_parts(shapely.intersection(land, land2)))
    filled, other = fill_water_holes([held, island], tree)
    assert filled.area == pytest.approx(100 - 1 - 4)  # the 4 km² lake filled: enclave (1) and lake2 (4) kept
    assert other.equals(island)
    assert fill_water_holes([held], None)[0].equals(held)  # no land known: every hole kept


def test_state_drawn_over_water_has_no_holes_there(svc):
    """Where the answer fills a hole, the hole's point is on no country: the page draws water over it."""
    v = svc.versions()[-1]
    countries = [g for kind, g in svc.store.regions().values() if kind == "country"]
    full = _layers(svc._state_body(v, None, None))
    drawn = shapely.union_all(_layers(svc._state_body(v, 9, None)))
    for g in full:
        for p in shapely.get_parts(g):
            for ring in p.interiors:
                hole = shapely.Polygon(ring)
                pt = hole.point_on_surface()
                on_land = any(c.intersects(pt) for c in countries)
                if not on_land and hole.area > 1e-4:  # a lake a pixel or more across at zoom 9
                    assert drawn.covers(pt), "a lake hole left in the drawn held ground"


# -- HTTP: compression, ETags ---------------------------------------------------
@pytest.fixture(scope="module")
def raw(app):
    """A client that asks for the codings itself (``headers``) and reads the bytes as sent."""
    with TestClient(app) as c:
        yield c


def _get(client, url, params=None, **headers):
    return client.get(url, params=params, headers=headers)


def test_state_gzip_and_brotli_carry_the_same_json(raw, versions):
    v = versions[-1]["id"]
    plain = _get(raw, "/api/state", {"at": v, "zoom": 7}, **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    for coding in ("gzip", "br"):
        r = _get(raw, "/api/state", {"at": v, "zoom": 7}, **{"Accept-Encoding": coding})
        assert r.headers["content-encoding"] == coding and r.headers["vary"] == "Accept-Encoding"
        assert r.json() == plain.json()  # decoded by the client
        assert int(r.headers["content-length"]) < len(plain.content) / 2
        assert r.headers["etag"] == plain.headers["etag"][:-1] + f'-{coding}"'


def test_gzip_bytes_are_real_gzip(demo_store, versions):
    import urllib.request

    from webtools import start_server

    base, stop = start_server(demo_store.path)  # a real server and urllib (which never decodes): wire bytes
    try:
        req = urllib.request.Request(f"{base}/api/state?at={versions[-1]['id']}&zoom=8")
        req.add_header("Accept-Encoding", "gzip")
        with urllib.request.urlopen(req) as r:
            wire = r.read()
            assert r.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(wire))["type"] == "FeatureCollection"
    finally:
        stop()


def test_cached_state_is_compressed_once(app, versions):
    svc = app.state.service
    v = svc.resolve(versions[-1]["id"])[0]
    body = svc.state_body(v, 9)
    first = responses.encoded(body, "gzip")
    assert responses.encoded(body, "gzip") is first  # kept with the cached body, not made again
    assert gzip.decompress(first) == body


def test_etag_names_app_and_data_version_and_parameters(raw, versions):
    v = versions[-1]
    r6 = _get(raw, "/api/state", {"at": v["id"], "zoom": 6}, **{"Accept-Encoding": "identity"})
    r9 = _get(raw, "/api/state", {"at": v["id"], "zoom": 9}, **{"Accept-Encoding": "identity"})
    e6, e9 = r6.headers["etag"], r9.headers["etag"]
    assert e6.startswith(f'"{v["id"]}.{v["revision"]}.v{frontline.__version__}')
    assert e6 != e9  # the zoom shapes the body
    # revalidation: the identity tag, the gzip tag, weak, in a list: all 304
    for inm in (e6, e6[:-1] + '-gzip"', "W/" + e6, f'"nope", {e6}'):
        again = _get(raw, "/api/state", {"at": v["id"], "zoom": 6}, **{"If-None-Match": inm})
        assert again.status_code == 304, inm
        assert again.headers["etag"].startswith(e6[:-1])
    # another zoom's tag is not this answer's
    assert _get(raw, "/api/state", {"at": v["id"], "zoom": 6}, **{"If-None-Match": e9}).status_code == 200


def test_etag_of_another_app_version_does_not_match(raw, versions, monkeypatch):
    v = versions[-1]
    old = _get(raw, "/api/state", {"at": v["id"]}).headers["etag"]
    monkeypatch.setattr(responses, "APP_VERSION", frontline.__version__ + "-next")
    r = _get(raw, "/api/state", {"at": v["id"]}, **{"If-None-Match": old})
    assert r.status_code == 200 and r.headers["etag"] != old
    assert "-next" in r.headers["etag"]


def test_every_versioned_route_revalidates(raw, versions):
    v = versions[-1]["id"]
    urls = [
        ("/api/state", {"at": v}),
        ("/api/points", {"at": v}),
        ("/api/corridors", {"at": v}),
        ("/api/contact-line", {"at": v}),
        ("/api/settlements", {"at": v}),
        ("/api/roads", {"at": v}),
        ("/api/change", {"from": versions[-2]["id"], "to": v}),
        ("/api/change", {"from": versions[-2]["id"], "to": v, "top": 3}),
    ]
    tags = []
    for url, params in urls:
        r = _get(raw, url, params)
        assert r.status_code == 200, (url, r.text[:200])
        etag = r.headers["etag"]
        assert f".v{frontline.__version__}" in etag, url
        tags.append(etag)
        again = _get(raw, url, params, **{"If-None-Match": etag})
        assert again.status_code == 304, url
    assert tags[-1] != tags[-2]  # top=3 and top=5 are different answers of one route
    assert f'"{versions[-2]["id"]}.' in tags[-1] and f"-{v}." in tags[-1]  # both versions named


def test_borders_have_water_and_are_compressed(raw):
    r = _get(raw, "/api/borders", **{"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    kinds = [f["properties"]["kind"] for f in r.json()["features"]]
    assert "country" in kinds and "water" in kinds
    for f in r.json()["features"]:
        if f["properties"]["kind"] == "water":
            assert shape(f["geometry"]).area >= 1e-3 * 0.5  # lakes of about 7 km² and more (simplified)
    assert _get(raw, "/api/borders", **{"If-None-Match": r.headers["etag"]}).status_code == 304


def test_legacy_answer_is_hidden_and_per_layer(raw, versions):
    v = versions[-1]["id"]
    assert "_legacy" not in json.dumps(raw.get("/openapi.json").json()["paths"]["/api/state"])
    old = _get(raw, "/api/state", {"at": v, "zoom": 7, "_legacy": 1}).json()
    new = _get(raw, "/api/state", {"at": v, "zoom": 7}).json()
    key = lambda f: (f["properties"]["status"], f["properties"]["side"])  # noqa: E731
    assert sorted(map(key, old["features"]), key=str) == sorted(map(key, new["features"]), key=str)


def test_small_answers_go_uncompressed(raw):
    r = _get(raw, "/api/versions", **{"Accept-Encoding": "gzip"})
    if len(r.content) < responses.MIN_COMPRESS:
        assert "content-encoding" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding"


def test_read_uses_the_store_snapshot(svc):
    """``Service.read`` holds one read snapshot of the store, and nested reads join it."""
    with svc.read():
        assert svc.store.db.in_transaction
        with svc.read():
            assert svc.store.db.in_transaction
            svc.versions()
        assert svc.store.db.in_transaction
    assert not svc.store.db.in_transaction
