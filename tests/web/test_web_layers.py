"""The web map's analysis layers in headless Debian chromium on the demo store: corridors with their width
label, settlements coloured by status, roads by exposure, settlement search flying to the place, the list
of changes. Rendered features are read back with queryRenderedFeatures (not pixels)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from webtools import SHOTS, browser_api, open_page, start_server

sync_api = browser_api()


@pytest.fixture(scope="module")
def server(demo_store):
    base, stop = start_server(demo_store.path)
    yield base
    stop()


@pytest.fixture(scope="module")
def api(server):
    def get(path):
        with urllib.request.urlopen(server + path) as r:
            return json.load(r)

    return get


PAGE_WIDTH = 1280


def open_map(page, hash_=""):
    """Load the page and wait until the version and its analysis layers are drawn."""
    open_page(page, hash_, "layers")


def rendered(page, layer):
    """Features MapLibre drew in ``layer``; a feature-state ``status`` (the settlements' status at the shown
    version) overrides the property of that name, as the layer's paint does."""
    return page.evaluate(
        "(l) => window.frontline.map.queryRenderedFeatures({layers: [l]})"
        ".map(f => ({props: {...f.properties, ...(f.state && f.state.status !== undefined"
        " ? {status: f.state.status === 'none' ? null : f.state.status} : {})}, geom: f.geometry}))",
        layer,
    )


# The settlements as the map holds them: the places of the "settlements" source with the status of their
# feature-state, and the places that changed hands ("settlement-changes", with their own properties) in
# their place.
HELD_SETTLEMENTS = """async () => {
  const m = window.frontline.map, out = new Map();
  for (const f of (await m.getSource('settlements').getData()).features) {
    const st = m.getFeatureState({source: 'settlements', id: f.id}).status;
    out.set(f.id, st === undefined ? f : {...f, properties: {...f.properties, status: st === 'none' ? null : st}});
  }
  for (const f of (await m.getSource('settlement-changes').getData()).features) out.set(f.id, f);
  return {type: 'FeatureCollection', features: [...out.values()]}; }"""


def narrowest_neck(api, version_id):
    fc = api(f"/api/corridors?at={version_id}&side=ua")
    necks = [f for f in fc["features"] if f["properties"]["kind"] == "neck"]
    assert necks, fc.get("note")
    return min(necks, key=lambda f: f["properties"]["width_m"])


def neck_view(api, version_id, zoom=11.5):
    n = narrowest_neck(api, version_id)
    (x0, y0), (x1, y1) = n["geometry"]["coordinates"][0], n["geometry"]["coordinates"][-1]
    return n, f"#t={version_id}&z={zoom}&lon={(x0 + x1) / 2:.4f}&lat={(y0 + y1) / 2:.4f}"


def test_corridor_neck_and_width_label_render(page, api):
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    neck, view = neck_view(api, vs[-1])
    open_map(page, view)
    necks = rendered(page, "necks")
    assert necks, "the neck segment is drawn"
    assert min(f["props"]["width_m"] for f in necks) == pytest.approx(neck["properties"]["width_m"], abs=0.5)
    labels = {f["props"]["label"] for f in rendered(page, "neck-labels")}
    assert neck["properties"]["label"] in labels  # e.g. "400 m", drawn at the segment's middle
    page.screenshot(path=str(SHOTS / "corridor.png"))
    # toggling the layer off removes segment and label
    page.uncheck("input[data-layer='corridors']")
    page.wait_for_timeout(300)
    assert rendered(page, "necks") == [] and rendered(page, "neck-labels") == []
    assert "corridors" not in page.evaluate("location.hash").split("layers=")[1].split("&")[0]


def test_slider_moves_the_neck_and_arrows(page, api):
    """Each version has its own neck width: stepping the slider redraws the label; arrows follow bearings."""
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    _, view = neck_view(api, vs[-1], zoom=10)
    open_map(page, view)
    last = {f["props"]["label"] for f in rendered(page, "neck-labels")}
    page.evaluate(f"window.frontline.setTime('{vs[-2]}')")
    page.wait_for_function(f"(document.body.dataset.layers || '').startsWith('{vs[-2]}:')")
    before = {f["props"]["label"] for f in rendered(page, "neck-labels")}
    want = narrowest_neck(api, vs[-2])["properties"]["label"]
    assert want in before and before != last
    # arrows of attack at the source's points, each turned to its bearing; units drawn
    arrows = rendered(page, "directions")
    assert arrows, "the demo's arrows near the salient are drawn"
    from_api = [
        (f["geometry"]["coordinates"], f["properties"]["bearing"])
        for f in api(f"/api/points?at={vs[-2]}")["features"]
        if f["properties"]["kind"] == "direction"
    ]
    for f in arrows:
        x, y = f["geom"]["coordinates"]  # tile-quantised: match the nearest arrow the API gave
        _, bearing = min(from_api, key=lambda cb: (cb[0][0] - x) ** 2 + (cb[0][1] - y) ** 2)
        assert 0 <= f["props"]["bearing"] < 360 and f["props"]["bearing"] == bearing
    assert "bearing" in json.dumps(page.evaluate("window.frontline.map.getLayoutProperty('directions', 'icon-rotate')"))
    assert rendered(page, "units"), "the demo's unit is drawn"


