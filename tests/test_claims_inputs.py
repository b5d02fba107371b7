"""The one claims validator, readings of numeric claims, the map ahead of a claim, id upsert, --now, and event
de-duplication across formats — on the generated scenario of ``test_claims`` (known truth) and real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_claims import DAY, T0, WEEK, a_edge, box_km2, build_store, claim, iso  # noqa: F401

from frontline.analysis.claims import verify_all, verify_claims
from frontline.sources.claims import ClaimInputError, parse_claim, read_claims
from frontline.sources.events import parse_events_text
from frontline.store import ledger
from frontline.store._sql import sql_of

BASE = {"claimant": "t", "time": "2025-01-20T12:00Z"}
FRONTLINE = [str(Path(sys.executable).with_name("frontline"))]  # the installed command, as a user runs it


@pytest.fixture(scope="module")
def store(tmp_path_factory, backend, request):
    """The 8-week scenario on each backend (``backend``: a GeoPackage, then PostGIS)."""
    url = request.getfixturevalue("pg_cluster").new_database("inputs") if backend == "postgis" else None
    return build_store(tmp_path_factory.mktemp("inputs") / "c.gpkg", 8, url)


def _new_store(new_store_url, backend, tmp_path, weeks):
    """A fresh scenario store of ``weeks`` weeks for one test, on the test's backend."""
    return build_store(tmp_path / "s.gpkg", weeks, new_store_url if backend == "postgis" else None)


@pytest.mark.parametrize(
    "rec, field, words",
    [
        ({"side": "nato", "lon": 36, "lat": 51, "change": "taken"}, "side", "store's sides"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "taken", "confidence": 7}, "confidence", "7%"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "taken", "confidence": "140%"}, "confidence", "outside"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "seized"}, "change", "taken, lost"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "taken", "kind": "rumour"}, "kind", "settlement"),
        ({"side": "ua", "metric": "share_lost", "value": "64%", "reading": "grey"}, "reading", "held+contested"),
        ({"side": "ua", "metric": "area_km2", "value": 5, "reading": "held/held+contested"}, "reading", "baseline"),
        ({"side": "ua", "metric": "area", "value": 5}, "metric", "area_km2"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "taken", "time": "2035-01-01"}, "time", "future"),
        ({"side": "ru", "lon": 36, "lat": 51, "change": "taken", "time": "soon"}, "time", "soon"),
        ({"side": "ua", "metric": "share_lost", "value": "801 km²"}, "baseline", "km²"),
    ],
)
def test_validator_names_the_field(rec, field, words):
    with pytest.raises(ClaimInputError) as ei:
        parse_claim(BASE | rec, "f.csv line 7")
    e = ei.value
    assert e.field == field and e.where == "f.csv line 7" and words in str(e)
    assert str(e).startswith(f"f.csv line 7: field '{field}':")


def test_validator_accepts_and_normalises():
    c = parse_claim(
        BASE | {"side": "ru", "lon": 36, "lat": 51, "change": "taken", "confidence": "90%", "claim_id": "mod-17"}
    )
    assert c.confidence == pytest.approx(0.9) and c.ref == "mod-17"
    c = parse_claim(BASE | {"side": "ua", "metric": "share_lost", "value": "801 of 1,268 km²", "region": "russia"})
    assert (c.value_km2, c.baseline_km2, c.baseline) == (801, 1268, "1268 km²")
    assert c.value == pytest.approx(801 / 1268)
    c = parse_claim(BASE | {"side": "ua", "metric": "share", "value": "0,2", "baseline": "1 268 km²"})
    assert (c.value, c.baseline_km2) == (pytest.approx(0.2), 1268)


