"""Settlements and roads kept in the store (what QGIS and GDAL see, what loads back), on both backends.

Every test taking ``store`` runs on a GeoPackage and on PostGIS (``backend``, ``tests/conftest.py``):
a GeoPackage layer is read back with GDAL, a PostGIS one through ``geometry_columns`` and SQL.
"""

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
    lines = [
        "\t".join(
            [
                str(i),
                n,
                n,
                alts,
                f"{lat}",
                f"{lon}",
                "P",
                "PPL",
                cc,
                "",
                "",
                "",
                "",
                "",
                str(pop),
                "",
                "100",
                "Europe/Kyiv",
                "2024-01-01",
            ]
        )
        for i, n, alts, lat, lon, cc, pop in rows
    ]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


@pytest.fixture()
def store(new_store_url):
    st = init_store(new_store_url)
    yield st
    st.close()


def _pg_layer(store, layer):
    """``(geometry type, SRID, has a GiST index)`` of a PostGIS layer, as QGIS finds it."""
    gtype, srid = store.db.execute(
        "SELECT type, srid FROM geometry_columns WHERE f_table_name = %s", (layer,)
    ).fetchone()
    gist = store.db.execute(
        "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING gist (geom)%%'", (layer,)
    ).fetchone()[0]
    return gtype, srid, gist == 1


def test_settlements_round_trip_and_gdal_sees_the_layer(store, tmp_path, backend):
    gz = read_geonames(write_geonames(tmp_path / "UA.txt", ROWS))
    assert put_settlements(store, gz, origin="UA.txt") == 3
    back = load_settlements(store)
    assert back.ids.tolist() == [r[0] for r in ROWS]
    assert back.names.tolist() == [r[1] for r in ROWS]
    assert back.lon.tolist() == [r[4] for r in ROWS] and back.lat.tolist() == [r[3] for r in ROWS]
    assert back.population.tolist() == [r[6] for r in ROWS]
    assert "Київ" in back.alternates[0]
    if backend == "gpkg":
        # A GeoPackage reader (GDAL, as QGIS uses) lists and reads the layer with its points.
        layers = dict(pyogrio.list_layers(store.path))
        assert layers.get("settlements") == "Point"
        _, _, wkb, fields = pyogrio.raw.read(store.path, layer="settlements")
        assert len(wkb) == 3 and fields[0].tolist() == [r[0] for r in ROWS]
    else:  # a PostGIS layer: a registered point column with a spatial index
        assert _pg_layer(store, "settlements") == ("POINT", 4326, True)
        rows = store.db.execute("SELECT place_id, ST_AsBinary(geom) FROM settlements ORDER BY fid").fetchall()
        assert [r[0] for r in rows] == [r[0] for r in ROWS]
        wkb = [bytes(r[1]) for r in rows]
    xy = shapely.get_coordinates(shapely.from_wkb(wkb))
    assert np.allclose(xy, [[r[4], r[3]] for r in ROWS])
    assert reference_info(store, "settlements")["count"] == 3
    # Search works on what came back (transliteration-tolerant index over alternates).
    assert back.names[back.name_index().search("Суджа", limit=1)[0].index] == "Sudzha"


def test_reimport_with_replace_replaces_and_cache_follows(store, tmp_path, backend):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    first = load_settlements(store)
    assert load_settlements(store) is first  # cached: no second read
    res = put_settlements(
        store, read_geonames(write_geonames(tmp_path / "b.txt", ROWS[:1])), origin="b.txt", replace=True
    )
    assert (res.mode, res.added, res.replaced, res.total) == ("replace", 1, 3, 1)
    second = load_settlements(store)
    assert second is not first and len(second) == 1
    n = store.db.execute("SELECT COUNT(*) FROM settlements").fetchone()[0]
    assert n == 1
    if backend == "gpkg":
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


