"""The side panel's chart shows any stored series (front, a side's narrowest neck, settlements changed); a click jumps.

Drives Debian's Chromium over a real server on the generated web store (the demo scenario).
Expected values are read from the API's own rows and the versions list, not from the chart's code.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from webtools import SHOTS, browser_api, open_page, start_server

sync_api = browser_api()


@pytest.fixture(scope="module")
def server(web_store):
    base, stop = start_server(web_store)
    yield base
    stop()


def _get(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=120) as r:
        return json.load(r)


def _wait_unit(page, unit: str) -> None:
    page.wait_for_function(
        f"(() => {{ const t = document.querySelector('#chart text'); "
        f"return t && t.textContent.endsWith(' {unit}'); }})()",
        timeout=120_000,
    )


def test_picker_lists_every_stored_series(page):
    open_page(page)
    values = page.evaluate("[...document.querySelectorAll('#chart-what option')].map(o => o.value)")
    sides = _get(page.base, "/api/versions").get("sides") or ["ua", "ru"]
    assert {"area", "front", "settlements", *[f"neck:{s}" for s in sides]} <= set(values)
    assert not page.errors, page.errors


@pytest.mark.parametrize(
    ("value", "query", "unit"),
    [
        ("neck:ua", "what=neck&side=ua", "m"),
        ("settlements", "what=settlements&every=week", "places"),
    ],
)
def test_series_drawn_and_click_jumps(page, value, query, unit):
    open_page(page)
    rows = _get(page.base, f"/api/series?{query}")["rows"]
    key = _get(page.base, f"/api/series?{query}")["key"]
    with_value = [r for r in rows if r.get(key) is not None]
    assert with_value, f"the demo's {value} series has no values"
    page.select_option("#chart-what", value)
    _wait_unit(page, unit)
    assert page.locator("#chart path.area").count() == 1
    top = max(r[key] for r in with_value)
    assert page.locator("#chart text").text_content() == f"{round(top):,} {unit}"
    page.locator("#chart").scroll_into_view_if_needed()
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)  # the left edge: the first row drawn
    first = with_value[0]["version_id"]
    page.wait_for_function(f"document.body.dataset.version === '{first}'", timeout=60_000)
    page.screenshot(path=str(SHOTS / f"chart-{value.replace(':', '-')}.png"))
    assert not page.errors, page.errors
