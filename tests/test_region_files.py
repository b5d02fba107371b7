"""Regions from polygon files: every format, any CRS, union or one row per feature, and the errors users meet.

Measured on the demo store, whose Donetsk front is drawn as boxes (occupied ground east of a meridian moving
0.02° west a week, a 0.03°-wide grey strip west of it) and whose Crimea is drawn over the sea: expected areas
are worked out here from those boxes with shapely and pyproj (geodesic, WGS84), cut to Ukraine's land from
the theatre where the convention is ``clipped``.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pyogrio.raw
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Geod, Transformer
from shapely.geometry import box, mapping
from shapely.geometry.polygon import orient

from frontline.analysis.area import area_series, areas_at, read_region_file
from frontline.cli import main

GEOD = Geod(ellps="WGS84")
R2 = shapely.segmentize(box(37.6, 48.1, 37.8, 48.2), 0.005)  # across the demo's grey strip and front
SEA = box(33.0, 44.31, 33.3, 44.37)  # south of Crimea: sea inside the box DeepState-like Crimea is drawn as


def km2(g) -> float:
    return (
        sum(GEOD.geometry_area_perimeter(orient(p, 1.0))[0] for p in shapely.get_parts(g) if p.geom_type == "Polygon")
        / 1e6
    )


def project(g, crs: str):
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(g, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def geojson(path, feats: list[tuple[dict, object]]):
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in feats],
            }
        )
    )
    return path


def gdal(path, geoms, names, crs: str, driver: str, layer: str | None = None, append: bool = False):
    pyogrio.raw.write(
        str(path),
        np.array([shapely.to_wkb(g) for g in geoms], dtype=object),
        [np.array(names, dtype=object)],
        ["name"],
        layer=layer,
        driver=driver,
        geometry_type="Polygon",
        crs=crs,
        append=append,
    )
    return path


def kml_text(g, name: str) -> str:
    def ring(r):
        return " ".join(f"{x:.7f},{y:.7f}" for x, y in r.coords)

    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder>'
        f"<name>regions</name><Placemark><name>{name}</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        f"{ring(g.exterior)}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
        "</Folder></Document></kml>"
    )


def expected(theatre, k: int, region) -> dict[str, dict[str, float]]:
    """Both conventions in ``region`` at demo week ``k``, from the scenario's Donetsk boxes."""
    west = 37.75 - 0.02 * k
    occ = box(west, 47.7, 38.2, 48.5) | box(38.2, 47.7, 39.6, 48.9)
    grey = box(west - 0.03, 47.7, west, 48.5)
    land = theatre.homes["ua"] & region
    drawn = {"ua": 0.0, "ru": km2(occ & region), "contested": km2(grey & region)}
    ru, c = km2((occ - grey) & land), km2(grey & land)
    return {"as_drawn": drawn, "clipped": {"ua": km2(land) - ru - c, "ru": ru, "contested": c}}


def assert_rows(rows, exp, convention, rel=2e-4, abs_=1e-3):
    for r in rows:
        for what in ("ua", "ru", "contested"):
            assert r[f"{what}_km2"] == pytest.approx(exp[what], rel=rel, abs=abs_), (r["region"], what)


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict:
    """The same polygon (R2) in every format: lon/lat GeoJSON, GPKG in Web Mercator, Shapefile in UTM 37N, KML, KMZ."""
    d = tmp_path_factory.mktemp("formats")
    out = {
        "geojson": geojson(d / "r2.geojson", [({"name": "Front"}, R2)]),
        "gpkg": gdal(d / "r2.gpkg", [project(R2, "EPSG:3857")], ["Front"], "EPSG:3857", "GPKG"),
        "shp": gdal(d / "r2.shp", [project(R2, "EPSG:32637")], ["Front"], "EPSG:32637", "ESRI Shapefile"),
    }
    (d / "r2.kml").write_text(kml_text(R2, "Front"))
    out["kml"] = d / "r2.kml"
    with zipfile.ZipFile(d / "r2.kmz", "w") as z:
        z.writestr("doc.kml", kml_text(R2, "Front"))
    out["kmz"] = d / "r2.kmz"
    return out


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "kml", "kmz"])
def test_every_format_reads_the_same_polygon_in_lon_lat(formats, fmt):
    (shape_,) = read_region_file(formats[fmt])
    assert shape_.label == f"{formats[fmt].name}:Front"
    assert shape_.geom.bounds == pytest.approx(R2.bounds, abs=1e-6)
    assert km2(shape_.geom) == pytest.approx(km2(R2), rel=1e-5)
    assert km2(shape_.geom ^ R2) < 1e-3  # the same place, not just the same size


