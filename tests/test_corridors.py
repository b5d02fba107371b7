"""Neck (corridor) and pocket detection.

Shapes are built in metres in a local projection near Sudzha (35.3°E,
51.2°N) and converted to lon/lat, so every expected width, area and place is
plain planar arithmetic on the drawing: a 400 m corridor is 400 m wide, two
10 × 10 km blocks are 100 km² each. Edges are densified every 100 m before
conversion so that straight metric edges stay straight after the round trip.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from frontline.analysis.corridors import (
    MODE_HELD,
    MODE_HELD_CONTESTED,
    NECK_HOME_LINK,
    NECK_SPLIT,
    corridor_series,
    find_necks,
)
from frontline.geodesy import LocalProjection

P = LocalProjection(35.3, 51.2)


def ll(g):
    """Metric drawing -> lon/lat, densified so edges keep their shape."""
    return P.to_lonlat(shapely.segmentize(g, 100.0))


def xy(pt) -> np.ndarray:
    """Lon/lat point -> metric coordinates in the drawing's frame."""
    return shapely.get_coordinates(P.to_metric(pt))[0]


def dist_m(pt, x: float, y: float) -> float:
    px, py = xy(pt)
    return math.hypot(px - x, py - y)


# Two 10 × 10 km blocks joined by a 400 m wide, 1 km long corridor centred on the origin.
BLOCK_A = box(-10500, -5000, -500, 5000)
BLOCK_B = box(500, -5000, 10500, 5000)


def corridor(width: float, length: float = 1000.0) -> Polygon:
    return box(-length / 2, -width / 2, length / 2, width / 2)


def two_blocks(width: float = 400.0):
    return shapely.union_all([BLOCK_A, BLOCK_B, corridor(width)])


# --------------------------------------------------------------------------
# The basic neck
# --------------------------------------------------------------------------


def test_two_blocks_joined_by_a_corridor_give_one_neck():
    rep = find_necks(ll(two_blocks(400)))
    assert rep.mode == MODE_HELD
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.type == NECK_SPLIT
    assert n.width_m == pytest.approx(400, abs=50)
    # the neck is in the corridor, near its middle (the corridor is uniform)
    assert dist_m(n.location, 0, 0) < 300
    # the segment goes bank to bank across the corridor: its ends at y = ±200 m
    ends = shapely.get_coordinates(P.to_metric(n.segment))
    assert sorted(abs(ends[:, 1])) == pytest.approx([200, 200], abs=20)
    assert n.segment.length > 0 and abs(ends[0, 0] - ends[1, 0]) < 50
    # each side is a 100 km² block plus about half the 0.4 km² corridor
    a, b = (p.area_km2 for p in n.parts)
    assert a == pytest.approx(100.2, abs=0.5) and b == pytest.approx(100.2, abs=0.5)
    assert a + b == pytest.approx(200.4, abs=0.1)
    assert n.parts[0].share == pytest.approx(0.5, abs=0.02)
    assert n.parts[0].cut_off and not n.parts[1].cut_off
    # the narrow stretch is the corridor: 1 km (mean bank length)
    assert n.length_m == pytest.approx(1000, abs=150)
    assert n.below_threshold  # 400 m < the default 1 km alert width
    assert n.rank == 1
    assert rep.pockets == []


def test_neck_orientation_does_not_matter():
    shape = affinity.rotate(two_blocks(400), 30, origin=(0, 0))
    rep = find_necks(ll(shape))
    assert len(rep.necks) == 1
    assert rep.necks[0].width_m == pytest.approx(400, abs=50)
    assert dist_m(rep.necks[0].location, 0, 0) < 300


def test_hourglass_neck_width_is_the_chord():
    # Two discs of radius 5 km, centres 9.96 km apart, meet in a chord of
    # 2·sqrt(R² − (D/2)²) = 893.5 m at x = 0.
    R, D = 5000.0, 9960.0
    shape = shapely.union(Point(-D / 2, 0).buffer(R, quad_segs=256), Point(D / 2, 0).buffer(R, quad_segs=256))
    rep = find_necks(ll(shape))
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.width_m == pytest.approx(2 * math.sqrt(R**2 - (D / 2) ** 2), abs=50)
    assert dist_m(n.location, 0, 0) < 300
    assert n.parts[0].share == pytest.approx(0.5, abs=0.02)


