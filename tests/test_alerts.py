"""Alert rules fire once per crossing, reach a real webhook receiver, survive restarts; TOML errors are clear.

Expected numbers come from how the inputs are built: the demo salient's neck
width formula, boxes of known size (areas from pyproj's geodesic directly),
distances from pyproj's ``Geod.inv``.
"""

from __future__ import annotations

import json
import logging
import math
import socket

import numpy as np
import pytest
import shapely
from pyproj import Geod
from replay_server import WebhookReceiver, api_object, feature
from shapely.geometry import box, mapping

GEOD = Geod(ellps="WGS84")
DAY = 86400
T0 = 1736193600  # 2025-01-06T20:00Z


def _km2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def _importer(target):
    """A new store at ``target`` (``new_store_url``: a GeoPackage file or a PostGIS database) and its importer."""
    from frontline.ingest import Importer
    from frontline.store import init_store

    st = init_store(target)
    return st, Importer(st)


def _add(imp, obj: dict) -> str:
    from frontline.sources import deepstate

    snap = deepstate.snapshot_from_bytes(json.dumps(obj, ensure_ascii=False).encode(), "test", str(obj["id"]))
    return imp.add(deepstate.for_import(snap))


def _engine(store, text: str):
    from frontline.alerts import AlertEngine, parse_rules

    cfg = parse_rules(text, "rules.toml")
    eng = AlertEngine(cfg, store)
    eng.notifier.sleep = lambda s: None
    return eng


@pytest.fixture(scope="module")
def demo12():
    from frontline.demo import scenario

    return scenario(12)


def neck_width_m(k: int, weeks: int) -> float:
    """The demo's neck by construction (frontline/demo.py): 6 km narrowing linearly to 400 m."""
    return 6000 - (k / (weeks - 1)) * 5600


def test_corridor_width_fires_once_at_the_crossing_week(new_store_url, tmp_path, demo12):
    from frontline.alerts import AlertEngine, parse_rules

    weeks = len(demo12)
    expected_k = min(k for k in range(weeks) if neck_width_m(k, weeks) < 1000)  # = 10: 909 m
    assert neck_width_m(expected_k - 1, weeks) > 1000
    st, imp = _importer(new_store_url)
    with WebhookReceiver() as hook:
        rules = f"""
        [webhook]
        url = "{hook.url}"
        backoff_s = 0.01
        [[rule]]
        name = "neck"
        kind = "corridor_width"
        side = "ua"
        below_m = 1000
        """
        eng = _engine(st, rules)
        posts_after = []
        for obj in demo12:
            _add(imp, obj)
            fired, runs = eng.run()
            assert runs[0].error is None, runs[0].error
            assert runs[0].evaluated == [str(obj["id"])]
            posts_after.append(len(hook.received))
        assert posts_after == [0] * expected_k + [1] * (weeks - expected_k)
        alert = hook.received[0]
        assert alert["rule"] == "neck" and alert["kind"] == "corridor_width"
        assert alert["version"] == str(demo12[expected_k]["id"])
        assert alert["values"]["width_m"] == pytest.approx(neck_width_m(expected_k, weeks), abs=25)
        assert alert["values"]["threshold_m"] == 1000
        assert "909" in alert["message"] or "908" in alert["message"] or "910" in alert["message"]

        # a restart (new engine, store reopened) with nothing new fires nothing
        from frontline.store import open_store

        path = st.path
        st.close()
        st = open_store(path)
        eng2 = AlertEngine(parse_rules(rules, "rules.toml"), st)
        fired, runs = eng2.run()
        assert fired == [] and runs[0].evaluated == [] and runs[0].active

        # the neck widens again (re-arm, no alert) and then narrows again (second alert)
        imp2 = type(imp)(st)
        last = demo12[-1]["id"]
        wide = dict(demo12[5], id=last + 7 * DAY)
        _add(imp2, wide)
        fired, runs = eng2.run()
        assert fired == [] and not runs[0].active
        assert runs[0].last["width_m"] > 1000
        narrow = dict(demo12[-1], id=last + 14 * DAY)
        _add(imp2, narrow)
        fired, runs = eng2.run()
        assert len(fired) == 1 and len(hook.received) == 2
        assert hook.received[1]["version"] == str(last + 14 * DAY)
        assert [h["version"] for h in eng2.history()] == [str(demo12[expected_k]["id"]), str(last + 14 * DAY)]
    st.close()


