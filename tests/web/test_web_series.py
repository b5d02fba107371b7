"""The chart's front-length series over HTTP: one row per period, the same lengths as the CLI's series."""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)


def test_series_per_week_matches_the_cli_series(client, demo_store):
    from frontline.analysis.contact_line import contact_line_series

    r = client.get("/api/contact-line/series", params={"every": "week"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["every"] == "week" and body["unit"] == "km"
    want = contact_line_series(demo_store, every="week")
    assert [row["version_id"] for row in body["rows"]] == [w["version_id"] for w in want]
    for got, w in zip(body["rows"], want):
        assert got["total_km"] == pytest.approx(w["total_km"], abs=1e-3)
        assert got["total_km"] > 0
        assert ("jump" in got) == ("jump" in w)


def test_series_rejects_a_bad_period(client):
    r = client.get("/api/contact-line/series", params={"every": "fortnight"})
    assert r.status_code == 400
    assert "every" in r.text
