"""On the real DeepState archive (../shared/data; skipped when absent): the Kursk period.

Imports every 5th version from August 2024 to March 2025 and checks areas of
real snapshots against an independent computation done here with shapely and
pyproj directly on the raw polygons (no Frontline tiling, caching or store).
"""

from __future__ import annotations

import orjson
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import shape

from frontline.analysis.area import area_series
from frontline.sources import deepstate

GEOD = Geod(ellps="WGS84")


def _geodesic_km2(g) -> float:
    return sum(abs(GEOD.geometry_area_perimeter(p)[0]) for p in shapely.get_parts(g)) / 1e6


def test_kursk_period_imports_cleanly(kursk):
    st, rep, raw = kursk
    assert rep.failed == 0 and rep.added == len(raw)
    rows = area_series(st, region="russia")
    ua = [r["ua_km2"] for r in rows]
    print("\nua-held ground in Russia (clipped, km²):")
    for r in rows[::3]:
        print(f"  {r['time'][:10]}  {r['ua_km2']:8.1f}  contested {r['contested_km2']:7.1f}")
    peak = max(ua)
    # The salient grew in August 2024 and had shrunk to a fraction of its peak by the end of March 2025.
    assert 500 < peak < 1500
    assert ua[-1] < 0.3 * peak
    assert ua.index(peak) < len(ua) // 2


@pytest.mark.parametrize("pick", [0.5, 0.9])
def test_real_snapshot_areas_match_independent_computation(kursk, theatre, pick):
    st, _, raw = kursk
    vid = sorted(raw)[int(pick * (len(raw) - 1))]
    feats = orjson.loads(raw[vid])["features"]
    ukr, rus = theatre.homes["ua"], theatre.homes["ru"]
    ru_held, ua_lib, grey = [], [], []
    for f in feats:
        g = f.get("geometry")
        if not g or g["type"] not in ("Polygon", "MultiPolygon"):
            continue
        key = deepstate.parse_name(f["properties"].get("name")).key or ""
        geom = shapely.make_valid(shapely.force_2d(shape(g)))
        if key in ("status.occupied", "territories.crimea", "territories.ordlo", "territories.tuzla"):
            ru_held.append(geom)
        elif key == "status.unknown":
            grey.append(geom)
        elif key.startswith("status.dismissed"):
            if _geodesic_km2(shapely.intersection(geom, rus)) > _geodesic_km2(shapely.intersection(geom, ukr)):
                ua_lib.append(geom)
    grey_u = shapely.union_all(grey)
    ru_in_ua = shapely.difference(shapely.intersection(shapely.union_all(ru_held), ukr), grey_u)
    ua_in_ru = shapely.difference(shapely.intersection(shapely.union_all(ua_lib), rus), grey_u)
    rows_ua = {r["version_id"]: r for r in area_series(st, region="ukraine")}
    rows_ru = {r["version_id"]: r for r in area_series(st, region="russia")}
    assert rows_ua[str(vid)]["ru_km2"] == pytest.approx(_geodesic_km2(ru_in_ua), rel=1e-3)
    assert rows_ru[str(vid)]["ua_km2"] == pytest.approx(_geodesic_km2(ua_in_ru), rel=1e-3)
    assert rows_ua[str(vid)]["contested_km2"] == pytest.approx(
        _geodesic_km2(shapely.intersection(grey_u, ukr)), rel=1e-3
    )
