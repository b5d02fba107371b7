"""End to end: replay the Kursk period through the replay server into ``watch``; a corridor alert
reaches a local webhook before the salient is cut. And ``frontline watch`` stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import shapely
from replay_server import ReplayServer, WebhookReceiver, iso
from shapely.geometry import Point, shape

ROOT = Path(__file__).resolve().parent.parent
SUDZHA = Point(35.27, 51.19)
REPLAY_FROM = 1735689600  # 2025-01-01: the last weeks of the salient
KURSK_BBOX = [34.9, 50.9, 35.6, 51.5]  # the salient around Sudzha (not the small Tetkino pocket)


def _sudzha_held_by_ua(data: bytes) -> bool:
    """From the raw DeepState file, independently of Frontline: is Sudzha inside ground drawn as
    liberated (ua-held outside Ukraine) and not inside occupied or grey ground?"""
    held = other = False
    for f in orjson.loads(data)["features"]:
        name = str((f.get("properties") or {}).get("name", ""))
        g = f.get("geometry") or {}
        parts = g.get("geometries", []) if g.get("type") == "GeometryCollection" else [g]
        for part in parts:
            if part.get("type") not in ("Polygon", "MultiPolygon"):
                continue
            poly = shapely.make_valid(shapely.force_2d(shape(part)))
            if poly.intersects(SUDZHA):
                held |= "status.dismissed" in name
                other |= "status.occupied" in name or "status.unknown" in name
    return held and not other


@pytest.mark.archive
def test_corridor_alert_reaches_webhook_before_the_salient_is_cut(kursk, tmp_path):
    from frontline.watch import watch

    _, _, raw = kursk
    replay = sorted(v for v in raw if v >= REPLAY_FROM)
    assert len(replay) >= 10
    # the version where the salient is cut: the first without Sudzha in ua-held ground
    cut = next(v for v in replay if not _sudzha_held_by_ua(raw[v]))
    assert _sudzha_held_by_ua(raw[replay[0]]) and cut > replay[0]
    # stop replaying a little after the cut: enough to see that the alert does not repeat
    replay = [v for v in replay if v <= cut] + [v for v in replay if v > cut][:1]

    srv = ReplayServer([])
    hook = WebhookReceiver()
    rules = tmp_path / "rules.toml"
    rules.write_text(
        f"""
catch_up = 10
[webhook]
url = "{hook.url}"
backoff_s = 0.05
[[rule]]
name = "kursk-neck"
kind = "corridor_width"
side = "ua"
below_m = 1000
bbox = {json.dumps(KURSK_BBOX)}
""",
        encoding="utf-8",
    )
    store = tmp_path / "live.gpkg"
    first_alert_cycle = None
    try:
        batches = [replay[i : i + 4] for i in range(0, len(replay), 4)]
        for n, batch in enumerate(batches):
            for v in batch:  # publish the batch, as the feed would
                srv.add_raw(v, raw[v], iso(v), iso(v))
            cycles = watch(
                store,
                base_url=srv.base_url,
                every_s=0,
                rules_path=rules,
                once=True,
                handle_signals=False,
                timeout=10,
                retries=1,
                backoff=0.05,
            )
            assert cycles[0].pull["added"] == len(batch) and cycles[0].pull["failed"] == 0
            assert not cycles[0].rule_errors, cycles[0].rule_errors
            if hook.received and first_alert_cycle is None:
                first_alert_cycle = n
        assert hook.received, "no corridor alert during the replay"
        alert = hook.received[0]
        assert len(hook.received) == 1  # once per crossing, not on every cycle
        assert int(alert["version"]) < cut, (alert["version"], cut)
        assert alert["values"]["width_m"] < 1000
        lon, lat = alert["values"]["location"]
        assert KURSK_BBOX[0] <= lon <= KURSK_BBOX[2] and KURSK_BBOX[1] <= lat <= KURSK_BBOX[3]
        # the alert left with the cycle that imported its version
        assert first_alert_cycle == next(i for i, b in enumerate(batches) if int(alert["version"]) in b)
    finally:
        srv.close()
        hook.close()


def test_watch_command_stops_cleanly_on_sigterm(new_store_url, backend):
    """On each backend: ``watch`` makes a missing GeoPackage itself; a database is made a store first (``init``)."""
    from frontline.demo import scenario
    from frontline.store import init_store, open_store

    objs = scenario(6)
    srv = ReplayServer(objs)
    srv.delay = 0.5
    store = new_store_url
    if backend == "postgis":
        init_store(store).close()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "frontline.cli",
            "watch",
            "--store",
            str(store),
            "--every",
            "1s",
            "--base-url",
            srv.base_url,
            "--timeout",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len([h for h in srv.requests if "/geojson" in h[1]]) < 2:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"stopping" in err and b"watch stopped" in err
        st = open_store(store, readonly=True)
        got = [v.version_id for v in st.versions()]
        # whole versions only, in order, and it stopped before fetching the rest
        assert got == [str(o["id"]) for o in objs[: len(got)]] and 1 <= len(got) < len(objs)
        for v in st.versions():
            assert len(st.member_fids(v)) == v.n_features
        st.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()


def test_parse_duration():
    from frontline.cli.watch import parse_duration

    assert parse_duration("30s") == 30 and parse_duration("15m") == 900 and parse_duration("1h") == 3600
    assert parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    for bad in ("", "15x", "m15", "-5", "0s"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
