"""The web map in headless Debian chromium (Playwright, no browser download)."""

from __future__ import annotations

import pytest
from webtools import SHOTS, browser_api, open_page, start_server

sync_api = browser_api()


@pytest.fixture(scope="module")
def server(web_store):
    base, stop = start_server(web_store)
    yield base
    stop()


def _open(page, hash_=""):
    open_page(page, hash_, "version")


def _rendered(page, layer):
    return page.evaluate(
        """(layer) => {
        const fs = window.frontline.map.queryRenderedFeatures({layers: [layer]});
        let b = [180, 90, -180, -90];
        for (const f of fs) {
            const walk = (c) => typeof c[0] === 'number'
                ? (b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])])
                : c.forEach(walk);
            walk(f.geometry.coordinates);
        }
        return {n: fs.length, bounds: b};
    }""",
        layer,
    )


def _versions(page):
    return page.evaluate("window.frontline.versions().map(v => v.id)")


def test_map_renders_held_polygons(page):
    _open(page)
    r = _rendered(page, "ru-held")
    assert r["n"] > 0
    page.screenshot(path=str(SHOTS / "map.png"))


def test_slider_changes_rendered_state(page):
    _open(page, "#z=7.5&lon=37.8&lat=48.1")
    vs = _versions(page)
    last = _rendered(page, "ru-held")
    assert page.evaluate("document.body.dataset.version") == vs[-1]
    page.evaluate(f"window.frontline.setTime('{vs[0]}')")
    assert page.evaluate("document.body.dataset.version") == vs[0]
    first = _rendered(page, "ru-held")
    assert first != last
    # slider input and keyboard step too
    page.fill("#slider", "1")
    page.wait_for_function(f"document.body.dataset.version === '{vs[1]}'")
    page.click("#map")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.body.dataset.version === '{vs[2]}'")
    page.screenshot(path=str(SHOTS / "slider.png"))


def test_toggle_hides_layer(page):
    _open(page)
    assert _rendered(page, "ru-held")["n"] > 0
    page.uncheck("input[data-layer='ru-held']")
    assert page.evaluate("window.frontline.map.getLayoutProperty('ru-held','visibility')") == "none"
    page.wait_for_timeout(300)
    assert _rendered(page, "ru-held")["n"] == 0
    assert "layers=" in page.evaluate("location.hash") and "ru-held" not in page.evaluate("location.hash")


def test_chart_click_jumps(page):
    _open(page)
    vs = _versions(page)
    assert page.evaluate("document.body.dataset.version") == vs[-1]
    page.locator("#chart").scroll_into_view_if_needed()
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)
    page.wait_for_function(f"document.body.dataset.version === '{vs[0]}'")
    page.screenshot(path=str(SHOTS / "chart.png"))


def test_chart_shows_the_front_length(page):
    """Switching the chart to the front line draws a series in km, and a click on it still jumps in time."""
    _open(page)
    vs = _versions(page)
    page.select_option("#chart-what", "front")
    page.wait_for_function(
        "document.querySelector('#chart text') && document.querySelector('#chart text').textContent.endsWith(' km')",
        timeout=60_000,
    )
    assert page.locator("#chart path.area").count() == 1
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + 3, box["y"] + box["height"] / 2)
    page.wait_for_function(f"document.body.dataset.version !== '{vs[-1]}'")
    page.screenshot(path=str(SHOTS / "chart-front.png"))


def test_hash_reproduces_view(page):
    import json
    import urllib.request

    with urllib.request.urlopen(page.base + "/api/versions") as r:  # a fresh load, not a hash change
        vs = [v["id"] for v in json.load(r)["versions"]]
    url = f"#t={vs[1]}&z=8.00&lon=35.3000&lat=51.2000&layers=ru-held,ua-held"
    page.goto(page.base + "/" + url)
    page.wait_for_function("window.frontline !== undefined")
    page.evaluate("window.frontline.ready")
    assert page.evaluate("document.body.dataset.version") == vs[1]
    z, lon, lat = page.evaluate(
        "(() => {const m = window.frontline.map, c = m.getCenter(); return [m.getZoom(), c.lng, c.lat];})()"
    )
    assert (
        z == pytest.approx(8, abs=0.01)
        and lon == pytest.approx(35.3, abs=1e-3)
        and lat == pytest.approx(51.2, abs=1e-3)
    )
    assert page.evaluate("window.frontline.map.getLayoutProperty('contested','visibility')") == "none"
    page.screenshot(path=str(SHOTS / "hash.png"))


def test_compare_draws_gain_and_loss(page):
    _open(page, "#z=6.5&lon=36.5&lat=49.5")
    vs = _versions(page)
    page.select_option("#cmp-a", vs[0])
    page.select_option("#cmp-b", vs[-1])
    page.select_option("#cmp-side", "ru")
    page.click("#cmp-go")
    page.wait_for_function(f"document.body.dataset.compare === '{vs[0]},{vs[-1]}'")
    gain, loss = _rendered(page, "cmp-gain"), _rendered(page, "cmp-loss")
    assert gain["n"] + loss["n"] > 0
    assert f"cmp={vs[0]},{vs[-1]}" in page.evaluate("location.hash")
    page.screenshot(path=str(SHOTS / "compare.png"))


def test_phone_layout(browser, server):
    pg = browser.new_page(viewport={"width": 390, "height": 844})
    pg.goto(server + "/")
    pg.wait_for_function("window.frontline !== undefined")
    pg.evaluate("window.frontline.ready")
    m, p = pg.locator("#map").bounding_box(), pg.locator("#panel").bounding_box()
    assert p["y"] >= m["y"] + m["height"] - 1  # panel below the map
    pg.screenshot(path=str(SHOTS / "phone.png"))
    pg.close()
