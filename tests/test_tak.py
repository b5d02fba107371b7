"""TAK formats: the data package (manifest + styled KML), CoT drawing shapes, alerts sent to TCP and UDP receivers.

Expected values come from the formats themselves (MissionPackageManifest v2, KML 2.2, CoT 2.0 as ATAK writes
it: ARGB colours as signed 32-bit ints, ``<link point="lat,lon"/>`` vertices) and the demo store.
"""

from __future__ import annotations

import socket
import socketserver
import sqlite3
import threading
import time
import zipfile
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

KML = "{http://www.opengis.net/kml/2.2}"


def _cli(*args):
    from frontline.cli import main

    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_argb_is_signed_as_atak_writes_it():
    from frontline.tak import argb, kml_color

    assert argb(255, 0, 0, 255) == -16776961
    assert argb(255, 255, 255, 255) == -1
    assert argb(0x7F, 255, 0, 0) == 0x7FFF0000
    assert kml_color(argb(0x80, 0x11, 0x22, 0x33)) == "80332211"


@pytest.fixture(scope="module")
def package(demo_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("tak") / "demo.zip"
    _cli("tak", "package", "--store", demo_store.path, "--side", "ua", "--out", out)
    return out


def test_data_package_has_a_manifest_listing_a_styled_kml(package):
    from frontline.tak import GREY_STYLE, SIDE_STYLES, kml_color

    with zipfile.ZipFile(package) as z:
        names = set(z.namelist())
        manifest = ET.fromstring(z.read("MANIFEST/manifest.xml"))
        assert manifest.tag == "MissionPackageManifest" and manifest.get("version") == "2"
        params = {p.get("name"): p.get("value") for p in manifest.findall("Configuration/Parameter")}
        assert params["uid"].startswith("frontline-") and params["name"].startswith("Frontline 20")
        entries = [c.get("zipEntry") for c in manifest.findall("Contents/Content")]
        assert (
            len(entries) == 1 and entries[0].endswith("-ua.kml") and set(entries) | {"MANIFEST/manifest.xml"} == names
        )
        kml = ET.fromstring(z.read(entries[0]))
    doc = kml.find(f"{KML}Document")
    styles = {s.get("id"): s for s in doc.findall(f"{KML}Style")}
    assert set(styles) == {"held-ua", "held-ru", "contested", "neck"}
    for sid, st in (("held-ua", SIDE_STYLES["ua"]), ("held-ru", SIDE_STYLES["ru"]), ("contested", GREY_STYLE)):
        assert styles[sid].findtext(f"{KML}PolyStyle/{KML}color") == kml_color(st.fill)
        assert styles[sid].findtext(f"{KML}LineStyle/{KML}color") == kml_color(st.stroke)
        assert styles[sid].findtext(f"{KML}PolyStyle/{KML}outline") == "1"
    assert kml_color(SIDE_STYLES["ua"].stroke)[2:] == "b75700"  # blue: bb gg rr
    folders = {f.findtext(f"{KML}name"): f for f in doc.findall(f"{KML}Folder")}
    assert set(folders) == {"held ua", "held ru", "grey zone", "necks of ua"}
    for name in ("held ua", "held ru", "grey zone"):
        pms = folders[name].findall(f"{KML}Placemark")
        assert pms and all(p.findtext(f"{KML}name") == name for p in pms)
        ring = pms[0].findtext(f"{KML}Polygon/{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates").split()
        assert ring[0] == ring[-1] and len(ring) >= 4
    necks = folders["necks of ua"].findall(f"{KML}Placemark")
    assert len(necks) >= 1
    neck = necks[0]
    assert neck.findtext(f"{KML}styleUrl") == "#neck"
    assert len(neck.findtext(f"{KML}LineString/{KML}coordinates").split()) == 2
    assert " m wide" in neck.findtext(f"{KML}description")  # the demo's neck: 400 m at its last week
    assert "400 m wide" in neck.findtext(f"{KML}description") or "401 m wide" in neck.findtext(f"{KML}description")


@pytest.fixture(scope="module")
def cot_file(demo_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("cot") / "demo.xml"
    _cli("tak", "cot", "--store", demo_store.path, "--side", "ua", "--max-vertices", 120, "--out", out)
    return out


def test_cot_shapes_are_closed_polygons_and_neck_lines_within_budget(cot_file):
    from frontline.tak import GREY_STYLE, NECK_STYLE, SIDE_STYLES

    root = ET.parse(cot_file).getroot()
    assert root.tag == "events"
    events = root.findall("event")
    assert events and all(e.get("type") == "u-d-f" and e.get("version") == "2.0" for e in events)
    uids = [e.get("uid") for e in events]
    assert len(set(uids)) == len(uids)
    by_name: dict[str, list] = {}
    for e in events:
        by_name.setdefault(e.find("detail/contact").get("callsign"), []).append(e)
        t, start, stale = (
            time.mktime(time.strptime(e.get(k)[:19], "%Y-%m-%dT%H:%M:%S")) for k in ("time", "start", "stale")
        )
        assert t == start and stale - t == 24 * 3600
        links = [tuple(map(float, ln.get("point").split(","))) for ln in e.findall("detail/link")]
        assert 2 <= len(links) <= 120
        lat = float(e.find("point").get("lat"))
        assert min(p[0] for p in links) <= lat <= max(p[0] for p in links)
    colours = {"held ua": SIDE_STYLES["ua"], "held ru": SIDE_STYLES["ru"], "grey zone": GREY_STYLE}
    for name, style in colours.items():
        assert by_name[name], name
        for e in by_name[name]:
            d = e.find("detail")
            assert int(d.find("strokeColor").get("value")) == style.stroke
            assert int(d.find("fillColor").get("value")) == style.fill
            links = [ln.get("point") for ln in d.findall("link")]
            assert links[0] == links[-1] and len(links) >= 4  # closed
    ua = by_name["held ua"][0]  # part 1: the largest
    assert "part 1," in ua.findtext("detail/remarks")
    assert "simplified with tolerance" in ua.findtext("detail/remarks")  # Ukraine's outline is far over 120
    lat, lon = (float(x) for x in ua.find("detail/link").get("point").split(","))
    assert 44 < lat < 53 and 22 < lon < 41  # lat first, as CoT writes it
    necks = [e for n, es in by_name.items() if n.startswith("neck ") for e in es]
    assert len(necks) >= 1
    d = necks[0].find("detail")
    assert int(d.find("strokeColor").get("value")) == NECK_STYLE.stroke and d.find("fillColor") is None
    links = [ln.get("point") for ln in d.findall("link")]
    assert len(links) == 2 and links[0] != links[-1]
    assert " m wide" in d.findtext("remarks")


def test_cot_uids_are_stable_and_stream_is_one_event_per_line(demo_store, cot_file, tmp_path):
    out = tmp_path / "s.cot"
    _cli("tak", "cot", "--store", demo_store.path, "--side", "ua", "--max-vertices", 120, "--stream", "--out", out)
    lines = out.read_bytes().splitlines()
    stream = [ET.fromstring(line) for line in lines]
    assert all(e.tag == "event" for e in stream)
    assert [e.get("uid") for e in stream] == [e.get("uid") for e in ET.parse(cot_file).getroot()]


def test_region_clips_and_bad_region_is_an_input_error(demo_store, tmp_path):
    from frontline.cli import main

    out = tmp_path / "r.xml"
    _cli("tak", "cot", "--store", demo_store.path, "--region", "35.0,50.9,35.9,51.5", "--out", out)
    for e in ET.parse(out).getroot():
        for ln in e.findall("detail/link"):
            lat, lon = (float(x) for x in ln.get("point").split(","))
            assert 50.9 - 1e-6 <= lat <= 51.5 + 1e-6 and 35.0 - 1e-6 <= lon <= 35.9 + 1e-6
    res = CliRunner().invoke(main, ["tak", "cot", "--store", demo_store.path, "--region", "1,2,x,4", "--out", out])
    assert res.exit_code == 1 and "--region" in res.output
    res = CliRunner().invoke(main, ["tak", "package", "--store", demo_store.path, "--side", "xx", "--out", out])
    assert res.exit_code == 1 and "Unknown side 'xx'" in res.output


# -- alerts to TAK --------------------------------------------------------------


class _Receivers:
    """A TCP and a UDP CoT receiver on loopback, each keeping what it got."""

    def __enter__(self):
        got: dict[str, list[bytes]] = {"tcp": [], "udp": []}

        class Tcp(socketserver.StreamRequestHandler):
            def handle(self):
                got["tcp"].append(self.rfile.read())

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                got["udp"].append(self.request[0])

        self.got = got
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tcp)
        self.udp = socketserver.UDPServer(("127.0.0.1", 0), Udp)
        for s in (self.tcp, self.udp):
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def url(self, kind: str) -> str:
        port = (self.tcp if kind == "tcp" else self.udp).server_address[1]
        return f"{kind}://127.0.0.1:{port}"

    def wait(self, kind: str, n: int = 1) -> list[bytes]:
        for _ in range(100):
            if len(self.got[kind]) >= n:
                break
            time.sleep(0.05)
        return self.got[kind]

    def __exit__(self, *exc):
        for s in (self.tcp, self.udp):
            s.shutdown()
            s.server_close()


def _alert():
    from frontline.alerts import Alert

    return Alert(
        "neck",
        "corridor_width",
        "neck 900 m wide",
        {"width_m": 900.0, "location": [35.25, 51.2]},
        "1739217600",
        "2025-02-10T20:00:00Z",
        "deepstate",
    )


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_alert_reaches_a_tak_receiver_as_a_marker(kind):
    from frontline.alerts import Notifier
    from frontline.alerts.config import TakConfig

    with _Receivers() as rx:
        assert Notifier(tak=TakConfig(url=rx.url(kind))).send(_alert())
        got = rx.wait(kind)
    assert len(got) == 1
    e = ET.fromstring(got[0])
    assert e.tag == "event" and e.get("type") == "b-m-p-s-m"
    assert float(e.find("point").get("lat")) == pytest.approx(51.2)
    assert float(e.find("point").get("lon")) == pytest.approx(35.25)
    assert "neck 900 m wide" in e.findtext("detail/remarks")
    assert e.find("detail/contact").get("callsign") == "alert neck"


def test_unreachable_tak_is_logged_not_raised(caplog):
    from frontline.alerts import Notifier
    from frontline.alerts.config import TakConfig

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    waits: list[float] = []
    n = Notifier(tak=TakConfig(url=f"tcp://127.0.0.1:{port}", retries=2, timeout_s=1), sleep=waits.append)
    with caplog.at_level("ERROR", logger="frontline.alerts"):
        assert n.send(_alert()) is False
    assert len(waits) == 2 and waits[1] > waits[0] * 0.9
    assert any("did not take alert [neck]" in r.getMessage() for r in caplog.records)


def test_rules_file_names_a_tak_sink():
    from frontline.alerts import parse_rules
    from frontline.errors import InputError

    cfg = parse_rules('tak = "udp://127.0.0.1:4242"\n[[rule]]\nname = "c"\nkind = "claim_status"\n')
    assert cfg.tak is not None and cfg.tak.url == "udp://127.0.0.1:4242" and cfg.tak.retries == 2
    cfg = parse_rules('[tak]\nurl = "tcp://tak.example.org:8087"\ntimeout_s = 2\n')
    assert cfg.tak is not None and cfg.tak.timeout_s == 2.0
    for bad, fragment in (
        ('tak = "http://x:1"', "is not"),
        ('tak = "tcp://x"', "is not"),
        ('[tak]\nurl = "tcp://x:1"\nport = 3\n', "unknown setting"),
    ):
        with pytest.raises(InputError, match=fragment):
            parse_rules(bad, "rules.toml")


def test_engine_sends_a_fired_alert_to_tak(demo_store, tmp_path):
    from frontline.alerts import AlertEngine, Notifier, parse_rules
    from frontline.store import open_store

    path = tmp_path / "demo.gpkg"
    with sqlite3.connect(demo_store.path) as src, sqlite3.connect(path) as dst:  # the WAL too, unlike a file copy
        src.backup(dst)
    st = open_store(path)
    with _Receivers() as rx:
        cfg = parse_rules(
            f'tak = "{rx.url("tcp")}"\n[[rule]]\nname = "neck"\nkind = "corridor_width"\nside = "ua"\nbelow_m = 8000\n'
        )
        eng = AlertEngine(cfg, st, notifier=Notifier(cfg.webhook, tak=cfg.tak, sleep=lambda s: None))
        fired, runs = eng.run()
        assert runs[0].error is None and len(fired) == 1
        got = rx.wait("tcp")
    st.close()
    e = ET.fromstring(got[0])
    lon, lat = fired[0].values["location"]
    assert float(e.find("point").get("lon")) == pytest.approx(lon) and float(
        e.find("point").get("lat")
    ) == pytest.approx(lat)
    assert fired[0].message in e.findtext("detail/remarks")
