"""Settlements from an OSM extract's place=* nodes (frontline.sources.osm_places)."""

from __future__ import annotations

import pytest

osmium = pytest.importorskip("osmium")
from gazetteer_fixtures import SettlementsStore  # noqa: E402
from osmium.osm.mutable import Node  # noqa: E402

from frontline.sources.geonames import load_gazetteer  # noqa: E402
from frontline.sources.osm_places import read_osm_places  # noqa: E402

NODES = [
    # Sudzha (Kursk oblast) and two villages of the March 2025 reports, as OSM tags them
    (1, (35.2710, 51.1910), {"place": "town", "name": "Суджа", "name:en": "Sudzha", "population": "5 342"}),
    (
        2,
        (35.1167, 51.2667),
        {"place": "village", "name": "Малая Локня", "name:en": "Malaya Loknya", "name:uk": "Мала Локня"},
    ),
    (3, (35.2196, 51.2361), {"place": "village", "name": "Мартыновка", "old_name": "Мартиновка;Martinovka"}),
    (
        4,
        (37.1771, 48.2801),
        {
            "place": "city",
            "name": "Покровськ",
            "name:en": "Pokrovsk",
            "old_name": "Красноармійськ",
            "population": "60,127",
        },
    ),
    (5, (35.30, 51.25), {"place": "hamlet"}),  # no name: reported, skipped
    (6, (35.31, 51.26), {"amenity": "cafe", "name": "Кафе"}),  # not a place: ignored
    (7, (35.32, 51.27), {"place": "suburb", "name": "Центр"}),  # not a settlement class by default
]


def write(path, nodes=NODES):
    with osmium.SimpleWriter(str(path)) as w:
        for i, loc, tags in nodes:
            w.add_node(Node(id=i, location=loc, tags=tags))
    return path


def test_places_names_population_and_country(tmp_path):
    gz = read_osm_places(write(tmp_path / "k.osm.pbf"))
    by = {n: i for i, n in enumerate(gz.names)}
    assert set(by) == {"Sudzha", "Malaya Loknya", "Мартыновка", "Pokrovsk"}
    assert gz.id_kind == "osm" and int(gz.ids[by["Pokrovsk"]]) == 4
    assert gz.alternates[by["Malaya Loknya"]] == ["Малая Локня", "Мала Локня"]  # local name first
    assert gz.alternates[by["Мартыновка"]] == ["Мартиновка", "Martinovka"]  # ';' separates names
    assert int(gz.population[by["Sudzha"]]) == 5342 and int(gz.population[by["Pokrovsk"]]) == 60127
    # no country tag: taken from the basemap's borders
    assert gz.country[by["Sudzha"]] == "RU" and gz.country[by["Pokrovsk"]] == "UA"
    assert any("node 5" in p and "no name" in p for p in gz.problems)
    assert len(read_osm_places(tmp_path / "k.osm.pbf", countries=["UA"])) == 1
    assert len(read_osm_places(tmp_path / "k.osm.pbf", bbox=(35.0, 51.0, 35.5, 51.5))) == 3
    assert "Центр" in read_osm_places(tmp_path / "k.osm.pbf", classes=["suburb"]).names


def test_bad_files_are_named(tmp_path):
    junk = tmp_path / "junk.osm.pbf"
    junk.write_bytes(b"not a pbf")
    with pytest.raises(ValueError, match="junk.osm.pbf: cannot be read as an OSM file"):
        read_osm_places(junk)
    cafes = write(tmp_path / "cafes.osm.pbf", [NODES[5]])
    with pytest.raises(ValueError, match="cafes.osm.pbf: no node tagged place="):
        load_gazetteer(cafes)


def test_cli_import_adds_villages_to_the_default_and_reimport_adds_nothing(tmp_path):
    import json

    store = SettlementsStore.with_default(tmp_path / "s.gpkg")
    before = store.settlements()
    assert "Malaya Loknya" not in set(before.names)  # cities500 has no village this small
    pbf = write(tmp_path / "k.osm.pbf")
    store.run("import", pbf)
    after = store.settlements()
    names = list(after.names)
    # the villages are added; Sudzha and Pokrovsk, already in the default within 1 km, are merged, not doubled
    assert {"Malaya Loknya", "Мартыновка"} <= set(names)
    assert names.count("Sudzha") == 1 and names.count("Pokrovsk") == 1
    assert len(after) == len(before) + 2
    r = store.run("import", pbf)
    assert "added 0" in r.output, r.output
    r = store.run("search", "Мала Локня", "--json")
    assert json.loads(r.output)[0]["name"] == "Malaya Loknya"  # the Ukrainian spelling finds it first