def _front(k: int):
    """Synthetic front: ru-held box whose west edge moves 0.02° west a week, at 48.0–48.8°N."""
    return box(36.0 - 0.02 * k, 48.0, 36.5, 48.8)


def test_area_loss_fires_once_with_the_loss_of_two_weekly_steps(new_store_url, tmp_path):
    st, imp = _importer(new_store_url)
    region = tmp_path / "donbas.geojson"
    region.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": mapping(box(35.5, 47.9, 36.6, 48.9))}],
            }
        )
    )
    home = st.regions()["home:ua"][1]
    for k in range(6):
        _add(imp, api_object(T0 + 7 * DAY * k, [feature(_front(k), "occupied")]))
    # one weekly step: the 0.02° strip, ~132 km²; the 10-day window spans two steps from week 2 on
    step = _km2(shapely.intersection(shapely.difference(_front(1), _front(0)), home))
    two = _km2(shapely.intersection(shapely.difference(_front(2), _front(0)), home))
    assert 120 < step < 145 and 200 < two < 300
    eng = _engine(
        st,
        f"""
    catch_up = 20
    [[rule]]
    name = "loss"
    kind = "area_loss"
    side = "ua"
    km2 = 200
    days = 10
    region = "{region}"
    [[rule]]
    name = "never"
    kind = "area_loss"
    side = "ua"
    km2 = 300
    days = 10
    region = "{region}"
    """,
    )
    fired, runs = eng.run()
    assert [r.error for r in runs] == [None, None]
    assert len(runs[0].evaluated) == 6
    assert [(a.rule, a.version) for a in fired] == [("loss", str(T0 + 14 * DAY))]
    assert fired[0].values["loss_km2"] == pytest.approx(two, abs=0.01)
    assert fired[0].values["from_version"] == str(T0)
    assert eng.run()[0] == []  # nothing new: nothing fired


def test_settlement_changes_hands_fires_per_change(new_store_url, tmp_path):
    st, imp = _importer(new_store_url)
    gaz = tmp_path / "places.txt"
    cols = [
        "9100001",
        "Testivka",
        "Testivka",
        "Тестівка,Тестовка",
        "48.40000",
        "36.30000",
        "P",
        "PPL",
        "UA",
        "",
        "",
        "",
        "",
        "",
        "1200",
        "",
        "150",
        "Europe/Kyiv",
        "2025-01-01",
    ]
    gaz.write_text("\t".join(cols) + "\n", encoding="utf-8")
    over = box(36.2, 48.3, 36.6, 48.5)  # covers the town (36.30E 48.40N)
    away = box(36.4, 48.3, 36.6, 48.5)  # 0.1° east of it
    plan = [away, over, over, away]
    st_hook = WebhookReceiver()
    try:
        eng = _engine(
            st,
            f"""
        [webhook]
        url = "{st_hook.url}"
        [[rule]]
        name = "town"
        kind = "settlement"
        settlement = "Тестівка"
        gazetteer = "{gaz}"
        """,
        )
        for k, g in enumerate(plan):
            _add(imp, api_object(T0 + DAY * k, [feature(g, "occupied")]))
            fired, runs = eng.run()
            assert runs[0].error is None, runs[0].error
        got = [(p["version"], p["values"]["from"], p["values"]["to"]) for p in st_hook.received]
        assert got == [(str(T0 + DAY), "ua", "ru"), (str(T0 + 3 * DAY), "ru", "ua")]
        assert st_hook.received[0]["values"]["settlement"] == "Testivka"
    finally:
        st_hook.close()
        st.close()