@pytest.mark.parametrize("fmt", ["geojson", "shp", "kml"])
def test_region_file_areas_at_a_time_and_as_a_series(demo_store, theatre, formats, fmt):
    vs = demo_store.versions()
    for convention in ("clipped", "as_drawn"):
        rows = area_series(demo_store, region=str(formats[fmt]), convention=convention)
        assert [r["version_id"] for r in rows] == [v.version_id for v in vs]
        for k, r in enumerate(rows):
            assert_rows([r], expected(theatre, k, R2)[convention], convention)
        (at,) = areas_at(demo_store, vs[2].valid_time, region=str(formats[fmt]), convention=convention)
        assert at["region"] == f"{formats[fmt].name}:Front" and at["version_id"] == vs[2].version_id
        assert_rows([at], expected(theatre, 2, R2)[convention], convention)


def test_as_drawn_counts_the_sea_and_clipped_does_not(demo_store, theatre, tmp_path):
    path = geojson(tmp_path / "sea.geojson", [({}, SEA)])
    assert km2(theatre.homes["ua"] & SEA) < 0.01  # the box is sea
    (drawn,) = areas_at(demo_store, None, region=str(path), convention="as_drawn")
    (clip,) = areas_at(demo_store, None, region=str(path), convention="clipped")
    assert drawn["region"] == "sea.geojson"
    assert drawn["ru_km2"] == pytest.approx(km2(SEA), rel=1e-4)  # Crimea is drawn over it
    assert clip["ru_km2"] == pytest.approx(0.0, abs=0.01) and clip["ua_km2"] == pytest.approx(0.0, abs=0.01)


def test_whole_theatre_box_equals_the_stored_theatre_figures(demo_store, tmp_path):
    """Two paths to one number: the partition measured at import and the region path over the same ground."""
    path = geojson(tmp_path / "all.geojson", [({}, box(20.0, 43.0, 45.0, 56.0))])
    for convention in ("clipped", "as_drawn"):
        mine = area_series(demo_store, region=str(path), convention=convention)
        stored = area_series(demo_store, region="theatre", convention=convention)
        for a, b in zip(mine, stored, strict=True):
            for what in ("ua", "ru", "contested"):
                assert a[f"{what}_km2"] == pytest.approx(b[f"{what}_km2"], rel=1e-4, abs=1e-3)


@pytest.fixture
def multi(tmp_path):
    a, b1, b2 = box(37.6, 48.1, 37.7, 48.2), box(37.7, 48.1, 37.8, 48.15), box(37.7, 48.15, 37.8, 48.2)
    path = geojson(tmp_path / "multi.geojson", [({"name": "A"}, a), ({"name": "B"}, b1), ({"name": "B"}, b2)])
    data = json.loads(path.read_text())
    data["features"].append(
        {
            "type": "Feature",
            "properties": {"name": "a town"},
            "geometry": {"type": "Point", "coordinates": [37.65, 48.15]},
        }
    )  # ignored
    path.write_text(json.dumps(data))
    return path, a, b1 | b2


def test_multi_feature_file_union_by_default_and_one_row_per_field_value(demo_store, theatre, multi):
    path, a, b = multi
    vs = demo_store.versions()
    k = len(vs) - 1
    for convention in ("clipped", "as_drawn"):
        (union,) = areas_at(demo_store, vs[k].valid_time, region=str(path), convention=convention)
        assert union["region"] == "multi.geojson"
        assert_rows([union], expected(theatre, k, a | b)[convention], convention)
        per = areas_at(demo_store, vs[k].valid_time, region=str(path), convention=convention, region_field="name")
        assert [r["region"] for r in per] == ["multi.geojson:A", "multi.geojson:B"]
        assert_rows(per[:1], expected(theatre, k, a)[convention], convention)
        assert_rows(per[1:], expected(theatre, k, b)[convention], convention)
        series = area_series(demo_store, region=str(path), convention=convention, region_field="name", every="week")
        assert [r["region"] for r in series] == ["multi.geojson:A", "multi.geojson:B"] * len(vs)
        assert series[-1]["period"] == series[-2]["period"]
        assert_rows(series[-1:], expected(theatre, k, b)[convention], convention)
        b_rows = series[1::2]
        assert b_rows[-1]["net_ru_km2"] == pytest.approx(b_rows[-1]["ru_km2"] - b_rows[-2]["ru_km2"], abs=2e-3)


