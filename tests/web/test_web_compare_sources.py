"""Two sources over HTTP: ``/api/sources``, ``/api/compare-sources`` and its lags, on a generated pair.

The pair is the one of ``tests/test_compare.py``: both call a box ``ru``; a strip is ``ru`` in ``alpha`` and
grey (contested) in ``beta``; a village turns ``ru`` on day 1 in ``alpha`` and day 3 in ``beta``. Expected km²
are geodesic areas of those boxes (pyproj on the land of the border file), never the code's own output.
"""

from __future__ import annotations

import warnings

import pytest
import shapely
from click.testing import CliRunner
from test_compare import BASE, GAZ_ROW, STRIP, VILLAGE, VILLAGE_AT, _write_source, km2

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

from frontline.cli import main  # noqa: E402
from frontline.web import create_app  # noqa: E402


@pytest.fixture(scope="module")
def pair_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("pair")
    path = str(d / "s.gpkg")
    run = CliRunner()
    assert run.invoke(main, ["init", "--store", path]).exit_code == 0
    for name in ("alpha", "beta"):
        _write_source(d / name, name)
        r = run.invoke(main, ["import", str(d / name), "--store", path, "--source", name, "--quiet"])
        assert r.exit_code == 0, r.output
    (d / "gaz.txt").write_text(GAZ_ROW + "\n", encoding="utf-8")
    assert run.invoke(main, ["settlements", "import", str(d / "gaz.txt"), "--store", path]).exit_code == 0
    r = run.invoke(main, ["sources", "set", "beta", "--store", path, "--attribution", "Beta team", "--licence", "CC0"])
    assert r.exit_code == 0, r.output
    return path


@pytest.fixture(scope="module")
def client(pair_store):
    with TestClient(create_app(pair_store, warm=False)) as c:
        yield c


def _get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_sources_lists_both_with_attribution(client):
    d = _get(client, "/api/sources")
    rows = {r["name"]: r for r in d["sources"]}
    assert set(rows) == {"alpha", "beta"}
    assert rows["beta"]["attribution"] == "Beta team" and rows["beta"]["licence"] == "CC0"
    assert rows["beta"]["recorded"] is True and rows["alpha"]["recorded"] is False
    assert rows["alpha"]["versions"] == 5 and rows["alpha"]["first"] == "2025-03-01T12:00:00Z"


def test_compare_at_the_end_is_the_strip(client):
    d = _get(client, "/api/compare-sources", a="alpha", b="beta", at="2025-03-05")
    pairs = {(r["a"], r["b"]): r["km2"] for r in d["pairs"]}
    assert pairs[("ru", "contested")] == pytest.approx(km2(STRIP), rel=1e-3)
    assert sum(v for p, v in pairs.items() if p != ("ru", "contested")) < 1e-3
    feats = d["disagreement"]["features"]
    assert [(f["properties"]["a"], f["properties"]["b"]) for f in feats] == [("ru", "contested")]
    assert feats[0]["properties"]["km2"] == pytest.approx(km2(STRIP), rel=1e-3)
    assert d["settlements"] == []
    assert "beta: Beta team; licence: CC0" in d["attribution"]


def test_compare_while_the_village_differs(client):
    d = _get(client, "/api/compare-sources", a="alpha", b="beta", at="2025-03-02")
    pairs = {(r["a"], r["b"]): r["km2"] for r in d["pairs"]}
    assert pairs[("ru", "ua")] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert [(s["name"], s["a"], s["b"]) for s in d["settlements"]] == [("Testivka", "ru", "ua")]


