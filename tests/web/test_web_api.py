"""HTTP API over a generated store: listings, state over time, areas, change, errors, caching."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import frontline

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from frontline.web import create_app  # noqa: E402


@pytest.fixture(scope="module")
def app(web_store):
    return create_app(web_store)


def test_versions_listing(client, versions):
    assert len(versions) >= 3
    assert {"id", "time", "revision"} <= set(versions[0])
    times = [v["time"] for v in versions]
    assert times == sorted(times)
    r = client.get("/api/versions")
    assert r.headers["cache-control"] == "no-cache"


def test_state_differs_between_times(client, versions):
    a = client.get("/api/state", params={"at": versions[0]["id"], "zoom": 9}).json()
    b = client.get("/api/state", params={"at": versions[-1]["id"], "zoom": 9}).json()
    assert a["type"] == b["type"] == "FeatureCollection"
    assert a["version"] == versions[0]["id"] and b["version"] == versions[-1]["id"]
    props = {(f["properties"]["status"], f["properties"]["side"]) for f in a["features"]}
    assert ("held", "ru") in props
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in a["features"])
    ga = next(f["geometry"] for f in a["features"] if f["properties"]["side"] == "ru")
    gb = next(f["geometry"] for f in b["features"] if f["properties"]["side"] == "ru")
    assert ga != gb
    # no home complement is sent: every coordinate is well inside the theatre, and it is small
    assert len(str(a)) < 2_000_000


def test_state_bbox_clips_and_zoom_simplifies(client, versions):
    at = versions[-1]["id"]
    full = client.get("/api/state", params={"at": at}).json()
    coarse = client.get("/api/state", params={"at": at, "zoom": 3}).json()
    n = lambda fc: len(str(fc["features"]))  # noqa: E731
    assert n(coarse) <= n(full)
    far = client.get("/api/state", params={"at": at, "bbox": "10,10,11,11"}).json()
    assert far["features"] == []


def test_points(client, versions):
    r = client.get("/api/points", params={"at": versions[-1]["id"]})
    assert r.status_code == 200
    kinds = {f["properties"]["kind"] for f in r.json()["features"]}
    assert "direction" in kinds
    d = next(f for f in r.json()["features"] if f["properties"]["kind"] == "direction")
    assert d["geometry"]["type"] == "Point"
    assert d["properties"]["bearing"] is None or 0 <= d["properties"]["bearing"] < 360


def test_areas_rows(client, versions):
    r = client.get("/api/areas", params={"region": "home:ua"})
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert len(rows) == len(versions)
    assert all(row["ru_km2"] > 0 for row in rows)
    r = client.get("/api/areas", params={"from": versions[1]["id"], "to": versions[2]["id"]})
    assert [row["version_id"] for row in r.json()["rows"]] == [versions[1]["id"], versions[2]["id"]]
    assert client.get("/api/areas", params={"every": "week"}).status_code == 200


def test_change_gained_and_lost(client, versions):
    r = client.get("/api/change", params={"from": versions[0]["id"], "to": versions[-1]["id"]})
    assert r.status_code == 200
    body = r.json()
    changes = {(f["properties"]["side"], f["properties"]["change"]) for f in body["features"]}
    assert changes, "something changed between the first and the last version"
    assert any(c == "gained" for _, c in changes) and any(c == "lost" for _, c in changes)
    for f in body["features"]:
        assert f["properties"]["km2"] > 0
    t = body["totals"]
    for side in ("ua", "ru"):
        assert t[f"{side}_net_km2"] == pytest.approx(t[f"{side}_gained_km2"] - t[f"{side}_lost_km2"], abs=1e-2)
    same = client.get("/api/change", params={"from": versions[1]["id"], "to": versions[1]["id"]}).json()
    assert same["features"] == []


@pytest.mark.parametrize(
    "url,status,param",
    [
        ("/api/state?at=not-a-time", 400, "at"),
        ("/api/state?at=1990-01-01", 404, "at"),
        ("/api/points?at=1990-01-01", 404, "at"),
        ("/api/state?bbox=0,30,60,75", 400, "bbox"),
        ("/api/state?bbox=1,2,3", 400, "bbox"),
        ("/api/state?bbox=5,5,1,1", 400, "bbox"),
        ("/api/state?zoom=99", 400, "zoom"),
        ("/api/areas?from=2025-03-01&to=2025-01-01", 400, "from"),
        ("/api/areas?region=/etc/passwd", 400, "region"),
        ("/api/areas?convention=nope", 400, "convention"),
        ("/api/areas?every=year", 400, "every"),
        ("/api/change?from=2030-01-01&to=2026-01-01", 400, "from"),
        ("/api/change?from=xx&to=2026-01-01", 400, "from"),
    ],
)
def test_bad_parameters(client, url, status, param):
    r = client.get(url)
    assert r.status_code == status, r.text[:300]
    assert r.json()["parameter"] == param
    assert param in r.json()["detail"] or status == 404


def test_change_needs_both_ends(client):
    assert client.get("/api/change?from=2025-01-01").status_code == 422


def test_caching_headers(client, versions):
    v = versions[2]
    r = client.get("/api/state", params={"at": v["id"]})
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    # the version's revision, then the app version (an upgrade revalidates), then a digest of the query
    assert r.headers["etag"].startswith(f'"{v["id"]}.{v["revision"]}.v{frontline.__version__}')
    again = client.get("/api/state", params={"at": v["id"]}, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    # a time between versions, or none, may resolve differently later: not immutable
    assert client.get("/api/state").headers["cache-control"] == "no-cache"
    assert client.get("/api/areas").headers["cache-control"] == "no-cache"
    r = client.get("/api/points", params={"at": v["id"]})
    assert r.headers["cache-control"].endswith("immutable")


def test_borders_and_static(client):
    r = client.get("/api/borders")
    assert r.status_code == 200
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) > 3
    assert len(r.content) < 3_000_000
    assert "maplibre-gl.js" in client.get("/").text
    assert client.get("/static/app.js").status_code == 200


def test_openapi_has_paths(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/versions", "/api/state", "/api/points", "/api/areas", "/api/change", "/api/borders"):
        assert p in paths


junk = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            "latest",
            "2025-01-08",
            "2025-01-08T12:00Z",
            "1736294400",
            "home:ua",
            "0,0,1,1",
            "35,50,36,51",
            "-200,0,0,0",
            "nan,nan,nan,nan",
            "1e400",
            "2025-13-45",
            "9999999999999999999999",
            "week",
            "as_drawn",
            "theatre",
        ]
    ),
)


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=junk, zoom=junk, bbox=junk, region=junk, convention=junk, frm=junk, to=junk, every=junk)
def test_property_never_500(client, at, zoom, bbox, region, convention, frm, to, every):
    params = {k: v for k, v in {"at": at, "zoom": zoom, "bbox": bbox}.items() if v is not None}
    r = client.get("/api/state", params=params)
    assert r.status_code < 500, (params, r.text[:300])
    params = {
        k: v
        for k, v in {"region": region, "convention": convention, "from": frm, "to": to, "every": every}.items()
        if v is not None
    }
    r = client.get("/api/areas", params=params)
    assert r.status_code < 500, (params, r.text[:300])


# -- parameters a route does not take, and times that mean what users think -------------------------
def _get_routes(client):
    spec = client.get("/openapi.json").json()
    return [(p, ops) for p, ops in spec["paths"].items() if "get" in ops]


def test_unknown_parameters_are_refused_on_every_route(client):
    for path, ops in _get_routes(client):
        url = path.replace("{claim_id}", "1")
        declared = [p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"]
        r = client.get(url, params={"bogus": "1"})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        body = r.json()
        assert body["parameter"] == "bogus" and "'bogus'" in body["detail"], (path, body)
        for name in declared:  # the answer lists what the route takes
            assert name in body["detail"], (path, name, body["detail"])
    r = client.get("/api/state", params={"zom": "5", "att": "x"})
    assert r.status_code == 400
    assert "'att' (did you mean 'at'?)" in r.json()["detail"] and "'zom' (did you mean 'zoom'?)" in r.json()["detail"]
    assert client.get("/api/areas", params={"at": "2025-01-01"}).status_code == 400  # was: all rows, silently
    assert client.post("/api/claims?dry_run=1", json={}).status_code == 400
    # the page keeps its own state in its URL: not an API route, not checked
    assert client.get("/", params={"tiles": "http://x/{z}/{x}/{y}.png"}).status_code == 200


def test_the_browser_sends_only_declared_parameters(client):
    """Every ``/api/...?name=`` the UI builds (static/*.js and its modules) names parameters its route declares."""
    import re
    from pathlib import Path

    from frontline.web import app as web_app

    static = Path(web_app.__file__).parent / "static"
    js = "\n".join(p.read_text() for p in sorted(static.rglob("*.js")))
    declared = {
        p: {x["name"] for x in ops["get"].get("parameters", []) if x["in"] == "query"} for p, ops in _get_routes(client)
    }
    found = 0
    for m in re.finditer(r"""[`"'](/api/[a-z/-]+)\?([^`"']*)""", js):
        path, query = m.group(1), m.group(2)
        names = set(re.findall(r"(?:^|&)([a-z_]+)=", query))
        # parameters appended by helper functions (settlementsBox: &limit=, &bbox=)
        assert path in declared, path
        assert names <= declared[path], (path, names - declared[path])
        found += 1
    assert found >= 10
    # parameters added after the first (helpers such as settlementsBox, continued templates): declared somewhere
    code = "\n".join(line for line in js.splitlines() if not line.strip().startswith(("*", "//", "/*")))
    extras = set(re.findall(r"""[`"'}]&([a-z_]+)=""", code))
    assert {"limit", "bbox", "to"} <= extras
    assert extras <= set().union(*declared.values()), extras - set().union(*declared.values())


def test_a_time_past_the_store_is_answered_with_a_warning(client, versions):
    last = versions[-1]
    r = client.get("/api/state", params={"at": "2031-01-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == last["id"]
    assert len(body["warnings"]) == 1 and body["warnings"][0].startswith("at: 2031-01-01T23:59:59Z is after the last")
    assert last["id"] in body["warnings"][0]
    assert last["id"] in r.headers["x-frontline-warning"]
    assert body["type"] == "FeatureCollection" and body["features"]
    for url in ("/api/points", "/api/contact-line", "/api/settlements"):
        r = client.get(url, params={"at": "2031-01-01"})
        assert r.status_code == 200 and "x-frontline-warning" in r.headers, url
    # a version asked by id, the latest, or a time the same day: no warning (and the cached body is untouched)
    for params in ({"at": last["id"]}, {}, {"at": last["time"][:10]}):
        r = client.get("/api/state", params=params)
        assert "warnings" not in r.json() and "x-frontline-warning" not in r.headers, params


def test_strict_server_refuses_stale_times(client, versions):

    path = client.app.state.service.store.path
    with TestClient(create_app(path, strict=True, max_age_s=3 * 86400)) as strict:
        r = strict.get("/api/state", params={"at": "2031-01-01"})
        assert r.status_code == 404 and r.json()["parameter"] == "at"
        assert "refused" in r.json()["detail"]
        mid = int(versions[1]["id"]) + 4 * 86400  # 4 days after a version, the next one 3 days later
        r = strict.get("/api/points", params={"at": mid})
        assert r.status_code == 404 and "the limit is 3 days" in r.json()["detail"]
        assert strict.get("/api/state", params={"at": versions[1]["id"]}).status_code == 200


def test_api_ranges_by_day_and_empty_ranges(client, versions):
    v = versions[1]
    day = v["time"][:10]
    r = client.get("/api/areas", params={"from": day, "to": day})
    assert r.status_code == 200 and [row["version_id"] for row in r.json()["rows"]] == [v["id"]]
    r = client.get("/api/areas", params={"from": day})
    assert r.json()["rows"][0]["version_id"] == v["id"]  # from D includes D's versions
    nxt = versions[2]["time"][:10]
    empty = client.get("/api/areas", params={"from": f"{day}T21:00Z", "to": f"{nxt}T00:00Z"})
    assert empty.status_code == 404 and empty.json()["detail"].startswith("No version of deepstate from")
    assert v["id"] in empty.json()["detail"] and versions[2]["id"] in empty.json()["detail"]
    r = client.get("/api/change", params={"from": day, "to": day})
    assert r.status_code == 200 and (r.json()["from"], r.json()["to"]) == (versions[0]["id"], v["id"])
    r = client.get("/api/change", params={"from": f"{day}T21:00Z", "to": f"{nxt}T00:00Z"})
    assert r.status_code == 404 and "nothing changed" in r.json()["detail"]
    r = client.get("/api/areas", params={"to": "2031-01-01"})
    assert r.status_code == 200 and "after the last version" in r.json()["warnings"][0]


def test_answers_credit_the_default_source(client, versions):
    """DeepState's default attribution (never recorded in this store) in the body and, ASCII-escaped, the header."""
    from urllib.parse import unquote

    r = client.get("/api/state", params={"at": versions[-1]["id"], "zoom": 6})
    assert r.status_code == 200
    d = r.json()
    assert d["source"] == "deepstate" and d["attribution"] == "© DeepStateMAP (deepstatemap.live)"
    assert "not to be redistributed" in d["licence"]
    assert r.headers["x-frontline-source"] == "deepstate"
    assert r.headers["x-frontline-attribution"] == "%C2%A9 DeepStateMAP (deepstatemap.live)"
    assert unquote(r.headers["x-frontline-attribution"]) == d["attribution"]
    png = client.get("/api/map.png", params={"at": versions[-1]["id"], "width": 64, "height": 64})
    assert png.headers["x-frontline-source"] == "deepstate"