def test_settlements_coloured_by_status(page, api):
    fc = api("/api/settlements")
    sud = next(f for f in fc["features"] if f["properties"]["name"] == "Sudzha")
    lon, lat = sud["geometry"]["coordinates"]
    open_map(page, f"#z=9.5&lon={lon}&lat={lat}&as=ru")
    assert page.evaluate("document.getElementById('an-side').value") == "ru"  # the side comes from the URL
    shown = {f["props"]["name"]: f["props"].get("status") for f in rendered(page, "settlements")}  # null is dropped
    assert shown.get("Sudzha") == sud["properties"]["status"]
    for f in fc["features"]:
        name = f["properties"]["name"]
        if name in shown:
            assert shown[name] == f["properties"]["status"], name
    colour = page.evaluate("window.frontline.map.getPaintProperty('settlements', 'circle-color')")
    assert "ua" in json.dumps(colour) and "contested" in json.dumps(colour)
    assert any(f["props"]["name"] == "Sudzha" for f in rendered(page, "settlement-labels"))


def _status_change(api, zs):
    """Two consecutive versions and a place labelled at zoom ``zs`` whose status differs between them."""
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    for a, b in zip(vs, vs[1:]):
        before = {f["id"]: f for f in api(f"/api/settlements?at={a}&zoom={zs}&limit=5000")["features"]}
        for f in api(f"/api/settlements?at={b}&zoom={zs}&limit=5000")["features"]:
            old = before.get(f["id"])
            if old and old["properties"]["status"] != f["properties"]["status"] and f["properties"]["minzoom"] <= zs:
                return a, b, old, f
    pytest.skip("no labelled place changes hands between two versions of the demo")


def test_settlement_status_change_drawn_by_feature_state(page, api):
    """A step to a version where a labelled place changed hands: the place is drawn in its new status
    (feature-state of the places' source, which is not given new data: its tiles are not laid out again)
    and ringed and labelled in the changes' layer; a step back draws the old status again."""
    a, b, old, new = _status_change(api, 10)  # the page at z=9.5 asks for zoom 10
    lon, lat = new["geometry"]["coordinates"]
    open_map(page, f"#t={a}&z=9.5&lon={lon}&lat={lat}")

    def drawn(layer):
        return {f["props"]["id"]: f["props"] for f in rendered(page, layer)}

    assert drawn("settlements")[old["id"]].get("status") == old["properties"]["status"]
    page.evaluate(STEP, b)
    assert drawn("settlements")[new["id"]].get("status") == new["properties"]["status"]
    ring = drawn("settlement-changes")[new["id"]]
    assert ring.get("status") == new["properties"]["status"] and ring["previous"] == old["properties"]["status"]
    assert new["id"] in {f["props"]["id"] for f in rendered(page, "settlement-change-labels")}
    loaded = page.evaluate("window.frontline.timing.loaded")
    assert "settlements" not in loaded and "settlement-changes" in loaded, loaded
    page.evaluate(STEP, a)
    assert drawn("settlements")[old["id"]].get("status") == old["properties"]["status"]
    assert not page.errors, page.errors


def test_search_flies_to_settlement(page, api):
    open_map(page, "#z=6&lon=36.5&lat=49&layers=ru-held,ua-held")  # search needs no analysis layer
    page.fill("#search", "Lebedivka")
    page.wait_for_selector("#search-results button.place")
    assert "Lebedevka" in page.inner_text("#search-results")
    page.press("#search", "Enter")
    page.wait_for_function("document.body.dataset.flown === 'place:9000002'", timeout=15000)
    hit = api("/api/settlements/search?q=Lebedevka")["results"][0]
    c = page.evaluate("(() => { const c = window.frontline.map.getCenter(); return [c.lng, c.lat]; })()")
    assert c == pytest.approx([hit["lon"], hit["lat"]], abs=1e-3)
    assert page.evaluate("window.frontline.map.getZoom()") >= 11 - 1e-6


