"""Events: CSV, GeoJSON, KML, GeoConfirmed KML and WarSpotting JSON fixtures (generated here), bad records
by line, storage, and links to ground that changed hands and to roads, on the generated claims scenario."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_claims import DAY, T0, WEEK, N, a_edge, build_store  # noqa: F401

from frontline.analysis.events import events_on_roads, link_events
from frontline.sources.events import parse_events_text, read_events
from frontline.store import ledger

CSV = """time,lon,lat,precision_m,side,type,source_url,confidence,title
2025-01-28T10:00Z,36.062,51.5,50,ua,equipment_loss,https://x/1,0.9,BMP-2
2025-01-28,36.5,51.5,50,ua,strike,https://x/2,90%,far from the change
2025-01-28,abc,51.5,50,ua,strike,https://x/3,0.9,bad lon
2025-01-28,36.5,51.5,50,ua,parade,https://x/4,0.9,bad type
2025-01-28,36.5,51.5,50,ua,strike,https://x/5,7,a bare 7: 7%? 70%? 7/10? never guessed
"""

GEOCONFIRMED = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>GeoConfirmed Ukraine</name>
<Folder><name>Russia</name>
 <Folder><name>Destroyed equipment</name>
  <Placemark><name>28 JAN 2025 - Russian T-80 destroyed</name>
   <description><![CDATA[Tank hit by FPV.<br>Source(s): https://t.me/src/11 <br>Geolocation: https://x.com/geo/12]]></description>
   <styleUrl>#icon-RED</styleUrl><Point><coordinates>36.07,51.45,0</coordinates></Point></Placemark>
  <Placemark><name>no date here</name><description>nothing</description>
   <Point><coordinates>36.07,51.45,0</coordinates></Point></Placemark>
 </Folder></Folder>
<Folder><name>Ukraine</name>
  <Placemark><name>29 JAN 2025 Strike on depot</name><description>Source: https://t.me/src/13</description>
   <styleUrl>#icon-BLUE</styleUrl><Point><coordinates>37.2,48.1</coordinates></Point></Placemark>
</Folder></Document></kml>
"""

WARSPOTTING = {
    "losses": [
        {
            "id": 101,
            "type": "Tanks",
            "model": "T-72B3",
            "status": "Destroyed",
            "lost_by": "Russia",
            "date": "2025-01-29",
            "nearest_location": "Lebedevka, Kursk oblast",
            "geo": "51.50,36.058",
            "unit": None,
            "tags": "FPV",
        },
        {
            "id": 102,
            "type": "IFV",
            "model": "BMP-2",
            "status": "Abandoned",
            "lost_by": "Russia",
            "date": "2025-01-29",
            "nearest_location": "somewhere",
            "geo": None,
            "unit": None,
            "tags": None,
        },
        {
            "id": 103,
            "type": "Trucks",
            "model": "KamAZ",
            "status": "Destroyed",
            "lost_by": "Russia",
            "date": "2025-01-30",
            "nearest_location": "x",
            "geo": "48.15,37.36",
            "unit": None,
            "tags": None,
        },
    ]
}