def test_same_check_in_file_cli_and_api(tmp_path, store):
    p = tmp_path / "c.csv"
    p.write_text(
        "claimant,time,lon,lat,side,change,confidence\nx,2025-01-20,36.1,51.5,nato,taken,\n"
        "x,2025-01-20,36.1,51.5,ru,taken,7\nx,2025-01-20,36.1,51.5,ru,taken,0.7\n",
        encoding="utf-8",
    )
    res = read_claims(p, sides=store.sides)
    assert len(res.claims) == 1 and [m.split(": field ")[0] for m in res.problems] == ["c.csv line 2", "c.csv line 3"]
    assert "'side'" in res.problems[0] and "'confidence'" in res.problems[1]
    # the CLI refuses the same input and stores nothing
    r = subprocess.run(
        FRONTLINE
        + [
            "claims",
            "add",
            "--store",
            str(store.path),
            "--claimant",
            "x",
            "--time",
            "2025-01-20",
            "--lon",
            "36.1",
            "--lat",
            "51.5",
            "--side",
            "nato",
            "--change",
            "taken",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "side" in (r.stderr + r.stdout) and "Traceback" not in r.stderr
    assert ledger.list_claims(store) == []


def test_readings_of_numeric_claims(store):
    """A km² claim that counts the grey strip fits only held+contested; a pinned reading alone decides."""
    k = 5
    held = box_km2(a_edge(k), 51.40, 36.60, 51.60)
    grey = box_km2(a_edge(k) - 0.01, 51.40, a_edge(k), 51.60)
    t = iso(T0 + k * WEEK + DAY)
    with_grey = claim(time=t, metric="area_km2", side="ua", region="russia", value=held + grey, tolerance=grey / 3)
    pinned = claim(
        time=t, metric="area_km2", side="ua", region="russia", value=held + grey, tolerance=grey / 3, reading="held"
    )
    # "retaken" against the peak of held+grey (week 0) while the current value is held only
    peak_hc = box_km2(a_edge(0) - 0.01, 51.40, 36.60, 51.60)
    mixed = claim(time=t, metric="share_lost", side="ua", region="russia", value=1 - held / peak_hc, tolerance=0.002)
    own = claim(
        time=t, metric="share_lost", side="ua", region="russia", value=f"{1000 - held:.1f} of 1000 km²", tolerance=0.002
    )
    a, b, c, d = verify_claims(store, [with_grey, pinned, mixed, own], window_days=14)
    assert a["status"] == "confirmed" and a["detail"]["reading"] == "held+contested"
    assert a["detail"]["fits"] == ["held+contested"]
    vals = {r["reading"]: r["computed"] for r in a["detail"]["readings"]}
    assert vals["held"] == pytest.approx(held, rel=2e-3) and vals["held+contested"] == pytest.approx(
        held + grey, rel=2e-3
    )
    assert b["status"] == "contradicted" and b["detail"]["reading"] is None
    assert b["detail"]["reading_pinned"] == "held" and b["detail"]["nearest_reading"]["reading"] == "held+contested"
    assert c["status"] == "confirmed" and c["detail"]["reading"] == "held/held+contested"
    assert len(c["detail"]["readings"]) == 4
    assert d["status"] == "confirmed" and d["detail"]["reading"] == "held"
    assert {r["reading"] for r in d["detail"]["readings"]} == {"held", "held+contested"}
    assert d["detail"]["baseline_km2"] == 1000 and d["detail"]["computed_km2"] == pytest.approx(1000 - held, rel=2e-3)


def test_map_ahead_of_the_claim_and_lookback(store):
    # Lebedevka (36.055, 51.5) is ru from week 4 on; claimed in week 6 + 1 day: the map was 15 days ahead
    t = T0 + 6 * WEEK + DAY
    c = claim(time=iso(t), lon=36.055, lat=51.5, side="ru", change="taken")
    (r,) = verify_claims(store, [c], window_days=14)
    d = r["detail"]
    assert r["status"] == "confirmed" and d["shown_before_claim"] is True
    assert d["lag_days"] == pytest.approx((T0 + 4 * WEEK - t) / DAY) and d["first_version"] == str(T0 + 4 * WEEK)
    assert d["note"] == f"the map showed it {(t - T0 - 4 * WEEK) / DAY:.1f} days before the claim"
    (r,) = verify_claims(store, [c], window_days=14, lookback_days=8)  # bounded: only a week back
    assert r["detail"]["first_version"] == str(T0 + 5 * WEEK) and r["detail"]["lookback_reached"] is True
    assert "at least" in r["detail"]["note"]
    # a polygon claim the map was ahead of: the ru part of [36.00, 36.04] is all ru from week 5 (edge − 0.01 ≥ 36.04)
    poly = claim(
        time=iso(t), geometry="POLYGON((36.0 51.45, 36.04 51.45, 36.04 51.55, 36.0 51.55, 36.0 51.45))", side="ru"
    )
    (r,) = verify_claims(store, [poly], window_days=14)
    assert r["status"] == "confirmed" and r["detail"]["shown_before_claim"] is True and r["detail"]["lag_days"] < 0
    k = next(k for k in range(8) if a_edge(k) - 0.01 >= 36.04 - 0.004)  # ≥ 0.9 of the width
    assert r["detail"]["first_version_time"] == iso(T0 + k * WEEK)


def test_ref_upsert_and_history(tmp_path, new_store_url, backend):
    st = _new_store(new_store_url, backend, tmp_path, 6)
    p = tmp_path / "c.csv"
    p.write_text("claim_id,claimant,time,lon,lat,side,change\nA1,x,2025-01-28,36.055,51.5,ru,taken\n", encoding="utf-8")
    res = read_claims(p)
    assert ledger.upsert_claims(st, res.claims) == [(1, "added")]
    verify_all(st)
    assert ledger.upsert_claims(st, read_claims(p).claims) == [(1, "unchanged")]
    p.write_text("claim_id,claimant,time,lon,lat,side,change\nA1,x,2025-01-28,36.5,51.55,ru,taken\n", encoding="utf-8")
    assert ledger.upsert_claims(st, read_claims(p).claims) == [(1, "updated")]
    assert len(ledger.list_claims(st)) == 1 and ledger.list_claims(st)[0]["ref"] == "A1"
    assert ledger.list_claims(st)[0]["lon"] == 36.5
    verify_all(st)
    hist = ledger.status_history(st, 1)
    assert [h["new_status"] for h in hist] == ["confirmed", "edited", "pending"]
    assert hist[1]["detail"]["edited"]["lon"] == [36.055, 36.5]
    st.close()


def test_now_excludes_later_claims(store, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "claimant,time,lon,lat,side,change\nx,2025-01-20,36.055,51.5,ru,taken\nx,2025-02-20,36.055,51.5,ru,taken\n",
        encoding="utf-8",
    )
    r = subprocess.run(
        FRONTLINE + ["claims", "check", str(p), "--store", str(store.path), "--now", "2025-02-01", "--json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [c["time"][:10] for c in out["claims"]] == ["2025-01-20"] and out["published_after_now"] == 1


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>GeoConfirmed</name>
<Folder><name>Russia</name><Folder><name>Destroyed equipment</name>
  <Placemark><name>28 JAN 2025 - T-80 destroyed</name><description>Source: https://t.me/s/1</description>
   <Point><coordinates>36.07,51.45,0</coordinates></Point></Placemark>
  <Placemark><name>29 JAN 2025 - BMP hit</name><description>Source: https://t.me/s/2</description>
   <Point><coordinates>36.20,51.45,0</coordinates></Point></Placemark>
</Folder></Folder></Document></kml>"""


def test_events_deduplicated_across_formats(tmp_path, new_store_url, backend):
    st = _new_store(new_store_url, backend, tmp_path, 2)
    gc = parse_events_text(KML, "geoconfirmed", "gc.kml").events
    plain = parse_events_text(KML, "kml", "gc.kml").events
    assert gc[0].uid() != plain[0].uid()  # different readings of one export: the content hash alone differs
    assert ledger.add_events(st, gc) == (2, 0)
    imp = ledger.add_events(st, plain)
    assert (imp.added, imp.already_stored, imp.merged) == (0, 0, 2)
    # a CSV of the same event, 30 s later and 20 m east (0.00029° of longitude at 51.45°N ≈ 20 m)
    csv = (
        "time,lon,lat,type,title\n2025-01-28T12:00:30Z,36.07029,51.45,equipment_loss,28 JAN 2025 - T-80 destroyed\n"
        "2025-01-28T12:00:30Z,36.0720,51.45,equipment_loss,28 JAN 2025 - T-80 destroyed\n"
    )
    imp = ledger.add_events(st, parse_events_text(csv, "csv", "e.csv").events)
    assert (imp.added, imp.merged) == (1, 1)  # the second is ~140 m away: another event
    stored = ledger.list_events(st)
    assert len(stored) == 3
    row = sql_of(st).fetchone("SELECT data FROM events WHERE event_id=?", (gc[0].event_id,))
    data = json.loads(row[0])
    assert [m["origin"].split(" ")[0] for m in data["merged"]] == ["gc.kml", "e.csv"]
    assert stored[0].side == "ru"  # the stored event keeps its values; nothing is replaced
    st.close()
