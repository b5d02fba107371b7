"""HTTP API for the analyses on the demo store: settlements and search, corridors, roads, contact line,
changes and advances, write-token semantics. Expected numbers come from the demo's own construction
(its raw DeepState-shaped polygons, its gazetteer and road files) and shapely, not from the API."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

import frontline

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi import Request  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from frontline import geodesy  # noqa: E402
from frontline.web import create_app  # noqa: E402
from frontline.web.app import require_write  # noqa: E402


@pytest.fixture(scope="module")
def demo_input(demo_store):
    folder = Path(demo_store.path).parent / (Path(demo_store.path).stem + "-input")
    assert folder.is_dir(), f"the demo store's input folder is missing: {folder}"
    return folder


def _raw_version(demo_input, version_id):
    """The demo's own snapshot of a version (what was imported), as shapely geometries by class."""
    obj = json.loads((demo_input / "versions" / f"{version_id}.json").read_text(encoding="utf-8"))
    out = {"grey": [], "liberated": [], "occupied": []}
    for f in obj["map"]["features"]:
        name = f["properties"]["name"]
        g = shapely.force_2d(shape(f["geometry"]))
        if "status.unknown" in name:
            out["grey"].append(g)
        elif "status.dismissed" in name and "dismissed_at" not in name:
            out["liberated"].append(g)
        elif "status.occupied" in name or "territories.crimea" in name:
            out["occupied"].append(g)
    return {k: shapely.union_all(v) if v else shapely.Polygon() for k, v in out.items()}


def _gazetteer_rows(demo_input):
    rows = {}
    for line in (demo_input / "settlements.txt").read_text(encoding="utf-8").splitlines():
        c = line.split("\t")
        rows[int(c[0])] = {"name": c[1], "alternates": c[3].split(","), "lat": float(c[4]), "lon": float(c[5])}
    return rows


def _expected_status(pt, raw, homes):
    """The partition rule by hand: grey first, then ground drawn held abroad, else the home's side."""
    if raw["grey"].intersects(pt) and (homes["ua"].contains(pt) or homes["ru"].contains(pt)):
        return "contested"
    if homes["ru"].contains(pt):
        return "ua" if raw["liberated"].contains(pt) else "ru"
    if homes["ua"].contains(pt):
        return "ru" if raw["occupied"].contains(pt) else "ua"
    return None


# --------------------------------------------------------------------------- settlements
def test_settlement_status_matches_point_in_polygon(client, versions, demo_store, demo_input):
    rows = _gazetteer_rows(demo_input)
    homes = {s: demo_store.regions()[f"home:{s}"][1] for s in ("ua", "ru")}
    seen = set()
    for v in (versions[0], versions[-1]):
        r = client.get("/api/settlements", params={"at": v["id"]})
        assert r.status_code == 200, r.text[:300]
        fc = r.json()
        assert fc["version"] == v["id"]
        assert len(fc["features"]) == len(rows)
        raw = _raw_version(demo_input, v["id"])
        for f in fc["features"]:
            p = f["properties"]
            row = rows[p["id"]]
            assert f["geometry"]["coordinates"] == pytest.approx([row["lon"], row["lat"]], abs=1e-5)
            want = _expected_status(Point(row["lon"], row["lat"]), raw, homes)
            assert p["status"] == want, (v["id"], p["name"], p["status"], want)
            seen.add(want)
    assert {"ua", "ru"} <= seen, "the demo puts settlements on both sides"


def test_settlements_bbox_and_limit(client, demo_input):
    rows = _gazetteer_rows(demo_input)
    sud = rows[9000001]
    box = f"{sud['lon'] - 0.01},{sud['lat'] - 0.01},{sud['lon'] + 0.01},{sud['lat'] + 0.01}"
    fc = client.get("/api/settlements", params={"bbox": box}).json()
    assert [f["properties"]["name"] for f in fc["features"]] == ["Sudzha"]
    fc = client.get("/api/settlements", params={"limit": 2}).json()
    assert len(fc["features"]) == 2 and fc["truncated"] is True and "2" in fc["note"]
    assert client.get("/api/settlements", params={"bbox": "10,10,11,11"}).json()["features"] == []