def test_roads_round_trip(store, backend):
    lines = [LineString([(35.0, 51.0), (35.1, 51.05), (35.2, 51.1)]), LineString([(36.0, 50.0), (36.2, 50.1)])]
    r = Roads(
        geometry=np.array(lines, dtype=object),
        ids=["w1", "w2"],
        names=["Sumy–Sudzha", ""],
        names_en=["", ""],
        refs=["R-200", "M03"],
        classes=["primary", "motorway"],
        source="test",
    )
    assert put_roads(store, r, origin="test") == 2
    back = load_roads(store)
    assert back.ids.tolist() == ["w1", "w2"] and back.refs.tolist() == ["R-200", "M03"]
    assert back.classes.tolist() == ["primary", "motorway"] and back.names[0] == "Sumy–Sudzha"
    assert all(shapely.equals_exact(a, b, 1e-12) for a, b in zip(back.geometry, lines))
    if backend == "gpkg":
        assert dict(pyogrio.list_layers(store.path)).get("roads") == "LineString"
    else:
        assert _pg_layer(store, "roads") == ("LINESTRING", 4326, True)
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


def test_failed_import_leaves_the_old_layer(store, tmp_path, backend):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    # Another connection holds a lock the rewrite needs: the import fails as a whole, the old layer stays.
    if backend == "gpkg":
        other = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        store.db.execute("PRAGMA busy_timeout=100")
        failure: type[Exception] = sqlite3.OperationalError
    else:
        import psycopg

        other = psycopg.connect(store.url, autocommit=True)
        other.execute("BEGIN")
        other.execute("LOCK TABLE settlements IN ACCESS EXCLUSIVE MODE")
        store.db.execute("SET lock_timeout = '100ms'")
        failure = psycopg.errors.LockNotAvailable
    with pytest.raises(failure):
        put_settlements(store, read_geonames(write_geonames(tmp_path / "b.txt", ROWS[:1])), origin="b.txt")
    other.execute("ROLLBACK")
    other.close()
    assert len(load_settlements(store)) == 3


def test_import_adds_and_merges_instead_of_replacing(store, tmp_path):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    # b.txt: Kyiv again under its GeoNames id with a new alternate and a newer population; Sudzha from a
    # source without GeoNames ids (a point layer: id 1) 300 m away under its Russian name; a new village.
    again = [(703448, "Kyiv", "Kyjiw", 50.45466, 30.5238, "UA", 2952301)]
    res = put_settlements(store, read_geonames(write_geonames(tmp_path / "b.txt", again)), origin="b.txt")
    assert (res.mode, res.added, res.updated, res.kept, res.total) == ("add", 0, 1, 0, 3)
    back = load_settlements(store)
    i = back.names.tolist().index("Kyiv")
    assert back.population[i] == 2952301 and {"Kyjiw", "Київ", "Kiev"} <= set(back.alternates[i])

    import json as _json

    pts = tmp_path / "points.geojson"
    pts.write_text(
        _json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Суджа"},
                        "geometry": {"type": "Point", "coordinates": [35.276, 51.194]},
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "Malaya Loknya"},
                        "geometry": {"type": "Point", "coordinates": [35.28, 51.35]},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    from frontline.sources.geonames import read_points

    res = put_settlements(store, read_points(pts), origin="points.geojson")
    assert (res.added, res.updated, res.kept, res.total) == (1, 0, 1, 4)
    back = load_settlements(store)
    assert back.names.tolist().count("Sudzha") == 1 and "Суджа" not in back.names.tolist()
    j = back.names.tolist().index("Sudzha")
    assert back.ids[j] == 692194 and back.population[j] == 5500  # the richer GeoNames record stays the base
    info = reference_info(store, "settlements")
    assert [o["origin"] for o in info["origins"]] == ["a.txt", "b.txt", "points.geojson"]
    assert info["count"] == 4
    # the same file again changes nothing and says so
    res = put_settlements(store, read_points(pts), origin="points.geojson")
    assert (res.added, res.updated, res.kept, res.total) == (0, 0, 2, 4)
    assert "added 0, updated 0, 2 already stored or duplicates within the file (4 settlements stored)" in res.describe(
        "settlements"
    )