def test_csv_and_bad_lines(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text(CSV, encoding="utf-8")
    res = read_events(p)
    assert len(res.events) == 2
    assert res.events[1].confidence == pytest.approx(0.9)  # "90%" written as a percentage
    assert sorted(m.split(":")[0] for m in res.problems) == ["e.csv line 4", "e.csv line 5", "e.csv line 6"]
    assert "lon" in res.problems[0] and "type" in res.problems[1]
    assert "field 'confidence'" in res.problems[2] and "7%" in res.problems[2]


def test_geojson_kml_shapes(tmp_path):
    gj = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"time": "2025-01-28T10:00Z", "side": "ru", "type": "clash"},
                "geometry": {"type": "Point", "coordinates": [36.1, 51.5]},
            },
            {
                "type": "Feature",
                "properties": {"time": "2025-01-28"},
                "geometry": {"type": "LineString", "coordinates": [[36, 51], [36.1, 51]]},
            },
        ],
    }
    p = tmp_path / "e.geojson"
    p.write_text(json.dumps(gj, indent=1), encoding="utf-8")
    res = read_events(p)
    assert [(e.side, e.type) for e in res.events] == [("ru", "clash")]
    assert len(res.problems) == 1 and "Point" in res.problems[0] and " line " in res.problems[0]

    k = tmp_path / "gc.kml"
    k.write_text(GEOCONFIRMED, encoding="utf-8")
    res = read_events(k, "geoconfirmed")
    assert len(res.events) == 2
    e0, e1 = res.events
    assert (e0.side, e0.type, e0.lon, e0.lat) == ("ru", "equipment_loss", 36.07, 51.45)
    assert e0.source_url == "https://t.me/src/11" and e0.props["geolocation_url"] == "https://x.com/geo/12"
    assert e0.time == T0 + 3 * WEEK + DAY  # 28 Jan 2025 12:00 UTC (dates are taken at noon)
    assert (e1.side, e1.type) == ("ua", "strike")
    assert len(res.problems) == 1 and res.problems[0].startswith("gc.kml line ") and "date" in res.problems[0]
    # plain KML reading of the same file: time from the name, no side inference
    assert len(read_events(k, "kml").events) == 2

    w = tmp_path / "ws.json"
    w.write_text(json.dumps(WARSPOTTING, indent=2), encoding="utf-8")
    res = read_events(w)  # auto-detected
    assert [(e.lon, e.lat, e.side, e.type) for e in res.events] == [
        (36.058, 51.5, "ru", "equipment_loss"),
        (37.36, 48.15, "ru", "equipment_loss"),
    ]
    assert res.events[0].source_url == "https://ukr.warspotting.net/view/101/"
    assert len(res.problems) == 1 and "102" in res.problems[0] and "geo" in res.problems[0]


def test_link_to_changes_and_roads(tmp_path, new_store_url, backend):
    """Stored events linked to changed ground and to roads, on each backend."""
    from shapely.geometry import LineString

    from frontline.sources.osm import Roads

    st = build_store(tmp_path / "ev.gpkg", N, new_store_url if backend == "postgis" else None)
    # Between weeks 2 and 4 (event on 2025-01-27 ± 7 days) the ua box's west edge moved from 36.04 to 36.08:
    # ground between lon 36.03 and 36.07 changed hands. An event at 36.062 lies inside it (distance 0);
    # one at 36.5 is ≥ 0.42° of longitude (≈ 29 km at 51.5°N) away.
    evs = parse_events_text(CSV, "csv", "e.csv").events
    evs[0].time = evs[1].time = T0 + 3 * WEEK
    ledger.add_events(st, evs)
    stored = ledger.list_events(st)
    assert len(stored) == 2 and ledger.add_events(st, evs) == (0, 2)
    rows = link_events(st, stored, days=7, distance_km=5)
    assert rows[0]["linked"] and rows[0]["distance_m"] == 0.0
    assert rows[0]["change"] == {"from": "ua", "to": "contested"} or rows[0]["change"]["to"] in ("ru", "contested")
    assert not rows[1]["linked"]
    # changed ground ends at week 4's grey strip east edge, lon 36.08; a degree of longitude on WGS84 at φ is
    # (π/180)·a·cosφ/√(1 − e²sin²φ)
    a, e2, phi = 6378137.0, 0.00669437999014, np.radians(51.5)
    deg_lon = np.pi / 180 * a * np.cos(phi) / np.sqrt(1 - e2 * np.sin(phi) ** 2)
    expect_m = (36.5 - 36.08) * deg_lon
    assert rows[1]["distance_m"] == pytest.approx(expect_m, rel=0.01)
    assert ledger.list_events(st, bbox=(36.4, 51.4, 36.6, 51.6))[0].lon == 36.5

    # along the parallel 0.01° south of both events (densified so it follows the parallel); a degree of latitude
    # at 51.5° is ≈ 111.26 km, so the distance is ≈ 1.1126 km
    road = LineString([(x, 51.49) for x in np.linspace(36.0, 36.6, 601)])
    roads = Roads(geometry=[road], ids=["w1"], names=["R-1"], names_en=[""], refs=["R1"], classes=["primary"])
    on = events_on_roads(stored, roads, distance_km=1.2)
    assert [r["on_road"] for r in on] == [True, True]
    assert on[0]["distance_m"] == pytest.approx(0.01 * 111_257, rel=0.005)
    assert [r["on_road"] for r in events_on_roads(stored, roads, distance_km=1.0)] == [False, False]
    st.close()