@pytest.mark.parametrize("query", ["Lebedivka", "Лебедівка", "lebedevka", "Lebedevka"])
def test_search_transliteration(client, demo_input, query):
    row = _gazetteer_rows(demo_input)[9000002]
    r = client.get("/api/settlements/search", params={"q": query})
    assert r.status_code == 200
    best = r.json()["results"][0]
    assert best["id"] == 9000002 and best["name"] == row["name"] == "Lebedevka"
    assert (best["lon"], best["lat"]) == pytest.approx((row["lon"], row["lat"]), abs=1e-5)


def test_search_unknown_and_empty(client):
    assert client.get("/api/settlements/search", params={"q": "Zzyzx Qwerty"}).json()["results"] == []
    r = client.get("/api/settlements/search", params={"q": "   "})
    assert r.status_code == 400 and r.json()["parameter"] == "q"


def test_no_reference_layers_answers_a_note(tmp_path, demo_store):
    """A store without settlements/roads: empty collections with a note, not errors."""
    import sqlite3

    copy = tmp_path / "bare.gpkg"
    dst = sqlite3.connect(copy)
    demo_store.db.backup(dst)  # a consistent copy, WAL included
    dst.execute("DELETE FROM meta WHERE key LIKE 'reference:%'")
    for t in ("settlements", "roads"):
        dst.execute(f"DROP TABLE IF EXISTS {t}")
    dst.commit()
    dst.close()
    with TestClient(create_app(copy)) as c:
        for url in ("/api/settlements", "/api/settlements/search?q=Sudzha", "/api/roads"):
            r = c.get(url)
            assert r.status_code == 200, (url, r.text[:300])
            body = r.json()
            items = body["results"] if "results" in body else body["features"]
            assert items == [] and "holds no" in body["note"], (url, body)


# --------------------------------------------------------------------------- corridors
def test_corridor_width_is_the_demo_neck(client, versions):
    """The demo squeezes a corridor strip to a known width each week; the API finds that neck."""
    from frontline import demo

    n = len(versions)
    for k in (n - 2, n - 1):
        want = demo.neck_width_m(k, n)
        fc = client.get("/api/corridors", params={"at": versions[k]["id"], "side": "ua"}).json()
        necks = [f for f in fc["features"] if f["properties"]["kind"] == "neck"]
        assert necks, fc.get("note")
        w = min(f["properties"]["width_m"] for f in necks)
        assert w == pytest.approx(want, abs=max(20.0, 0.01 * want)), (k, w, want)
        neck = min(necks, key=lambda f: f["properties"]["width_m"])
        seg = shape(neck["geometry"])
        assert geodesy.length_m(seg) == pytest.approx(w, rel=0.01)  # the drawn segment is the width
        assert neck["properties"]["label"] == f"{w:,.0f} m"
    last = client.get("/api/corridors", params={"at": versions[-1]["id"]}).json()
    assert any(f["properties"].get("below_threshold") for f in last["features"] if f["properties"]["kind"] == "neck")


def test_corridor_segment_crosses_the_salient(client, versions, demo_input):
    """The neck segment runs bank to bank: its middle is inside the drawn salient, its ends on its edge."""
    v = versions[-1]
    raw = _raw_version(demo_input, v["id"])
    fc = client.get("/api/corridors", params={"at": v["id"]}).json()
    neck = min(
        (f for f in fc["features"] if f["properties"]["kind"] == "neck"), key=lambda f: f["properties"]["width_m"]
    )
    seg = shape(neck["geometry"])
    assert raw["liberated"].contains(seg.interpolate(0.5, normalized=True))
    edge = raw["liberated"].boundary
    for end in (Point(seg.coords[0]), Point(seg.coords[-1])):
        assert shapely.distance(end, edge) < 2e-4  # ≈ 15 m


