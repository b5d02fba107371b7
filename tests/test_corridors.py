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
    corridor_inputs,
    corridor_key,
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


@pytest.fixture(scope="module")
def store(backend_demo_store):
    """The 6-week demo store on each backend (a GeoPackage, then PostGIS)."""
    return backend_demo_store


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


def test_chain_of_three_blocks_gives_two_necks_ranked_by_width_at_equal_stake():
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
        # at equal ground at stake only the width tells them apart
        assert n.risk == pytest.approx(n.cut_off_km2 * math.exp(-n.width_m / 1000.0), rel=1e-9)


# --------------------------------------------------------------------------
# Ranked by what is at stake
# --------------------------------------------------------------------------


def test_big_salient_with_a_narrow_neck_outranks_a_small_patch_with_a_narrower_pinch():
    # On home's border (y = 0, home below): a salient whose 15 × 20 km head
    # (300 km²) hangs on a 300 m wide, 500 m long neck above a 10 × 5 km base,
    # and 30 km away a small border patch of two blocks (2 × 2 km and
    # 3.5 × 2 km) joined by a 150 m pinch. The pinch is the narrower, but
    # 300 km² hang on the neck against 4 km² on the pinch.
    base = box(-5000, 0, 5000, 5000)
    neck = box(-150, 5000, 150, 5500)
    head = box(-7500, 5500, 7500, 25500)
    patch = shapely.union_all([box(30000, 0, 32000, 2000), box(32000, 900, 32150, 1050), box(32150, 0, 35650, 2000)])
    held = shapely.union_all([base, neck, head, patch])
    rep = find_necks(ll(held), home=ll(UKRAINE))
    assert len(rep.necks) == 2
    first, second = rep.necks
    assert first.rank == 1 and first.type == NECK_HOME_LINK
    assert first.width_m == pytest.approx(300, abs=30)
    assert dist_m(first.location, 0, 5250) < 300
    # beyond the neck: the head and half the neck, of the salient's 350.15 km²
    assert first.cut_off_km2 == pytest.approx(300.075, abs=0.5)
    assert first.cut_off_share == pytest.approx(300.075 / 350.15, abs=0.01)
    assert second.rank == 2 and second.width_m == pytest.approx(150, abs=30)
    assert dist_m(second.location, 32075, 975) < 200
    # both blocks of the patch reach home: the one with the shorter border (2 km against 3.5 km) hangs on the pinch
    assert second.type == NECK_SPLIT
    assert second.cut_off_km2 == pytest.approx(4.01, abs=0.1)
    assert second.parts[0].home_border_km < second.parts[1].home_border_km
    assert first.risk > second.risk


def test_split_on_home_cuts_off_the_side_with_the_shorter_border_even_when_larger():
    # Like Kursk in March 2025: a salient on home's border (y = 0), pinched to
    # 200 m between the border and the enemy. South of the pinch 20 km of
    # border hold a 20 × 3 km strip (60 km²); north of it an 8 × 35 km block
    # (280 km²) reaches home along 8 km only: that block hangs on the pinch.
    south = box(0, 0, 20000, 3000)
    north = box(-8200, 0, -200, 35000)
    pinch = box(-200, 0, 0, 200)
    held = shapely.union_all([south, north, pinch])
    enemy = shapely.difference(box(-30000, 0, 40000, 60000), held)
    rep = find_necks(ll(held), home=ll(UKRAINE), enemy=ll(enemy))
    n = rep.necks[0]
    assert n.rank == 1 and n.type == NECK_SPLIT
    assert n.width_m == pytest.approx(200, abs=25)
    assert dist_m(n.location, -100, 100) < 150
    assert n.cut_off_km2 == pytest.approx(280.02, abs=0.5)
    assert n.cut_off_share == pytest.approx(280.02 / 340.04, abs=0.01)
    assert n.parts[0].touches_home and n.parts[1].touches_home
    assert sorted(n.banks) == ["border", "enemy"]  # one bank on the border, the other on the enemy
    d = n.to_dict()
    assert d["cut_off_km2"] == pytest.approx(280.02, abs=0.5) and sorted(d["banks"]) == ["border", "enemy"]


# --------------------------------------------------------------------------
# Only ground facing the enemy or the grey zone
# --------------------------------------------------------------------------

MAINLAND = box(-20000, -20000, 20000, 0)  # 800 km², the enemy north of it (y > 0), sea elsewhere
NORTH_ENEMY = box(-40000, 0, 40000, 40000)


def spit(width: float = 300.0):
    """A 10 km long strip into the sea south of the mainland, ending in a 10 × 6 km head (60 km², 7 %)."""
    return shapely.union_all([box(-width / 2, -30000, width / 2, -20000), box(-5000, -36000, 5000, -30000)])


