"""Two sources over HTTP: ``/api/sources``, ``/api/compare-sources`` and its lags, on a generated pair.

The pair is the one of ``tests/test_compare.py``: both call a box ``ru``; a strip is ``ru`` in ``alpha`` and
grey (contested) in ``beta``; a village turns ``ru`` on day 1 in ``alpha`` and day 3 in ``beta``. Expected km²
are geodesic areas of those boxes (pyproj on the land of the border file), never the code's own output.
"""

from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner
from test_compare import GAZ_ROW, STRIP, VILLAGE, VILLAGE_AT, _write_source, km2

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