def test_bbox_keeps_only_the_village(client):
    # A box around the village (36.0–36.05 E) that stops short of the strip (from 36.1 E).
    x, y = VILLAGE_AT
    d = _get(
        client,
        "/api/compare-sources",
        a="alpha",
        b="beta",
        at="2025-03-02",
        bbox=f"{x - 0.05},{y - 0.05},36.08,{y + 0.05}",
    )
    pairs = {(r["a"], r["b"]): r["km2"] for r in d["pairs"] if r["km2"] > 0}
    assert set(pairs) == {("ru", "ua")}
    assert pairs[("ru", "ua")] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert d["agreement"] == [] and d["totals"]["disagree_km2"] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert [s["name"] for s in d["settlements"]] == ["Testivka"]


def test_lags_and_histogram(client):
    d = _get(client, "/api/compare-sources/lags", a="alpha", b="beta", **{"from": "2025-03-01", "to": "2025-03-05"})
    assert [(g["lag_days"], g["first"]) for g in d["ground"]] == [(2.0, "alpha")]
    assert d["ground"][0]["a_km2"] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert d["mean_lag_days"] == 2.0
    assert d["histogram"] == [{"lag_days": 2, "count": 1}]
    assert [(s["name"], s["lag_days"]) for s in d["settlements"]] == [("Testivka", 2.0)]


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("/api/compare-sources", {"a": "alpha", "b": "gamma"}, "gamma"),
        ("/api/compare-sources", {"a": "alpha", "b": "alpha"}, "different"),
        ("/api/compare-sources", {"a": "alpha", "b": "beta", "region": "/etc/passwd"}, "region"),
        ("/api/compare-sources", {"a": "alpha", "b": "beta", "at": "yesterday"}, "at"),
        ("/api/compare-sources", {"a": "alpha", "b": "beta", "sauce": "x"}, "sauce"),
        ("/api/compare-sources/lags", {"a": "alpha", "b": "beta", "from": "2025-03-05", "to": "2025-03-01"}, "from"),
        (
            "/api/compare-sources/lags",
            {"a": "alpha", "b": "beta", "from": "2025-03-01", "to": "2025-03-05", "side": "xx"},
            "side",
        ),
    ],
)
def test_bad_requests_name_the_parameter(client, path, params, word):
    r = client.get(path, params=params)
    assert r.status_code == 400, r.text
    assert word in r.text


def test_compare_before_any_version_is_404(client):
    r = client.get("/api/compare-sources", params={"a": "alpha", "b": "beta", "at": "2024-01-01"})
    assert r.status_code == 404, r.text


def test_openapi_documents_the_routes(client):
    spec = client.get("/openapi.json").json()
    for p in ("/api/sources", "/api/compare-sources", "/api/compare-sources/lags"):
        assert p in spec["paths"], p
    names = {q["name"] for q in spec["paths"]["/api/compare-sources"]["get"]["parameters"]}
    assert {"a", "b", "at", "region", "bbox"} <= names


