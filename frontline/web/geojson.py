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
# The most a layer's area may change when made a coverage (this share of its own, plus 1e-5 of all layers'),
# else each is simplified alone: cleaning matches vertices, it must not re-assign ground.
CLEAN_AREA_RTOL = 1e-3

__all__ = [
    "geometry_json",
    "feature_collection_bytes",
    "zoom_bucket",
    "tolerance",
    "coverage_union",
    "fill_water_holes",
    "clean_coverage",
    "coverage_simplify_layers",
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


def fill_water_holes(layers: list[BaseGeometry], land: shapely.STRtree | None) -> list[BaseGeometry]:
    """The layers with their water holes filled: holes on no land that hold no other layer's ground.

    Ground cut around lakes and reservoirs (the clipped convention) has a
    hole per lake; simplified for a zoom, each one turns into a crude
    triangle of the land's colour inside held ground. The page draws water
    over the held ground instead (``/api/borders``, kind ``water``), so the
    drawn layer needs no hole there. A hole whose inner point lies on land
    (an enclave of another side's home ground) or that meets another layer
    (a contested island in a lake) is kept: filling it would claim ground.
    ``land``: an STRtree of the land polygons (lakes as their holes),
    prepared (``shapely.prepare``: a country of 100,000 vertices answers a
    point in microseconds); None keeps every hole.
    """
    if land is None:
        return list(layers)
    out = []
    for i, g in enumerate(layers):
        polys = shapely.get_parts(g) if g is not None and not g.is_empty else np.array([])
        n_holes = shapely.get_num_interior_rings(polys) if len(polys) else np.array([], dtype=int)
        if not len(polys) or not n_holes.sum():
            out.append(g)
            continue
        owner = np.repeat(np.arange(len(polys)), n_holes)
        rings = np.concatenate([shapely.get_interior_ring(p, np.arange(k)) for p, k in zip(polys, n_holes) if k])
        holes = shapely.polygons(rings)
        keep = np.zeros(len(holes), dtype=bool)
        pts = shapely.point_on_surface(holes)
        i_pt, i_land = land.query(pts)  # bounding boxes, then the (prepared) polygons themselves
        on_land = shapely.intersects(land.geometries.take(i_land), pts[i_pt])
        keep[np.unique(i_pt[on_land])] = True
        others = [p for j, o in enumerate(layers) if j != i and o is not None for p in shapely.get_parts(o)]
        if others:
            keep[np.unique(shapely.STRtree(others).query(holes, predicate="intersects")[0])] = True
        kept: list[list] = [[] for _ in polys]
        for k in np.flatnonzero(keep):
            kept[owner[k]].append(rings[k])
        out.append(shapely.multipolygons([shapely.Polygon(p.exterior, h) for p, h in zip(polys, kept)]))
    return out


def coverage_simplify_layers(layers: list[BaseGeometry], tol: float) -> list[BaseGeometry]:
    """Simplify disjoint layers together, so that edges they share stay shared (no gaps, no overlaps).

    ``layers`` must form a coverage (:func:`clean_coverage`). Visvalingam-Whyatt
    on the coverage's edges (GEOS CoverageSimplifier): an edge between two
    layers is simplified once, for both; the outer boundary too
    (``simplify_boundary``). ``tol`` ≈ the square root of the largest
    triangle area removed (degrees). Empty layers stay empty.
    """
    idx = [i for i, g in enumerate(layers) if g is not None and not g.is_empty]
    out = list(layers)
    if not idx or not tol:
        return out
    simplified = shapely.coverage_simplify(np.array([layers[i] for i in idx], dtype=object), tol)
    for i, g in zip(idx, simplified):
        out[i] = g
    return out


def clean_coverage(layers: list[BaseGeometry]) -> list[BaseGeometry] | None:
    """The layers made a valid coverage: vertices matched along shared edges (GEOS CoverageCleaner).

    The layers are disjoint by construction, but each is a union of its own
    tile pieces, so an edge two layers share can carry vertices on one side
    only (about 300 of 20,000 on the real archive). Returns None when GEOS
    cannot clean them, or cleaning changed a layer's area by more than
    ``CLEAN_AREA_RTOL`` of it plus 1e-5 of all (the caller then simplifies
    each layer on its own).
    """
    idx = [i for i, g in enumerate(layers) if g is not None and not g.is_empty]
    out = list(layers)
    if len(idx) < 2:
        return out
    arr = np.array([layers[i] for i in idx], dtype=object)
    try:
        if not shapely.coverage_is_valid(arr):
            before = shapely.area(arr)
            # GEOS's own small snapping distance: with snapping off (0) GEOS 3.14 handed a sixth of
            # the real archive's contested ground to the held layer next to it.
            arr = shapely.coverage_clean(arr)
            # Cleaning only matches vertices: a layer that changed by more than a vertex's worth of area
            # was re-assigned ground, which a drawing must not do.
            moved = np.abs(shapely.area(arr) - before)
            if np.any(moved > CLEAN_AREA_RTOL * before + 1e-5 * before.sum()):
                return None
    except shapely.errors.GEOSException:
        return None
    for i, g in zip(idx, arr):
        out[i] = g
    return out
