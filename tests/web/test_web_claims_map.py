"""Claims and events on the web map (headless Debian chromium): status colours, popups, event clusters, URL state."""

from __future__ import annotations

import pytest
from webtools import SHOTS, browser_api, launch, make_web_store, new_page, start_server

sync_api = browser_api()

DAY = 86400
LON, LAT = 35.6, 51.55  # the view: east of the demo salient, away from its polygons' labels
# status → the colour the legend promises (index.html), as RGBA 0-1
COLOURS = {
    "confirmed": "#1a9850",
    "premature": "#f1c40f",
    "contradicted": "#d73027",
    "pending": "#00bcd4",
    "unresolved": "#d81b9b",
    "no_data": "#9e9e9e",
}


def _rgba(hex_: str) -> list[float]:
    return [int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)] + [1.0]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """The web store with one settlement claim per status, a polygon claim, and events (a tight group + one)."""
    import shapely

    from frontline.sources.claims import Claim
    from frontline.sources.events import Event
    from frontline.store import ledger

    path = tmp_path_factory.mktemp("wcm") / "s.gpkg"
    st = make_web_store(path)
    vs = st.versions()
    t_last = vs[-1].valid_time
    claims = [
        Claim(
            kind="settlement",
            claimant=f"Claimant {k}",
            published_at=vs[0].valid_time - DAY,
            lon=LON - 0.25 + 0.1 * k,
            lat=LAT,
            side="ru",
            change="taken",
            settlement=f"Place {k}",
            text=f"{status} claim text",
        )
        for k, status in enumerate(COLOURS)
    ]
    poly = Claim(
        kind="polygon",
        claimant="Area claimant",
        published_at=vs[0].valid_time - DAY,
        side="ru",
        change="taken",
        text="area claim",
        geometry=shapely.box(LON - 0.2, LAT - 0.15, LON + 0.2, LAT - 0.08),
    )
    ids = [cid for cid, _ in ledger.add_claims(st, claims + [poly])]
    lags = {"confirmed": 3.5, "premature": 21.0}
    details = {s: {"lag_days": lags.get(s)} for s in COLOURS}
    # shown on the map before it was claimed, and verified under a reading of "side's ground"
    details["pending"] = {
        "lag_days": -4.0,
        "reading": "held+contested",
        "readings": [{"reading": "held", "value": 10.5}, {"reading": "held+contested", "value": 12.0}],
    }
    ledger.save_statuses(
        st, [(cid, s, details[s]) for cid, s in zip(ids, COLOURS)] + [(ids[-1], "contradicted", {})], vs[-1]
    )
    # five events within ~300 m of each other (one cluster at zoom 9) and one 30 km away
    evs = [
        Event(
            time=t_last - (k + 1) * DAY,
            lon=LON + 0.002 * k,
            lat=LAT + 0.12,
            type="strike",
            side="ru",
            title=f"strike {k}",
        )
        for k in range(5)
    ]
    evs.append(
        Event(
            time=t_last - 2 * DAY, lon=LON + 0.45, lat=LAT + 0.12, type="equipment_loss", side="ua", title="lone loss"
        )
    )
    evs.append(Event(time=t_last - 90 * DAY, lon=LON, lat=LAT + 0.2, type="clash", title="too old"))  # > 30 days
    ledger.add_events(st, evs)
    st.close()
    return path, dict(zip(COLOURS, ids))


@pytest.fixture(scope="module")
def server(seeded):
    path, _ = seeded
    base, stop = start_server(path)
    yield base
    stop()


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as p:
        b = launch(p)
        pg = new_page(b, server)
        pg.goto(server + f"/#z=9.00&lon={LON}&lat={LAT}&layers=ru-held,ua-held,claims,events")
        pg.wait_for_function("window.frontline !== undefined")
        pg.evaluate("window.frontline.ready")
        pg.wait_for_function(
            "document.body.dataset.layers !== undefined && document.body.dataset.layers.includes('claims')",
            timeout=30000,
        )
        yield pg
        b.close()