def test_cli_labels_rows_by_file_and_field(demo_store, multi):
    path, _, _ = multi
    res = CliRunner().invoke(
        main, ["area", "--store", str(demo_store.path), "--region", str(path), "--region-field", "name", "--csv"]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("region,convention,time,version_id")
    assert {ln.split(",")[0] for ln in lines[1:]} == {"multi.geojson:A", "multi.geojson:B"}
    res = CliRunner().invoke(
        main,
        ["area", "--store", str(demo_store.path), "--region", str(path), "--region-field", "name", "--at", "latest"],
    )
    assert res.exit_code == 0, res.output
    assert "multi.geojson by name" in res.output and "multi.geojson:B" in res.output


# -- errors -------------------------------------------------------------------------------------------------


@pytest.fixture
def bad(tmp_path) -> dict:
    d = {"points": geojson(tmp_path / "points.geojson", [({"name": "x"}, shapely.Point(37.6, 48.1))])}
    d["garbage"] = tmp_path / "garbage.geojson"
    d["garbage"].write_text("this is not GeoJSON")
    d["two_layers"] = gdal(tmp_path / "two.gpkg", [R2], ["Front"], "EPSG:4326", "GPKG", layer="front")
    gdal(d["two_layers"], [SEA], ["Sea"], "EPSG:4326", "GPKG", layer="sea", append=True)
    d["no_prj"] = gdal(tmp_path / "noprj.shp", [project(R2, "EPSG:32637")], ["Front"], "EPSG:32637", "ESRI Shapefile")
    (tmp_path / "noprj.prj").unlink()
    d["france"] = geojson(tmp_path / "france.geojson", [({}, box(1.0, 46.0, 3.0, 47.0))])
    d["folder"] = tmp_path
    d["missing"] = tmp_path / "missing.geojson"
    return d


@pytest.mark.parametrize(
    "case, kw, message",
    [
        ("points", {}, r"points\.geojson: no polygon in the region file \(found 1 Point\)"),
        ("garbage", {}, r"garbage\.geojson: cannot read it as a polygon file"),
        ("points", {"field": "oblast"}, r"points\.geojson: no field 'oblast'; its fields are name"),
        ("two_layers", {}, r"two\.gpkg: 2 layers hold polygons \(front, sea\): name one with --region-layer"),
        ("two_layers", {"layer": "roads"}, r"two\.gpkg: no layer 'roads'; its layers are front, sea"),
        ("no_prj", {}, r"noprj\.shp: the coordinates are not longitude/latitude and the file names no CRS"),
        ("folder", {}, r"is a folder"),
        ("missing", {}, r"missing\.geojson: no such region file"),
    ],
)
def test_bad_files_name_the_file_and_what_is_wrong(bad, case, kw, message):
    with pytest.raises(ValueError, match=message):
        read_region_file(bad[case], **kw)


def test_a_layer_can_be_chosen(bad):
    (shape_,) = read_region_file(bad["two_layers"], layer="sea")
    assert shape_.label == "two.gpkg:Sea" and km2(shape_.geom) == pytest.approx(km2(SEA), rel=1e-6)


@pytest.mark.parametrize(
    "case, extra, message",
    [
        ("garbage", [], "garbage.geojson: cannot read it as a polygon file"),
        ("points", ["--region-field", "oblast"], "points.geojson: no field 'oblast'"),
        ("france", [], "france.geojson: the region lies outside the theatre"),
        ("missing", [], "missing.geojson: no such region file"),
        ("no_prj", ["--from", "2025-01-01"], "not longitude/latitude"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(demo_store, bad, case, extra, message):
    res = CliRunner().invoke(main, ["area", "--store", str(demo_store.path), "--region", str(bad[case]), *extra])
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], res.output


def test_region_field_needs_a_file(demo_store):
    res = CliRunner().invoke(
        main, ["area", "--store", str(demo_store.path), "--region", "ukraine", "--region-field", "name"]
    )
    assert res.exit_code != 0 and "need a polygon file" in res.output


def test_a_feature_outside_the_theatre_has_no_values_and_alone_is_an_error(demo_store, tmp_path):
    path = geojson(
        tmp_path / "mixed.geojson", [({"name": "Front"}, R2), ({"name": "Paris"}, box(2.0, 48.5, 2.6, 49.0))]
    )
    front, paris = areas_at(demo_store, None, region=str(path), region_field="name")
    assert paris["region"] == "mixed.geojson:Paris" and paris["ru_km2"] is None and paris["ua_km2"] is None
    assert front["ru_km2"] > 0
    with pytest.raises(ValueError, match="outside the theatre"):
        areas_at(demo_store, None, region=str(geojson(tmp_path / "paris.geojson", [({}, box(2.0, 48.5, 2.6, 49.0))])))