# --------------------------------------------------------------------------- the web-map mode, in Chromium
def test_web_map_mode_draws_hatched_disagreement_and_the_lags(pair_store):
    from webtools import browser_api, launch, new_page, open_page, start_server

    sync_api = browser_api()  # skips this test when Chromium, Playwright or MapLibre is missing
    base, stop = start_server(pair_store)
    try:
        with sync_api.sync_playwright() as p:
            b = launch(p)
            pg = new_page(b, base)
            open_page(pg, "", "version")
            # the page fills the two-maps section itself once the chart is loaded
            pg.wait_for_function("document.body.dataset.sourcesReady !== undefined", timeout=60000)
            assert pg.evaluate("document.body.dataset.sourcesReady") == "2"
            assert pg.evaluate("[...document.querySelectorAll('#src-a option')].map((o) => o.value)") == [
                "alpha",
                "beta",
            ]
            assert pg.locator("#sources-box").count() == 1
            pg.evaluate("window.frontline.map.jumpTo({center: [36.15, 48.1], zoom: 8})")
            pg.click("#src-go")
            pg.wait_for_function("document.body.dataset.sourcesCompare === 'alpha,beta'", timeout=60000)
            pg.evaluate(
                "new Promise((r) => { const m = window.frontline.map; m.once('idle', r); m.triggerRepaint();"
                " setTimeout(r, 5000); })"
            )
            hit = pg.evaluate(
                "window.frontline.map.queryRenderedFeatures({layers: ['src-diff-fill']})"
                ".map((f) => [f.properties.a, f.properties.b])"
            )
            assert hit and set(map(tuple, hit)) == {("ru", "contested")}  # the shown version: the strip only
            assert pg.evaluate("window.frontline.map.hasImage('hatch-ru')")
            out = pg.inner_text("#src-out")
            assert "contested" in out and "Beta team" in out
            # the map source carries the attribution, and the page's attribution control shows it
            attr = pg.evaluate("window.frontline.map.getSource('src-diff').attribution")
            assert "Beta team" in attr
            pg.wait_for_function("document.querySelector('.maplibregl-ctrl-attrib') !== null")
            shown = pg.evaluate("document.querySelector('.maplibregl-ctrl-attrib-inner').textContent")
            assert "Beta team" in shown, shown
            # the histogram: some dark bar pixels on the canvas (one match, lag 2 days)
            dark = pg.evaluate(
                """() => { const c = document.getElementById('src-hist');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && d[i] < 100 && d[i + 1] < 100) n++;
                return n; }"""
            )
            assert dark > 50
            assert "mean lag 2.00 days" in pg.inner_text("#src-lag")
            pg.screenshot(path=str(__import__("webtools").SHOTS / "sources.png"))
            pg.click("#src-clear")
            assert pg.evaluate("window.frontline.map.getLayer('src-diff-fill') === undefined")
            assert not pg.errors, pg.errors
            b.close()
    finally:
        stop()


# --------------------------------------------------------------------------- source= on every read route
# alpha is the store's default source (the first name: no "deepstate" here). Expected values come from the
# generated boxes (geodesic km² and km with pyproj), never from the code's own answers.
ATTRIBUTION_B = "Beta team"
V2, V4, V5 = "1740916800", "1741089600", "1741176000"  # the versions of 2025-03-02, -04 and -05 12:00 UTC


def _strip_front_km() -> float:
    """Geodesic km of the strip's west, north and south edges: where ua meets beta's grey strip."""
    from test_compare import GEOD

    x0, y0, x1, y1 = STRIP.bounds
    return (
        sum(GEOD.line_length([a, b], [c, d]) for a, c, b, d in ((x0, y0, x0, y1), (x0, y1, x1, y1), (x0, y0, x1, y0)))
        / 1e3
    )


def _of(client, path, source=None, **params):
    """The answer to ``path`` for ``source`` (None: no source parameter), checked to credit that source."""
    r = client.get(path, params=params | ({"source": source} if source else {}))
    assert r.status_code == 200, (path, source, r.text[:300])
    assert r.headers["x-frontline-source"] == (source or "alpha"), path
    if source == "beta":
        assert r.headers["x-frontline-attribution"] == ATTRIBUTION_B, path
    else:
        assert "x-frontline-attribution" not in r.headers, path  # alpha has no attribution recorded
    if r.headers["content-type"].startswith("application/json"):
        d = r.json()
        assert d["source"] == (source or "alpha"), path
        assert d["attribution"] == (ATTRIBUTION_B if source == "beta" else ""), path
        assert d["licence"] == ("CC0" if source == "beta" else ""), path
    return r


def _by_status(fc) -> dict:
    return {(f["properties"]["status"], f["properties"]["side"]): f["geometry"] for f in fc["features"]}


def test_versions_of_each_source(client):
    for src in (None, "beta"):
        d = _of(client, "/api/versions", src).json()
        assert [v["id"] for v in d["versions"]] == ["1740830400", "1740916800", "1741003200", V4, V5]