def test_chain_of_three_blocks_gives_two_necks_ranked_by_risk():
    block_c = box(11500, -5000, 21500, 5000)
    link = box(10500, -350, 11500, 350)  # 700 m wide between B and C
    rep = find_necks(ll(shapely.union_all([two_blocks(400), block_c, link])))
    assert len(rep.necks) == 2
    first, second = rep.necks
    # both cut a third off; the narrower one is the riskier
    assert first.width_m == pytest.approx(400, abs=50) and dist_m(first.location, 0, 0) < 300
    assert second.width_m == pytest.approx(700, abs=50) and dist_m(second.location, 11000, 0) < 300
    assert (first.rank, second.rank) == (1, 2)
    assert first.risk > second.risk
    for n in rep.necks:
        assert n.parts[0].share == pytest.approx(1 / 3, abs=0.02)


# --------------------------------------------------------------------------
# What is not a neck
# --------------------------------------------------------------------------

BODY = box(-20000, -20000, 20000, 0)  # 40 × 20 km = 800 km²


def test_wide_salient_is_not_a_neck():
    # A 5 km wide, 15 km long salient never separates from the body under
    # erosion (it only thins away), so it is no neck at any width threshold:
    # nothing is reported, let alone below the 1 km alert width.
    salient = box(-2500, 0, 2500, 15000)
    rep = find_necks(ll(shapely.union(BODY, salient)))
    assert rep.necks == []
    rep = find_necks(ll(shapely.union(BODY, salient)), max_width_m=8000)
    assert rep.necks == []


def test_salient_with_a_narrow_base_is_a_neck():
    # Same ground, but the 10 × 7 km head hangs on a 1 km wide, 1 km long stem.
    head = box(-5000, 1000, 5000, 8000)
    stem = box(-500, 0, 500, 1000)
    rep = find_necks(ll(shapely.union_all([BODY, stem, head])))
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.width_m == pytest.approx(1000, abs=50)
    assert dist_m(n.location, 0, 500) < 300
    assert n.parts[0].area_km2 == pytest.approx(70.5, abs=1.0)  # head plus half the stem
    assert not n.below_threshold  # 1000 m is not below the 1000 m alert width


@pytest.mark.parametrize(
    "appendix",
    [
        box(-150, 0, 150, 300),  # a 300 × 300 m bump
        box(-50, 0, 50, 3000),  # a 100 m × 3 km spike
        shapely.union(box(-100, 0, 100, 500), box(-500, 500, 500, 1500)),  # 1 km² on a 200 m stalk
    ],
    ids=["bump", "spike", "blob-on-stalk"],
)
def test_small_appendices_are_not_necks(appendix):
    rep = find_necks(ll(shapely.union(BODY, appendix)))
    assert rep.necks == []


def test_blob_on_stalk_is_reported_once_small_parts_count():
    # The same 1 km² blob is a neck when the rule lets 0.5 km² parts count:
    # it is the area rule, not the geometry, that keeps it out by default.
    blob = shapely.union(box(-100, 0, 100, 500), box(-500, 500, 500, 1500))
    rep = find_necks(ll(shapely.union(BODY, blob)), min_part_km2=0.5, min_part_share=0)
    assert len(rep.necks) == 1
    assert rep.necks[0].width_m == pytest.approx(200, abs=50)
    assert rep.necks[0].parts[0].area_km2 == pytest.approx(1.05, abs=0.1)


# --------------------------------------------------------------------------
# Pockets and home
# --------------------------------------------------------------------------


def test_disconnected_block_is_a_pocket():
    pocket = box(0, 5000, 3000, 8000)  # 9 km², 5 km off the body
    rep = find_necks(ll(shapely.union(BODY, pocket)))
    assert rep.necks == []
    assert len(rep.pockets) == 1
    p = rep.pockets[0]
    assert p.area_km2 == pytest.approx(9.0, abs=0.05)
    assert dist_m(p.centroid, 1500, 6500) < 50
    assert rep.n_components == 2
    assert rep.main_body_km2 == pytest.approx(800, abs=1)


UKRAINE = box(-60000, -60000, 60000, 0)  # "home": everything south of y = 0


