"""Road import (OSM PBF/XML, GeoJSON) and supply-road exposure.

Geometry is built in metres in a local projection near 35.3E 51.2N (the
Kharkiv–Kupiansk area) and converted to lon/lat, so the expected exposures
are plain planar arithmetic; lengths are checked against pyproj's Geod.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import osmium
import pytest
import shapely
from osmium.osm.mutable import Node, Way
from pyproj import Geod
from shapely.geometry import LineString, Polygon, box

from frontline.analysis.roads import (
    DEFAULT_RANGES_KM,
    exposure_series,
    last_road_out,
    road_exposure,
)
from frontline.geodesy import LocalProjection
from frontline.model import ControlMap
from frontline.sources.osm import Roads, read_roads

WGS84 = Geod(ellps="WGS84")
P = LocalProjection(35.3, 51.2)
KM = 1000.0


def ll(geom_m, step_m: float | None = 250.0):
    """Metric geometry → lon/lat. Densify first so straight metric edges stay
    straight in any nearby local projection (a 100 km lon/lat chord bows ~250 m)."""
    if step_m:
        geom_m = shapely.segmentize(geom_m, step_m)
    return P.to_lonlat(geom_m)


def kbox(x0, y0, x1, y1):
    return box(x0 * KM, y0 * KM, x1 * KM, y1 * KM)


def kline(*pts):
    return LineString([(x * KM, y * KM) for x, y in pts])


def control_map(ru_m, ua_m, contested_m=None, *, day=1) -> ControlMap:
    ru, ua = ll(ru_m), ll(ua_m)
    contested = ll(contested_m) if contested_m is not None else Polygon()
    return ControlMap(
        source="test",
        version_id=f"v{day}",
        valid_time=datetime(2025, 3, day, tzinfo=UTC),
        held={"ua": ua, "ru": ru},
        contested=contested,
        theatre=shapely.union_all([ru, ua, contested]),
    )


def make_roads(lines_m, names, refs=None, classes=None, step_m=500.0) -> Roads:
    n = len(lines_m)
    geoms = np.empty(n, dtype=object)
    geoms[:] = [ll(g, step_m) for g in lines_m]
    return Roads(
        geoms,
        ids=[f"t{i}" for i in range(n)],
        names=names,
        names_en=[""] * n,
        refs=refs or [""] * n,
        classes=classes or ["primary"] * n,
        source="generated",
    )


def geod_km(line_ll) -> float:
    xy = shapely.get_coordinates(line_ll)
    return WGS84.line_length(xy[:, 0], xy[:, 1]) / KM


# --------------------------------------------------------------------------- exposure

RANGES = {"r2": 2.0, "r5": 5.0, "r10": 10.0, "r20": 20.0}


@pytest.fixture()
def front():
    """Enemy south of y=0, ua north of it; roads 3 km north of the line."""
    cm = control_map(kbox(-30, -30, 30, 0), kbox(-30, 0, 30, 60))
    roads = make_roads(
        [
            kline((-10, 3), (10, 3)),  # parallel to the edge, 3 km away
            kline((0, 3), (0, 23)),  # perpendicular, from 3 km out to 23 km
            kline((-10, 50), (10, 50)),  # 50 km away: out of every range
            kline((-10, -10), (10, -10)),  # inside enemy ground: not ua's road
        ],
        names=["parallel", "perpendicular", "far", "enemy"],
    )
    return cm, roads


def test_parallel_and_perpendicular_exposure(front):
    cm, roads = front
    table = road_exposure(roads, cm, "ua", RANGES)
    rows = {r["name"]: r for r in table}
    assert set(rows) == {"parallel", "perpendicular", "far"}  # the enemy-side road is not ua's

    par = rows["parallel"]
    assert par["length_km"] == pytest.approx(geod_km(roads.geometry[0]), rel=1e-9)
    assert par["length_km"] == pytest.approx(20.0, rel=1e-3)
    assert par["exposed_km"]["r2"] == pytest.approx(0.0, abs=1e-9)
    for r in ("r5", "r10", "r20"):
        assert par["exposed_share"][r] == pytest.approx(1.0, abs=1e-6)
    assert par["inside_km"] == 0.0
    assert par["worst"] == "r5"

    # Perpendicular: exposed length = range − 3 km.
    per = rows["perpendicular"]
    assert per["length_km"] == pytest.approx(20.0, rel=1e-3)
    assert per["exposed_km"]["r2"] == pytest.approx(0.0, abs=1e-9)
    for r, km in (("r5", 2.0), ("r10", 7.0), ("r20", 17.0)):
        assert per["exposed_km"][r] == pytest.approx(km, rel=0.01)
        assert per["exposed_share"][r] == pytest.approx(km / 20.0, rel=0.01)

    far = rows["far"]
    assert all(v == 0.0 for v in far["exposed_km"].values())
    assert far["worst"] == "beyond"
    assert list(par["exposed_km"]) == ["r2", "r5", "r10", "r20"]


def test_contested_ground_counts_as_enemy():
    # A 1.5 km grey strip between the lines: the roads are 1.5 km from it.
    cm = control_map(kbox(-30, -30, 30, 0), kbox(-30, 1.5, 30, 60), contested_m=kbox(-30, 0, 30, 1.5))
    roads = make_roads([kline((-10, 3), (10, 3)), kline((0, 3), (0, 23))], names=["parallel", "perpendicular"])
    rows = {r["name"]: r for r in road_exposure(roads, cm, "ua", {"r2": 2.0, "r5": 5.0})}
    assert rows["parallel"]["exposed_share"]["r2"] == pytest.approx(1.0, abs=1e-6)
    assert rows["perpendicular"]["exposed_km"]["r2"] == pytest.approx(0.5, rel=0.01)
    assert rows["perpendicular"]["exposed_km"]["r5"] == pytest.approx(3.5, rel=0.01)


def test_road_partly_in_enemy_ground_counts_inside():
    cm = control_map(kbox(-30, -30, 30, 0), kbox(-30, 0, 30, 60))
    roads = make_roads([kline((0, -4), (0, 16))], names=["through"])
    (row,) = road_exposure(roads, cm, "ua", RANGES)
    assert row["inside_km"] == pytest.approx(4.0, rel=0.01)
    assert row["exposed_km"]["r2"] == pytest.approx(6.0, rel=0.01)  # 4 inside + 2 within 2 km
    assert row["exposed_km"]["r20"] == pytest.approx(20.0, rel=1e-3)
    assert row["worst"] == "inside"


def test_geojson_layer(front):
    cm, roads = front
    table = road_exposure(roads, cm, "ua", RANGES)
    fc = json.loads(json.dumps(table.to_geojson()))
    assert fc["type"] == "FeatureCollection"
    per = [f for f in fc["features"] if f["properties"]["name"] == "perpendicular"]
    by_band = {f["properties"]["band"]: geod_km(shapely.geometry.shape(f["geometry"])) for f in per}
    # 3→5 km, 5→10, 10→20, 20→23: the bands tile the road.
    assert by_band["r5"] == pytest.approx(2.0, rel=0.01)
    assert by_band["r10"] == pytest.approx(5.0, rel=0.01)
    assert by_band["r20"] == pytest.approx(10.0, rel=0.01)
    assert by_band["beyond"] == pytest.approx(3.0, rel=0.01)
    assert len({f["properties"]["colour"] for f in per}) == 4
    whole = table.to_geojson(segments=False)["features"]
    assert len(whole) == 3


def test_exposure_series_tracks_an_advance(front):
    cm1, roads = front
    cm2 = control_map(kbox(-30, -30, 30, 2), kbox(-30, 2, 30, 60), day=9)  # enemy 2 km closer
    series = exposure_series(roads, [cm2, cm1], "ua", RANGES)  # unsorted on purpose
    per = next(s for s in series if s["name"] == "perpendicular")
    assert per["times"] == ["2025-03-01T00:00:00Z", "2025-03-09T00:00:00Z"]
    assert per["exposed_km"]["r5"] == pytest.approx([2.0, 4.0], rel=0.01)
    par = next(s for s in series if s["name"] == "parallel")
    assert par["exposed_share"]["r2"] == pytest.approx([0.0, 1.0], abs=1e-6)
    assert par["touches_held"] == [True, True]


def test_exposure_errors(front):
    cm, roads = front
    with pytest.raises(ValueError, match="'xx' is not in control map"):
        road_exposure(roads, cm, "xx")
    cm.held["ua"] = Polygon()
    with pytest.raises(ValueError, match="holds no ground"):
        road_exposure(roads, cm, "ua")
    cm2 = control_map(kbox(-30, -30, 30, 0), kbox(-30, 0, 30, 60))
    with pytest.raises(ValueError, match="None of the 1 roads"):
        road_exposure(make_roads([kline((300, 300), (310, 300))], ["x"]), cm2, "ua")
    with pytest.raises(ValueError, match="positive"):
        road_exposure(roads, cm2, "ua", {"fpv": -1})
    with pytest.raises(ValueError, match="no lines"):
        road_exposure(roads[np.zeros(len(roads), dtype=bool)], cm2, "ua")
    assert list(DEFAULT_RANGES_KM.values()) == sorted(DEFAULT_RANGES_KM.values())


# --------------------------------------------------------------------------- OSM import

NODES = {  # id: (x km, y km)
    1: (0, 0),
    2: (3, 1),
    3: (6, 0),
    4: (9, 2),
    5: (0, 10),
    6: (2, 12),
    7: (0, 20),
    8: (1, 21),
}


def node_ll(i):
    x, y = NODES[i]
    p = P.to_lonlat(shapely.Point(x * KM, y * KM))
    return (round(p.x, 7), round(p.y, 7))  # OSM stores 1e-7° fixed point


def write_osm(path, ways, nodes=NODES):
    with osmium.SimpleWriter(str(path)) as w:
        for i in sorted(nodes):
            w.add_node(Node(id=i, location=node_ll(i)))
        for wid, refs, tags in ways:
            w.add_way(Way(id=wid, nodes=refs, tags=tags))


OSM_WAYS = [
    (10, [1, 2, 3], {"highway": "primary", "name": "Харківська", "name:en": "Kharkiv road", "ref": "H-20"}),
    (11, [3, 4], {"highway": "secondary", "name": "Харківська", "ref": "H-20"}),
    (12, [5, 6], {"highway": "footway", "name": "path"}),  # not a road class
    (13, [5, 6, 7], {"highway": "track"}),
    (14, [7, 99], {"highway": "residential", "name": "half-missing"}),  # 1 of 2 nodes known
    (15, [7, 98, 8], {"highway": "tertiary", "name": "gap"}),  # 2 of 3 nodes known
    (16, [1, 5], {"building": "yes"}),
]


def geod_nodes_km(ids):
    xy = np.array([node_ll(i) for i in ids])
    return WGS84.line_length(xy[:, 0], xy[:, 1]) / KM


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm"])
def test_read_osm(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    write_osm(path, OSM_WAYS)
    roads = read_roads(path)
    assert list(roads.ids) == ["w10", "w11", "w13", "w15"]
    assert list(roads.classes) == ["primary", "secondary", "track", "tertiary"]
    assert list(roads.names) == ["Харківська", "Харківська", "", "gap"]
    assert roads.names_en[0] == "Kharkiv road" and roads.refs[1] == "H-20"
    expected = [geod_nodes_km([1, 2, 3]), geod_nodes_km([3, 4]), geod_nodes_km([5, 6, 7]), geod_nodes_km([7, 8])]
    assert roads.lengths_km() == pytest.approx(expected, rel=1e-9)
    assert expected[0] == pytest.approx(2 * np.hypot(3, 1), rel=1e-3)  # sanity of the fixture
    problems = "\n".join(roads.problems)
    assert "way 14" in problems and "skipped" in problems and str(path) in problems
    assert "way 15" in problems and "1 of 3 nodes missing" in problems

    merged = read_roads(path, merge_by="ref")
    route = merged.ids == "ref=H-20"
    assert route.sum() == 1 and len(merged) == 3
    assert merged.classes[route][0] == "primary"
    assert merged.lengths_km()[route][0] == pytest.approx(expected[0] + expected[1], rel=1e-9)

    assert list(read_roads(path, classes=["track"]).ids) == ["w13"]
    lon, lat = node_ll(1)
    assert set(read_roads(path, bbox=(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)).ids) == {"w10"}


def test_read_osm_rejects_non_road_files(tmp_path):
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="junk.osm.pbf: cannot be read as an OSM file"):
        read_roads(junk)
    no_roads = tmp_path / "buildings.osm.pbf"
    write_osm(no_roads, [(16, [1, 5, 6, 1], {"building": "yes"})])
    with pytest.raises(ValueError, match="buildings.osm.pbf: no road"):
        read_roads(no_roads)
    with pytest.raises(ValueError, match="no such file"):
        read_roads(tmp_path / "missing.osm.pbf")


# --------------------------------------------------------------------------- GeoJSON import


def feature(fid, geometry, **props):
    return {"type": "Feature", "id": fid, "properties": {"highway": "primary", **props}, "geometry": geometry}


def test_read_geojson_with_broken_features(tmp_path):
    a, b, c = node_ll(1), node_ll(3), node_ll(4)
    fc = {
        "type": "FeatureCollection",
        "features": [
            feature(1, {"type": "LineString", "coordinates": [a, b]}, name="good", ref="P-07"),
            feature(2, None, name="null"),
            feature(3, {"type": "Point", "coordinates": a}, name="point"),
            feature(4, {"type": "LineString", "coordinates": [a]}, name="one vertex"),
            feature(5, {"type": "MultiLineString", "coordinates": [[a, b], [c, node_ll(8)]]}, name="two parts"),
            feature(6, {"type": "LineString", "coordinates": [a, a]}, name="degenerate"),
            feature(7, {"type": "LineString", "coordinates": [b, c]}, name="footpath", highway="footway"),
        ],
    }
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(fc))
    roads = read_roads(path)
    assert list(roads.ids) == ["1", "5", "5"]  # the multiline's two disjoint parts share its id
    assert list(roads.names) == ["good", "two parts", "two parts"]
    assert roads.refs[0] == "P-07"
    assert roads.lengths_km()[0] == pytest.approx(geod_nodes_km([1, 3]), rel=1e-9)
    problems = roads.problems
    for fid, why in ((2, "no geometry"), (3, "Point"), (4, "unreadable"), (6, "fewer than 2 distinct")):
        hits = [p for p in problems if f"feature {fid}:" in p]
        assert len(hits) == 1 and why in hits[0] and "roads.geojson" in hits[0]
    assert not any("feature 7" in p for p in problems)  # filtered by class, not broken


def test_read_geojson_rejects_non_road_files(tmp_path):
    pts = tmp_path / "points.geojson"
    pts.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [feature(1, {"type": "Point", "coordinates": node_ll(1)})]}
        )
    )
    with pytest.raises(ValueError, match="points.geojson: .*(not road lines|no line layer)"):
        read_roads(pts)
    junk = tmp_path / "junk.geojson"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="junk.geojson: cannot be read"):
        read_roads(junk)
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps({"type": "FeatureCollection", "features": [feature(1, None)]}))
    with pytest.raises(ValueError, match="broken.geojson: no usable road line"):
        read_roads(broken)
    lines = tmp_path / "lines.geojson"
    lines.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [feature(1, {"type": "LineString", "coordinates": [node_ll(1), node_ll(2)]})],
            }
        )
    )
    with pytest.raises(ValueError, match="no field 'strasse' for the road name"):
        read_roads(lines, name_field="strasse")


def test_read_projected_geopackage(tmp_path):
    # Geofabrik-style fields (osm_id, fclass) in UTM 37N: reprojected to lon/lat.
    import pyogrio.raw
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True)
    a, b, c = node_ll(1), node_ll(3), node_ll(4)
    lines = [LineString([a, b]), LineString([b, c]), LineString([a, c])]
    utm = [shapely.transform(g, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))) for g in lines]
    path = tmp_path / "roads.gpkg"
    pyogrio.raw.write(
        str(path),
        np.array([shapely.to_wkb(g) for g in utm], dtype=object),
        field_data=[np.array([101, 102, 103]), np.array(["primary", "track_grade2", "footway"], dtype=object)],
        fields=["osm_id", "fclass"],
        crs="EPSG:32637",
        driver="GPKG",
        geometry_type="LineString",
    )
    roads = read_roads(path)
    assert list(roads.ids) == ["101", "102"] and list(roads.classes) == ["primary", "track_grade2"]
    assert roads.lengths_km() == pytest.approx([geod_nodes_km([1, 3]), geod_nodes_km([3, 4])], rel=1e-6)
    assert roads.problems == []


# --------------------------------------------------------------------------- last road out

# Enemy south of y=0; home territory east of x=20; the salient is the square
# x∈[-20, 20], y∈[0, 40] km, whose deepest point is O = (0, 20).
SAL_RANGES = {"near": 5.0, "far": 15.0}
SAL_PEN = {"near": 10.0, "far": 3.0, "inside": 50.0}
NORTH = kline((-10, 20), (0, 20), (0, 36), (25, 36))  # O is an inner vertex: must be noded
SOUTH = kline((0, 20), (10, 4), (25, 4))  # 4 km from the enemy for its last 15 km
SHORTCUT = kline((0, 20), (0, -2), (25, -2), (25, 1))  # through enemy-held ground


@pytest.fixture()
def salient_map():
    cm = control_map(kbox(-40, -40, 60, 0), shapely.union(kbox(-20, 0, 60, 40), kbox(20, 0, 60, 60)))
    return cm, ll(kbox(-20, 0, 20, 40)), ll(kbox(20, 0, 60, 60))


def salient_roads(*lines):
    names = {
        id(NORTH): ("Northern road", "T-1"),
        id(SOUTH): ("Southern road", "T-2"),
        id(SHORTCUT): ("Shortcut", "T-3"),
    }
    return make_roads(
        list(lines), names=[names[id(g)][0] for g in lines], refs=[names[id(g)][1] for g in lines], step_m=None
    )


def test_last_road_out_prefers_the_far_route(salient_map):
    cm, salient, home = salient_map
    out = last_road_out(salient_roads(NORTH, SOUTH, SHORTCUT), cm, "ua", salient, home, SAL_RANGES, penalties=SAL_PEN)
    assert out.origin == pytest.approx(shapely.get_coordinates(ll(shapely.Point(0, 20 * KM), None))[0])
    best, (alt,) = out.best, out.alternatives
    assert best.roads == ["T-1 Northern road"]
    assert best.length_km == pytest.approx(16 + 25, rel=0.01)
    assert best.length_km == pytest.approx(geod_km(best.geometry), rel=1e-9)
    assert best.exposed_km == {"near": 0.0, "far": 0.0}
    assert best.cost == pytest.approx(best.length_km, rel=1e-9)

    # Southern road: O→(10,4) is 18.87 km falling from y=20 to y=4, then 15 km at y=4.
    diag = np.hypot(10, 16)
    assert alt.roads == ["T-2 Southern road"]
    assert alt.length_km == pytest.approx(diag + 15, rel=0.01)
    near = diag * (5 - 4) / 16 + 15
    far = diag * (15 - 4) / 16 + 15
    assert alt.exposed_km["near"] == pytest.approx(near, rel=0.01)
    assert alt.exposed_km["far"] == pytest.approx(far, rel=0.01)
    assert alt.exposed_share["far"] == pytest.approx(far / (diag + 15), rel=0.01)
    assert alt.cost == pytest.approx(diag + 15 + 10 * near + 3 * far, rel=0.01)
    assert out.graph["blocked"] >= 1  # the shortcut's edges through enemy ground

    fc = json.loads(json.dumps(out.to_geojson()))
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("route") == 2 and "segment" in kinds and "origin" in kinds
    json.dumps(out.as_dict())


def test_last_road_out_any_origin_and_forced_route(salient_map):
    cm, salient, home = salient_map
    out = last_road_out(
        salient_roads(NORTH, SOUTH), cm, "ua", salient, home, SAL_RANGES, penalties=SAL_PEN, origin="any"
    )
    assert out.best.length_km == pytest.approx(25.0, rel=0.01)  # from (0, 36) straight east
    # Without the northern road the exposed southern one is the only way out.
    only = last_road_out(salient_roads(SOUTH, SHORTCUT), cm, "ua", salient, home, SAL_RANGES, penalties=SAL_PEN)
    assert only.best.roads == ["T-2 Southern road"] and not only.alternatives


def test_centre_origin_skips_dead_ends(salient_map):
    cm, salient, home = salient_map
    track = kline((0.1, 20.1), (0.3, 20.5))  # nearest the salient's centre, leads nowhere
    road = kline((2, 22), (10, 4), (25, 4))
    out = last_road_out(make_roads([track, road], ["track", "road"], step_m=None), cm, "ua", salient, home)
    assert out.origin == pytest.approx(shapely.get_coordinates(ll(shapely.Point(2 * KM, 22 * KM), None))[0])
    assert out.best.roads == ["road"]


def test_last_road_out_cut_off_salient(salient_map):
    cm, salient, home = salient_map
    out = last_road_out(
        salient_roads(NORTH, SHORTCUT), cm, "ua", salient, ll(kbox(50, 0, 60, 60)), SAL_RANGES
    )  # home beyond the northern road's end
    assert out.routes == [] and "cut off" in out.note


def test_last_road_out_crossings_mode(salient_map):
    cm, salient, home = salient_map
    # Two roads crossing without a shared vertex: joined only when noding at crossings.
    roads = make_roads([kline((-10, 20), (10, 20)), kline((5, 10), (5, 30), (30, 30))], names=["a", "b"], step_m=None)
    start = ll(shapely.Point(-10 * KM, 20 * KM), None)
    assert last_road_out(roads, cm, "ua", salient, home, origin=start).routes == []
    out = last_road_out(roads, cm, "ua", salient, home, origin=start, node="crossings")
    assert out.best.length_km == pytest.approx(15 + 10 + 25, rel=0.01)
    assert out.best.roads == ["a", "b"]


def test_last_road_out_errors(salient_map):
    cm, salient, home = salient_map
    roads = salient_roads(NORTH, SOUTH)
    with pytest.raises(ValueError, match="inside home territory"):
        last_road_out(roads, cm, "ua", ll(kbox(30, 10, 40, 20)), home)
    with pytest.raises(ValueError, match="does not overlap ground held by 'ua'"):
        last_road_out(roads, cm, "ua", ll(kbox(-10, -20, 10, -5)), home)
    with pytest.raises(ValueError, match="must be a \\(Multi\\)Polygon"):
        last_road_out(roads, cm, "ua", LineString([(35, 51), (35.1, 51)]), home)
    with pytest.raises(ValueError, match="unknown range 'fpv'"):
        last_road_out(roads, cm, "ua", salient, home, SAL_RANGES, penalties={"fpv": 3})
    with pytest.raises(ValueError, match="No road lies within"):
        last_road_out(make_roads([kline((500, 500), (510, 500))], ["x"]), cm, "ua", salient, home)
