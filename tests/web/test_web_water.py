"""Lakes drawn as water on the web map (headless Debian chromium, demo store): the land outline's lakes
come from ``/api/borders`` as ``water`` features and are painted over the held ground in the sea's colour,
not left as holes of the land's colour. Rendered features are read back with queryRenderedFeatures and
the style with getStyle (not pixels)."""

from __future__ import annotations

import json
import urllib.request

import pytest
import shapely
from shapely.geometry import shape
from webtools import SHOTS, browser_api, open_page, start_server

sync_api = browser_api()


@pytest.fixture(scope="module")
def server(demo_store):
    base, stop = start_server(demo_store.path)
    yield base
    stop()


def _get(server, path):
    with urllib.request.urlopen(server + path) as r:
        return json.load(r)


def _largest_lake(server):
    """The largest lake of the land outline (a polygon of a ``water`` feature) and a point inside it."""
    lakes = [
        p
        for f in _get(server, "/api/borders")["features"]
        if f["properties"]["kind"] == "water"
        for p in shapely.get_parts(shape(f["geometry"]))
    ]
    assert lakes, "the borders answer has no lakes"
    lake = max(lakes, key=lambda p: p.area)
    return lake, lake.point_on_surface()


def test_water_is_drawn_over_the_held_ground(page, server):
    vs = [v["id"] for v in _get(server, "/api/versions")["versions"]]
    lake, pt = _largest_lake(server)
    open_page(page, f"#t={vs[-1]}&z=9&lon={pt.x:.4f}&lat={pt.y:.4f}")
    page.wait_for_function("window.frontline.map.loaded()")
    style = page.evaluate("window.frontline.map.getStyle()")
    ids = [layer["id"] for layer in style["layers"]]
    assert "water" in ids
    for held in ("ru-held", "ua-held", "contested"):
        assert ids.index("water") > ids.index(held), f"water must be drawn over {held}"
    water = style["layers"][ids.index("water")]
    background = style["layers"][ids.index("background")]
    assert water["paint"]["fill-color"] == background["paint"]["background-color"]  # water looks like the sea
    # the lake is rendered at its point; the land fill is not (outline layers leave the water out)
    at = page.evaluate(
        "([lon, lat]) => { const m = window.frontline.map, p = m.project([lon, lat]);"
        " return m.queryRenderedFeatures(p).map(f => [f.layer.id, f.properties.kind]); }",
        [pt.x, pt.y],
    )
    layers_at = [layer for layer, _ in at]
    assert "water" in layers_at, at
    assert [k for layer, k in at if layer in ("land", "borders")] in ([], ["country"], ["country", "country"])
    page.screenshot(path=str(SHOTS / "water.png"))
    assert not page.errors, page.errors


def test_lake_outlines_are_not_drawn_as_borders(page, server):
    """The ``borders`` line layer and the ``land`` fill take countries only: a lake is not a border."""
    open_page(page)
    style = page.evaluate("window.frontline.map.getStyle()")
    by_id = {layer["id"]: layer for layer in style["layers"]}
    for lid in ("land", "borders"):
        assert by_id[lid]["filter"] == ["!=", ["get", "kind"], "water"], lid
    assert by_id["water"]["filter"] == ["==", ["get", "kind"], "water"]
