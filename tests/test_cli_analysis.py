"""The analysis commands on the demo store, driven through click, checked against the scenario's drawing.

The demo builds a corridor of known width (``frontline.demo.neck_width_m``)
along a known axis, a Donetsk box moving 0.02° a week, six settlements at
known offsets and one road; expected numbers are worked out here from those
drawings with shapely and pyproj.
"""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod
from shapely.geometry import Point, box, shape

from frontline.cli import main
from frontline.demo import NECK_ACROSS_KM, SETTLEMENTS, _Frame, neck_width_m, scenario

GEOD = Geod(ellps="WGS84")


def run(*args, ok=True):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def js(*args):
    return json.loads(run(*args, "--json").output)


@pytest.fixture(scope="module")
def frame():
    return _Frame()


def test_corridor_width_and_place_match_the_built_strip(demo_store, frame):
    vs = demo_store.versions()
    n = len(vs)
    for k in (n - 2, n - 1):
        out = js("corridors", "--store", demo_store.path, "--at", vs[k].valid_time, "--side", "ua")
        narrow = min(out["necks"], key=lambda x: x["width_m"])
        assert narrow["width_m"] == pytest.approx(neck_width_m(k, n), abs=50)
        # On the corridor's axis (NECK_ACROSS_KM off Sudzha's), between the two lobes.
        loc = np.array(frame.proj.to_metric(Point(narrow["location"])).coords[0])
        across_km = float(loc @ frame.v) / 1000
        assert across_km == pytest.approx(NECK_ACROSS_KM, abs=0.1)
        assert narrow["below_threshold"] == (neck_width_m(k, n) < 1000)
    series = js(
        "corridors", "--store", demo_store.path, "--side", "ua", "--from", vs[0].valid_time, "--to", vs[-1].valid_time
    )
    assert [r["version_id"] for r in series] == [v.version_id for v in vs]
    assert series[-1]["width_m"] == pytest.approx(neck_width_m(n - 1, n), abs=50)
    assert run("corridors", "--store", demo_store.path, "--side", "ua").output.count("below threshold") >= 1


def test_change_numbers_match_the_donetsk_boxes(demo_store, theatre, tmp_path):
    vs = demo_store.versions()
    k = len(vs) - 1
    out = js("change", "--store", demo_store.path, "--from", vs[0].valid_time, "--to", vs[k].valid_time)
    gain = shapely.intersection(box(37.75 - 0.02 * k, 47.7, 37.75, 48.5), theatre.homes["ua"])
    exp = sum(abs(GEOD.geometry_area_perimeter(p)[0]) for p in shapely.get_parts(gain)) / 1e6
    row = [r for r in out["rows"] if (r["side"], r["change"], r["region"]) == ("ru", "gained", "ukraine")][0]
    assert row["km2"] == pytest.approx(exp, rel=1e-3)
    assert out["advances"][0]["side"] == "ru" and out["advances"][0]["km2"] == pytest.approx(exp, rel=1e-3)
    assert out["net"]["ru"] == pytest.approx(
        out["totals"]["ru"]["gained_km2"] - out["totals"]["ru"]["lost_km2"], abs=1e-3
    )
    gj = tmp_path / "change.geojson"
    run("change", "--store", demo_store.path, "--from", vs[0].valid_time, "--to", vs[k].valid_time, "--geojson", gj)
    feats = json.loads(gj.read_text())["features"]
    assert {(f["properties"]["side"], f["properties"]["change"]) for f in feats} >= {("ru", "gained"), ("ua", "lost")}
    log = js(
        "change", "--store", demo_store.path, "--from", vs[0].valid_time, "--to", vs[k].valid_time, "--every", "week"
    )
    assert len(log) == k and sum(r["net_ru_km2"] for r in log) == pytest.approx(out["net"]["ru"], rel=1e-4)


