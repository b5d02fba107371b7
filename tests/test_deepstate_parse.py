"""DeepState name parsing and classification, on the shapes the archive really has."""

import pytest

from frontline.sources.deepstate import classify_area, classify_point, parse_name, snapshot_from_bytes


def test_name_with_nbsp_newlines_and_key():
    p = parse_name("Окуповано /// Occupied\u00a0/// geoJSON.status.occupied\n")
    assert (p.ua, p.en, p.key, p.at) == ("Окуповано", "Occupied", "status.occupied", None)


def test_name_with_date_label():
    p = parse_name("Звільнено 27-31.03/// Liberated 27-31.03\u00a0/// geoJSON.status.dismissed_at {{at:27.03 - 31.03}}")
    assert p.key == "status.dismissed_at" and p.at == "27.03 - 31.03"
    assert p.ua == "Звільнено 27-31.03" and p.en == "Liberated 27-31.03"


def test_name_multiline_joke_and_missing_parts():
    p = parse_name("Окупована Абхазія.\n///\nOccupied Abkhazia.\n/// geoJSON.territories.abkhazia\n")
    assert p.key == "territories.abkhazia" and p.en == "Occupied Abkhazia."
    assert parse_name("Звільнено") == parse_name("Звільнено")
    assert parse_name("Звільнено").en == "" and parse_name(None).ua == ""


@pytest.mark.parametrize(
    "props,expected",
    [
        ({"name": "Окуповано /// Occupied /// geoJSON.status.occupied"}, ("held", "ru")),
        ({"name": "ОРДЛО /// CADR and CALR\u00a0/// geoJSON.territories.ordlo"}, ("held", "ru")),
        ({"name": "Статус невідомий /// Unknown status /// geoJSON.status.unknown\n"}, ("contested", None)),
        ({"name": "Звільнено /// Liberated /// geoJSON.status.dismissed"}, ("held", "ua")),
        ({"name": "x /// geoJSON.territories.karelia"}, ("excluded", None)),
        ({"name": "x /// geoJSON.something.new"}, ("unclassified", None)),
        # pre-2024 versions: no key, classify by fill (and the old territories by name)
        ({"name": "Окуповано", "fill": "#a52714"}, ("held", "ru")),
        ({"name": "Під питанням /// Contested", "fill": "#bcaaa4"}, ("contested", None)),
        ({"name": "Звільнено /// Liberated", "fill": "#0f9d58"}, ("held", "ua")),
        ({"name": "Крим", "fill": "#000000"}, ("held", "ru")),
        ({"name": "Придністров'я", "fill": "#880e4f"}, ("excluded", None)),
        ({"name": "Тимчасово окупована територія Карелії", "fill": "#ff5252"}, ("excluded", None)),
        ({"name": "?", "fill": "#123456"}, ("unclassified", None)),
    ],
)
def test_classify_area(props, expected):
    _, role, side, _ = classify_area(props)
    assert (role, side) == expected


def test_attack_direction_bearing():
    kind, key, bearing = classify_point(
        {"name": "Напрямок удару /// Direction of attack", "description": "{icon=arrow_5}"}
    )
    assert kind == "direction" and bearing == 90.0
    assert classify_point({"name": "76 ДШД", "description": "{icon=enemy}"})[0] == "unit"


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"", "empty file"),
        (b'{"type": "FeatureCollection", "features": [', "not valid JSON"),
        (b"[1, 2]", "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": []}', "cannot tell the version id"),
    ],
)
def test_bad_files_get_clear_reasons(data, fragment):
    with pytest.raises(ValueError, match=fragment):
        snapshot_from_bytes(data, "x.geojson", None)


def test_geometry_collection_with_invalid_part_is_repaired_not_skipped():
    from frontline.sources.deepstate import parse_feature

    # a polygon whose hole lies outside its shell (as in real 2022 versions) next to a valid one
    bad = {
        "type": "Polygon",
        "coordinates": [
            [[33.0, 47.0], [33.2, 47.0], [33.2, 47.2], [33.0, 47.2], [33.0, 47.0]],
            [[33.3, 47.3], [33.4, 47.3], [33.4, 47.4], [33.3, 47.3]],
        ],
    }
    good = {"type": "Polygon", "coordinates": [[[33.5, 47.0], [33.6, 47.0], [33.6, 47.1], [33.5, 47.0]]]}
    feat = {
        "type": "Feature",
        "properties": {"name": "Окуповано /// Occupied", "fill": "#a52714"},
        "geometry": {"type": "GeometryCollection", "geometries": [bad, good]},
    }
    rf, note = parse_feature(feat)
    assert rf is not None and rf.repaired and note == "repaired invalid polygon"
    assert rf.geometry.is_valid and rf.role == "held" and rf.side == "ru"
    assert rf.geometry.contains(__import__("shapely").Point(33.1, 47.1))