def test_road_exposure_crossing(new_store_url, tmp_path):
    st, imp = _importer(new_store_url)
    road = shapely.LineString([(36.0, 48.0), (36.0, 48.9)])
    roads = tmp_path / "roads.geojson"
    roads.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ref": "T-0001", "name": "Test road", "highway": "primary"},
                        "geometry": mapping(road),
                    }
                ],
            }
        )
    )
    far, near = box(36.2, 47.5, 37.0, 48.45), box(36.1, 47.5, 37.0, 48.45)
    for k, g in enumerate([far, near, near]):
        _add(imp, api_object(T0 + DAY * k, [feature(g, "occupied")]))
    # independent expectation for `near`: the road is within 10 km from 48.0°N up to where
    # its distance to the box's corner (36.1E 48.45N) reaches 10 km
    dx = GEOD.inv(36.0, 48.45, 36.1, 48.45)[2]
    assert GEOD.inv(36.0, 48.45, 36.2, 48.45)[2] > 10_000  # `far` is out of FPV range
    dy = math.sqrt(10_000**2 - dx**2)
    lat_end = 48.45 + dy / GEOD.inv(36.0, 48.45, 36.0, 48.46)[2] * 0.01
    exposed = GEOD.line_length([36.0, 36.0], [48.0, lat_end])
    share = 100 * exposed / GEOD.line_length([36.0, 36.0], [48.0, 48.9])
    assert 50 < share < 60
    eng = _engine(
        st,
        f"""
    catch_up = 5
    [[rule]]
    name = "road"
    kind = "road_exposure"
    road = "t-0001"
    side = "ua"
    above_pct = 50
    range = "fpv"
    roads = "{roads}"
    """,
    )
    fired, runs = eng.run()
    assert runs[0].error is None, runs[0].error
    assert len(runs[0].evaluated) == 3
    assert [a.version for a in fired] == [str(T0 + DAY)]
    assert fired[0].values["exposed_pct"] == pytest.approx(share, abs=1.0)
    st.close()


def test_webhook_retries_then_delivers(tmp_path):
    from frontline.alerts import Alert, Notifier, WebhookConfig

    with WebhookReceiver(fail_first=2) as hook:
        n = Notifier(WebhookConfig(url=hook.url, retries=3, backoff_s=0.05))
        ok = n.send(
            Alert(
                "r",
                "area_loss",
                "lost 60 km²",
                {"loss_km2": np.float64(60.5)},
                "1736193600",
                "2025-01-06T20:00:00Z",
                "deepstate",
            )
        )
        assert ok
        assert len(hook.attempts) == 3 and len(hook.received) == 1
        assert all(a["content_type"] == "application/json" for a in hook.attempts)
        assert all(a["payload"] == hook.received[0] for a in hook.attempts)  # the same body each time
        p = hook.received[0]
        assert set(p) == {"rule", "kind", "message", "values", "version", "time", "source", "fired_at"}
        assert p["values"] == {"loss_km2": 60.5}
        # backoff: the gaps grow (0.05 × 2^k × [0.5, 1])
        t = [a["time"] for a in hook.attempts]
        assert t[1] - t[0] >= 0.02 and t[2] - t[1] >= 0.045