def test_sea_spit_is_not_a_neck():
    held = shapely.union(MAINLAND, spit())
    # what lies beyond unknown: the strip is a neck like any other
    blind = find_necks(ll(held))
    assert len(blind.necks) == 1 and blind.necks[0].width_m == pytest.approx(300, abs=30)
    assert blind.necks[0].banks == ("unknown", "unknown")
    # sea on both banks: no enemy can close it
    rep = find_necks(ll(held), enemy=ll(NORTH_ENEMY))
    assert rep.necks == []
    assert rep.left_out == {"necks": 1, "pockets": 0}
    assert "facing the enemy or the grey zone" in rep.rule


def test_the_same_strip_between_enemy_ground_is_a_neck():
    held = shapely.union(MAINLAND, spit())
    enemy = shapely.difference(box(-40000, -40000, 40000, 40000), shapely.buffer(held, 1.0))
    rep = find_necks(ll(held), enemy=ll(enemy))
    assert len(rep.necks) == 1
    n = rep.necks[0]
    assert n.width_m == pytest.approx(300, abs=30) and n.banks == ("enemy", "enemy")
    assert n.cut_off_km2 == pytest.approx(60.0 + 300 * 10000 / 2e6, abs=1.0)  # the head and half the uniform strip


def test_grey_zone_on_one_bank_makes_a_neck():
    held = shapely.union(MAINLAND, spit())
    grey = box(150, -30000, 3000, -20000)  # grey ground along the strip's east bank, sea to the west
    rep = find_necks(ll(held), enemy=ll(NORTH_ENEMY), contested=ll(grey))
    assert len(rep.necks) == 1
    assert sorted(rep.necks[0].banks) == ["grey", "sea"]


@pytest.mark.parametrize("gap", ["sea", "enemy"])
def test_pinch_against_the_undisputed_state_border(gap):
    # Home ground (y < 0) on the state border, the enemy's home north of it.
    # Two blocks are joined by a 400 m wide isthmus along the border. South of
    # the isthmus lies the sea (no neck: the enemy only faces it across the
    # undisputed border) or ground the enemy holds inside home (a neck).
    blocks = shapely.union(box(-20000, -20000, -200, 0), box(200, -20000, 20000, 0))
    isthmus = box(-200, -400, 200, 0)
    held = shapely.union(blocks, isthmus)
    if gap == "sea":
        home, enemy = held, NORTH_ENEMY
    else:
        home = box(-20000, -20000, 20000, 0)
        enemy = shapely.union(NORTH_ENEMY, box(-200, -20000, 200, -400))
    rep = find_necks(ll(held), home=ll(home), enemy=ll(enemy))
    if gap == "sea":
        assert rep.necks == [] and rep.left_out["necks"] == 1
    else:
        assert len(rep.necks) == 1
        n = rep.necks[0]
        assert n.width_m == pytest.approx(400, abs=40)
        assert sorted(n.banks) == ["border", "enemy"]


def test_island_is_no_pocket_but_encircled_ground_is():
    island = box(0, -30000, 3000, -27000)  # 9 km² in the sea south of the mainland
    rep = find_necks(ll(shapely.union(MAINLAND, island)), enemy=ll(NORTH_ENEMY))
    assert rep.pockets == [] and rep.left_out["pockets"] == 1
    # the same block surrounded by enemy ground: a pocket facing it all round (12 km of outline)
    enemy = shapely.union(NORTH_ENEMY, shapely.difference(box(-5000, -35000, 8000, -22000), island))
    rep = find_necks(ll(shapely.union(MAINLAND, island)), enemy=ll(enemy))
    assert len(rep.pockets) == 1
    assert rep.pockets[0].area_km2 == pytest.approx(9.0, abs=0.05)
    assert rep.pockets[0].front_km == pytest.approx(12.0, abs=0.3)
    assert rep.to_dict()["pockets"][0]["front_km"] == pytest.approx(12.0, abs=0.3)


def test_a_sliver_the_drawing_leaves_along_the_coast_is_no_front():
    # Enemy home ground 100 m thin between the held block and the sea (a
    # drawing that stops short of the coast) is no front: the island-like
    # block is no pocket. A 2 km deep stretch of the same enemy is.
    block = box(0, -30000, 3000, -27000)
    sliver = shapely.difference(box(-100, -30100, 3100, -26900), block)
    rep = find_necks(ll(shapely.union(MAINLAND, block)), enemy=ll(shapely.union(NORTH_ENEMY, sliver)))
    assert rep.pockets == []
    deep = shapely.union(sliver, box(3100, -30100, 5100, -26900))
    rep = find_necks(ll(shapely.union(MAINLAND, block)), enemy=ll(shapely.union(NORTH_ENEMY, deep)))
    assert len(rep.pockets) == 1 and rep.pockets[0].front_km == pytest.approx(3.0, abs=0.3)


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
    held = shapely.union_all(
        [
            box(-30000, -20000, 30000, 0),
            box(-5000, 0, 5000, 3000),
            box(-250, 3000, 250, 4000),
            box(-8000, 4000, 8000, 12000),
        ]
    )
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
    assert d["necks"][0]["cut_off_km2"] == pytest.approx(100.2, abs=0.5)
    assert d["necks"][0]["cut_off_share"] == pytest.approx(0.5, abs=0.02)
    assert d["necks"][0]["banks"] == ["unknown", "unknown"] and d["left_out"] == {"necks": 0, "pockets": 0}
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
    with pytest.raises(ValueError, match="enemy must be"):
        find_necks(ll(two_blocks(400)), enemy="ru")


