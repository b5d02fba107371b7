"""Contact line: which boundaries are front, and how long they are.

Two homes are drawn in metres near Sudzha and converted to lon/lat: ``ua``
west of x = 50 km, ``ru`` east of it (the state border), 40 km tall. ``ru``
holds a 20 × 10 km block across the border inside ``ua``'s home, with a 3 km
grey strip west of it; a 3 × 5 km grey patch touches ``ua``'s western edge
(the theatre's edge, like the Belarus border). Every expected length is
pyproj ``Geod.inv`` over the corners drawn here, segment by segment.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box

from frontline.analysis.contact_line import contact_line, contact_line_series
from frontline.borders import Theatre
from frontline.geodesy import LocalProjection
from frontline.model import ControlMap, utc
from frontline.normalise import VersionControl

GEOD = Geod(ellps="WGS84")
P = LocalProjection(35.3, 51.2)
KM = 1000.0


def ll(g):
    return P.to_lonlat(g)


def seg_km(*pts_km) -> float:
    """Geodesic km along straight metric segments between the given points (km), measured on their lon/lat ends."""
    xy = np.array(pts_km, dtype=float) * KM
    lonlat = shapely.get_coordinates(P.to_lonlat(shapely.points(xy)))
    _, _, d = GEOD.inv(lonlat[:-1, 0], lonlat[:-1, 1], lonlat[1:, 0], lonlat[1:, 1])
    return float(np.sum(d)) / KM


def world(ru_east_edge_km: float = 50.0):
    """(theatre, R, C, C2) in lon/lat; R = ru ground across the border, C = grey west of it, C2 = grey at the edge."""
    ua_home = ll(box(0, 0, 50 * KM, 40 * KM))
    ru_home = ll(box(50 * KM, 0, 100 * KM, 40 * KM))
    R = ll(box(30 * KM, 10 * KM, ru_east_edge_km * KM, 20 * KM))
    C = ll(box(27 * KM, 10 * KM, 30 * KM, 20 * KM))
    C2 = ll(box(0, 30 * KM, 3 * KM, 35 * KM))
    th = Theatre(homes={"ua": ua_home, "ru": ru_home}, countries={})
    return th, R, C, C2


def expected():
    ua_contested = seg_km((27, 20), (27, 10)) + seg_km((27, 20), (30, 20)) + seg_km((27, 10), (30, 10))
    ua_contested += seg_km((0, 35), (3, 35), (3, 30), (0, 30))  # C2, not its edge on x = 0
    ua_ru = seg_km((30, 20), (50, 20)) + seg_km((30, 10), (50, 10))
    # ru's ground abroad against the grey strip in front of it is the grey zone's rear edge, not front.
    return {"ua|ru": ua_ru, "ua|contested": ua_contested, "ru|contested": 0.0}


def rear_expected():
    return {"ru|contested": seg_km((30, 10), (30, 20))}


def control(th, R, C, C2) -> VersionControl:
    vc = VersionControl(th)
    vc._add("ua", "ru", R, 0.0)
    vc._add("ua", "contested", C, 0.0)
    vc._add("ua", "contested", C2, 0.0)
    return vc


def plain_map(th, R, C, C2) -> ControlMap:
    grey = shapely.union_all([C, C2])
    held = {
        "ua": shapely.difference(th.homes["ua"], shapely.union_all([R, grey])),
        "ru": shapely.union_all([th.homes["ru"], R]),
    }
    return ControlMap("test", "v1", utc(0), held, contested=grey, theatre=th.geom)


@pytest.fixture(scope="module")
def store(backend_demo_store):
    """The 6-week demo store on each backend (a GeoPackage, then PostGIS)."""
    return backend_demo_store


@pytest.mark.parametrize("how", ["version_control", "control_map"])
def test_lengths_per_pair_match_the_drawing(how):
    th, R, C, C2 = world()
    if how == "version_control":
        cl = contact_line(control(th, R, C, C2))
    else:
        cl = contact_line(plain_map(th, R, C, C2), homes=th.homes)
    exp = expected()
    for pair, km in exp.items():
        assert cl.length_km[pair] == pytest.approx(km, rel=2e-3, abs=1e-6), pair
    assert cl.total_km == pytest.approx(sum(exp.values()), rel=2e-3)
    assert cl.rear_km["ru|contested"] == pytest.approx(rear_expected()["ru|contested"], rel=2e-3)
    assert cl.by_state["ua"]["ua|ru"] == pytest.approx(exp["ua|ru"], rel=2e-3)
    # The undisputed state border (30 km where both sides hold their own home) is not front:
    # the total would be 30 km longer.
    assert cl.total_km < sum(exp.values()) + 1.0


def test_state_border_is_front_without_homes():
    """Without homes nothing marks the border as undisputed: it counts (shows the rule is what removes it)."""
    th, R, C, C2 = world()
    cl = contact_line(plain_map(th, R, C, C2))
    border = seg_km((50, 0), (50, 10)) + seg_km((50, 20), (50, 40))
    assert cl.length_km["ua|ru"] == pytest.approx(expected()["ua|ru"] + border, rel=2e-3)
    # and without states nothing marks the grey zone's rear edge either
    assert cl.length_km["ru|contested"] == pytest.approx(rear_expected()["ru|contested"], rel=2e-3)


def test_border_sliver_is_looked_through():
    """ru's block stops 200 m short of the border: the sliver between is a drawing gap, not 10 km of front."""
    th, R, C, C2 = world(ru_east_edge_km=49.8)
    cl = contact_line(control(th, R, C, C2))
    exp = seg_km((30, 20), (49.8, 20)) + seg_km((30, 10), (49.8, 10))
    assert cl.length_km["ua|ru"] == pytest.approx(exp, abs=0.5)
    off = contact_line(control(th, R, C, C2), sliver_m=0)
    assert off.length_km["ua|ru"] == pytest.approx(exp + seg_km((49.8, 10), (49.8, 20)), abs=0.5)


