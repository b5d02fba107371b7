"""Control status of settlements (frontline.analysis.settlements).

Every map here is a 10 × 10 square theatre cut into vertical strips, so the
expected status of each point can be read off the x coordinate by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from frontline.analysis.settlements import settlement_status, settlements_changed, status_codes
from frontline.model import ControlMap, utc
from frontline.sources.geonames import Gazetteer

EMPTY = Polygon()


def strips(version: str, day: int, ua_to: float, grey_to: float, *, width: float = 10.0) -> ControlMap:
    """ua holds x in [0, ua_to], grey [ua_to, grey_to], ru [grey_to, width]."""
    theatre = box(0, 0, width, 10)
    return ControlMap(
        source="test",
        version_id=version,
        valid_time=utc(day * 86400),
        held={"ua": box(0, 0, ua_to, 10), "ru": box(grey_to, 0, width, 10)},
        contested=box(ua_to, 0, grey_to, 10) if grey_to > ua_to else EMPTY,
        theatre=theatre,
    )


def gaz(names, xs, ys) -> Gazetteer:
    n = len(names)
    obj = np.empty(n, dtype=object)
    obj[:] = list(names)
    return Gazetteer(
        ids=np.arange(100, 100 + n, dtype=np.int64),
        names=obj,
        lon=np.asarray(xs, float),
        lat=np.asarray(ys, float),
        country=np.array(["UA"] * n, dtype=object),
        population=np.zeros(n, dtype=np.int64),
        alternates=[[] for _ in range(n)],
        feature_code=np.array([""] * n, dtype=object),
        admin1=np.array([""] * n, dtype=object),
    )


def test_inside_outside_and_contested():
    m = strips("v1", 0, 5, 6)
    pts = {
        "ua": (2, 5),
        "ru": (8, 5),
        "grey": (5.5, 5),
        "far": (20, 5),
        "ua_grey_edge": (5, 5),  # on the edge of the grey zone: on the front line
        "grey_ru_edge": (6, 3),
        "ua_border": (0, 5),  # on the theatre's outer edge of ua ground
        "ru_border": (10, 5),
        "corner": (0, 0),
        "nan": (np.nan, np.nan),
    }
    xs, ys = zip(*pts.values())
    got = dict(zip(pts, settlement_status((xs, ys), m)))
    assert got == {
        "ua": "ua",
        "ru": "ru",
        "grey": "contested",
        "far": None,
        "ua_grey_edge": "contested",
        "grey_ru_edge": "contested",
        "ua_border": "ua",
        "ru_border": "ru",
        "corner": "ua",
        "nan": None,
    }


def test_input_forms_and_outside_value():
    m = strips("v1", 0, 5, 6)
    xs, ys = [2.0, 8.0, 30.0], [5.0, 5.0, 5.0]
    expected = ["ua", "ru", "outside"]
    assert settlement_status((xs, ys), m, outside="outside").tolist() == expected
    assert settlement_status(np.column_stack([xs, ys]), m, outside="outside").tolist() == expected
    assert settlement_status(gaz("abc", xs, ys), m, outside="outside").tolist() == expected
    assert settlement_status((np.zeros(0), np.zeros(0)), m).tolist() == []
    codes, labels = status_codes((xs, ys), m)
    assert labels == (None, "ua", "ru", "contested")
    assert codes.tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="shape"):
        settlement_status(np.zeros((3, 3)), m)
    with pytest.raises(ValueError, match="one length"):
        settlement_status(([1, 2], [1, 2, 3]), m)


def test_sides_meeting_without_grey_zone():
    m = strips("v1", 0, 5, 5)  # ua [0,5], ru [5,10], no grey zone
    assert settlement_status(([5.0, 4.0, 6.0], [5.0, 5.0, 5.0]), m).tolist() == ["contested", "ua", "ru"]


def test_sliver_gap_goes_to_nearest_class():
    m = ControlMap(
        "test", "v1", utc(0), {"ua": box(0, 0, 4.999, 10), "ru": box(5, 0, 10, 10)}, EMPTY, box(0, 0, 10, 10)
    )
    assert settlement_status(([4.9993, 4.9998, 11.0], [5.0, 5.0, 5.0]), m).tolist() == ["ua", "ru", None]


def test_holes_and_multipolygons():
    enclave = box(1, 1, 2, 2)
    ua = box(0, 0, 5, 10).difference(enclave)
    ru = MultiPolygon([enclave, box(6, 0, 10, 10)])
    m = ControlMap("test", "v1", utc(0), {"ua": ua, "ru": ru}, box(5, 0, 6, 10), box(0, 0, 10, 10))
    got = settlement_status(([1.5, 0.5, 3, 7, 1.0], [1.5, 0.5, 3, 7, 1.5]), m).tolist()
    assert got == ["ru", "ua", "ua", "ru", "contested"]  # (1, 1.5) is where ua and the enclave meet


def test_missing_or_empty_geometries():
    m = ControlMap("test", "v1", utc(0), {"ua": box(0, 0, 10, 10), "ru": EMPTY}, EMPTY, EMPTY)
    assert settlement_status(([1.0, 20.0], [1.0, 1.0]), m).tolist() == ["ua", None]
    bad = ControlMap("test", "v1", utc(0), {"contested": box(0, 0, 1, 1)}, EMPTY, EMPTY)
    with pytest.raises(ValueError, match="kept for grey ground"):
        settlement_status(([0.5], [0.5]), bad)


# ---------------------------------------------------------------- changes over time


# t0: ua [0,5]   grey [5,6]   ru [6,10]
# t1: ua [0,3]   grey [3,4]   ru [4,10]      ru advances
# t2: ua [0,5]   grey [5,6]   ru [6,10]      ua retakes
# t3: ua [0,3.5] grey [3.5,4] ru [4,12]      ru advances again; the theatre grows east to x = 12
def history() -> list[ControlMap]:
    return [
        strips("v0", 0, 5, 6),
        strips("v1", 1, 3, 4),
        strips("v2", 2, 5, 6),
        strips("v3", 3, 3.5, 4, width=12),
    ]


PLACES = {
    # name: (x, status at t0..t3) worked out from the table above
    "Flipflop": (4.5, ["ua", "ru", "ua", "ru"]),
    "Retaken": (3.2, ["ua", "contested", "ua", "ua"]),
    "Greyed": (3.75, ["ua", "contested", "ua", "contested"]),
    "Frontline": (5.5, ["contested", "ru", "contested", "ru"]),
    "Deep ru": (8.0, ["ru", "ru", "ru", "ru"]),
    "Deep ua": (1.0, ["ua", "ua", "ua", "ua"]),
    "East": (11.0, [None, None, None, "ru"]),
}


def places() -> Gazetteer:
    names = list(PLACES)
    return gaz(names, [PLACES[n][0] for n in names], [5.0] * len(names))


def test_statuses_per_map_match_the_table():
    g = places()
    for t, m in enumerate(history()):
        assert settlement_status(g, m).tolist() == [PLACES[n][1][t] for n in PLACES]


def test_settlements_changed():
    out = settlements_changed(places(), history())
    by_name = {d["name"]: d for d in out}
    assert set(by_name) == {"Flipflop", "Greyed", "Frontline", "East"}

    flip = by_name["Flipflop"]
    assert (flip["from"], flip["to"]) == ("ua", "ru")
    assert flip["id"] == 100 and flip["index"] == 0 and flip["lon"] == 4.5
    assert [(t["version_id"], t["from"], t["to"]) for t in flip["transitions"]] == [
        ("v1", "ua", "ru"),
        ("v2", "ru", "ua"),
        ("v3", "ua", "ru"),
    ]
    assert flip["reversals"] == 2
    assert flip["first_change"]["version_id"] == "v1"
    assert flip["first_change"]["valid_time"] == "1970-01-02T00:00:00Z"
    assert flip["first_change"]["previous_version_id"] == "v0"
    assert flip["last_change"]["version_id"] == "v3"

    greyed = by_name["Greyed"]
    assert (greyed["from"], greyed["to"]) == ("ua", "contested")
    assert greyed["reversals"] == 2 and len(greyed["transitions"]) == 3

    east = by_name["East"]
    assert (east["from"], east["to"]) == (None, "ru")
    assert [t["version_id"] for t in east["transitions"]] == ["v3"]
    assert east["reversals"] == 0

    # ordered by first change, then by position
    assert [d["name"] for d in out] == ["Flipflop", "Greyed", "Frontline", "East"]


def test_reverted_settlements_only_on_request():
    out = settlements_changed(places(), history(), include_reverted=True)
    by_name = {d["name"]: d for d in out}
    assert "Retaken" in by_name
    back = by_name["Retaken"]
    assert back["from"] == back["to"] == "ua"
    assert [(t["version_id"], t["to"]) for t in back["transitions"]] == [("v1", "contested"), ("v2", "ua")]
    assert back["reversals"] == 1
    assert "Deep ru" not in by_name and "Deep ua" not in by_name


def test_changed_with_plain_arrays_and_edge_cases():
    xs = [PLACES[n][0] for n in PLACES]
    out = settlements_changed((xs, [5.0] * len(xs)), history())
    assert [d["index"] for d in out] == [0, 2, 3, 6]
    assert out[0]["id"] is None and out[0]["name"] is None
    assert settlements_changed(places(), history()[:1]) == []
    assert settlements_changed(places(), []) == []
    assert settlements_changed(places(), [history()[0], history()[0]]) == []


def test_maps_out_of_order_are_refused():
    maps = history()
    with pytest.raises(ValueError, match="ordered by valid_time: map 2 \\(v1"):
        settlements_changed(places(), [maps[0], maps[2], maps[1]])


def test_store_fast_path_agrees_with_whole_ground(demo_store):
    """On a map read from a store, the tile-part lookup gives the same status as whole held ground,
    for random points and for points exactly on the grey zone's and the salient's edges."""
    from frontline.state import state_at

    rng = np.random.default_rng(3)
    for v in demo_store.versions()[::2]:
        cm, _ = state_at(demo_store, v.valid_time)
        x0, y0, x1, y1 = cm.control.abroad("ua").union(cm.control.contested).bounds
        lon = rng.uniform(x0 - 0.3, x1 + 0.3, 4000)
        lat = rng.uniform(y0 - 0.3, y1 + 0.3, 4000)
        edges = np.concatenate(
            [
                shapely.get_coordinates(cm.control.contested)[:300],
                shapely.get_coordinates(cm.control.abroad("ua"))[:300],
                [[35.0, 51.0], [35.5, 51.5], [35.5, 51.0]],
            ]
        )  # tile corners
        lon, lat = np.concatenate([lon, edges[:, 0]]), np.concatenate([lat, edges[:, 1]])
        fast, labels = status_codes((lon, lat), cm)
        whole = ControlMap(
            cm.source, cm.version_id, cm.valid_time, held=dict(cm.held), contested=cm.contested, theatre=cm.theatre
        )
        slow, _ = status_codes((lon, lat), whole)
        # Where a salient's edge meets the state border, a point lies on three boundaries at once and
        # the two overlays round differently: either answer names ground touching the point.
        homes = cm.control.theatre.homes
        junction = shapely.intersects_xy(homes["ua"].boundary, lon, lat) & shapely.intersects_xy(
            homes["ru"].boundary, lon, lat
        )
        assert np.array_equal(fast[~junction], slow[~junction])
        assert set(np.unique(fast[junction])) <= {1, 2, 3} and junction.sum() < 0.01 * len(lon)
        assert {labels[c] for c in np.unique(fast)} >= {"ua", "ru"}