def test_corridor_inputs_refuse_what_they_cannot_read():
    with pytest.raises(ValueError, match="read from a store"):
        corridor_inputs(ll(two_blocks(400)), "ua")


def test_grey_ground_inside_home_is_not_ground_abroad(store):
    """The demo rings its salient in Russia with grey ground and draws a grey band in Ukraine too."""
    from frontline.geodesy import area_km2
    from frontline.state import version_control

    vs = store.versions()
    vc = version_control(store, vs[-1])
    home = vc.theatre.homes["ua"]
    abroad = corridor_inputs(vc, "ua", "abroad", include_contested=True)
    whole = corridor_inputs(vc, "ua", "all", include_contested=True)
    assert area_km2(shapely.intersection(whole["contested"], home)) > 1.0
    assert area_km2(shapely.intersection(abroad["contested"], home)) < 0.01
    assert area_km2(abroad["contested"]) > 1.0
    with pytest.raises(ValueError, match="Unknown side"):
        corridor_inputs(vc, "xx")
    with pytest.raises(ValueError, match="Unknown scope"):
        corridor_inputs(vc, "ua", "everywhere")
    rep = find_necks(**abroad)
    assert rep.mode == MODE_HELD_CONTESTED
    for p in rep.pockets:
        assert area_km2(shapely.intersection(p.geometry, home)) < 0.01 * p.area_km2
    # the same version keys the same; the demo's neck narrows every week, so the last two differ
    assert corridor_key(vc, abroad) == corridor_key(version_control(store, vs[-1]), abroad)
    before = corridor_inputs(version_control(store, vs[-2]), "ua", "abroad", include_contested=True)
    assert corridor_key(version_control(store, vs[-2]), before) != corridor_key(vc, abroad)


def test_corridor_series_tracks_the_neck_with_the_most_ground_at_stake():
    # Version 3: the two blocks' 600 m neck, and a 16 km² blob hanging on a
    # 200 m stalk off block B: the blob's neck is narrower but holds 16 km².
    blob = shapely.union(box(10500, -100, 11500, 100), box(11500, -2000, 15500, 2000))
    maps = [
        ("2025-03-01", ll(two_blocks(800)), None, None),
        ("2025-03-02", ll(two_blocks(400)), None, None),
        ("2025-03-03", ll(shapely.union(two_blocks(600), blob)), None, None),
        ("2025-03-04", Polygon(), None, None),
    ]
    rows = corridor_series(maps)
    assert [r["time"] for r in rows] == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
    assert rows[0]["width_m"] == pytest.approx(800, abs=50) and rows[0]["n_necks"] == 1
    assert rows[1]["width_m"] == pytest.approx(400, abs=50) and rows[1]["n_below_threshold"] == 1
    assert rows[1]["cut_off_km2"] == pytest.approx(100.2, abs=0.5) and rows[1]["cut_off_share"] == pytest.approx(
        0.5, abs=0.02
    )
    assert rows[2]["n_necks"] == 2 and rows[2]["narrowest_m"] == pytest.approx(200, abs=30)
    assert rows[2]["width_m"] == pytest.approx(600, abs=50) and rows[2]["rank"] == 1
    assert rows[3]["width_m"] is None and "holds no ground" in rows[3]["error"]
    # a row shows only necks holding a share of all the ground: neither of these holds 60 % of it
    assert rows[2]["ground_share"] == pytest.approx(rows[2]["cut_off_km2"] / rows[2]["ground_km2"], rel=1e-3)
    small = corridor_series(maps[2:3], min_ground_share=0.6)[0]
    assert small["width_m"] is None and small["n_necks"] == 2
    json.dumps(rows)


def test_large_wiggly_ground_with_lakes():
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
    # 900 km² is under 5 % of the whole: let 0.5 % parts count (its speed: bench/bench_analysis.py)
    rep = find_necks(ll(held), min_part_share=0.005)
    necks = [n for n in rep.necks if n.parts[0].area_km2 > 800]
    assert len(necks) == 1
    assert necks[0].width_m == pytest.approx(400, abs=50)


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