def test_unreachable_webhook_is_logged_not_fatal_and_not_repeated(new_store_url, tmp_path, caplog):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    st, imp = _importer(new_store_url)
    _add(imp, api_object(T0, [feature(_front(0), "occupied")]))
    _add(imp, api_object(T0 + 7 * DAY, [feature(_front(5), "occupied")]))
    eng = _engine(
        st,
        f"""
    [webhook]
    url = "http://127.0.0.1:{port}/hook"
    retries = 1
    timeout_s = 1
    [[rule]]
    name = "loss"
    kind = "area_loss"
    side = "ua"
    km2 = 100
    days = 8
    """,
    )
    with caplog.at_level(logging.WARNING, logger="frontline.alerts"):
        fired, runs = eng.run()
    assert len(fired) == 1 and runs[0].error is None
    assert any("ALERT [loss]" in r.message for r in caplog.records)
    assert any("did not take alert" in r.getMessage() for r in caplog.records)
    assert [h["delivered"] for h in eng.history()] == [0]
    assert eng.run()[0] == []
    st.close()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[[rule]\nname = 'x'", "not valid TOML"),
        ("[[rule]]\nname = 'x'\nkind = 'corridor'\n", "unknown kind 'corridor'; choose from corridor_width"),
        (
            "[[rule]]\nname = 'x'\nkind = 'corridor_width'\nside = 'ua'\n",
            "rule 1 ('x'): kind 'corridor_width' needs 'below_m'",
        ),
        (
            "[[rule]]\nname = 'x'\nkind = 'corridor_width'\nside = 'ua'\nbelow_m = '1km'\n",
            "'below_m' must be a number, not '1km'",
        ),
        ("[[rule]]\nname = 'x'\nkind = 'area_loss'\nside = 'ua'\nkm2 = 5\ndays = 0\n", "'days' must be positive"),
        (
            "[[rule]]\nname = 'x'\nkind = 'area_loss'\nside = 'ua'\nkm2 = 5\ndays = 3\nwidth = 3\n",
            "unknown setting(s) width",
        ),
        (
            "[[rule]]\nname = 'a'\nkind = 'claim_status'\n[[rule]]\nname = 'a'\nkind = 'claim_status'\n",
            "rule 2 ('a'): the name 'a' is used",
        ),
        ("[[rule]]\nkind = 'claim_status'\n", "rule 1: needs a 'name'"),
        ("[webhook]\nurl = 'ftp://x'\n", "[webhook] needs url"),
        (
            "[[rule]]\nname = 'r'\nkind = 'road_exposure'\nroad = 'M03'\nside = 'ua'\nabove_pct = 150\n",
            "percentage from 0 to 100",
        ),
        ("catch_up = 0\n", "catch_up must be a whole number"),
    ],
)
def test_rules_file_errors_are_clear(text, fragment):
    from frontline.alerts import parse_rules

    with pytest.raises(ValueError) as exc:
        parse_rules(text, "rules.toml")
    assert str(exc.value).startswith("rules.toml: ")
    assert fragment in str(exc.value)


def test_example_rules_file_parses():
    from pathlib import Path

    from frontline.alerts import load_rules

    cfg = load_rules(Path(__file__).resolve().parent.parent / "docs" / "alerts.example.toml")
    assert [r.kind for r in cfg.rules] == ["corridor_width", "area_loss", "settlement", "road_exposure", "claim_status"]
    assert cfg.webhook is not None and cfg.webhook.retries == 3


def test_unknown_settlement_is_reported_and_other_rules_go_on(new_store_url, tmp_path):
    st, imp = _importer(new_store_url)
    gaz = tmp_path / "places.txt"
    gaz.write_text(
        "\t".join(
            [
                "1",
                "Testivka",
                "Testivka",
                "",
                "48.4",
                "36.3",
                "P",
                "PPL",
                "UA",
                "",
                "",
                "",
                "",
                "",
                "10",
                "",
                "1",
                "Europe/Kyiv",
                "2025-01-01",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    _add(imp, api_object(T0, [feature(_front(0), "occupied")]))
    eng = _engine(
        st,
        f"""
    [[rule]]
    name = "nowhere"
    kind = "settlement"
    settlement = "Zzyzxville"
    gazetteer = "{gaz}"
    [[rule]]
    name = "claims"
    kind = "claim_status"
    """,
    )
    fired, runs = eng.run()
    assert fired == []
    assert runs[0].error and "Zzyzxville" in runs[0].error
    assert runs[1].error is None
    st.close()