def test_changes_list_and_fly_to_advance(page, api):
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    open_map(page, "#z=6&lon=36.5&lat=49&layers=ru-held,ua-held,contested")
    page.wait_for_function(f"document.body.dataset.changes === '{vs[-1]}'")
    buttons = page.locator("#changes-list button.advance")
    assert buttons.count() >= 1
    change = api(f"/api/change?from={vs[-2]}&to={vs[-1]}&top=8")
    assert buttons.count() == len(change["advances"])
    summary = page.inner_text("#changes-sum")
    for side in ("ua", "ru"):
        assert side in summary
    first = change["advances"][0]
    assert f"{first['km2']:,.1f}".rstrip("0").rstrip(".")[:3] in buttons.first.inner_text().replace(",", ",")
    buttons.first.click()
    page.wait_for_function("document.body.dataset.flown === 'advance:0'", timeout=15000)
    c = page.evaluate("(() => { const c = window.frontline.map.getCenter(); return [c.lng, c.lat]; })()")
    x0, y0, x1, y1 = first["bbox"]
    assert x0 - 0.05 <= c[0] <= x1 + 0.05 and y0 - 0.05 <= c[1] <= y1 + 0.05
    page.screenshot(path=str(SHOTS / "changes.png"))


def test_roads_layer_coloured_by_exposure(page, api):
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    _, view = neck_view(api, vs[-1], zoom=9)
    open_map(page, view + "&layers=ua-held,contested,roads,contact&as=ua")
    page.wait_for_function("(document.body.dataset.layers || '').includes('roads')")
    h = page.evaluate("location.hash")  # the URL keeps the new layers and the analysis side
    assert "layers=ua-held,contested,contact,roads" in h and "as=ua" in h
    assert rendered(page, "contact"), "the contact line is drawn"
    assert page.evaluate("window.frontline.map.getLayoutProperty('necks','visibility')") == "none"
    roads = rendered(page, "roads")
    assert roads, "the demo road is drawn"
    api_bands = {
        f["properties"]["band"]: f["properties"]["colour"] for f in api(f"/api/roads?at={vs[-1]}&side=ua")["features"]
    }
    for f in roads:
        assert api_bands[f["props"]["band"]] == f["props"]["colour"]
    assert rendered(page, "necks") == []  # not asked for in the URL
    page.screenshot(path=str(SHOTS / "roads.png"))


STEP = """async (id) => { await window.frontline.setTime(id); await window.frontline.extras();
    return window.frontline.shown(); }"""
SOURCE_URL = {
    "state": "/api/state?at={v}&zoom={z}",
    "points": "/api/points?at={v}",
    "contact": "/api/contact-line?at={v}",
    "corridors": "/api/corridors?at={v}&side=ua",
    "settlements": "/api/settlements?at={v}&zoom={zs}&limit=5000",
}


def _signature(fc):
    """What tells one version's answer from another's: each feature's geometry and chief properties."""
    keep = ("status", "side", "kind", "id", "changed", "width_m", "bearing", "pair")

    def num(x):  # JavaScript hands 38.0 back as 38
        return [num(y) for y in x] if isinstance(x, list) else float(x) if type(x) in (int, float) else x

    return sorted(
        json.dumps(
            [f["geometry"]["type"], num(f["geometry"]["coordinates"]), {k: num(f["properties"].get(k)) for k in keep}],
            sort_keys=True,
        )
        for f in fc["features"]
        if f["properties"].get("kind") != "neck-label"
    )


def test_layers_show_the_version_after_a_step_and_a_jump(page, api):
    """After a slider step and after a jump, every shown layer's source holds the answer the API gives for
    that version (prefetched neighbours, skipped re-draws of unchanged answers and all), and the map draws it."""
    vs = [v["id"] for v in api("/api/versions")["versions"]]
    _, view = neck_view(api, vs[-1], zoom=8)
    open_map(page, view)
    z, zs = page.evaluate("[Math.ceil(window.frontline.map.getZoom()), Math.floor(window.frontline.map.getZoom()) + 1]")
    page.wait_for_timeout(1500)  # the neighbours are prefetched meanwhile
    moved = set()
    for target, prev in ((vs[-2], vs[-1]), (vs[0], vs[-2])):  # a step back, then a jump to the first version
        shown = page.evaluate(STEP, target)
        for name, url in SOURCE_URL.items():
            assert shown.get(name) == target, (name, shown)
            want = api(url.format(v=target, z=z, zs=zs))
            if name == "settlements":
                got = page.evaluate(HELD_SETTLEMENTS)
            else:
                got = page.evaluate("async (n) => await window.frontline.map.getSource(n).getData()", name)
            assert _signature(got) == _signature(want), f"{name} at {target}"
            if _signature(want) != _signature(api(url.format(v=prev, z=z, zs=zs))):
                moved.add(name)
        assert rendered(page, "ua-held"), "the ground is drawn"
        if target == vs[-2]:  # its narrowest neck is in this view (see test_slider_moves_the_neck_and_arrows)
            assert narrowest_neck(api, target)["properties"]["label"] in {
                f["props"]["label"] for f in rendered(page, "neck-labels")
            }
        assert page.evaluate("document.body.dataset.layers").startswith(target + ":")
    # the check means something: the ground, the points and the corridors differ between these versions
    assert {"state", "points", "corridors"} <= moved, moved
    assert not page.errors, page.errors
