"""The Kursk salient, August 2024 – March 2025, on the real DeepState archive (skipped when absent).

Walks every imported version (every 5th of the period, see the ``kursk``
fixture), finds the necks of Ukraine's ground in Russia with
:func:`frontline.analysis.corridors.find_necks` on
:func:`~frontline.analysis.corridors.corridor_inputs` (what each bank faces
read from the partition) and prints the neck with the most ground at stake
per version. What is asserted is what happened: the salient exists from
early August 2024; the small border patches near Tyotkino never head the
series (they never hold 5 % of the salient); in early March 2025 most of it
hung on a passage under 500 m wide near 35.18°E 51.12°N (on the border
south-west of Sudzha), and that neck is rank 1; by the end of March little
of the salient was left.
"""

from __future__ import annotations

import pytest
from pyproj import Geod

from frontline.analysis.corridors import SERIES_MIN_GROUND_SHARE, corridor_inputs, find_necks
from frontline.geodesy import area_km2
from frontline.model import iso
from frontline.state import version_control

GEOD = Geod(ellps="WGS84")
NECK_PLACE = (35.18, 51.12)


def _km(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2] / 1000


@pytest.fixture(scope="module")
def walk(kursk):
    st, _, _ = kursk
    rows = []
    for v in st.versions():
        kw = corridor_inputs(version_control(st, v), "ua")
        row = {"time": iso(v.valid_time), "km2": area_km2(kw["held"]), "top": None, "n_necks": 0}
        if not kw["held"].is_empty:
            rep = find_necks(**kw)
            row.update(
                rep.summary(SERIES_MIN_GROUND_SHARE), n_necks=len(rep.necks), top=rep.necks[0] if rep.necks else None
            )
        rows.append(row)
    return rows


def test_kursk_neck_with_the_most_ground_at_stake_over_time(walk):
    print("\nua-held ground in Russia: the neck with the most ground at stake per version")
    for r in walk:
        w = (
            "—"
            if r.get("width_m") is None
            else f"{r['width_m']:7.0f} m at {r['location'][0]:.3f}E {r['location'][1]:.3f}N, "
            f"{r['cut_off_km2']:6.1f} km² ({r['cut_off_share']:.0%}) beyond, banks {'|'.join(r['banks'])}"
        )
        print(f"  {r['time'][:10]}  {r['km2']:7.1f} km²  {w}")
    aug = [r for r in walk if "2024-08-10" <= r["time"] < "2024-09-01"]
    assert aug and all(r["km2"] > 100 for r in aug), "the salient exists from early August 2024"
    # the border patches near Tyotkino (34.2–34.4 E, about 11 km²) never hold 5 % of the salient
    shown = [r for r in walk if r.get("location") is not None]
    assert shown and all(r["location"][0] > 34.6 for r in shown), "a Tyotkino patch heads the series"
    march = [r for r in walk if "2025-03-04" <= r["time"] < "2025-03-09"]
    assert march, "a version of early March 2025 is imported"
    for r in march:
        top = r["top"]
        assert top is not None and top.rank == 1
        assert top.width_m < 500 and _km((top.location.x, top.location.y), NECK_PLACE) < 1.0
        assert top.cut_off_share >= 0.70, "most of the salient lies beyond the neck"
        assert any(b in ("enemy", "grey") for b in top.banks)
    peak = max(r["km2"] for r in walk)
    end = [r for r in walk if r["time"] >= "2025-03-25"]
    assert end and end[-1]["km2"] < 0.2 * peak, "by the end of March 2025 little of the salient is left"
