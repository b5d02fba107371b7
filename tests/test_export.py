"""``frontline export`` never replaces a file unasked, never touches a device or folder, and fails without harm."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from frontline.cli import main


def _export(store_path, out, *extra):
    r = CliRunner().invoke(main, ["export", "--store", store_path, str(out), "--format", "geojson", *extra])
    return r


def test_export_refuses_to_replace_unasked(demo_store, tmp_path):
    out = tmp_path / "state.geojson"
    r = _export(demo_store.path, out)
    assert r.exit_code == 0, r.output
    first = json.loads(out.read_text())
    assert first["features"], "the export wrote no feature"
    out.write_text("keep me")
    r = _export(demo_store.path, out)
    assert r.exit_code == 1 and "pass --overwrite" in r.output and str(out) in r.output
    assert out.read_text() == "keep me"
    r = _export(demo_store.path, out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text()) == first
    assert [p.name for p in tmp_path.iterdir()] == ["state.geojson"], "a temporary file was left behind"


def test_export_never_replaces_what_is_not_a_file(demo_store, tmp_path):
    folder = tmp_path / "looks.geojson"
    folder.mkdir()
    r = _export(demo_store.path, folder, "--overwrite")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert folder.is_dir()
    link = tmp_path / "link.geojson"
    link.symlink_to("/dev/null")
    r = _export(demo_store.path, link, "--overwrite")
    assert r.exit_code == 1 and "not a regular file" in r.output
    assert link.is_symlink()


# -- every format read back: features and geodesic areas against `frontline area --json` -------------------------

FORMATS = ["geojson", "gpkg", "fgb", "parquet", "csv", "kml"]


def _areas_cli(store_path, at):
    r = CliRunner().invoke(main, ["area", "--store", store_path, "--at", at, "--region", "theatre", "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    return row


def _geodesic_km2(geom) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0]) / 1e6


def _read_back(path, fmt, crs_of_csv="EPSG:4326"):
    """(properties, lon/lat geometry) of the polygons of an export, read with pyogrio (GeoParquet: pyarrow).

    A CSV names no CRS: its WKT is in ``crs_of_csv``.
    """
    import numpy as np
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer

    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        geo = json.loads(table.schema.metadata[b"geo"])
        crs = CRS.from_json_dict(geo["columns"]["geometry"]["crs"])
        rows = table.to_pylist()
        geoms = [shapely.from_wkb(r.pop("geometry")) for r in rows]
    else:
        opts = {"GEOM_POSSIBLE_NAMES": "WKT", "KEEP_GEOM_COLUMNS": "NO"} if fmt == "csv" else {}
        df = pyogrio.read_dataframe(path, layer="control" if fmt == "gpkg" else None, **opts)
        crs = df.crs or CRS.from_user_input(crs_of_csv)
        geoms = list(df.geometry)
        rows = df.drop(columns="geometry").to_dict("records")
    if not CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        geoms = [shapely.transform(g, lambda xy: np.column_stack(back.transform(*xy.T))) for g in geoms]
    return [(r, g) for r, g in zip(rows, geoms) if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]


def _by_side(items):
    return {("contested" if r["status"] == "contested" else r["side"]): (r, g) for r, g in items}


def test_every_format_reads_back_with_the_areas_of_frontline_area(demo_store, tmp_path):
    v = demo_store.versions()[-2]  # not the latest: the KML gets a time span
    from frontline.model import iso

    at = iso(v.valid_time)
    want = _areas_cli(demo_store.path, at)
    for fmt in FORMATS:
        out = tmp_path / f"state.{fmt}"
        r = CliRunner().invoke(main, ["export", "--store", demo_store.path, str(out), "--at", at])
        assert r.exit_code == 0, r.output
        got = _by_side(_read_back(out, fmt))
        assert set(got) == {"ua", "ru", "contested"}, fmt
        for what, (props, geom) in got.items():
            km2 = want[f"{what}_km2"]
            assert float(props["area_km2"]) == pytest.approx(km2, rel=2e-3), (fmt, what)
            assert _geodesic_km2(geom) == pytest.approx(float(props["area_km2"]), rel=1e-5, abs=0.01), (fmt, what)
            assert str(props["version_id"]) == v.version_id


def test_bbox_clips_and_measures_again_and_crs_reprojects(demo_store, tmp_path):
    box = (35.0, 47.0, 38.0, 49.0)
    full = tmp_path / "full.gpkg"
    assert CliRunner().invoke(main, ["export", "--store", demo_store.path, str(full)]).exit_code == 0
    whole = _by_side(_read_back(full, "gpkg"))
    w, s, e, n = box
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    region = tmp_path / "box.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))
    at = str(demo_store.versions()[-1].valid_time)  # the version the exports write
    args = ["area", "--store", demo_store.path, "--region", str(region), "--at", at, "--json"]
    (want,) = json.loads(CliRunner().invoke(main, args).output)
    for fmt in ["fgb", "parquet", "gpkg", "csv"]:
        out = tmp_path / f"box.{fmt}"
        args = [
            "export",
            "--store",
            demo_store.path,
            str(out),
            "--bbox",
            ",".join(map(str, box)),
            "--crs",
            "EPSG:32636",
        ]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        got = _by_side(_read_back(out, fmt, "EPSG:32636"))
        assert got, fmt
        for what, (props, geom) in got.items():
            w, s, e, n = geom.bounds
            assert box[0] - 1e-6 <= w and e <= box[2] + 1e-6 and box[1] - 1e-6 <= s and n <= box[3] + 1e-6
            assert _geodesic_km2(geom) == pytest.approx(float(props["area_km2"]), rel=1e-4), (fmt, what)
            assert float(props["area_km2"]) < float(whole[what][0]["area_km2"])
            assert float(props["area_km2"]) == pytest.approx(want[f"{what}_km2"], rel=1e-4), (fmt, what)


def test_kml_has_a_style_per_side_names_and_the_version_time(demo_store, tmp_path):
    import xml.etree.ElementTree as ET

    from frontline.model import iso

    vs = demo_store.versions()
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    out = tmp_path / "state.kml"
    r = CliRunner().invoke(main, ["export", "--store", demo_store.path, str(out), "--at", iso(vs[-2].valid_time)])
    assert r.exit_code == 0, r.output
    doc = ET.parse(out).getroot().find("k:Document", ns)
    styles = {s.get("id"): s for s in doc.findall("k:Style", ns)}
    colours = {"control-ua": "c06515", "control-ru": "2828c6", "control-contested": "808080"}  # aabbggrr
    for sid, bgr in colours.items():
        assert styles[sid].find("k:PolyStyle/k:color", ns).text == "7f" + bgr  # 50% fill
        assert styles[sid].find("k:LineStyle/k:color", ns).text == "ff" + bgr
    marks = doc.findall("k:Placemark", ns)
    assert all(m.find("k:name", ns).text for m in marks)
    polys = [m for m in marks if m.find("k:styleUrl", ns) is not None]
    assert sorted(m.find("k:styleUrl", ns).text for m in polys) == sorted("#" + s for s in colours)
    for m in marks:
        assert m.find("k:TimeSpan/k:begin", ns).text == iso(vs[-2].valid_time)
        assert m.find("k:TimeSpan/k:end", ns).text == iso(vs[-1].valid_time)
    out.unlink()
    assert CliRunner().invoke(main, ["export", "--store", demo_store.path, str(out)]).exit_code == 0
    marks = ET.parse(out).getroot().findall("k:Document/k:Placemark", ns)
    assert {m.find("k:TimeStamp/k:when", ns).text for m in marks} == {iso(vs[-1].valid_time)}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--bbox", "38,47,35,49"], "west < east"),
        (["--bbox", "a,b"], "W,S,E,N"),
        (["--crs", "EPSG:999999"], "not a CRS"),
        (["--format", "kml", "--crs", "EPSG:3857"], "always lon/lat"),
        (["--bbox", "10,10,11,11"], "nothing of the state"),
    ],
)
def test_bad_box_or_crs_is_a_user_error(demo_store, tmp_path, extra, message):
    out = tmp_path / "x.fgb"
    r = CliRunner().invoke(main, ["export", "--store", demo_store.path, str(out), *extra])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output, r.output
    assert not out.exists()


@pytest.mark.archive
def test_real_kursk_box_matches_frontline_area_in_every_format(kursk, tmp_path):
    st, _, _ = kursk
    v = st.versions()[len(st.versions()) // 2]
    box = (34.5, 50.8, 36.2, 51.8)  # the Kursk salient and the ground around it
    w, s, e, n = box
    region = tmp_path / "box.geojson"
    region.write_text(json.dumps({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}))
    args = ["area", "--store", st.path, "--region", str(region), "--at", str(v.valid_time), "--json"]
    (want,) = json.loads(CliRunner().invoke(main, args).output)
    for fmt in FORMATS:
        out = tmp_path / f"kursk.{fmt}"
        args = ["export", "--store", st.path, str(out), "--at", str(v.valid_time), "--bbox", ",".join(map(str, box))]
        r = CliRunner().invoke(main, args + ([] if fmt == "kml" else ["--crs", "EPSG:32636"]))
        assert r.exit_code == 0, r.output
        got = _by_side(_read_back(out, fmt, "EPSG:32636"))
        assert set(got) == {"ua", "ru", "contested"}, fmt
        for what, (props, geom) in got.items():
            assert float(props["area_km2"]) == pytest.approx(want[f"{what}_km2"], rel=1e-3), (fmt, what)
            assert _geodesic_km2(geom) == pytest.approx(float(props["area_km2"]), rel=1e-4), (fmt, what)


def test_exports_carry_the_sources_attribution(demo_store, tmp_path):
    """The source's attribution travels with the data: GeoJSON's description, KML's Document description, GPKG."""
    import sqlite3
    import xml.etree.ElementTree as ET

    import pyogrio

    from frontline.store import open_store
    from frontline.store.source_info import set_source_info

    path = tmp_path / "copy.gpkg"
    with sqlite3.connect(demo_store.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    st = open_store(path)
    set_source_info(st, st.default_source(), attribution="Test desk map (CC BY 4.0)")
    st.close()
    for ext in ("geojson", "kml", "gpkg"):
        r = CliRunner().invoke(main, ["export", "--store", str(path), str(tmp_path / f"s.{ext}")])
        assert r.exit_code == 0, r.output
    assert "Test desk map (CC BY 4.0)" in json.loads((tmp_path / "s.geojson").read_text())["description"]
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    doc = ET.parse(tmp_path / "s.kml").getroot().find("k:Document", ns)
    assert "Test desk map (CC BY 4.0)" in doc.find("k:description", ns).text
    meta = pyogrio.read_info(str(tmp_path / "s.gpkg"), layer="control")["layer_metadata"]
    assert "Test desk map (CC BY 4.0)" in meta["DESCRIPTION"]
