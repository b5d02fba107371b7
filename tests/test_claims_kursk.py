"""A hand-made file of dated claims about the Kursk salient, checked against the real DeepState archive.

Russian MoD claims of March 2025 by coordinates (approximate village centres) and numeric share claims.
What is asserted is what the real map shows, recomputed here independently with state_at + settlement_status
(the ledger uses the faster piece/interval timeline). Skipped when the archive is absent.
"""

from __future__ import annotations

import json

import pytest

from frontline.analysis.claims import verify_claims
from frontline.analysis.settlements import settlement_status
from frontline.sources.claims import read_claims
from frontline.state import state_at

CLAIMS = """claimant,source_url,text,language,time,kind,settlement,lon,lat,side,change,metric,value,region,baseline
RU MoD,https://t.me/mod_russia,Освобождён населённый пункт Малая Локня,ru,2025-03-09T12:00Z,settlement,Малая Локня,35.183,51.290,ru,taken,,,,
RU MoD,https://t.me/mod_russia,Освобождены Лебедевка и Черкасское Поречное,ru,2025-03-09T12:00Z,settlement,Черкасское Поречное,35.135,51.240,ru,taken,,,,
RU MoD,https://t.me/mod_russia,Освобождён населённый пункт Константиновка,ru,2025-03-10T12:00Z,settlement,Константиновка,35.345,51.250,ru,taken,,,,
RU MoD,https://t.me/mod_russia,Освобождён город Суджа,ru,2025-03-13T12:00Z,settlement,Суджа,35.2726,51.1976,ru,taken,,,,
Gerasimov,https://example.org/gerasimov,Russia has regained control of 64% of the territory,en,2025-03-12T12:00Z,numeric,,,,ua,,share_lost,64%,russia,peak
Analyst,https://example.org/analyst,The foothold has shrunk to 20% of its original size,en,2025-03-16T12:00Z,numeric,,,,ua,,share,20%,russia,peak
"""


def test_kursk_claims(kursk, tmp_path):
    st, _, _ = kursk
    p = tmp_path / "kursk_claims.csv"
    p.write_text(CLAIMS, encoding="utf-8")
    rd = read_claims(p)
    assert rd.problems == [] and len(rd.claims) == 6
    out = verify_claims(st, rd.claims, window_days=14)
    print()
    for r in out:
        d = r["detail"]
        print(
            f"{r['time'][:10]} {r['label'][:70]:70s} {r['status']:12s} lag={d.get('lag_days')} "
            f"computed={d.get('computed')} first={d.get('first_version_time')} closest={json.dumps(d.get('closest'))}"
        )
    by = {r["settlement"]: r for r in out if r["kind"] == "settlement"}
    # Every village was in ua's salient at the start of March 2025 (the points are inside it) …
    cm, _ = state_at(st, "2025-03-01")
    pts = [(c.lon, c.lat) for c in rd.claims if c.kind == "settlement"]
    assert list(settlement_status(pts, cm)) == ["ua"] * 4
    # … and Sudzha's claim of 13 March is confirmed within the 14-day window: recompute independently
    sud = by["Суджа"]
    assert sud["status"] == "confirmed", sud
    t_first = sud["detail"]["first_version_time"]
    cm_first, _ = state_at(st, t_first)
    assert settlement_status([(35.2726, 51.1976)], cm_first)[0] == "ru"
    assert 0 <= sud["detail"]["lag_days"] <= 14
    for name in ("Малая Локня", "Черкасское Поречное", "Константиновка"):
        assert by[name]["status"] == "confirmed", by[name]
        cm_f, _ = state_at(st, by[name]["detail"]["first_version_time"])
        c = next(c for c in rd.claims if c.settlement == name)
        assert settlement_status([(c.lon, c.lat)], cm_f)[0] == "ru"
    # "64% retaken" on 12 March: under the held reading the map of that day says more was retaken; the verdict
    # names the reading that fits (if any) and lists every reading with its own baseline
    g = next(r for r in out if r["kind"] == "numeric" and r["detail"]["metric"] == "share_lost")
    d = g["detail"]
    assert d["convention"] == "clipped"
    readings = {x["reading"]: x for x in d["readings"]}
    assert set(readings) == {"held", "held+contested", "held/held+contested", "held+contested/held"}
    held = readings["held"]
    assert held["baseline"] == "peak" and held["computed"] > 0.64 + 0.05 and not held["fits"]
    fitting = [k for k, x in readings.items() if abs(x["computed"] - 0.64) <= 0.05]
    assert d["fits"] == fitting
    assert g["status"] == ("confirmed" if fitting else "contradicted") and (d["reading"] in fitting or not fitting)
    # independent check of every reading from the area table: 1 − current(t) / max baseline(≤ t)
    from frontline.analysis.area import area_series

    rows = [r for r in area_series(st, region="russia") if r["time"] <= d["version_time"]]
    val = {
        "held": [r["ua_km2"] for r in rows],
        "held+contested": [r["ua_km2"] + (r["contested_km2"] or 0) for r in rows],
    }
    for name, x in readings.items():
        cur, _, base = name.partition("/")
        assert x["computed"] == pytest.approx(1 - val[cur][-1] / max(val[base or cur]), abs=1e-3), name