def test_state_is_the_named_sources(client):
    from shapely.geometry import shape

    alpha = _by_status(_of(client, "/api/state", at="2025-03-05").json())
    beta = _by_status(_of(client, "/api/state", "beta", at="2025-03-05").json())
    assert km2(shape(alpha[("held", "ru")])) == pytest.approx(km2(BASE.union(STRIP).union(VILLAGE)), rel=1e-3)
    assert ("contested", None) not in alpha
    assert km2(shape(beta[("held", "ru")])) == pytest.approx(km2(BASE.union(VILLAGE)), rel=1e-3)
    assert km2(shape(beta[("contested", None)])) == pytest.approx(km2(STRIP), rel=1e-3)
    # on 2025-03-02 the village is alpha's already, not yet beta's
    alpha2 = _by_status(_of(client, "/api/state", at="2025-03-02").json())
    beta2 = _by_status(_of(client, "/api/state", "beta", at="2025-03-02").json())
    assert shape(alpha2[("held", "ru")]).contains(shapely.Point(VILLAGE_AT))
    assert not shape(beta2[("held", "ru")]).contains(shapely.Point(VILLAGE_AT))


def test_cache_and_etag_keep_the_sources_apart(client):
    a = _of(client, "/api/state", at=V5)
    b = _of(client, "/api/state", "beta", at=V5)
    assert a.headers["etag"] != b.headers["etag"]  # same version id and revision, another source
    assert a.json()["features"] != b.json()["features"]
    # alpha's validator does not revalidate beta's answer, and each source's own does
    miss = client.get("/api/state", params={"at": V5, "source": "beta"}, headers={"If-None-Match": a.headers["etag"]})
    assert miss.status_code == 200 and miss.json()["features"] == b.json()["features"]
    hit = client.get("/api/state", params={"at": V5, "source": "beta"}, headers={"If-None-Match": b.headers["etag"]})
    assert hit.status_code == 304
    # asked again in turn: each source still gets its own (cached) answer
    assert _of(client, "/api/state", at=V5).json()["features"] == a.json()["features"]
    assert _of(client, "/api/state", "beta", at=V5).json()["features"] == b.json()["features"]


def test_areas_change_and_points_of_the_named_source(client):
    alpha = _of(client, "/api/areas", region="home:ua").json()["rows"]
    beta = _of(client, "/api/areas", "beta", region="home:ua").json()["rows"]
    assert alpha[-1]["contested_km2"] == 0
    assert beta[-1]["contested_km2"] == pytest.approx(km2(STRIP), rel=1e-3)
    # from 2025-03-02 to -04 the village turns ru in beta only (alpha had it already)
    ca = _of(client, "/api/change", **{"from": V2, "to": V4}).json()
    cb = _of(client, "/api/change", "beta", **{"from": V2, "to": V4}).json()
    assert ca["totals"]["ru_gained_km2"] == pytest.approx(0.0, abs=1e-3)
    assert cb["totals"]["ru_gained_km2"] == pytest.approx(km2(VILLAGE), rel=1e-3)
    assert _of(client, "/api/points", "beta", at=V5).json()["features"] == []


def test_contact_line_and_its_series_of_the_named_source(client):
    def grey_front(d) -> float:
        return next(f["properties"]["length_km"] for f in d["features"] if f["properties"]["pair"] == "ua|contested")

    assert grey_front(_of(client, "/api/contact-line", at=V5).json()) == pytest.approx(0.0, abs=1e-3)
    assert grey_front(_of(client, "/api/contact-line", "beta", at=V5).json()) == pytest.approx(
        _strip_front_km(), rel=1e-3
    )
    for path, params in (("/api/contact-line/series", {"every": "day"}), ("/api/series", {"what": "front"})):
        ra = _of(client, path, **params).json()["rows"]
        rb = _of(client, path, "beta", **params).json()["rows"]
        assert len(ra) == len(rb) == 5, path
        assert ra[-1]["length_km"]["ua|contested"] == pytest.approx(0.0, abs=1e-3), path
        assert rb[-1]["length_km"]["ua|contested"] == pytest.approx(_strip_front_km(), rel=1e-3), path


