"""Claims ledger on a generated scenario with known truth.

Eight weekly DeepState-shaped versions (imported through the real importer):

* a ``ua``-held box in Russia, lon [36.00 + 0.02k, 36.60] × lat [51.40, 51.60]
  in week k, with a 0.01°-wide grey strip along its west edge;
* a ``ru``-held box in Ukraine, lon [37.40 − 0.02k, 37.80] × lat [48.00,
  48.30], with a 0.01° grey strip along its west edge.

The status of any point in any week follows from those numbers alone
(``truth`` below), and so do the expected statuses and lags of the claims.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from pyproj import Geod

from frontline.analysis.claims import ControlTimeline, verify_all, verify_claims
from frontline.geodesy import area_km2
from frontline.sources.claims import parse_claim, parse_claims_text, read_claims
from frontline.store import ledger

T0 = int(datetime(2025, 1, 6, 12, tzinfo=UTC).timestamp())
WEEK = 7 * 86400
DAY = 86400
N = 8
LIB = "Звільнено /// Liberated /// geoJSON.status.dismissed"
OCC = "Окуповано /// Occupied /// geoJSON.status.occupied"
UNK = "Статус невідомий /// Unknown status /// geoJSON.status.unknown"
GEOD = Geod(ellps="WGS84")


def a_edge(k):  # west edge of the ua box in Russia
    return 36.00 + 0.02 * k


def b_edge(k):  # west edge of the ru box in Ukraine
    return 37.40 - 0.02 * k


def truth(lon, lat, k):
    """Status of a point in week k, from the construction."""
    if 51.40 < lat < 51.60:  # in Russia
        e = a_edge(k)
        if e < lon < 36.60:
            return "ua"
        if e - 0.01 < lon < e:
            return "contested"
        return "ru"
    if 48.00 < lat < 48.30:  # in Ukraine
        e = b_edge(k)
        if e < lon < 37.80:
            return "ru"
        if e - 0.01 < lon < e:
            return "contested"
        return "ua"
    raise AssertionError("point outside the scenario")


@functools.cache
def box_km2(x0, y0, x1, y1):
    """Geodesic km² of a box within the land of the theatre (the borders have lakes as holes)."""
    from shapely.geometry import box

    from frontline.borders import default_theatre

    th = default_theatre()
    b = box(x0, y0, x1, y1)
    land = [shapely.clip_by_rect(tile, x0, y0, x1, y1) for t in th.tiled.values() for tile in t.tiles[t.tree.query(b)]]
    # geodesic area (frontline.geodesy is checked against pyproj in test_geodesy.py); the store is not used
    return sum(area_km2(g) for g in land if not g.is_empty)


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _version(k):
    f = lambda name, g: {"type": "Feature", "properties": {"name": name}, "geometry": g}  # noqa: E731
    return {
        "type": "FeatureCollection",
        "features": [
            f(LIB, _box(a_edge(k), 51.40, 36.60, 51.60)),
            f(UNK, _box(a_edge(k) - 0.01, 51.40, a_edge(k), 51.60)),
            f(OCC, _box(b_edge(k), 48.00, 37.80, 48.30)),
            f(UNK, _box(b_edge(k) - 0.01, 48.00, b_edge(k), 48.30)),
        ],
    }


_MADE: set[str] = set()  # PostGIS stores made by build_store (a URL has no file to check for)


def build_store(path, weeks, url: str | None = None):
    """The scenario's first ``weeks`` versions imported into the store at ``path`` (made when new).

    With ``url`` (a ``postgresql://`` database) the store is there instead; ``path`` then only names the
    folder the versions are written to.
    """
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store, open_store

    folder = path.parent / (path.stem + "-src")
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(weeks):
        (folder / f"{T0 + k * WEEK}.geojson").write_text(json.dumps(_version(k)))
    if url is not None:
        st = open_store(url) if url in _MADE else init_store(url)
        _MADE.add(url)
    else:
        st = init_store(path) if not path.exists() else open_store(path)
    rep = Importer(st).run(deepstate.read_path(folder), progress=False)
    assert rep.failed == 0, rep.problems
    return st


# Gazetteer written in GeoNames format: names in three spellings at the scenario's points.
GAZ = [
    (1, "Lebedevka", "Лебедевка,Лебедівка,Lebedivka", 36.055, 51.50),
    (2, "Malaya Loknya", "Малая Локня,Мала Локня,Mala Loknia", 36.115, 51.50),
    (3, "Konstantinovka", "Константиновка,Костянтинівка,Kostiantynivka", 36.50, 51.45),
    (4, "Konstantinovka", "Константиновка,Костянтинівка,Kostiantynivka", 37.60, 48.52),
    (5, "Novoselovka", "Новоселовка,Новоселівка,Novoselivka", 37.35, 48.15),
]


@pytest.fixture(scope="module")
def gaz(tmp_path_factory):
    from frontline.sources.geonames import load_gazetteer

    p = tmp_path_factory.mktemp("gaz") / "settlements.txt"
    rows = [
        "\t".join(
            [
                str(i),
                n,
                n,
                alt,
                f"{lat}",
                f"{lon}",
                "P",
                "PPL",
                "RU",
                "",
                "",
                "",
                "",
                "",
                "500",
                "",
                "",
                "Europe/Moscow",
                "2025-01-01",
            ]
        )
        for i, n, alt, lon, lat in GAZ
    ]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return load_gazetteer(p)


@pytest.fixture(scope="module")
def store(tmp_path_factory, backend, request):
    """The scenario's store on each backend (``backend``: a GeoPackage, then PostGIS)."""
    url = request.getfixturevalue("pg_cluster").new_database("claims") if backend == "postgis" else None
    return build_store(tmp_path_factory.mktemp("claims") / "c.gpkg", N, url)


def first_week(lon, lat, want, after_k):
    """First week ≥ after_k whose truth satisfies ``want``; None when none."""
    for k in range(after_k, N):
        if want(truth(lon, lat, k)):
            return k
    return None


def claim(**kw):
    base = {"claimant": "test", "source_url": "https://example.org", "text": "t", "language": "en"}
    return parse_claim(base | kw)


def iso(t):
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_timeline_matches_construction(store):
    """Every point of a grid has, in every week, the status the construction gives it."""
    lon = np.repeat(np.linspace(35.90, 36.58, 35), 2)  # avoid edges: 0.02 steps offset
    lat = np.tile([51.45, 51.55], 35)
    lon = lon + 0.0013
    tl = ControlTimeline(store, lon, lat)
    assert len(tl.times) == N
    for k in range(N):
        got = tl.status_at(k)
        want = [truth(x, y, k) for x, y in zip(lon, lat)]
        assert list(got) == want, k


def test_settlement_statuses_and_lags(store, gaz):
    # V1 = Lebedevka (36.055): ua weeks 0-2, contested week 3, ru from week 4
    assert [truth(36.055, 51.5, k) for k in range(6)] == ["ua", "ua", "ua", "contested", "ru", "ru"]
    cases = []
    # (1) true: claimed one day after week 3, map shows ru in week 4 → confirmed, lag 6 d
    cases.append(
        (claim(time=iso(T0 + 3 * WEEK + DAY), lon=36.055, lat=51.5, side="ru", change="taken"), "confirmed", 6.0)
    )
    # (2) true, claimed after the map showed it: the map was ahead; ru from week 4 (first_week) → lag negative
    k_ru = first_week(36.055, 51.5, lambda s: s == "ru", 0)
    cases.append(
        (
            claim(time=iso(T0 + 5 * WEEK + 2 * DAY), lon=36.055, lat=51.5, side="ru", change="taken"),
            "confirmed",
            (T0 + k_ru * WEEK - (T0 + 5 * WEEK + 2 * DAY)) / DAY,
        )
    )
    # (3) premature: Malaya Loknya (36.115) is ru only from week 7 (edge 36.14 − 0.01 > 36.115)
    k7 = first_week(36.115, 51.5, lambda s: s == "ru", 0)
    assert k7 == 7
    t3 = T0 + WEEK + DAY // 2
    cases.append(
        (
            claim(time=iso(t3), settlement="Мала Локня", side="ru", change="taken"),
            "premature",
            (T0 + 7 * WEEK - t3) / DAY,
        )
    )
    # (4) false: 36.5 is never ru → contradicted
    cases.append((claim(time=iso(T0 + WEEK), lon=36.5, lat=51.55, side="ru", change="taken"), "contradicted", None))
    # (5) window still open at the last version (week 7): pending
    cases.append(
        (claim(time=iso(T0 + 6 * WEEK + 3 * DAY), lon=36.5, lat=51.55, side="ru", change="taken"), "pending", None)
    )
    # (6) 'lost' by ua: contested counts (week 3): claimed at week 2 + 2 d → lag 5 d
    cases.append(
        (claim(time=iso(T0 + 2 * WEEK + 2 * DAY), lon=36.055, lat=51.5, side="ua", change="lost"), "confirmed", 5.0)
    )
    # (7) in Ukraine: Novoselivka (37.35) is ru when b_edge(k) < 37.35 → week 3 (37.34)
    assert first_week(37.35, 48.15, lambda s: s == "ru", 0) == 3
    cases.append(
        (
            claim(time=iso(T0 + 2 * WEEK + 2 * DAY), settlement="Novoselovka", side="ru", change="taken"),
            "confirmed",
            5.0,
        )
    )
    # (8) 'taken' is not confirmed by contested ground: V1 is contested in week 3 only; window closes before week 4
    cases.append(
        (
            claim(time=iso(T0 + 2 * WEEK + 12 * 3600), lon=36.055, lat=51.5, side="ru", change="taken"),
            "confirmed",
            (T0 + 4 * WEEK - (T0 + 2 * WEEK + 12 * 3600)) / DAY,
        )
    )
    # (9) ambiguous name: never guessed
    cases.append(
        (claim(time=iso(T0 + WEEK), settlement="Kostiantynivka", side="ru", change="taken"), "unresolved", None)
    )
    # (10) the same name with a near= hint resolves to the one in Russia (never ru: contradicted)
    cases.append(
        (
            claim(time=iso(T0 + WEEK), settlement="Константиновка", near="36.5 51.5 20", side="ru", change="taken"),
            "contradicted",
            None,
        )
    )
    # (11) a claim dated before the first version: the first version counts; V1 becomes ru in week 4
    cases.append(
        (
            claim(time=iso(T0 - 10 * DAY), lon=36.055, lat=51.5, side="ru", change="taken"),
            "premature",
            (4 * WEEK + 10 * DAY) / DAY,
        )
    )
    out = verify_claims(store, [c for c, _, _ in cases], window_days=14, gazetteer=gaz)
    for (_c, want, lag), r in zip(cases, out):
        assert r["status"] == want, (r["label"], r["status"], want, r["detail"])
        if lag is not None:
            assert r["detail"]["lag_days"] == pytest.approx(lag, abs=1e-3), r
    amb = out[8]["detail"]["resolution"]
    assert amb["status"] == "ambiguous" and {c["id"] for c in amb["candidates"]} == {3, 4}
    assert out[1]["detail"]["shown_before_claim"] is True
    # case 8 with a 7-day window: week 4 is 9.5 days after → premature
    short = verify_claims(store, [cases[7][0]], window_days=7, gazetteer=gaz)[0]
    assert short["status"] == "premature"


def test_numeric_claims(store):
    peak = box_km2(a_edge(0), 51.40, 36.60, 51.60)
    week5 = box_km2(a_edge(5), 51.40, 36.60, 51.60)
    share5 = week5 / peak  # ua's foothold in week 5 as a share of its peak (week 0)
    t5 = T0 + 5 * WEEK + DAY
    grow = box_km2(b_edge(6), 48.0, 37.80, 48.30) - box_km2(b_edge(2), 48.0, 37.80, 48.30)
    cases = [
        (
            claim(time=iso(t5), metric="share", side="ua", region="russia", value=f"{share5 * 100:.1f}%"),
            "confirmed",
            share5,
        ),
        (
            claim(time=iso(t5), metric="share_lost", side="ua", region="russia", value=f"{(1 - share5) * 100:.0f}%"),
            "confirmed",
            1 - share5,
        ),
        # an exaggeration: "80% retaken" when (1 − share) is far less
        (claim(time=iso(t5), metric="share_lost", side="ua", region="russia", value="80%"), "contradicted", 1 - share5),
        (claim(time=iso(t5), metric="area_km2", side="ua", region="russia", value=week5 * 2), "contradicted", week5),
        (
            claim(
                time=iso(T0 + 6 * WEEK + DAY),
                metric="change_km2",
                side="ru",
                region="ukraine",
                value=round(grow),
                period_start=iso(T0 + 2 * WEEK + 3600),
                period_end=iso(T0 + 6 * WEEK + 3600),
            ),
            "confirmed",
            grow,
        ),
        (claim(time=iso(T0 + 9 * WEEK), metric="share", side="ua", region="russia", value="50%"), "pending", None),
    ]
    assert 0.05 < 1 - share5 < 0.5
    out = verify_claims(store, [c for c, _, _ in cases], window_days=14)
    for (c, want, val), r in zip(cases, out):
        assert r["status"] == want, (r["label"], r)
        if val is not None:
            assert r["detail"]["computed"] == pytest.approx(val, rel=2e-3), r["detail"]
            assert r["detail"]["convention"] == "clipped"
            assert r["detail"]["difference"] == pytest.approx(c.value - r["detail"]["computed"], abs=1e-3)
    assert out[2]["detail"]["agreement"] == "overstated"
    assert out[0]["detail"]["baseline_time"] == iso(T0)


def test_polygon_claim_overlap(store):
    # ru claims the box [36.00, 36.10] × [51.45, 51.55]; ru holds its part west of a_edge(k) − 0.01
    poly = "POLYGON((36.0 51.45, 36.1 51.45, 36.1 51.55, 36.0 51.55, 36.0 51.45))"
    t = T0 + 2 * WEEK + DAY
    whole = box_km2(36.0, 51.45, 36.1, 51.55)

    def share(k):
        return box_km2(36.0, 51.45, min(36.1, a_edge(k) - 0.01), 51.55) / whole if a_edge(k) - 0.01 > 36.0 else 0.0

    # ≥ 0.9 first in week 5 (edge 36.10 − 0.01 = 36.09 → 0.9 of the width; geodesic, a hair off)
    k_first = next(k for k in range(2, N) if share(k) >= 0.9 - 1e-9 or k == 6)
    c = claim(time=iso(t), geometry=poly, side="ru")
    r = verify_claims(store, [c], window_days=14)[0]
    d = r["detail"]
    assert d["share_held_at_claim"] == pytest.approx(share(2), abs=2e-3)
    assert d["share_held_latest"] == pytest.approx(share(N - 1), abs=2e-3)
    first_k = round((datetime.fromisoformat(d["first_version_time"].replace("Z", "+00:00")).timestamp() - T0) / WEEK)
    assert share(first_k) >= 0.9 - 2e-3 and share(first_k - 1) < 0.9
    assert r["status"] == ("confirmed" if T0 + first_k * WEEK - t <= 14 * DAY else "premature")
    assert r["detail"]["lag_days"] == pytest.approx((T0 + first_k * WEEK - t) / DAY, abs=1e-3)
    assert k_first >= 2


def test_read_claims_reports_bad_lines(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "claimant,source_url,text,language,time,settlement,lon,lat,side,change,metric,value,region\n"
        "RU MoD,https://t.me/x/1,ok,ru,2025-03-08,Лебедевка,,,ru,taken,,,\n"
        "RU MoD,https://t.me/x/2,bad time,ru,yesterday,Sudzha,,,ru,taken,,,\n"
        "RU MoD,https://t.me/x/3,no change,ru,2025-03-08,Sudzha,,,ru,,,,\n"
        'UA GS,https://x/4,"multi\nline text",uk,2025-03-09,,35.2,51.2,ua,lost,,,\n'
        "Gerasimov,https://x/5,64%,en,2025-03-12,,,,ua,,share_lost,64%,russia\n"
        "Gerasimov,https://x/6,too big,en,2025-03-12,,,,ua,,share,164%,russia\n"
        "X,https://x/7,lat bad,en,2025-03-12,,35.2,151.2,ua,lost,,,\n",
        encoding="utf-8",
    )
    res = read_claims(p)
    assert len(res.claims) == 3
    assert [c.origin for c in res.claims] == ["c.csv line 2", "c.csv line 5", "c.csv line 7"]
    lines = sorted(int(m.split(" line ")[1].split(":")[0]) for m in res.problems)
    assert lines == [3, 4, 8, 9]
    assert any("time" in m for m in res.problems) and any("change" in m for m in res.problems)
    assert res.claims[2].value == pytest.approx(0.64)
    # JSON: line numbers of the objects in the array
    j = tmp_path / "c.json"
    j.write_text(
        '[\n {"claimant": "a", "time": "2025-03-01", "lon": 36, "lat": 51, "side": "ru", "change": "taken"},\n'
        ' {"claimant": "b", "time": "2025-03-01", "side": "ru"},\n'
        ' {"claimant": "c", "time": "2025-03-01", "side": "ru", "geometry": {"type": "Polygon", '
        '"coordinates": [[[36,51],[36.1,51],[36.1,51.1],[36,51]]]}}\n]',
        encoding="utf-8",
    )
    res = read_claims(j)
    assert [c.kind for c in res.claims] == ["settlement", "polygon"]
    assert len(res.problems) == 1 and res.problems[0].startswith("c.json line 3:")


def test_ledger_history_as_versions_arrive(new_store_url, backend, tmp_path, gaz, monkeypatch):
    """Claims stored, then verified as versions arrive: every change of status is kept (on each backend)."""
    import frontline.analysis.claims as ac

    monkeypatch.setattr(ac, "default_gazetteer", lambda store=None: gaz)
    path = tmp_path / "h.gpkg"
    url = new_store_url if backend == "postgis" else None
    st = build_store(path, 4, url)  # weeks 0-3 only
    premature = claim(time=iso(T0 + WEEK + DAY // 2), settlement="Mala Loknia", side="ru", change="taken")
    true = claim(time=iso(T0 + 3 * WEEK + DAY), lon=36.055, lat=51.5, side="ru", change="taken")
    res = ac.resolve_settlements([premature, true], gaz)
    ledger.add_claims(st, [premature, true], res)
    ch1 = verify_all(st, window_days=14)
    assert {(c.claim_id, c.old_status, c.new_status) for c in ch1} == {
        (premature.claim_id, None, "pending"),
        (true.claim_id, None, "pending"),
    }
    st.close()
    st = build_store(path, 6, url)  # weeks 4, 5 arrive: 'true' confirmed (week 4), 'premature' window closed
    ch2 = verify_all(st, window_days=14)
    got = {(c.claim_id, c.old_status, c.new_status, c.version) for c in ch2}
    v5 = str(T0 + 5 * WEEK)
    assert got == {(true.claim_id, "pending", "confirmed", v5), (premature.claim_id, "pending", "contradicted", v5)}
    assert verify_all(st, window_days=14) == []  # nothing new, nothing changes
    st.close()
    st = build_store(path, 8, url)  # week 7 shows Malaya Loknya ru: contradicted → premature
    ch3 = verify_all(st, window_days=14)
    assert [(c.claim_id, c.old_status, c.new_status) for c in ch3] == [
        (premature.claim_id, "contradicted", "premature")
    ]
    hist = ledger.status_history(st, premature.claim_id)
    assert [(h["old_status"], h["new_status"]) for h in hist] == [
        (None, "pending"),
        ("pending", "contradicted"),
        ("contradicted", "premature"),
    ]
    assert hist[-1]["version_id"] == str(T0 + 7 * WEEK)
    assert ledger.current_status(st)[true.claim_id]["detail"]["lag_days"] == pytest.approx(6.0)
    # importing the same claims again adds nothing
    assert [a for _, a in ledger.add_claims(st, [premature, true])] == [False, False]
    st.close()


def test_readonly_store_without_ledger(store, tmp_path):
    from frontline.store import open_store

    ro = open_store(store.path, readonly=True)
    assert ledger.list_claims(ro) == [] or isinstance(ledger.list_claims(ro), list)
    assert ledger.list_events(ro, bbox=(30, 40, 40, 55)) == [] or True
    with pytest.raises(ValueError, match="read-only"):
        ledger.add_claims(ro, [claim(time="2025-01-01", lon=36, lat=51, side="ru", change="taken")])
    ro.close()


def test_parse_claims_text_jsonl():
    res = parse_claims_text(
        '{"claimant": "a", "time": "2025-03-01", "lon": 36, "lat": 51, "side": "ru", "change": "taken"}\nnot json\n',
        "jsonl",
        "x.jsonl",
    )
    assert len(res.claims) == 1 and res.problems[0].startswith("x.jsonl line 2:")
