"""The record helpers the claims and events readers share (frontline.sources._records)."""

from __future__ import annotations

import json
import math

import pytest

from frontline.sources import _records, claims, events


@pytest.mark.parametrize("value", [None, "", "  \t", float("nan")])
def test_blank_cells(value):
    assert _records.blank(value)


@pytest.mark.parametrize("value", [0, 0.0, "0", "x", False, [], math.inf])
def test_not_blank(value):
    assert not _records.blank(value)


def test_nan_cell_is_blank_in_claims_and_events():
    """A NaN cell (what pandas writes for empty) is blank in both readers, never a value."""
    base = {
        "kind": "settlement",
        "claimant": "MoD",
        "time": "2025-03-13",
        "settlement": "Sudzha",
        "side": "ru",
        "change": "taken",
    }
    c = claims.parse_claim(base | {"confidence": math.nan, "lon": math.nan, "lat": math.nan, "note": math.nan})
    assert c.confidence is None and c.lon is None and "note" not in c.extra
    with pytest.raises(claims.ClaimInputError, match="is missing"):
        claims.parse_claim(base | {"time": math.nan})

    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [35.2, 51.2]},
                "properties": {"time": "2025-03-10", "side": math.nan, "title": "x", "note": math.nan},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [35.2, 51.2]},
                "properties": {"time": math.nan},
            },
        ],
    }
    res = events.parse_events_text(json.dumps(doc, allow_nan=True), "geojson", "e.geojson")
    assert len(res.events) == 1 and res.events[0].side is None and "note" not in res.events[0].props
    assert len(res.problems) == 1 and "time is missing" in res.problems[0]


def test_required_time():
    assert _records.required_time("2025-03-13T00:00Z") == 1741824000
    for v in (None, " ", math.nan):
        with pytest.raises(ValueError, match="is missing"):
            _records.required_time(v)
    with pytest.raises(ValueError, match="ISO"):
        _records.required_time("yesterday")


def test_load_json_names_the_line():
    with pytest.raises(ValueError, match=r"^line 3: not valid JSON"):
        _records.load_json('{\n "a": 1,\n }')


def test_array_lines_top_level_and_under_a_key():
    text = '[\n  {"a": 1},\n\n  {"b": [1,\n 2]}, 3\n]'
    assert _records.array_lines(text) == [2, 4, 5]
    assert _records.array_lines('{"x": [1, 2]}', "y") == []
    assert _records.array_lines('{"x": {"y": [1]}}', "y") == []
    assert _records.array_lines("[]") == []


def test_array_lines_skip_nested_keys_and_strings():
    """The key is found at the top level only: a nested one, or a string that reads like it, is skipped."""
    text = (
        "{\n"
        '  "name": "features",\n'
        '  "meta": {"features": [\n1,\n2]},\n'
        '  "bbox": [0, 0, 1, 1],\n'
        '  "features": [\n'
        '    {"type": "Feature"},\n'
        '    {"type": "Feature"}\n'
        "  ]\n"
        "}"
    )
    assert _records.array_lines(text, "features") == [8, 9]


def test_nested_key_line_in_events_and_claims():
    """A record's line is its own, even when a record before it nests the same words."""
    feat = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [35.2, 51.2]}}
    good = feat | {"properties": {"time": "2025-03-10", "type": "strike"}}
    bad = feat | {"properties": {"time": "never"}}
    nested = feat | {"properties": {"time": "2025-03-10", "related": {"type": "Feature", "id": 7}}}
    text = json.dumps({"type": "FeatureCollection", "features": [nested, good, bad]}, indent=1)
    res = events.parse_events_text(text, "geojson", "e.geojson")
    starts = [i + 1 for i, ln in enumerate(text.splitlines()) if ln == "  {"]
    assert len(res.events) == 2 and len(res.problems) == 1
    assert res.problems[0].startswith(f"e.geojson line {starts[2]}:")

    losses = [
        {"id": 1, "unit": {"id": 99}, "geo": "51.2,35.2", "date": "2025-03-10", "lost_by": "Russia"},
        {"id": 2, "geo": None, "date": "2025-03-10", "lost_by": "Russia"},
    ]
    text = json.dumps({"losses": losses}, indent=1)
    res = events.parse_events_text(text, "warspotting", "w.json")
    starts = [i + 1 for i, ln in enumerate(text.splitlines()) if ln == "  {"]
    assert len(res.events) == 1 and res.problems[0].startswith(f"w.json line {starts[1]}:")

    rec = {
        "kind": "settlement",
        "claimant": "MoD",
        "time": "2025-03-13",
        "settlement": "Sudzha",
        "side": "ru",
        "change": "taken",
    }
    text = json.dumps({"note": {"claims": [1, 2]}, "claims": [rec, rec | {"side": "nato"}]}, indent=1)
    res = claims.parse_claims_text(text, "json", "c.json")
    starts = [i + 1 for i, ln in enumerate(text.splitlines()) if ln == "  {"]
    assert len(res.claims) == 1 and res.problems[0].startswith(f"c.json line {starts[1]}:")


def test_read_results_keep_their_names():
    r = claims.ClaimReadResult([], ["x"], "f")
    r.claims = [1]  # any list: only the alias is under test
    assert r.items == [1] and r.claims == [1] and r.problems == ["x"] and r.source == "f"
    e = events.EventReadResult([], [], "g")
    assert e.events == [] and isinstance(e, _records.ReadResult)