def test_contact_line_json_and_geojson(demo_store, tmp_path):
    vs = demo_store.versions()
    gj = tmp_path / "front.geojson"
    out = js("contact-line", "--store", demo_store.path, "--at", vs[0].valid_time, "--geojson", gj)
    assert out["version_id"] == vs[0].version_id
    assert out["total_km"] == pytest.approx(sum(out["length_km"].values()), abs=0.01)
    feats = json.loads(gj.read_text())["features"]
    assert {f["properties"]["pair"]: f["properties"]["length_km"] for f in feats} == out["length_km"]
    # The Donetsk front alone: ru's box meets the grey strip along its 0.8° west edge.
    edge_km = GEOD.inv(37.75, 47.7, 37.75, 48.5)[2] / 1000
    assert out["length_km"]["ru|contested"] > edge_km
    series = js("contact-line", "--store", demo_store.path, "--from", vs[0].valid_time, "--every", "week")
    assert series[0]["total_km"] == pytest.approx(out["total_km"], abs=0.01)


@functools.lru_cache(maxsize=4)
def _scenario(weeks: int):
    return scenario(weeks)  # builds the frame from the borders: once per test module


def _expected_status(weeks: int, k: int, frame, offset) -> str:
    feats = _scenario(weeks)[k]["map"]["features"]
    salient, grey = (shapely.force_2d(shape(f["geometry"])) for f in feats[:2])
    p = frame.lonlat(Point(*frame.pt(*offset)))
    return "contested" if grey.contains(p) else ("ua" if salient.contains(p) else "ru")


def test_settlements_commands(demo_store, frame, tmp_path):
    vs = demo_store.versions()
    n = len(vs)
    hits = js("settlements", "search", "--store", demo_store.path, "Лебедівка")
    assert hits[0]["name"] == "Lebedevka"
    assert js("settlements", "search", "--store", demo_store.path, "Sudzha")[0]["id"] == 9000001
    for k in (0, n - 1):
        st = js("settlements", "status", "--store", demo_store.path, "--at", vs[k].valid_time)
        got = {s["name"]: s["status"] for s in st["settlements"]}
        for _gid, name, _, off in SETTLEMENTS:
            if off[0] < -frame.border_km:  # Yunakivka: in Ukraine, Ukraine's
                assert got[name] == "ua"
                continue
            assert got[name] == _expected_status(n, k, frame, off), (k, name)
    near = js(
        "settlements",
        "status",
        "--store",
        demo_store.path,
        "--near",
        f"{SETTLEMENTS[0][3][0] + 35.27},51.19",
        "--radius-km",
        3,
    )
    assert [s["name"] for s in near["settlements"]] == ["Sudzha"]
    ch = js("settlements", "changed", "--store", demo_store.path, "--from", vs[0].valid_time, "--to", vs[-1].valid_time)
    exp = {}
    for _gid, name, _, off in SETTLEMENTS:
        seq = [_expected_status(n, k, frame, off) for k in range(n)]
        if seq[0] != seq[-1]:
            first = next(k for k in range(1, n) if seq[k] != seq[k - 1])
            exp[name] = (seq[0], seq[-1], vs[first].version_id)
    assert exp, "the scenario has settlements changing hands"
    assert {s["name"]: (s["from"], s["to"], s["first_change"]["version_id"]) for s in ch["settlements"]} == exp


def test_settlements_import_reports_bad_lines(demo_store, tmp_path):
    st = tmp_path / "s.gpkg"
    shutil.copy(demo_store.path, st)
    f = tmp_path / "UA.txt"
    good = "\t".join(
        [
            "1",
            "Sumy",
            "Sumy",
            "Суми",
            "50.9077",
            "34.7981",
            "P",
            "PPLA",
            "UA",
            "",
            "",
            "",
            "",
            "",
            "263000",
            "",
            "140",
            "Europe/Kyiv",
            "2024-01-01",
        ]
    )
    f.write_text(good + "\n2\tBroken\tBroken\t\tnot-a-lat\t34.0\tP\tPPL\tUA\n", encoding="utf-8")
    res = run("settlements", "import", "--store", st, f)
    assert "Imported 1 settlements" in res.output and "line 2" in res.output
    assert js("settlements", "search", "--store", st, "Суми")[0]["name"] == "Sumy"
    res = run("settlements", "import", "--store", st, ok=False)
    assert res.exit_code != 0 and "FILE or --default" in res.output