def test_component_touching_home_is_not_a_pocket():
    held = shapely.union(box(-5000, 20000, 5000, 30000), box(20000, 0, 23000, 3000))
    rep = find_necks(ll(held), home=ll(UKRAINE))
    assert rep.pockets == []  # the small block sits on the border
    rep = find_necks(ll(held))
    assert len(rep.pockets) == 1  # without home it is cut off from the main body


def test_home_link_through_a_narrow_corridor():
    # Held ground inside "Russia" (y > 0) reaches "Ukraine" (home, y < 0)
    # only through a 600 m wide, 1 km long corridor.
    body = box(-5000, 1000, 5000, 11000)
    link = box(-300, 0, 300, 1000)
    rep = find_necks(ll(shapely.union(body, link)), home=ll(UKRAINE))
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.type == NECK_HOME_LINK
    assert n.width_m == pytest.approx(600, abs=50)
    assert dist_m(n.location, 0, 500) < 300
    cut, other = n.parts
    assert cut.cut_off and not cut.touches_home and cut.home_border_km < 0.1
    assert cut.area_km2 == pytest.approx(100.3, abs=0.5)  # the body and half the corridor
    assert other.touches_home
    # the corridor meets the border along 600 m (read up to 2 × 50 m longer)
    assert 0.55 < other.home_border_km < 0.75
    assert rep.pockets == []


def test_ground_reaching_into_home_is_measured_on_its_part_outside_home():
    # Like the Kursk salient: the held component is home ground (60 × 20 km)
    # plus ground outside home: a 10 × 3 km base on the border, a 500 m wide
    # and 1 km long neck, and a 16 × 8 km head. Shares are of the ground
    # outside home: 30 + 0.5 + 128 = 158.5 km², the head and half the neck
    # being 128.25 km² of it (0.809).
    held = shapely.union_all([box(-30000, -20000, 30000, 0), box(-5000, 0, 5000, 3000), box(-250, 3000, 250, 4000), box(-8000, 4000, 8000, 12000)])
    rep = find_necks(ll(held), home=ll(UKRAINE))
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.type == NECK_HOME_LINK
    assert n.base == "outside_home"
    assert n.base_km2 == pytest.approx(158.5, abs=1.0)
    assert n.width_m == pytest.approx(500, abs=50)
    assert dist_m(n.location, 0, 3500) < 300
    cut, other = n.parts
    assert cut.area_km2 == pytest.approx(128.25, abs=0.5)
    assert cut.share == pytest.approx(128.25 / 158.5, abs=0.01)
    assert not cut.touches_home and other.touches_home


# --------------------------------------------------------------------------
# Modes, output, errors
# --------------------------------------------------------------------------


def test_contested_ground_widens_the_neck():
    # A 300 m held corridor runs through a 2 km wide grey zone.
    held = two_blocks(300)
    grey = shapely.difference(box(-500, -1000, 500, 1000), held)
    only = find_necks(ll(held), contested=ll(grey))
    both = find_necks(ll(held), contested=ll(grey), include_contested=True)
    assert only.mode == MODE_HELD and both.mode == MODE_HELD_CONTESTED
    assert len(only.necks) == 1 and only.necks[0].width_m == pytest.approx(300, abs=50)
    assert all(n.width_m > 1900 for n in both.necks)
    assert both.necks[0].width_m == pytest.approx(2000, abs=50)
    assert only.to_dict()["mode"] == "held only"
    assert both.to_dict()["mode"] == "held+contested"
    assert "held+contested" in both.rule
    assert all(f["properties"]["mode"] == "held+contested" for f in both.to_geojson()["features"])


def test_report_serialises_to_json_and_geojson():
    held = shapely.union(two_blocks(400), box(0, 8000, 3000, 11000))
    rep = find_necks(ll(held))
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["necks"][0]["width_m"] == pytest.approx(400, abs=50)
    assert d["necks"][0]["segment"]["type"] == "LineString"
    assert len(d["necks"][0]["parts"]) == 2
    assert "share" in d["necks"][0]["parts"][0] and "home_border_km" in d["necks"][0]["parts"][0]
    assert d["pockets"][0]["geometry"]["type"] == "Polygon"
    assert "min_part_km2" in d["params"] and d["rule"]
    with_geom = json.loads(json.dumps(rep.to_dict(with_geometry=True)))
    assert with_geom["necks"][0]["parts"][1]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    fc = json.loads(json.dumps(rep.to_geojson()))
    assert fc["type"] == "FeatureCollection"
    kinds = sorted(f["properties"]["kind"] for f in fc["features"])
    assert kinds == ["neck", "pocket"]
    neck = next(f for f in fc["features"] if f["properties"]["kind"] == "neck")
    assert neck["geometry"]["type"] == "LineString"
    assert neck["properties"]["label"].endswith(" m")
    assert neck["properties"]["width_m"] == pytest.approx(400, abs=50)