def test_geometry_and_outputs():
    th, R, C, C2 = world()
    cl = contact_line(control(th, R, C, C2))
    line = cl.lines["ua|ru"]
    assert line.geom_type == "MultiLineString"
    # The ua|ru line is the block's north and south edges: every point of it within 1 m of them.
    edge = ll(
        shapely.MultiLineString([[(30 * KM, 10 * KM), (50 * KM, 10 * KM)], [(30 * KM, 20 * KM), (50 * KM, 20 * KM)]])
    )
    # (compared in lon/lat, where the drawn box edges are straight: 1e-5° is about 1 m)
    assert line.hausdorff_distance(edge) < 1e-5
    gj = cl.to_geojson()
    assert {f["properties"]["pair"] for f in gj["features"]} == {"ua|ru", "ua|contested", "ru|contested"}
    d = cl.to_dict()
    assert d["total_km"] == pytest.approx(sum(d["length_km"].values()), abs=1e-2)


def test_nobody_fighting_gives_no_line():
    th, *_ = world()
    cl = contact_line(VersionControl(th))
    assert cl.total_km == 0.0 and all(g.is_empty for g in cl.lines.values())


def test_rejects_other_input():
    with pytest.raises(ValueError, match="VersionControl or a ControlMap"):
        contact_line(box(0, 0, 1, 1))


def test_demo_store_series_and_speed(store):
    from frontline.state import version_control

    rows = contact_line_series(store)
    assert len(rows) == len(store.versions())
    for r in rows:
        assert r["total_km"] == pytest.approx(sum(r["length_km"].values()), abs=1e-2)
        assert r["length_km"]["ua|ru"] > 0  # Donetsk and Kursk fronts
    # One version's line is the series' row for it (speed is measured in bench/bench_analysis.py).
    v = store.versions()[-1]
    one = contact_line(version_control(store, v))
    assert one.total_km == pytest.approx(rows[-1]["total_km"], abs=0.01)
    with pytest.raises(ValueError, match="inverted"):
        contact_line_series(store, "2025-03-01", "2025-01-01")


def test_multipart_tile_parts_are_walked():
    """A tile part that is a MultiPolygon (two blocks in one tile) gives the front of both blocks."""
    th, *_ = world()
    R1, R2 = ll(box(10 * KM, 5 * KM, 15 * KM, 10 * KM)), ll(box(20 * KM, 5 * KM, 25 * KM, 10 * KM))
    vc = VersionControl(th)
    vc._add("ua", "ru", shapely.union_all([R1, R2]), 0.0)
    exp = 2 * (seg_km((10, 5), (15, 5), (15, 10), (10, 10), (10, 5)))
    assert contact_line(vc).length_km["ua|ru"] == pytest.approx(exp, rel=2e-3)


