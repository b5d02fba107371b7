"""The Kursk salient, August 2024 – March 2025, on the real DeepState archive (skipped when absent).

Walks every imported version (every 5th of the period, see the ``kursk``
fixture), finds the necks of Ukraine's ground in Russia with
:func:`frontline.analysis.corridors.find_necks` and prints the corridor width
over time. What is asserted is what happened: the salient exists from early
August 2024; in early March 2025 its ground hung on a passage under 1 km wide
near 35.18°E 51.12°N (between Sudzha and the northern group); by the end of
March little of it was left.
"""

from __future__ import annotations

import pytest
from pyproj import Geod

from frontline.analysis.corridors import find_necks
from frontline.geodesy import area_km2
from frontline.model import iso
from frontline.state import version_control
from frontline.store import theatre_of

GEOD = Geod(ellps="WGS84")
NECK_PLACE = (35.18, 51.12)


def _km(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000


@pytest.fixture(scope="module")
def walk(kursk):
    st, _, _ = kursk
    home = theatre_of(st).homes["ua"]
    rows = []
    for v in st.versions():
        held = version_control(st, v).abroad("ua")
        row = {"time": iso(v.valid_time), "km2": area_km2(held), "width_m": None, "location": None}
        if not held.is_empty:
            rep = find_necks(held, home=home)
            if rep.necks:
                n = min(rep.necks, key=lambda n: n.width_m)
                row.update(width_m=n.width_m, location=(n.location.x, n.location.y), cut_km2=n.parts[0].area_km2)
        rows.append(row)
    return rows


def test_kursk_corridor_width_over_time(walk):
    print("\nua-held ground in Russia: narrowest neck per version")
    for r in walk:
        w = "—" if r["width_m"] is None else f"{r['width_m']:7.0f} m at {r['location'][0]:.3f}E {r['location'][1]:.3f}N"
        print(f"  {r['time'][:10]}  {r['km2']:7.1f} km²  {w}")
    aug = [r for r in walk if "2024-08-10" <= r["time"] < "2024-09-01"]
    assert aug and all(r["km2"] > 100 for r in aug), "the salient exists from early August 2024"
    march = [r for r in walk if "2025-03-01" <= r["time"] < "2025-03-13" and r["width_m"] is not None]
    narrow = [r for r in march if r["width_m"] < 1000 and _km(r["location"], NECK_PLACE) < 10]
    assert narrow, "a neck under 1 km near 35.18E 51.12N in early March 2025"
    peak = max(r["km2"] for r in walk)
    end = [r for r in walk if r["time"] >= "2025-03-25"]
    assert end and end[-1]["km2"] < 0.2 * peak, "by the end of March 2025 little of the salient is left"