@pytest.mark.parametrize("held", [None, Polygon(), shapely.MultiPolygon()])
def test_empty_held_is_refused(held):
    with pytest.raises(ValueError, match="holds no ground"):
        find_necks(held)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="polygonal"):
        find_necks(LineString([(35.0, 51.0), (35.1, 51.1)]))
    with pytest.raises(ValueError, match="lon/lat"):
        find_necks(two_blocks(400))  # metres, not degrees


def test_corridor_series_tracks_the_narrowest_neck():
    maps = [
        ("2025-03-01", ll(two_blocks(800)), None, None),
        ("2025-03-02", ll(two_blocks(400)), None, None),
        ("2025-03-03", Polygon(), None, None),
    ]
    rows = corridor_series(maps)
    assert [r["time"] for r in rows] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert rows[0]["width_m"] == pytest.approx(800, abs=50) and rows[0]["n_necks"] == 1
    assert rows[1]["width_m"] == pytest.approx(400, abs=50) and rows[1]["n_below_threshold"] == 1
    assert rows[2]["width_m"] is None and "holds no ground" in rows[2]["error"]
    json.dumps(rows)


def test_large_wiggly_ground_stays_fast():
    # ~90,000 km² with a few thousand vertices and 400 lakes (half of them
    # ponds under 1 km², filled), like a real version's occupied ground, with
    # one 400 m corridor to a 30 × 30 km block.
    t = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    r = 170000 + 3000 * np.sin(37 * t) + 1500 * np.sin(151 * t)
    gx, gy = np.meshgrid(np.arange(-330000, -90000, 12000), np.arange(-110000, 110000, 11000))
    sizes = np.where((gx // 12000 + gy // 11000) % 2 == 0, 700.0, 1800.0)  # 0.49 and 3.24 km²
    lakes = [box(x, y, x + s_, y + s_).exterior for x, y, s_ in zip(gx.ravel(), gy.ravel(), sizes.ravel())]
    big = Polygon(np.column_stack([r * np.cos(t) - 210000, r * np.sin(t)]), lakes)
    assert big.is_valid and len(big.interiors) == 400
    far = box(-30000, -15000, 0, 15000)  # 900 km², 10 km east of the big body's edge
    link = box(-45000, -200, -29000, 200)  # a 400 m wide, 10 km long corridor between them
    held = shapely.union_all([big, far, link])
    t0 = time.perf_counter()
    # 900 km² is under 5 % of the whole: let 0.5 % parts count
    rep = find_necks(ll(held), min_part_share=0.005)
    elapsed = time.perf_counter() - t0
    necks = [n for n in rep.necks if n.parts[0].area_km2 > 800]
    assert len(necks) == 1
    assert necks[0].width_m == pytest.approx(400, abs=50)
    assert elapsed < 5.0  # about a second on a busy two-core machine


def test_ground_with_a_small_hole_keeps_its_neck_and_island_in_a_pond_is_absorbed():
    """A pond (small hole) must not make ground vanish; an islet in a pond is not a pocket."""
    # in lon/lat: a pond at the block's centre, where the representative point of the filled block falls
    block = Polygon(box(35.0, 51.0, 35.2, 51.2).exterior.coords, [box(35.099, 51.099, 35.101, 51.101).exterior.coords])
    rep = find_necks(block)
    assert rep.main_body_km2 == pytest.approx(P.to_metric(box(35.0, 51.0, 35.2, 51.2)).area / 1e6, rel=0.01)
    assert rep.necks == [] and rep.pockets == []
    pond = box(-6000, -500, -5000, 500)  # 1 km² hole in block A
    islet = box(-5700, -200, -5300, 200)  # 0.16 km² island in the pond
    rep = find_necks(ll(shapely.union(shapely.difference(two_blocks(400.0), pond), islet)))
    assert rep.pockets == []
    assert len(rep.necks) == 1
    assert rep.necks[0].width_m == pytest.approx(400, abs=50)