def test_corridors_side_without_ground_abroad(client, versions):
    r = client.get("/api/corridors", params={"at": versions[-1]["id"], "side": "ru", "ground": "abroad"})
    assert r.status_code == 200
    for f in r.json()["features"]:
        assert f["properties"]["kind"] in ("neck", "pocket")


# --------------------------------------------------------------------------- roads
def test_road_exposure_inside_length(client, versions, demo_store, demo_input):
    """Road length inside enemy-held or grey ground equals the road cut by the raw drawing (±2 %)."""
    v = versions[-1]
    fc = client.get("/api/roads", params={"at": v["id"], "side": "ua"}).json()
    assert fc["features"], fc.get("note")
    inside = sum(geodesy.length_m(shape(f["geometry"])) for f in fc["features"] if f["properties"]["band"] == "inside")
    road = shapely.union_all(
        [shape(f["geometry"]) for f in json.loads((demo_input / "roads.geojson").read_text())["features"]]
    )
    raw = _raw_version(demo_input, v["id"])
    home_ru = demo_store.regions()["home:ru"][1]
    enemy = shapely.union(shapely.difference(home_ru, raw["liberated"]), shapely.intersection(raw["grey"], home_ru))
    want = geodesy.length_m(shapely.intersection(road, enemy))
    assert want > 1000
    assert inside == pytest.approx(want, rel=0.02, abs=150)
    colours = {f["properties"]["band"]: f["properties"]["colour"] for f in fc["features"]}
    assert all(c.startswith("#") for c in colours.values())


# --------------------------------------------------------------------------- contact line, change
def test_contact_line_lies_on_the_front(client, versions, demo_input):
    v = versions[-1]
    fc = client.get("/api/contact-line", params={"at": v["id"]}).json()
    assert not fc.get("note"), fc["note"]  # the demo has a front: a note (nothing to work on) is a failure
    lines = [shape(f["geometry"]) for f in fc["features"]]
    assert lines and all(g.geom_type in ("LineString", "MultiLineString") for g in lines)
    raw = _raw_version(demo_input, v["id"])
    front = shapely.union_all([raw["grey"].boundary, raw["liberated"].boundary, raw["occupied"].boundary])
    pts = shapely.points(np.vstack([shapely.get_coordinates(g) for g in lines]))
    assert np.median(shapely.distance(front, pts)) < 1e-3  # drawn edges, not somewhere else


def test_change_advances(client, versions):
    r = client.get("/api/change", params={"from": versions[0]["id"], "to": versions[-1]["id"], "top": 3})
    body = r.json()
    adv = body["advances"]
    assert 1 <= len(adv) <= 3
    assert [a["km2"] for a in adv] == sorted((a["km2"] for a in adv), reverse=True)
    gained = {}
    for f in body["features"]:
        if f["properties"]["change"] == "gained":
            gained.setdefault(f["properties"]["side"], []).append(shape(f["geometry"]))
    for a in adv:
        assert a["km2"] <= body["totals"][f"{a['side']}_gained_km2"] + 1e-6
        d = min(shapely.distance(g, Point(a["location"])) for g in gained[a["side"]])
        assert d < 0.01  # at the advance (centroid of a piece)
    sums = {}
    for f in body["features"]:
        key = (f["properties"]["side"], f["properties"]["change"])
        sums[key] = sums.get(key, 0.0) + f["properties"]["km2"]
    for side in ("ua", "ru"):
        assert sums.get((side, "gained"), 0.0) == pytest.approx(body["totals"][f"{side}_gained_km2"], abs=0.01)


