"""OGC API – Features under ``/ogc``: landing page, conformance, collections, items (bbox, datetime, paging),
one feature, HTML, errors; and GDAL's OAPIF driver reading a collection from a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

OGC = "/ogc"
CONTROL = "/ogc/collections/control/items"


@contextmanager
def serving(store_path):
    """``frontline serve`` over a store in a process of its own on a free loopback port: yields its base URL.

    A process of its own, not a thread: GDAL's driver holds the GIL while it waits for the answer.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("frontline")
    proc = subprocess.Popen(
        [str(exe), "serve", "--store", str(store_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + OGC, timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("frontline serve exited") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def _rels(doc) -> dict[str, str]:
    return {lk["rel"]: lk["href"] for lk in doc["links"] if lk["type"] != "text/html"}


def test_landing_page_and_conformance(client):
    r = client.get(OGC)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = _rels(r.json())
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert client.get(rels["service-desc"].replace("http://testserver", "")).status_code == 200
    conf = client.get(rels["conformance"].replace("http://testserver", "")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf


def test_collections_have_extent_crs_and_item_type(client, versions):
    cols = {c["id"]: c for c in client.get("/ogc/collections").json()["collections"]}
    assert {"control", "contested", "contact-line", "corridors-ua", "settlements", "claims", "events"} <= set(cols)
    c = client.get("/ogc/collections/control").json()
    assert c["itemType"] == "feature" and c["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    assert len(c["extent"]["spatial"]["bbox"][0]) == 4
    assert c["extent"]["temporal"]["interval"] == [[versions[0]["time"], None]]
    assert any(lk["rel"] == "items" for lk in c["links"])


def test_items_default_to_the_last_version(client, versions):
    r = client.get(CONTROL)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["numberMatched"] == fc["numberReturned"] == 3
    assert fc["timeStamp"].endswith("Z")
    props = [f["properties"] for f in fc["features"]]
    assert {(p["status"], p["side"]) for p in props} == {("held", "ua"), ("held", "ru"), ("contested", None)}
    assert {p["valid_from"] for p in props} == {versions[-1]["time"]} and {p["valid_to"] for p in props} == {None}


def test_datetime_instant_selects_the_version_valid_then(client, versions):
    v1, v2 = versions[1], versions[2]
    fc = client.get(CONTROL, params={"datetime": v1["time"]}).json()
    assert {f["properties"]["version"] for f in fc["features"]} == {v1["id"]}
    assert {f["properties"]["valid_to"] for f in fc["features"]} == {v2["time"]}
    before = client.get(CONTROL, params={"datetime": "2000-01-01T00:00:00Z"}).json()
    assert before["numberMatched"] == 0 and before["features"] == []


@pytest.mark.parametrize("form", ["closed", "open-start", "open-end"])
def test_datetime_interval_returns_the_versions_in_it(client, versions, form):
    a, b = versions[1]["time"], versions[3]["time"]
    dt = {"closed": f"{a}/{b}", "open-start": f"../{b}", "open-end": f"{a}/.."}[form]
    fc = client.get(CONTROL, params={"datetime": dt, "limit": 1000}).json()
    got = sorted({f["properties"]["version"] for f in fc["features"]})
    ids = [v["id"] for v in versions]
    want = {"closed": ids[1:4], "open-start": ids[:4], "open-end": ids[1:]}[form]
    assert got == sorted(want)
    assert fc["numberMatched"] == 3 * len(want)


def test_paging_follows_next_and_prev(client, versions):
    seen, url, pages = [], CONTROL + "?datetime=../..&limit=4", 0
    while url:
        fc = client.get(url.replace("http://testserver", "")).json()
        assert fc["numberReturned"] == len(fc["features"]) <= 4
        seen += [f["id"] for f in fc["features"]]
        rels = _rels(fc)
        if pages:
            assert "prev" in rels
        url, pages = rels.get("next"), pages + 1
    assert len(seen) == len(set(seen)) == 3 * len(versions)
    assert pages == -(-3 * len(versions) // 4)


def test_bbox_filters_and_feature_by_id(client):
    far = client.get(CONTROL, params={"bbox": "-10,-10,-9,-9"}).json()
    assert far["features"] == []
    fid = client.get(CONTROL).json()["features"][0]["id"]
    one = client.get(f"/ogc/collections/control/items/{fid}")
    assert one.status_code == 200 and one.json()["id"] == fid
    assert client.get("/ogc/collections/control/items/nope.held-ua").status_code == 404
    assert client.get("/ogc/collections/nope").status_code == 404
    assert client.get("/ogc/collections/nope/items").json()["code"] == "NotFound"


@pytest.mark.parametrize(
    "params,parameter",
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "3,2,1,4"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2025-02-01/2025-01-01"}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"f": "xml"}, "f"),
        ({"crs": "EPSG:3857"}, "crs"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_answer_400(client, params, parameter):
    r = client.get(CONTROL, params=params)
    assert r.status_code == 400
    assert r.json()["parameter"] == parameter


def test_html_by_parameter_and_accept(client):
    r = client.get(OGC, params={"f": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<!DOCTYPE html>" in r.text and "conformance" in r.text
    r = client.get("/ogc/collections", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.headers["content-type"].startswith("text/html")
    r = client.get(CONTROL, headers={"Accept": "application/geo+json"})
    assert r.headers["content-type"] == "application/geo+json"


def test_ledger_and_analysis_collections_answer(client):
    for cid in ("contact-line", "corridors-ua", "settlements", "claims", "events"):
        fc = client.get(f"/ogc/collections/{cid}/items", params={"limit": 5}).json()
        assert fc["type"] == "FeatureCollection" and fc["numberReturned"] <= 5, cid


def test_gdal_oapif_reads_a_version(demo_store, versions):
    """GDAL's OAPIF driver (through pyogrio) reads the control map of one version from a real server."""
    pyogrio = pytest.importorskip("pyogrio")
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("GDAL has no OAPIF driver here (install libgdal with it, e.g. Debian's gdal-bin)")
    v = versions[2]
    with serving(demo_store.path) as base:
        layers = {name for name, _ in pyogrio.list_layers(f"OAPIF:{base}/ogc")}
        assert {"control", "contact-line"} <= layers
        df = pyogrio.read_dataframe(f"OAPIF:{base}/ogc", layer="control", DATETIME=v["time"])
        assert set(df["version"]) == {v["id"]} and len(df) == 3
        df = pyogrio.read_dataframe(
            f"OAPIF:{base}/ogc", layer="control", DATETIME=f"{versions[1]['time']}/{versions[2]['time']}"
        )
        assert set(df["version"]) == {versions[1]["id"], versions[2]["id"]}
