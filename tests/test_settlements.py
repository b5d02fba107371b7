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


# ---------------------------------------------------------------- a series over a store's versions

DONBAS = (36.8, 47.8, 38.0, 48.4)  # a box wholly inside Ukraine, across the demo's Donetsk front
FILLS = {"#a52714": "ru", "#880e4f": "ru", "#bcaaa4": "grey"}  # the demo's occupied, Crimea and unknown fills
CLEAR_DEG = 0.003  # a place this far from every drawn edge is in the same polygons however the store cuts them


def _raw_versions(demo_store) -> list[dict]:
    """The demo's versions as written for import (``<store>-input/versions/<id>.json``), read with json."""
    import json
    from pathlib import Path

    folder = Path(demo_store.path).parent / (Path(demo_store.path).stem + "-input") / "versions"
    return sorted((json.loads(p.read_text()) for p in folder.glob("*.json")), key=lambda o: o["id"])


def _raw_status(fc: dict, lon: np.ndarray, lat: np.ndarray, ukraine) -> tuple[list[str | None], np.ndarray]:
    """Brute force on the raw polygons, for places in Ukraine's box: None outside ``ukraine`` (the border as
    stored: it has small holes here), else grey (closed) first, then occupied, else ua.

    Returns the statuses and whether each place is clear of every polygon's edge and of the border by ``CLEAR_DEG``.
    """
    from shapely.geometry import shape

    pts = shapely.points(lon, lat)
    grey = np.zeros(len(lon), dtype=bool)
    ru = np.zeros(len(lon), dtype=bool)
    inside = shapely.intersects(ukraine, pts)
    clear = ~shapely.dwithin(ukraine.boundary, pts, CLEAR_DEG)
    for f in fc["features"]:
        cls = FILLS.get(f["properties"].get("fill"))
        if cls is None or "Polygon" not in f["geometry"]["type"]:
            continue
        g = shapely.force_2d(shape(f["geometry"]))
        (grey if cls == "grey" else ru)[:] |= shapely.intersects(g, pts)
        clear &= ~shapely.dwithin(g.boundary, pts, CLEAR_DEG)
    # Ground is cut to the homes: a hole in the border is outside, whatever is drawn over it.
    return [None if not i else "contested" if g else "ru" if r else "ua" for g, r, i in zip(grey, ru, inside)], clear


def test_series_matches_brute_force_on_the_raw_polygons(demo_store):
    """Every version of the demo, places across its moving Donetsk front: the series' status is the one
    read off the raw polygons; a place exactly on the grey zone's edge is contested; a version asked
    again re-tests nothing, and later versions re-test only some of the places."""
    from frontline.analysis.settlements import StatusSeries
    from frontline.store import theatre_of

    # Input data: the border the store was made with, cut to (around) the box so the brute force stays quick.
    ukraine = theatre_of(demo_store).homes["ua"].intersection(box(*DONBAS).buffer(0.1))
    rng = np.random.default_rng(11)
    w, s, e, n = DONBAS
    lon, lat = rng.uniform(w, e, 3000), rng.uniform(s, n, 3000)
    raws = _raw_versions(demo_store)
    versions = demo_store.versions()
    assert [int(v.version_id) for v in versions] == [r["id"] for r in raws]
    series = StatusSeries(demo_store, (lon, lat))
    retested = []
    for v, raw in zip(versions, raws):
        want, clear = _raw_status(raw["map"], lon, lat, ukraine)
        got = [series.labels[c] for c in series.codes(v)]
        retested.append(series.retested)
        assert clear.sum() > 2500
        assert [g for g, k in zip(got, clear) if k] == [x for x, k in zip(want, clear) if k]
        assert {"ua", "ru", "contested"} <= set(want)
    assert retested[0] == len(lon) and all(0 < r < len(lon) for r in retested[1:])
    again = series.codes(versions[-1])
    assert series.retested == 0 and not again.flags.writeable

    # On the grey strip's east edge (its raw coordinate, as drawn): the front line itself.
    for v, raw in zip(versions, raws):
        (grey,) = [
            f
            for f in raw["map"]["features"]
            if f["properties"].get("fill") == "#bcaaa4"
            and f["geometry"]["type"] == "Polygon"
            and max(c[1] for c in f["geometry"]["coordinates"][0]) < 49
        ]
        x_edge = max(c[0] for c in grey["geometry"]["coordinates"][0])
        one = StatusSeries(demo_store, ([x_edge, x_edge - 0.2, x_edge + 0.2], [48.1, 48.1, 48.1]))
        assert [one.labels[c] for c in one.codes(v)] == ["contested", "ua", "ru"]


def test_series_is_status_on_control_on_every_version(demo_store):
    """The series' codes are the whole-version lookup's (status_on_control) at every version, whatever the
    order the versions come in, for random places, places on drawn edges, tile corners and NaN."""
    from frontline.analysis.settlements import StatusSeries, status_on_control
    from frontline.state import version_control

    versions = demo_store.versions()
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(30.0, 40.5, 6000), rng.uniform(44.0, 52.5, 6000)
    edges = []
    for v in versions[::2]:
        vc = version_control(demo_store, v)
        edges += [shapely.get_coordinates(vc.contested)[::7], shapely.get_coordinates(vc.abroad("ua"))[::7]]
    edges.append(np.array([[35.0, 51.0], [35.5, 51.5], [37.5, 48.0], [np.nan, np.nan]]))  # tile corners, NaN
    e = np.concatenate(edges)
    lon, lat = np.concatenate([lon, e[:, 0]]), np.concatenate([lat, e[:, 1]])
    want = {v.version_id: status_on_control(version_control(demo_store, v), (lon, lat)) for v in versions}
    assert len({w[0].tobytes() for w in want.values()}) == len(versions)  # every version differs somewhere
    for order in (versions, versions[::-1], [versions[2], versions[0], versions[0], versions[-1]]):
        series = StatusSeries(demo_store, (lon, lat))
        for v in order:
            got = series.codes(v)
            codes, labels = want[v.version_id]
            assert series.labels == labels
            np.testing.assert_array_equal(got, codes)


def test_status_matrix_uses_the_series(demo_store):
    """status_matrix (the CLI's ``settlements changed``) equals the per-version lookup, in the store's labels."""
    from frontline.analysis.settlements import status_matrix, status_on_control
    from frontline.state import version_control

    versions = demo_store.versions()
    # Grey ground [37.72, 37.75] at week 0 and 0.02° further west each week, occupied ground east of it.
    lon, lat = np.array([37.0, 37.735, 38.5, 35.4, 20.0]), np.array([48.0, 48.1, 48.1, 51.2, 50.0])
    mat, labels = status_matrix(demo_store, versions, lon, lat)
    assert labels == [None, *demo_store.sides, "contested"] and mat.shape == (len(versions), 5)
    for t, v in enumerate(versions):
        codes, labs = status_on_control(version_control(demo_store, v), (lon, lat))
        assert [labels[c] for c in mat[t]] == [labs[c] for c in codes]
    assert [labels[c] for c in mat[0]][:3] == ["ua", "contested", "ru"] and labels[mat[0][4]] is None
    assert [labels[c] for c in mat[1]][:3] == ["ua", "ru", "ru"]
    empty, _ = status_matrix(demo_store, [], lon, lat)
    assert empty.shape == (0, 5)
