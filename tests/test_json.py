"""frontline._json.plain: the one JSON cleaner (API, webhooks, claims ledger)."""

from __future__ import annotations

import json
import math

import numpy as np
import shapely

from frontline._json import plain


def test_plain_cleans_what_json_cannot_hold():
    obj = {
        1: (np.int64(3), np.float32(0.5), np.bool_(True)),
        "nan": math.nan,
        "inf": [np.float64(math.inf), -math.inf],
        "geom": shapely.Point(35.5, 51.25),
        "nested": {"t": (1, (2, 3))},
        "text": "x",
        "none": None,
    }
    out = plain(obj)
    assert out == {
        "1": [3, 0.5, True],
        "nan": None,
        "inf": [None, None],
        "geom": {"type": "Point", "coordinates": [35.5, 51.25]},
        "nested": {"t": [1, [2, 3]]},
        "text": "x",
        "none": None,
    }
    assert type(out["1"][0]) is int and type(out["1"][2]) is bool
    json.dumps(out, allow_nan=False)  # strict JSON: no NaN slipped through


def test_plain_polygon_and_passthrough():
    out = plain(shapely.box(0, 0, 1, 1))
    assert out["type"] == "Polygon" and all(isinstance(c, list) for c in out["coordinates"][0])
    marker = object()
    assert plain(marker) is marker
