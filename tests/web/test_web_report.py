"""``/api/report`` (the HTML of ``frontline report``) and ``/api/map.png`` (a map image) over the demo store."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from frontline.cli import main

pytest.importorskip("matplotlib")


def fill_colours(png: bytes) -> int:
    """Distinct colours covering at least 0.5% of the image each, white left out."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    return len([c for c, n in zip(colours, counts) if n >= 0.005 * len(img) and min(c) < 245])


def test_map_png_is_the_asked_size_with_colours(client, versions):
    from PIL import Image

    r = client.get("/api/map.png", params={"width": 640, "height": 480, "at": versions[-1]["id"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.format == "PNG" and im.size == (640, 480)
    assert fill_colours(r.content) >= 3
    etag = r.headers["etag"]
    assert versions[-1]["id"] in etag and "immutable" in r.headers["cache-control"]
    again = client.get(
        "/api/map.png", params={"width": 640, "height": 480, "at": versions[-1]["id"]}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    other = client.get("/api/map.png", params={"width": 320, "height": 480, "at": versions[-1]["id"]})
    assert other.headers["etag"] != etag  # the size is part of the answer


def test_map_png_takes_a_bbox_and_bounds_its_size(client, versions):
    r = client.get("/api/map.png", params={"bbox": "35.0,50.9,36.0,51.6", "width": 300, "height": 300})
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/api/map.png", params={"width": 4096}).status_code == 422
    bad = client.get("/api/map.png", params={"bbox": "36,50,35,51"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "bbox"


def test_report_html_shows_the_cli_area(client, versions, demo_store, tmp_path):
    at, since = versions[-1]["time"], versions[-3]["time"]
    res = CliRunner().invoke(
        main,
        ["report", "--store", str(demo_store.path), "--at", at, "--since", since, "--region", "outside:ua",
         "--side", "ua", "--out", str(tmp_path / "r.html"), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    facts = json.loads(res.output)
    km2 = facts["areas"]["clipped"]["at"]["ua_km2"]
    r = client.get("/api/report", params={"at": at, "since": since, "region": "outside:ua", "side": "ua"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f"ua holds {km2:,.1f} km²" in r.text
    assert r.text.count("data:image/png;base64,") == 2
    params = {"at": at, "since": since, "region": "outside:ua", "side": "ua"}
    assert client.get("/api/report", params=params, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_report_refuses_bad_parameters(client):
    assert client.get("/api/report", params={"region": "mars"}).json()["parameter"] == "region"
    assert client.get("/api/report", params={"side": "xx"}).json()["parameter"] == "side"
    assert client.get("/api/report", params={"since": "yesterday"}).json()["parameter"] == "since"
    assert client.get("/api/report", params={"regoin": "theatre"}).status_code == 400
