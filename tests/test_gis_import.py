"""Generic GIS import (GeoJSON, GeoPackage, Shapefile, KML, KMZ) with a value→status mapping.

Layers are written here with pyogrio; expected areas come from pyproj's Geod on
the shapes drawn here (held minus contested), not from Frontline's code.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer

from frontline.analysis.area import area_at
from frontline.ingest import Importer
from frontline.sources import gis
from frontline.store import init_store

GEOD = Geod(ellps="WGS84")
HELD = shapely.box(37.4, 47.9, 37.7, 48.1)  # well inside Ukraine (Donetsk oblast)
GREY = shapely.box(37.6, 47.95, 37.8, 48.05)  # overlaps the held box's east side
BOWTIE = shapely.Polygon([(36.0, 48.5), (36.1, 48.6), (36.1, 48.5), (36.0, 48.6)])  # self-intersecting
MAPPING = {
    "field": "status",
    "values": {
        "Russian-held": {"role": "held", "side": "ru"},
        "Contested": {"role": "contested"},
        "Claimed": {"role": "label"},
    },
}


def _km2(g) -> float:
    return sum(abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(p))[0]) for p in shapely.get_parts(g)) / 1e6


def _expected_km2(theatre) -> tuple[float, float]:
    """(ru-held, contested) km² on Ukraine's land (the borders are land polygons: reservoirs are cut out)."""
    # the bow-tie repairs into two triangles of ru-held ground; held ground under grey is contested
    tri = shapely.union_all(
        [
            shapely.Polygon([(36.0, 48.5), (36.05, 48.55), (36.0, 48.6)]),
            shapely.Polygon([(36.1, 48.5), (36.05, 48.55), (36.1, 48.6)]),
        ]
    )
    ukr = theatre.homes["ua"]
    ru = shapely.intersection(shapely.union(shapely.difference(HELD, GREY), tri), ukr)
    return _km2(ru), _km2(shapely.intersection(GREY, ukr))


def _write(path, driver, crs="EPSG:4326"):
    geoms = np.array([HELD, GREY, BOWTIE, shapely.box(38.0, 48.0, 38.1, 48.1), shapely.Point(37.5, 48.0)], dtype=object)
    if crs != "EPSG:4326":
        tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    fields = {
        "status": np.array(["Russian-held", "Contested", "Russian-held", "Mystery", "Claimed"], dtype=object),
        "name": np.array(["held", "grey", "bowtie", "odd", "claim point"], dtype=object),
    }
    if driver == "ESRI Shapefile":  # one geometry type per shapefile: no point
        geoms, fields = geoms[:4], {k: v[:4] for k, v in fields.items()}
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(geoms),
        geometry_type="Unknown",
        field_data=list(fields.values()),
        fields=list(fields),
        crs=crs,
        driver=driver,
        layer="control",
    )


@pytest.fixture()
def mapping_file(tmp_path):
    p = tmp_path / "mapping.json"
    p.write_text(json.dumps(MAPPING))
    return p


@pytest.mark.parametrize(
    "suffix,driver,crs",
    [
        (".geojson", "GeoJSON", "EPSG:4326"),
        (".gpkg", "GPKG", "EPSG:4326"),
        (".shp", "ESRI Shapefile", "EPSG:3857"),  # projected: reprojected to lon/lat on import
        (".kml", "KML", "EPSG:4326"),
    ],
)
def test_gis_layer_imports_with_mapping(tmp_path, mapping_file, theatre, suffix, driver, crs):
    path = tmp_path / f"control{suffix}"
    _write(path, driver, crs)
    st = init_store(tmp_path / "s.gpkg")
    rep = Importer(st).run(gis.read(path, mapping_file, at="2025-03-10T12:00:00Z", source="team"), progress=False)
    assert (rep.added, rep.failed) == (1, 0), rep.problems
    assert rep.unclassified == 1 and any("Mystery" in m for _, m in rep.problems)
    assert rep.repaired == 1
    row = area_at(st, "2025-03-10T12:00:00Z", region="ukraine", source="team")
    ru, grey = _expected_km2(theatre)
    assert row["ru_km2"] == pytest.approx(ru, rel=1e-3)
    assert row["contested_km2"] == pytest.approx(grey, rel=1e-3)


def test_kmz_imports(tmp_path, mapping_file, theatre):
    kml = tmp_path / "doc.kml"
    _write(kml, "KML")
    kmz = tmp_path / "control.kmz"
    with zipfile.ZipFile(kmz, "w") as z:
        z.write(kml, "doc.kml")
    st = init_store(tmp_path / "s.gpkg")
    rep = Importer(st).run(gis.read(kmz, mapping_file, at="2025-03-10", source="team"), progress=False)
    assert (rep.added, rep.failed) == (1, 0), rep.problems
    row = area_at(st, "2025-03-10", region="ukraine", source="team")
    assert row["ru_km2"] == pytest.approx(_expected_km2(theatre)[0], rel=1e-3)


def test_gis_errors_are_named(tmp_path, mapping_file):
    path = tmp_path / "control.gpkg"
    _write(path, "GPKG")
    st = init_store(tmp_path / "s.gpkg")
    bad_field = tmp_path / "bad.json"
    bad_field.write_text(json.dumps({**MAPPING, "field": "colour"}))
    no_side = tmp_path / "noside.json"
    no_side.write_text(json.dumps({"field": "status", "values": {"Russian-held": {"role": "held"}}}))
    bad_layer = tmp_path / "layer.json"
    bad_layer.write_text(json.dumps({**MAPPING, "layer": "nope"}))
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"not a geopackage at all")
    cases = [
        (path, bad_field, "colour"),
        (path, no_side, "side"),
        (path, bad_layer, "nope"),
        (garbage, mapping_file, "cannot read"),
        (path, mapping_file, None),
    ]
    for src, m, words in cases:
        at = None if words is None else "2025-03-10"
        rep = Importer(st).run(gis.read(src, m, at=at, source="team"), progress=False)
        assert rep.failed == 1 and rep.added == 0
        origin, msg = rep.problems[-1]
        assert origin == str(src)
        assert (words or "--time") in msg
    assert st.versions("team") == [] if "team" in st.sources() else True