def test_roads_exposure_and_last_road_out(demo_store, frame, tmp_path):
    vs = demo_store.versions()
    road = json.loads((demo_store.path.parent / "demo-input" / "roads.geojson").read_text())["features"][0]
    xy = np.array(road["geometry"]["coordinates"])
    length = GEOD.line_length(xy[:, 0], xy[:, 1]) / 1000
    out = js(
        "roads",
        "exposure",
        "--store",
        demo_store.path,
        "--at",
        vs[-1].valid_time,
        "--side",
        "ua",
        "--range",
        "near=2",
        "--range",
        "far=60",
    )
    (row,) = out["roads"]
    assert row["length_km"] == pytest.approx(length, rel=1e-3)
    assert out["ranges_km"] == {"near": 2.0, "far": 60.0}
    # 60 km covers the whole road (every part is within 60 km of the grey ring around the salient).
    assert row["exposed_km"]["far"] == pytest.approx(length, rel=1e-3)
    assert row["exposed_km"]["near"] <= row["exposed_km"]["far"]
    lo = js("roads", "last-out", "--store", demo_store.path, "--at", vs[-1].valid_time, "--side", "ua")
    best = lo["routes"][0]
    assert "R-200 Sumy–Sudzha road" in best["roads"]
    assert 0 < best["length_km"] <= length


def test_clear_errors(demo_store, tmp_path):
    vs = demo_store.versions()
    r = run("corridors", "--store", demo_store.path, "--side", "xx", ok=False)
    assert r.exit_code == 1 and "Unknown side 'xx'" in r.output and "Traceback" not in r.output
    r = run("contact-line", "--store", demo_store.path, "--at", "2020-01-01", ok=False)
    assert r.exit_code == 1 and "No version of deepstate" in r.output
    # a --from before the first version starts there, as every series does, and says so; a --to before it is refused
    r = run("change", "--store", demo_store.path, "--from", "2020-01-01", "--to", vs[-1].valid_time, "--json")
    assert json.loads(r.stdout)["from"]["version_id"] == vs[0].version_id
    assert f"before the first version of deepstate ({vs[0].version_id}" in r.stderr
    r = run("change", "--store", demo_store.path, "--from", "2019-01-01", "--to", "2020-01-01", ok=False)
    assert r.exit_code == 1 and "the first is" in r.output
    r = run("roads", "exposure", "--store", demo_store.path, "--side", "ua", "--range", "fpv", ok=False)
    assert r.exit_code == 1 and "not name=km" in r.output
    # A side that holds nothing outside its home: a store whose only map has no salient.
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store

    objs = scenario(2)[:1]
    objs[0]["map"]["features"] = [f for f in objs[0]["map"]["features"] if "Liberated" not in f["properties"]["name"]]
    p = tmp_path / "v"
    p.mkdir()
    (p / f"{objs[0]['id']}.json").write_text(json.dumps(objs[0]))
    st = init_store(tmp_path / "empty.gpkg")
    Importer(st).run(deepstate.read_path(p), progress=False)
    r = run("corridors", "--store", st.path, "--side", "ua", ok=False)
    assert r.exit_code == 1 and "holds no ground outside its home" in r.output
    r = run("roads", "last-out", "--store", st.path, "--side", "ua", ok=False)
    assert r.exit_code == 1 and "holds no roads" in r.output


def test_run_demo_prints_widths_and_last_road(tmp_path):
    import io

    from rich.console import Console

    from frontline.demo import run_demo

    buf = io.StringIO()
    run_demo(tmp_path / "d.gpkg", weeks=2, console=Console(file=buf, width=200))
    out = buf.getvalue()
    row = [line for line in out.splitlines() if line.startswith("│ 2025-01-13")][0]
    cells = [c.strip().replace(",", "") for c in row.strip("│").split("│")]
    assert float(cells[5]) == pytest.approx(neck_width_m(1, 2), abs=50)  # measured neck = built strip (400 m)
    assert float(cells[6]) == neck_width_m(1, 2)
    assert "Last road out of the salient" in out and "R-200" in out
