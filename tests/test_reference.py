"""Settlements and roads kept in the store as GeoPackage layers (what QGIS and GDAL see, what loads back)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString

from frontline.sources.geonames import read_geonames
from frontline.sources.osm import Roads
from frontline.store import init_store
from frontline.store.reference import (
    load_roads,
    load_settlements,
    put_roads,
    put_settlements,
    reference_info,
)

ROWS = [
    # id, name, alternates, lat, lon, cc, population
    (703448, "Kyiv", "Kiev,Київ,Киев", 50.45466, 30.5238, "UA", 2797553),
    (692194, "Sudzha", "Суджа,Sudja", 51.1926, 35.2726, "RU", 5500),
    (706483, "Kharkiv", "Харків,Харьков,Kharkov", 49.98081, 36.25272, "UA", 1430885),
]


def write_geonames(path, rows, extra: str = ""):
    lines = ["\t".join([str(i), n, n, alts, f"{lat}", f"{lon}", "P", "PPL", cc, "", "", "", "", "", str(pop), "",
                        "100", "Europe/Kyiv", "2024-01-01"]) for i, n, alts, lat, lon, cc, pop in rows]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


@pytest.fixture()
def store(tmp_path):
    st = init_store(tmp_path / "ref.gpkg")
    yield st
    st.close()


def test_settlements_round_trip_and_gdal_sees_the_layer(store, tmp_path):
    gz = read_geonames(write_geonames(tmp_path / "UA.txt", ROWS))
    assert put_settlements(store, gz, origin="UA.txt") == 3
    back = load_settlements(store)
    assert back.ids.tolist() == [r[0] for r in ROWS]
    assert back.names.tolist() == [r[1] for r in ROWS]
    assert back.lon.tolist() == [r[4] for r in ROWS] and back.lat.tolist() == [r[3] for r in ROWS]
    assert back.population.tolist() == [r[6] for r in ROWS]
    assert "Київ" in back.alternates[0]
    # A GeoPackage reader (GDAL, as QGIS uses) lists and reads the layer with its points.
    layers = dict(pyogrio.list_layers(store.path))
    assert layers.get("settlements") == "Point"
    _, _, wkb, fields = pyogrio.raw.read(store.path, layer="settlements")
    assert len(wkb) == 3 and fields[0].tolist() == [r[0] for r in ROWS]
    xy = shapely.get_coordinates(shapely.from_wkb(wkb))
    assert np.allclose(xy, [[r[4], r[3]] for r in ROWS])
    assert reference_info(store, "settlements")["count"] == 3
    # Search works on what came back (transliteration-tolerant index over alternates).
    assert back.names[back.name_index().search("Суджа", limit=1)[0].index] == "Sudzha"


def test_reimport_replaces_and_cache_follows(store, tmp_path):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    first = load_settlements(store)
    assert load_settlements(store) is first  # cached: no second read
    put_settlements(store, read_geonames(write_geonames(tmp_path / "b.txt", ROWS[:1])), origin="b.txt")
    second = load_settlements(store)
    assert second is not first and len(second) == 1
    n = store.db.execute("SELECT COUNT(*) FROM settlements").fetchone()[0]
    assert n == 1
    assert store.db.execute("SELECT COUNT(*) FROM gpkg_contents WHERE table_name='settlements'").fetchone()[0] == 1
    # Another connection (the web server's) sees the new layer too.
    from frontline.store import open_store

    other = open_store(store.path, readonly=True)
    assert len(load_settlements(other)) == 1
    other.close()


def test_malformed_gazetteer_rows_are_reported_rest_kept(store, tmp_path):
    p = write_geonames(tmp_path / "bad.txt", ROWS, extra="999\tBroken\tBroken\t\tabc\t30.0\tP\tPPL\tUA\n")
    gz = read_geonames(p)
    assert len(gz) == 3 and any("line 4" in m for m in gz.problems)
    assert put_settlements(store, gz, origin=str(p)) == 3
    assert reference_info(store, "settlements")["problems"] == len(gz.problems)


def test_roads_round_trip(store):
    lines = [LineString([(35.0, 51.0), (35.1, 51.05), (35.2, 51.1)]), LineString([(36.0, 50.0), (36.2, 50.1)])]
    r = Roads(geometry=np.array(lines, dtype=object), ids=["w1", "w2"], names=["Sumy–Sudzha", ""],
              names_en=["", ""], refs=["R-200", "M03"], classes=["primary", "motorway"], source="test")
    assert put_roads(store, r, origin="test") == 2
    back = load_roads(store)
    assert back.ids.tolist() == ["w1", "w2"] and back.refs.tolist() == ["R-200", "M03"]
    assert back.classes.tolist() == ["primary", "motorway"] and back.names[0] == "Sumy–Sudzha"
    assert all(shapely.equals_exact(a, b, 1e-12) for a, b in zip(back.geometry, lines))
    assert dict(pyogrio.list_layers(store.path)).get("roads") == "LineString"
    assert load_roads(store) is back


def test_nothing_imported_and_readonly(store, tmp_path):
    assert load_settlements(store) is None and load_roads(store) is None
    from frontline.store import open_store

    ro = open_store(store.path, readonly=True)
    gz = read_geonames(write_geonames(tmp_path / "a.txt", ROWS))
    with pytest.raises(ValueError, match="read-only"):
        put_settlements(ro, gz, origin="a.txt")
    ro.close()
    with pytest.raises(ValueError, match="holds no places"):
        put_settlements(store, gz.subset(np.zeros(len(gz), dtype=bool)), origin="empty.txt")


def test_failed_import_leaves_the_old_layer(store, tmp_path):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    # Another writer holds the lock: the import fails as a whole and the old layer stays readable.
    other = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store.db.execute("PRAGMA busy_timeout=100")
    with pytest.raises(sqlite3.OperationalError):
        put_settlements(store, read_geonames(write_geonames(tmp_path / "b.txt", ROWS[:1])), origin="b.txt")
    other.execute("ROLLBACK")
    other.close()
    assert len(load_settlements(store)) == 3