def test_front_across_a_river_and_not_across_the_sea():
    """ru on the east bank of a 1 km river (a hole in ua's land) faces ua across it; the sea beyond is no front."""
    river = ll(box(20 * KM, 2 * KM, 21 * KM, 38 * KM))  # a hole in ua's land, like the Oskil or the Dnipro
    ua_home = shapely.difference(ll(box(0, 0, 50 * KM, 40 * KM)), river)
    ru_home = ll(box(50 * KM, 0, 100 * KM, 40 * KM))
    th = Theatre(homes={"ua": ua_home, "ru": ru_home}, countries={})
    R = ll(box(21 * KM, 0, 30 * KM, 40 * KM))  # from the east bank to x = 30, the full height (theatre edge)
    vc = VersionControl(th)
    vc._add("ua", "ru", R, 0.0)
    cl = contact_line(vc)
    bank, east = seg_km((21, 0), (21, 40)), seg_km((30, 0), (30, 40))
    assert cl.length_km["ua|ru"] == pytest.approx(bank + east, rel=5e-3)
    # ±1.2 km: the ~1 km segment that straddles each end of the river is decided by its midpoint
    assert cl.across_water_km == pytest.approx(seg_km((21, 2), (21, 38)), abs=1.2)
    # water_m=0: water ends the front, only the 2 km at each end of the bank face land
    dry_bank = seg_km((21, 0), (21, 2)) + seg_km((21, 38), (21, 40))
    assert contact_line(vc, water_m=0).length_km["ua|ru"] == pytest.approx(east + dry_bank, abs=1.2)
    # The same block against open sea (ua's land ends at the east bank) is no front there.
    th2 = Theatre(homes={"ua": ll(box(21 * KM, 0, 50 * KM, 40 * KM)), "ru": ru_home}, countries={})
    vc2 = VersionControl(th2)
    vc2._add("ua", "ru", R, 0.0)
    assert contact_line(vc2).length_km["ua|ru"] == pytest.approx(east, rel=5e-3)


def test_ground_held_abroad_has_its_front_inside_the_other_state():
    """ua holds a block inside ru's home (Kursk): its edges facing ru's ground are front, the border is not."""
    th, *_ = world()
    K = ll(box(50 * KM, 10 * KM, 60 * KM, 20 * KM))  # against the border at x = 50
    vc = VersionControl(th)
    vc._add("ru", "ua", K, 0.0)
    cl = contact_line(vc)
    exp = seg_km((50, 20), (60, 20), (60, 10), (50, 10))
    assert cl.length_km["ua|ru"] == pytest.approx(exp, rel=2e-3)
    assert cl.by_state["ru"]["ua|ru"] == pytest.approx(exp, rel=2e-3)


def test_front_per_region():
    """Regions split the front where they cut it: x < 40 km and x ≥ 40 km of the drawing."""
    th, R, C, C2 = world()
    west, east = ll(box(-1 * KM, -1 * KM, 40 * KM, 41 * KM)), ll(box(40 * KM, -1 * KM, 101 * KM, 41 * KM))
    cl = contact_line(control(th, R, C, C2), regions={"west": west, "east": east})
    assert cl.by_region["east"]["ua|ru"] == pytest.approx(
        seg_km((40, 20), (50, 20)) + seg_km((40, 10), (50, 10)), abs=1.2
    )
    assert cl.by_region["west"]["ua|contested"] == pytest.approx(expected()["ua|contested"], rel=2e-3)
    total = sum(sum(d.values()) for d in cl.by_region.values())
    assert total == pytest.approx(cl.total_km, rel=1e-9)


def test_cli_front_per_region_file(store, tmp_path):
    """`contact-line --region FILE --region-field NAME`: one row per feature, summing to the front inside them."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "all"},
                "geometry": shapely.geometry.mapping(box(20, 43, 43, 55)),
            }
        ],
    }
    f = tmp_path / "r.geojson"
    f.write_text(json.dumps(fc))
    exe = [str(Path(sys.executable).parent / "frontline")]
    r = subprocess.run(
        [*exe, "contact-line", "--store", str(store.path), "--region", str(f), "--region-field", "name", "--json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert sum(d["by_region"]["r.geojson:all"].values()) == pytest.approx(d["total_km"], rel=1e-6)
    bad = subprocess.run(
        [*exe, "contact-line", "--store", str(store.path), "--region", str(f), "--region-field", "nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "nope" in bad.stderr and "Traceback" not in bad.stderr