def _features(page, layer):
    return page.evaluate(
        """(layer) => window.frontline.map.queryRenderedFeatures({layers: [layer]}).map(f => ({
        props: f.properties, type: f.geometry.type, coords: f.geometry.coordinates,
        colour: (f.layer.paint || {})[f.layer.type + '-color']}))""",
        layer,
    )


def _colour(c) -> list[float]:
    return [round(c["r"], 3), round(c["g"], 3), round(c["b"], 3), round(c["a"], 3)]


def test_claims_coloured_by_status(page):
    assert not page.errors, page.errors
    assert page.is_checked("input[data-layer='claims']") and page.is_checked("input[data-layer='events']")
    pts = _features(page, "claim-points")
    by_status = {f["props"]["status"]: f for f in pts}
    assert set(by_status) == set(COLOURS)  # one point per status, drawn
    for status, hex_ in COLOURS.items():
        assert _colour(by_status[status]["colour"]) == pytest.approx(_rgba(hex_), abs=0.003), status
        k = list(COLOURS).index(status)
        assert by_status[status]["coords"] == pytest.approx([LON - 0.25 + 0.1 * k, LAT], abs=1e-4)  # tile grid
    areas = _features(page, "claim-areas")
    assert areas and {f["props"]["status"] for f in areas} == {"contradicted"}
    assert _colour(areas[0]["colour"]) == pytest.approx(_rgba(COLOURS["contradicted"]), abs=0.003)
    page.screenshot(path=str(SHOTS / "claims.png"))


def test_claim_popup_shows_claimant_status_lag(page):
    pt = page.evaluate(f"""(() => {{ const p = window.frontline.map.project([{LON - 0.25}, {LAT}]);
                                     return [p.x, p.y]; }})()""")  # the confirmed claim (k = 0)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
    page.wait_for_selector(".maplibregl-popup-content .claim")
    text = page.inner_text(".maplibregl-popup-content")
    assert "Claimant 0" in text and "confirmed" in text and "3.5 days" in text and "confirmed claim text" in text
    page.keyboard.press("Escape")


def test_claim_popup_shows_reading_and_early_map(page):
    k = list(COLOURS).index("pending")
    pt = page.evaluate(f"""(() => {{ const p = window.frontline.map.project([{LON - 0.25 + 0.1 * k}, {LAT}]);
                                     return [p.x, p.y]; }})()""")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + pt[0], box["y"] + pt[1])
    page.wait_for_selector(".maplibregl-popup-content .claim .reading")
    text = page.inner_text(".maplibregl-popup-content")
    assert "Claimant 3" in text and "pending" in text
    assert "map showed it 4.0 days before the claim" in text and "-4" not in text
    assert "reading held+contested" in text and "held 10.5" in text and "held+contested 12" in text
    page.keyboard.press("Escape")


def test_events_cluster_and_single(page):
    clusters = _features(page, "event-clusters")
    assert len(clusters) == 1 and clusters[0]["props"]["point_count"] == 5
    assert clusters[0]["coords"] == pytest.approx([LON + 0.004, LAT + 0.12], abs=0.01)
    singles = _features(page, "events")
    # the lone loss; the 90-day-old clash is outside the 30 days shown
    assert [f["props"]["type"] for f in singles] == ["equipment_loss"]
    assert _colour(singles[0]["colour"]) == pytest.approx(_rgba("#6a3d9a"), abs=0.003)
    assert len(_features(page, "event-counts")) == 1  # the count label drawn on the cluster


def test_layers_in_url_and_toggle_off(page):
    h = page.evaluate("location.hash")
    layers = h.split("layers=")[1].split("&")[0].split(",")
    assert "claims" in layers and "events" in layers
    page.uncheck("input[data-layer='events']")
    page.wait_for_timeout(200)
    assert _features(page, "event-clusters") == [] and _features(page, "events") == []
    layers = page.evaluate("location.hash").split("layers=")[1].split("&")[0].split(",")
    assert "events" not in layers and "claims" in layers
