"""Change between two times, checked against the scenario's own drawing.

The demo's Donetsk front is an occupied box whose west edge moves 0.02° a
week, with a 0.03° grey strip west of it. Between week 0 and week k, ``ru``
gains the box [37.75 − 0.02k, 37.75] × [47.7, 48.5] (ground that was ``ua``
or grey), ``ua`` loses [37.72 − 0.02k, 37.72] and the grey zone moves. The
Kursk salient (in Russia) is recomputed here with shapely from the raw
scenario polygons and the homes, without tiles or the store. Areas are
pyproj ``Geod`` on the boxes' corners.
"""

from __future__ import annotations

import json

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box, shape

from frontline.analysis.change import change_between, change_log
from frontline.demo import scenario

GEOD = Geod(ellps="WGS84")


def km2(g) -> float:
    return sum(abs(GEOD.geometry_area_perimeter(p)[0]) for p in shapely.get_parts(g)) / 1e6


@pytest.fixture(scope="module")
def store(backend_demo_store):
    """The 6-week demo store on each backend (a GeoPackage, then PostGIS)."""
    return backend_demo_store


def raw(weeks: int, k: int):
    """(salient, grey) of week k as drawn in the scenario, lon/lat."""
    feats = scenario(weeks)[k]["map"]["features"]
    g = [shapely.force_2d(shape(f["geometry"])) for f in feats]
    return g[0], g[1]


def test_donetsk_front_gain_matches_the_boxes(store, theatre):
    vs = store.versions()
    k = len(vs) - 1
    rep = change_between(store, vs[0].valid_time, vs[k].valid_time)
    west0, westk = 37.75, 37.75 - 0.02 * k
    ua_home = theatre.homes["ua"]  # the borders data has small holes (ponds) here: clip the boxes to it
    gain_box = shapely.intersection(box(westk, 47.7, west0, 48.5), ua_home)
    ru_gain = km2(gain_box)
    ua_loss = km2(shapely.intersection(box(westk - 0.03, 47.7, west0 - 0.03, 48.5), ua_home))
    assert rep.km2[("ru", "gained", "ukraine")] == pytest.approx(ru_gain, rel=1e-3)
    assert rep.km2[("ua", "lost", "ukraine")] == pytest.approx(ua_loss, rel=1e-3)
    assert rep.km2[("ru", "lost", "ukraine")] == pytest.approx(0.0, abs=1e-3)
    # The largest advance is that box, centred where it was drawn.
    top = rep.advances(1)[0]
    assert top["side"] == "ru" and top["km2"] == pytest.approx(ru_gain, rel=1e-3)
    assert top["lon"] == pytest.approx(gain_box.centroid.x, abs=1e-3)
    assert top["lat"] == pytest.approx(gain_box.centroid.y, abs=1e-3)


def test_kursk_salient_change_matches_raw_polygons(store, theatre):
    vs = store.versions()
    k = len(vs) - 1
    rep = change_between(store, vs[0].valid_time, vs[k].valid_time)
    ru_home = theatre.homes["ru"]
    (s0, g0), (sk, gk) = raw(len(vs), 0), raw(len(vs), k)
    held0 = shapely.intersection(shapely.difference(s0, g0), ru_home)
    heldk = shapely.intersection(shapely.difference(sk, gk), ru_home)
    assert rep.km2[("ua", "lost", "russia")] == pytest.approx(km2(shapely.difference(held0, heldk)), rel=5e-3)
    assert rep.km2[("ua", "gained", "russia")] == pytest.approx(
        km2(shapely.difference(heldk, held0)), rel=5e-2, abs=0.05
    )
    g0r, gkr = shapely.intersection(g0, ru_home), shapely.intersection(gk, ru_home)
    assert rep.km2[("contested", "gained", "russia")] == pytest.approx(km2(shapely.difference(gkr, g0r)), rel=5e-3)


def test_gains_balance_losses_and_net_matches_areas(store):
    from frontline.analysis.area import area_at

    vs = store.versions()
    rep = change_between(store, vs[1].valid_time, vs[3].valid_time)
    t = rep.totals()
    assert sum(x["gained_km2"] for x in t.values()) == pytest.approx(sum(x["lost_km2"] for x in t.values()), abs=0.01)
    a1, a3 = (area_at(store, vs[i].valid_time, region="theatre") for i in (1, 3))
    for s in ("ua", "ru", "contested"):
        assert rep.net()[s] == pytest.approx(a3[f"{s}_km2"] - a1[f"{s}_km2"], abs=0.01)


def test_outputs_and_same_version(store):
    vs = store.versions()
    rep = change_between(store, vs[0].valid_time, vs[2].valid_time)
    d = json.loads(json.dumps(rep.to_dict()))
    assert {r["change"] for r in d["rows"]} == {"gained", "lost"}
    assert {r["region"] for r in d["rows"]} == {"ukraine", "russia"}
    gj = rep.to_geojson()
    for f in gj["features"]:
        p = f["properties"]
        assert p["km2"] == pytest.approx(km2(shape(f["geometry"])), rel=1e-6, abs=1e-4)
        assert p["km2"] == pytest.approx(rep.km2[(p["side"], p["change"], p["region"])], abs=1e-4)
    same = change_between(store, vs[2].valid_time, vs[2].valid_time)
    assert same.tiles_changed == 0 and all(v == 0 for v in same.net().values())


def test_change_log_rows_chain(store):
    vs = store.versions()
    rows = change_log(store, vs[0].valid_time, vs[-1].valid_time, every="day")
    assert len(rows) == len(vs) - 1  # weekly versions: one per day that has one; the first has nothing before it
    for r, (a, b) in zip(rows, zip(vs, vs[1:])):
        assert (r["from_version_id"], r["version_id"]) == (a.version_id, b.version_id)
        one = change_between(store, a.valid_time, b.valid_time).totals()
        assert r["net_ru_km2"] == pytest.approx(one["ru"]["net_km2"], abs=1e-6)


def test_bad_times_are_clear(store):
    vs = store.versions()
    with pytest.raises(ValueError, match="No version of deepstate at"):
        change_between(store, "2020-01-01", vs[-1].valid_time)
    with pytest.raises(ValueError, match="inverted"):
        change_between(store, vs[-1].valid_time, vs[0].valid_time)
    with pytest.raises(ValueError, match="--every"):
        change_log(store, vs[0].valid_time, vs[-1].valid_time, every="hour")


def test_net_between_distant_versions_is_the_change_of_area(store):
    # Gains minus losses over the whole run must equal each side's change of area in the theatre, worked out
    # from the two versions' stored areas (speed is measured in bench/bench_analysis.py, not here).
    from frontline.analysis.area import area_at

    vs = store.versions()
    net = change_between(store, vs[0].valid_time, vs[-1].valid_time).net()
    a = area_at(store, vs[0].valid_time, region="theatre")
    b = area_at(store, vs[-1].valid_time, region="theatre")
    for side in ("ua", "ru", "contested"):
        assert net[side] == pytest.approx(b[f"{side}_km2"] - a[f"{side}_km2"], abs=0.05)
    assert net["ru"] > 100  # the demo's Russian advance: the comparison is not of two equal maps