def test_same_name_farther_than_a_kilometre_is_another_place(store, tmp_path):
    put_settlements(store, read_geonames(write_geonames(tmp_path / "a.txt", ROWS)), origin="a.txt")
    other = [(1, "Sudzha", "", 51.2126, 35.2726, "RU", 0)]  # 2.2 km north, another id
    res = put_settlements(store, read_geonames(write_geonames(tmp_path / "b.txt", other)), origin="b.txt")
    assert (res.added, res.total) == (1, 4)


def _roads(ids, lines, refs):
    return Roads(
        geometry=np.array(lines, dtype=object),
        ids=ids,
        names=[""] * len(ids),
        names_en=[""] * len(ids),
        refs=refs,
        classes=["primary"] * len(ids),
        source="test",
    )


def test_roads_import_adds_dedupes_and_replaces(store):
    a = LineString([(35.0, 51.0), (35.1, 51.05)])
    b = LineString([(36.0, 50.0), (36.2, 50.1)])
    c = LineString([(37.0, 49.0), (37.1, 49.1)])
    put_roads(store, _roads(["w1", "w2"], [a, b], ["R-200", ""]), origin="one.pbf")
    # w1 again with a new ref (update); b again from a GeoJSON (id "7"), reversed (kept); c new
    res = put_roads(store, _roads(["w1", "7", "8"], [a, b.reverse(), c], ["R-200a", "", ""]), origin="two.geojson")
    assert (res.mode, res.added, res.updated, res.total) == ("add", 1, 2, 3)
    back = load_roads(store)
    assert back.ids.tolist() == ["w1", "7", "8"] and back.refs.tolist()[0] == "R-200a"
    res = put_roads(store, _roads(["w1"], [a], ["R-200a"]), origin="one-again.pbf")
    assert (res.added, res.updated, res.kept, res.total) == (0, 0, 1, 3)
    res = put_roads(store, _roads(["w9"], [c], [""]), origin="new.pbf", replace=True)
    assert (res.mode, res.replaced, res.total) == ("replace", 3, 1)
    assert load_roads(store).ids.tolist() == ["w9"]
    assert reference_info(store, "roads")["origins"][-1]["origin"] == "new.pbf"


def test_roads_cli_import_adds_unless_replace(tmp_path):
    import json as _json

    from click.testing import CliRunner

    from frontline.cli import main

    st = init_store(tmp_path / "r.gpkg")
    st.close()

    def layer(name, coords):
        p = tmp_path / name
        p.write_text(
            _json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": i,
                            "properties": {"highway": "primary", "ref": f"R-{i}"},
                            "geometry": {"type": "LineString", "coordinates": c},
                        }
                        for i, c in enumerate(coords)
                    ],
                }
            ),
            encoding="utf-8",
        )
        return str(p)

    one = layer("one.geojson", [[[35.0, 51.0], [35.1, 51.05]], [[36.0, 50.0], [36.2, 50.1]]])
    two = layer("two.geojson", [[[35.0, 51.0], [35.1, 51.05]], [[37.0, 49.0], [37.1, 49.1]]])
    r = CliRunner().invoke(main, ["roads", "import", "--store", str(tmp_path / "r.gpkg"), one])
    assert (
        r.exit_code == 0
        and "added 2, updated 0, 0 already stored or duplicates within the file (2 roads stored)" in r.output
    ), r.output
    r = CliRunner().invoke(main, ["roads", "import", "--store", str(tmp_path / "r.gpkg"), two])
    assert "added 1, updated 0, 1 already stored or duplicates within the file (3 roads stored)" in r.output, r.output
    r = CliRunner().invoke(main, ["roads", "import", "--store", str(tmp_path / "r.gpkg"), two, "--replace"])
    assert "replaced the stored roads (3 dropped) with 2 (2 stored)" in r.output, r.output
