"""GeoJSON for the web answers: rounded coordinates, ready bytes, simplification per zoom."""

from __future__ import annotations

import math

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from ..analysis.materialise import plain as _plain  # the one cleaner whose bytes the stored results share
from ..borders import polygonal

MAX_ZOOM_BUCKET = 13  # from this zoom on, polygons are sent at full detail

__all__ = [
    "geometry_json",
    "feature_collection_bytes",
    "zoom_bucket",
    "tolerance",
    "coverage_union",
    "_plain",
    "_geojson",
]


def _round(geom: BaseGeometry, digits: int) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.round(c, digits))


def geometry_json(geom: BaseGeometry, digits: int = 6) -> bytes:
    """GeoJSON geometry as bytes, coordinates rounded to ``digits`` decimals (6 ≈ 0.1 m).

    The GEOS writer on rounded coordinates: no Python walk over the vertices,
    which is what keeps a front-wide state response fast.
    """
    return shapely.to_geojson(_round(geom, digits)).encode()


def _geojson(geom: BaseGeometry, digits: int = 6) -> dict:
    """GeoJSON geometry (a dict) with coordinates rounded to ``digits`` decimals."""
    return orjson.loads(geometry_json(geom, digits))


def feature_collection_bytes(features: list[tuple[dict, bytes]], **members) -> bytes:
    """A FeatureCollection serialised from ``(properties, geometry JSON bytes)`` pairs."""
    head = orjson.dumps({"type": "FeatureCollection", **members})[:-1]
    parts = [
        b'{"type":"Feature","properties":' + orjson.dumps(props) + b',"geometry":' + g + b"}" for props, g in features
    ]
    return head + b',"features":[' + b",".join(parts) + b"]}"


def zoom_bucket(zoom: float | None) -> int | None:
    """Integer zoom a response is simplified for (None or ≥ 13: full detail)."""
    if zoom is None:
        return None
    b = int(math.ceil(zoom))
    return None if b >= MAX_ZOOM_BUCKET else b


def tolerance(zoom: float | None) -> float:
    """Simplification tolerance in degrees: about half a screen pixel at ``zoom``."""
    if zoom is None:
        return 0.0
    return 0.5 * 360.0 / (512.0 * 2.0**zoom)


def coverage_union(parts: list[BaseGeometry]) -> BaseGeometry:
    """Union of polygons that do not overlap (tile pieces), falling back to a full union if that fails.

    Used for drawing only: the result is not validated (a validity check costs
    as much as the union), and the partition guarantees its pieces are disjoint.
    """
    if not parts:
        return shapely.Polygon()
    if len(parts) == 1:
        return parts[0]
    try:
        return polygonal(shapely.coverage_union_all(parts))
    except shapely.errors.GEOSException:
        return polygonal(shapely.union_all(parts))
