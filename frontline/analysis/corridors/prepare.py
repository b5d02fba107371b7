"""Input checks and geometry cleaning before the erosion: polygonal ground, cracks healed, holes filled."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

_POLYGONAL = ("Polygon", "MultiPolygon")


def _checked_polygonal(
    geom: BaseGeometry | None, what: str, *, required: bool, repair: bool = True, fill_km2: float = 0.0
) -> BaseGeometry | None:
    """Valid (Multi)Polygon in lon/lat, or None for an allowed empty input.

    Holes smaller than ``fill_km2`` are filled first (the analysis
    ignores them anyway, and validating a country's ten thousand ponds costs
    more than the whole analysis). ``repair=False`` skips the validity check,
    for home, of which only the outer rings are used.
    """
    if geom is None or (isinstance(geom, BaseGeometry) and geom.is_empty):
        if required:
            raise ValueError(f"The side holds no ground at this time: {what} is empty.")
        return None
    if not isinstance(geom, BaseGeometry):
        raise ValueError(f"{what} must be a shapely geometry, got {type(geom).__name__}.")
    if geom.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
        if not parts:
            raise ValueError(f"{what} must be polygonal (a Polygon or MultiPolygon); it holds no polygons.")
        geom = shapely.union_all(parts)
    elif geom.geom_type not in _POLYGONAL:
        raise ValueError(f"{what} must be polygonal (a Polygon or MultiPolygon), got a {geom.geom_type}.")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError(f"{what} is not in lon/lat degrees (EPSG:4326): its bounds are {geom.bounds}.")
    if fill_km2 > 0:
        geom = _fill_small_holes_ll(geom, fill_km2)
    if repair and not geom.is_valid:
        geom = shapely.make_valid(geom)
        # make_valid may leave lines or points behind: keep the area only.
        polys = [q for p in shapely.get_parts(geom) for q in shapely.get_parts(p) if q.geom_type == "Polygon"]
        geom = shapely.union_all(polys) if polys else Polygon()
    if geom.is_empty or geom.area == 0:
        if required:
            raise ValueError(f"The side holds no ground at this time: {what} has no area.")
        return None
    return geom


def _fill_small_holes_ll(geom: BaseGeometry, max_km2: float) -> BaseGeometry:
    """Fill holes under ``max_km2`` in lon/lat polygons, absorbing islands in them.

    Areas come from a local equirectangular scale, plenty to tell a pond from
    a reservoir. A part lying inside a filled hole (an island in a pond) is
    dropped: it is now covered by the ground around it, and would otherwise
    overlap it (and be reported as a pocket).
    """
    parts = shapely.get_parts(geom)
    n_holes = shapely.get_num_interior_rings(parts)
    if not n_holes.sum():
        return geom
    # Points of each part taken before filling: after filling, a part's own filled hole could
    # hold its point, and the part would be dropped as if it were an island.
    reps = shapely.point_on_surface(parts)
    out: list[BaseGeometry] = []
    filled: list[BaseGeometry] = []
    owner: list[int] = []
    for j, (part, n) in enumerate(zip(parts, n_holes)):
        if not n:
            out.append(part)
            continue
        rings = shapely.get_interior_ring(part, np.arange(n))
        polys = shapely.polygons(rings)
        lat = shapely.get_y(shapely.centroid(polys))
        km2 = shapely.area(polys) * 111.32**2 * np.cos(np.radians(lat))
        small = km2 < max_km2
        if small.any():
            filled.extend(polys[small])
            owner.extend([j] * int(small.sum()))
            keep = rings[~small]
            part = shapely.polygons(part.exterior, holes=keep if len(keep) else None)
        out.append(part)
    kept = np.array(out, dtype=object)
    if filled:
        tree = shapely.STRtree(np.array(filled, dtype=object))
        part_i, hole_i = tree.query(reps, predicate="within")
        drop = np.unique(part_i[np.asarray(owner)[hole_i] != part_i])  # islands in another part's pond
        if len(drop):
            kept = np.delete(kept, drop)
    return kept[0] if len(kept) == 1 else shapely.multipolygons(kept)


def _clean(g: BaseGeometry, min_hole_m2: float, simplify_m: float, heal_m: float) -> BaseGeometry:
    """One valid polygon: cracks healed, small holes filled, simplified.

    Pieces drawn separately (held and grey ground, adjacent DeepState
    polygons) meet along edges that do not quite coincide; after a union the
    misfit stays as a hairline crack, which would read as a false narrow
    passage. A closing of ``heal_m`` on the outer ring removes such cracks;
    hairline holes go with the small ones.
    """
    if g.geom_type != "Polygon" or g.is_empty:
        return Polygon()
    holes = (
        shapely.get_interior_ring(g, np.arange(len(g.interiors))) if len(g.interiors) else np.array([], dtype=object)
    )
    outer = shapely.polygons(g.exterior)
    if heal_m > 0:
        closed = shapely.buffer(shapely.buffer(outer, heal_m, join_style="mitre"), -heal_m, join_style="mitre")
        closed = max(shapely.get_parts(closed), key=lambda p: p.area) if closed.geom_type != "Polygon" else closed
        if closed.geom_type == "Polygon" and not closed.is_empty:
            outer = shapely.polygons(closed.exterior)
            if len(closed.interiors):  # a bay closed off by the healing
                holes = np.concatenate([holes, shapely.get_interior_ring(closed, np.arange(len(closed.interiors)))])
    if len(holes) and min_hole_m2 > 0:
        holes = holes[shapely.area(shapely.polygons(holes)) >= min_hole_m2]
    g = shapely.polygons(outer.exterior, holes=holes) if len(holes) else outer
    if simplify_m > 0:
        g = shapely.simplify(g, simplify_m, preserve_topology=True)
    if not g.is_valid:
        g = shapely.make_valid(g)
    if g.geom_type != "Polygon":
        polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
        g = max(polys, key=lambda p: p.area) if polys else Polygon()
    return g


def _work_geometry(
    g: BaseGeometry, simplify_m: float, max_vertices: int, max_holes: int = 100
) -> tuple[BaseGeometry, float]:
    """The geometry erosions run on, and its tolerance in metres.

    GEOS erosion slows down sharply with vertices and, above all, with holes
    (a country outline with ten thousand lakes takes a minute). A component
    beyond ``max_vertices`` or ``max_holes`` is searched on a copy that keeps
    only its ``max_holes`` largest holes and is simplified further, doubling
    the tolerance until it fits (at most 400 m). Necks are still measured on
    the full geometry; the coarse copy only finds and brackets them.
    """
    if g.geom_type != "Polygon":
        parts = [_work_geometry(p, simplify_m, max_vertices, max_holes) for p in shapely.get_parts(g)]
        if not parts:
            return g, simplify_m
        return _polygons_only(shapely.multipolygons([p for p, _ in parts])), max(t for _, t in parts)
    n_holes = len(g.interiors)
    if shapely.get_num_coordinates(g) <= max_vertices and n_holes <= max_holes:
        return g, simplify_m
    rings = shapely.get_interior_ring(g, np.arange(n_holes)) if n_holes else np.array([], dtype=object)
    if n_holes > max_holes:
        areas = shapely.area(shapely.polygons(rings))
        rings = rings[np.argsort(-areas)[:max_holes]]
    base = shapely.polygons(g.exterior, holes=rings) if len(rings) else shapely.polygons(g.exterior)
    tol = max(2 * simplify_m, 25.0)
    while True:
        w = shapely.simplify(base, tol, preserve_topology=True)
        if shapely.get_num_coordinates(w) <= max_vertices or tol >= 400:
            break
        tol *= 2
    if not w.is_valid:
        w = shapely.make_valid(w)
    return w, tol


def _outside_home(C: BaseGeometry, home_m: BaseGeometry, sliver_m: float) -> BaseGeometry:
    """The part of a component outside home, without border slivers.

    Held ground and home are drawn by different hands (DeepState against an
    OSM border disagree by tens of metres), so ``C − home`` keeps hairline
    slivers along the border. An opening of ``sliver_m`` removes ground
    outside home narrower than twice that. The overlay is done on the outer
    ring only (a component with hundreds of lakes is slow to overlay), and
    only the holes lying outside home are subtracted afterwards.
    """
    outer = shapely.polygons(C.exterior)
    out = _polygons_only(shapely.difference(outer, home_m))
    if out.is_empty or outer.area - out.area <= 1e-3 * outer.area:
        return out  # (practically) all outside home: the caller keeps the component whole
    if sliver_m > 0:
        out = _polygons_only(shapely.buffer(shapely.buffer(out, -sliver_m, quad_segs=4), sliver_m, quad_segs=4))
        if out.is_empty:
            return out
        out = _polygons_only(shapely.intersection(out, outer))
    if len(C.interiors):
        holes = shapely.polygons(shapely.get_interior_ring(C, np.arange(len(C.interiors))))
        holes = holes[shapely.intersects(out, holes)]
        if len(holes):
            out = _polygons_only(shapely.difference(out, shapely.union_all(holes)))
    return out


def _polygon_parts(g: BaseGeometry) -> np.ndarray:
    """The Polygon parts of ``g`` that have area, as an array."""
    parts = shapely.get_parts(g)
    return parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)] if len(parts) else parts


def _polygons_only(g: BaseGeometry) -> BaseGeometry:
    """The Polygon parts of ``g`` that have area, as one (Multi)Polygon.

    Not :func:`frontline.borders.polygonal`: that keeps a (Multi)Polygon as it is, zero-area parts included,
    while erosion and overlays here leave degenerate slivers that must not count as components or bridges.
    """
    parts = _polygon_parts(g)
    if not len(parts):
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