def test_analysis_caching(client, versions):
    v = versions[-1]
    for url in ("/api/corridors", "/api/settlements", "/api/roads", "/api/contact-line"):
        r = client.get(url, params={"at": v["id"]})
        assert r.headers["cache-control"].endswith("immutable"), url
        assert r.headers["etag"].startswith(f'"{v["id"]}.{v["revision"]}.v{frontline.__version__}'), url
        again = client.get(url, params={"at": v["id"]}, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304, url


@pytest.mark.parametrize(
    "url,status,param",
    [
        ("/api/corridors?side=xx", 400, "side"),
        ("/api/corridors?ground=everything", 400, "ground"),
        ("/api/corridors?alert_width_m=-5", 422, "alert_width_m"),
        ("/api/roads?side=nobody", 400, "side"),
        ("/api/contact-line?sides=ua,mars", 400, "sides"),
        ("/api/settlements?bbox=0,30,60,75", 400, "bbox"),
        ("/api/settlements?limit=0", 422, "limit"),
        ("/api/settlements?at=1990-01-01", 404, "at"),
        ("/api/settlements/search", 422, "q"),
        ("/api/change?from=2025-01-01&to=2026-01-01&top=999", 422, "top"),
    ],
)
def test_bad_parameters(client, url, status, param):
    r = client.get(url)
    assert r.status_code == status, r.text[:300]
    assert r.json()["parameter"] == param and r.json()["detail"]


junk = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(-(10**9), 10**9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            "latest",
            "ua",
            "ru",
            "contested",
            "abroad",
            "held",
            "true",
            "0",
            "-1",
            "2025-01-20",
            "35,51,36,52",
            "0,0,0,0",
            "Суджа",
            "1e400",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=junk, side=junk, ground=junk, bbox=junk, limit=junk, q=junk, sides=junk)
def test_property_analysis_never_500(client, at, side, ground, bbox, limit, q, sides):
    calls = [
        ("/api/corridors", {"at": at, "side": side, "ground": ground}),
        ("/api/roads", {"at": at, "side": side}),
        ("/api/contact-line", {"at": at, "sides": sides}),
        ("/api/settlements", {"at": at, "bbox": bbox, "limit": limit}),
        ("/api/settlements/search", {"q": q, "limit": limit}),
    ]
    for url, params in calls:
        params = {k: v for k, v in params.items() if v is not None}
        r = client.get(url, params=params)
        assert r.status_code < 500, (url, params, r.text[:300])
        if r.status_code >= 400:
            assert r.json().get("detail"), (url, params, r.text[:300])


def test_openapi_lists_new_paths(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/settlements", "/api/settlements/search", "/api/corridors", "/api/roads", "/api/contact-line"):
        assert p in paths


# --------------------------------------------------------------------------- writes
def test_write_token_semantics(demo_store):
    token = "s3cret-token-0123456789"
    for tok in (None, token):
        a = create_app(demo_store.path, write_token=tok)

        @a.post("/api/_probe_write")
        def probe(request: Request):
            require_write(request)
            return {"ok": True}

        with TestClient(a) as c:
            r = c.post("/api/_probe_write")
            assert r.status_code == (403 if tok is None else 401), r.text
            assert "token" in r.json()["detail"]
            if tok:
                assert c.post("/api/_probe_write", headers={"Authorization": "Bearer wrong"}).status_code == 401
                assert c.post("/api/_probe_write", headers={"Authorization": f"Bearer {token}"}).json() == {"ok": True}
            # reads never need it
            assert c.get("/api/versions").status_code == 200


def test_serve_token_sources(tmp_path, monkeypatch):
    import click
    from click.testing import CliRunner

    from frontline.cli.serve import read_token, serve

    f = tmp_path / "token"
    f.write_text("abcdefghijklmnopqrstuvwxyz\n")
    assert read_token(str(f)) == "abcdefghijklmnopqrstuvwxyz"
    monkeypatch.delenv("FRONTLINE_WRITE_TOKEN", raising=False)
    assert read_token(None) is None
    monkeypatch.setenv("FRONTLINE_WRITE_TOKEN", "0123456789abcdefXYZ")
    assert read_token(None) == "0123456789abcdefXYZ"
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(ValueError, match="short|at least 16"):
        read_token(str(short))
    with pytest.raises(ValueError, match="cannot read"):
        read_token(str(tmp_path / "missing"))
    assert isinstance(serve, click.Command)
    out = CliRunner().invoke(serve, ["--help"]).output
    assert "--token-file" in out and "read-only" in out