def test_corridors_roads_report_and_map_credit_the_named_source(client):
    _of(client, "/api/corridors", "beta", at=V5, side="ru")
    assert "no roads" in _of(client, "/api/roads", "beta", at=V5).json()["note"]
    ra = _of(client, "/api/report", at=V5, region="home:ua")
    rb = _of(client, "/api/report", "beta", at=V5, region="home:ua")
    assert ra.headers["etag"] != rb.headers["etag"] and rb.text.startswith("<!DOCTYPE html>")
    pa = _of(client, "/api/map.png", at=V5, width=200, height=200, bbox="35.9,47.6,37.1,48.6")
    pb = _of(client, "/api/map.png", "beta", at=V5, width=200, height=200, bbox="35.9,47.6,37.1,48.6")
    assert pb.content[:8] == b"\x89PNG\r\n\x1a\n" and pa.content != pb.content  # beta's strip is drawn grey


def test_ogc_items_of_the_named_source(client):
    from shapely.geometry import shape

    def contested(source):
        params = {"f": "json"} | ({"source": source} if source else {})
        r = client.get("/ogc/collections/control/items", params=params)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["source"] == (source or "alpha")
        feat = next(f for f in d["features"] if f["properties"]["status"] == "contested")
        one = client.get(f"/ogc/collections/control/items/{feat['id']}", params=params).json()
        assert one["source"] == (source or "alpha") and one["geometry"] == feat["geometry"]
        return feat["geometry"]

    assert contested(None) is None  # alpha calls no ground grey
    assert km2(shape(contested("beta"))) == pytest.approx(km2(STRIP), rel=1e-3)
    doc = client.get("/ogc/collections/control", params={"f": "json", "source": "beta"}).json()
    assert doc["attribution"] == ATTRIBUTION_B
    assert all("source=beta" in lk["href"] for lk in doc["links"])
    listed = client.get("/ogc/collections", params={"f": "json", "source": "beta"}).json()["collections"]
    assert next(c for c in listed if c["id"] == "control")["source"] == "beta"
    # a client that adds source= to every request (QGIS's url query string) is answered everywhere
    for path in ("/ogc", "/ogc/conformance"):
        assert client.get(path, params={"f": "json", "source": "beta"}).status_code == 200, path


SOURCE_ROUTES = [
    ("/api/versions", {}),
    ("/api/state", {}),
    ("/api/points", {}),
    ("/api/areas", {}),
    ("/api/change", {"from": V2, "to": V4}),
    ("/api/contact-line", {}),
    ("/api/corridors", {}),
    ("/api/roads", {}),
    ("/api/contact-line/series", {}),
    ("/api/series", {"what": "front"}),
    ("/api/report", {"region": "home:ua"}),
    ("/api/map.png", {}),
    ("/ogc", {}),
    ("/ogc/conformance", {}),
    ("/ogc/collections", {}),
    ("/ogc/collections/control", {}),
    ("/ogc/collections/control/items", {}),
    ("/ogc/collections/control/items/1741176000.contested", {}),
]


@pytest.mark.parametrize(("path", "params"), SOURCE_ROUTES)
def test_an_unknown_source_is_a_400_naming_it_and_the_sources(client, path, params):
    r = client.get(path, params=params | {"source": "betta"})
    assert r.status_code == 400, r.text
    d = r.json()
    assert d["parameter"] == "source"
    assert "'betta'" in d["detail"] and "'beta'?" in d["detail"] and "alpha, beta" in d["detail"]


def test_openapi_documents_source_on_every_read_route(client):
    spec = client.get("/openapi.json").json()
    for path, _ in SOURCE_ROUTES:
        template = path.replace("1741176000.contested", "{featureId}").replace("/control", "/{collectionId}")
        names = {q["name"] for q in spec["paths"][template]["get"]["parameters"]}
        assert "source" in names, template
