"""Measuring a neck bank to bank on the full outline: width, narrow length, the sides it splits, border on home."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection, length_m

from .erosion import _Candidate
from .prepare import _polygons_only, _work_geometry


class _Component:
    """One unit of analysis: a connected piece of ground and what it is measured against.

    ``m`` is the cleaned metric geometry every measurement is taken on;
    ``work`` is what the erosions run on: ``m`` itself, or for very complex
    components a coarser copy (see :func:`_work_geometry`). ``base`` names
    what shares are fractions of, ``base_km2`` is that area; ``link`` says
    whether home links are searched here.
    """

    def __init__(
        self,
        geom_m: BaseGeometry,
        proj: LocalProjection,
        area: float,
        base: str,
        base_km2: float,
        link: bool,
        simplify_m: float,
        max_work_vertices: int,
    ):
        self.m = geom_m
        self.proj = proj
        self.area_km2 = area
        self.base = base
        self.base_km2 = base_km2
        self.link = link
        self.work, self.work_tol = _work_geometry(geom_m, simplify_m, max_work_vertices)
        self.boundary = shapely.boundary(geom_m)
        shapely.prepare(self.boundary)
        self._border_km: float | None = None

    def border_km(self, home: _Home | None) -> float:
        """Length of home's outline along the whole unit (cached)."""
        if self._border_km is None:
            self._border_km = _home_border_km(home, self.m, self.proj)
        return self._border_km


@dataclass
class _Home:
    poly_m: BaseGeometry  # home, holes filled, clipped around the ground, metres
    line_m: BaseGeometry  # home's own outline (not the clip edges), metres
    tol: float


def _home_border_km(home: _Home | None, part_m: BaseGeometry, proj: LocalProjection) -> float:
    """Geodesic length (km) of home's outline within ``home.tol`` of a part.

    Only the outline's segments that come within the tolerance are kept (one
    prepared-geometry query), and only the part's outer rings near them are
    buffered: this scales to parts with tens of thousands of vertices and
    hundreds of lakes, where buffering the whole part would not.
    """
    if home is None or part_m.is_empty or home.line_m.is_empty:
        return 0.0
    t = home.tol
    minx, miny, maxx, maxy = part_m.bounds
    line = shapely.clip_by_rect(home.line_m, minx - t, miny - t, maxx + t, maxy + t)
    if line.is_empty:
        return 0.0
    xy, which = shapely.get_coordinates(shapely.get_parts(line), return_index=True)
    same = which[:-1] == which[1:]
    if not same.any():
        return 0.0
    segs = shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))
    shapely.prepare(part_m)
    segs = segs[shapely.dwithin(part_m, segs, t)]
    if not len(segs):
        return 0.0
    near = shapely.multilinestrings(segs)
    bx = near.bounds
    parts = shapely.get_parts(part_m)
    outer = shapely.polygons(shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == 3]))
    local = shapely.clip_by_rect(
        shapely.union_all(outer) if len(outer) > 1 else outer[0],
        bx[0] - 2 * t,
        bx[1] - 2 * t,
        bx[2] + 2 * t,
        bx[3] + 2 * t,
    )
    along = shapely.intersection(near, shapely.buffer(local, t, quad_segs=4))
    return length_m(proj.to_lonlat(along)) / 1000.0


def _measure_segment(comp: _Component, cand: _Candidate) -> tuple[np.ndarray, np.ndarray, float]:
    """Bank-to-bank segment through the neck centre: (p1, p2, width)."""
    c = cand.center
    cx, cy = c.x, c.y
    S = 4 * cand.r_est + 500.0
    local = shapely.clip_by_rect(comp.boundary, cx - S, cy - S, cx + S, cy + S)
    if local.is_empty:
        local = comp.boundary
    p1 = np.asarray(shapely.shortest_line(c, local).coords[1])
    u = np.array([cx, cy]) - p1
    nu = float(np.hypot(*u))
    if nu < 1e-6:
        return p1, p1, 0.0
    u /= nu
    v = np.array([-u[1], u[0]])
    c0 = np.array([cx, cy])
    half = Polygon([c0 - S * v, c0 + S * v, c0 + S * v + S * u, c0 - S * v + S * u])
    far = shapely.intersection(local, half)
    if far.is_empty:
        p2 = c0 + u * cand.r_est
    else:
        p2 = np.asarray(shapely.shortest_line(c, far).coords[1])
    width = float(np.hypot(*(p2 - p1)))
    if width > 2.5 * (2 * cand.r_est) + 50:
        # the far bank is not across this passage (a hole, a bay): trust the erosion
        p1, p2 = c0 - u * cand.r_est, c0 + u * cand.r_est
        width = 2 * cand.r_est
    return p1, p2, width


def _split_sides(comp: _Component, cand: _Candidate, p1: np.ndarray, p2: np.ndarray) -> BaseGeometry | None:
    """The cut-off side: the component cut along the (slightly extended) segment, metres.

    The cut is made on the outer ring alone and the holes are put back into
    the side afterwards, which avoids overlaying a thin cut on a polygon with
    hundreds of holes. Where the segment does not separate the two cores (a
    passage between the outer ring and a lake), the side is approximated by
    the cut-off cores opened again and clipped to the component.
    """
    C = comp.m
    t = p2 - p1
    nt = float(np.hypot(*t))
    pts = np.asarray(cand.side1_points, dtype=object)
    if nt > 0 and len(pts):
        t = t / nt
        ext = max(2.0, 0.02 * nt)
        cut = shapely.buffer(LineString([p1 - ext * t, p2 + ext * t]), 0.05, cap_style="flat")
        pieces = shapely.get_parts(shapely.difference(shapely.polygons(C.exterior), cut))
        if len(pieces) >= 2:
            hit = np.zeros(len(pieces), bool)
            for pt in pts:
                hit |= shapely.intersects(pieces, pt)
            if hit.any() and not hit.all():
                side = shapely.union_all(pieces[hit])
                if len(C.interiors):
                    holes = shapely.polygons(shapely.get_interior_ring(C, np.arange(len(C.interiors))))
                    holes = holes[shapely.intersects(side, holes)]
                    if len(holes):
                        side = shapely.difference(side, shapely.union_all(holes))
                return _polygons_only(side)
    if cand.side1_region is not None and not cand.side1_region.is_empty:
        side = _polygons_only(shapely.intersection(C, cand.side1_region))
        return side if not side.is_empty else None
    return None


def _narrow_length(comp: _Component, c: np.ndarray, seg: LineString, width: float, home: _Home | None) -> float:
    """Half the boundary length along the stretch narrower than 1.5 × width."""
    if width <= 0:
        return 0.0
    R = max(25 * width, 5000.0)
    win = shapely.clip_by_rect(comp.m, c[0] - R, c[1] - R, c[0] + R, c[1] + R)
    rr = 0.75 * width
    opened = shapely.buffer(shapely.buffer(win, -rr, quad_segs=8), rr, quad_segs=8)
    strip = shapely.get_parts(shapely.difference(win, opened))
    if not len(strip):
        return 0.0
    hit = shapely.intersects(strip, seg)
    if not hit.any():
        d = shapely.distance(strip, seg)
        hit = d <= d.min() + 1e-6
    zone = shapely.buffer(shapely.union_all(strip[hit]), 1.0, quad_segs=4)
    banks = shapely.intersection(comp.boundary, zone)
    if home is not None and not banks.is_empty:
        # where held ground ends at home's border is not a flank of the passage
        border = shapely.clip_by_rect(home.line_m, *shapely.buffer(zone, home.tol).bounds)
        if not border.is_empty:
            banks = shapely.difference(banks, shapely.buffer(border, home.tol, quad_segs=4))
    return float(banks.length / 2.0)


def _home_context(home, ground, proj, max_width_m, tol, simplify_m) -> _Home | None:
    """Home around the ground, in metres, with its holes filled.

    Lakes inside a country are still home: filling them keeps the outline to
    the border and coast (which is what "touching home" means) and keeps
    Russia's or Ukraine's ten thousand lakes out of every GEOS call.
    """
    if home is None:
        return None
    pad = max_width_m + 10 * tol + 20000.0  # metres around the ground
    minx, miny, maxx, maxy = ground.bounds
    dlat = pad / 111000.0
    dlon = pad / (111000.0 * max(0.1, math.cos(math.radians(min(89.0, max(abs(miny), abs(maxy)))))))
    box_args = (max(-180, minx - dlon), max(-90, miny - dlat), min(180, maxx + dlon), min(90, maxy + dlat))
    near = shapely.clip_by_rect(home, *box_args)
    if near.is_empty:
        return None
    parts = shapely.get_parts(near)
    parts = parts[shapely.get_type_id(parts) == 3]
    filled = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts)))
    # The outline proper: clip the outline of the filled shape, not the clipped
    # shape, so the clip box's edges never count as a border.
    parts_full = shapely.get_parts(home)
    parts_full = parts_full[shapely.intersects(parts_full, shapely.box(*box_args))]
    outline = shapely.clip_by_rect(shapely.union_all(shapely.get_exterior_ring(parts_full)), *box_args)
    poly_m = shapely.simplify(proj.to_metric(filled), simplify_m)
    line_m = shapely.simplify(proj.to_metric(outline), simplify_m)
    shapely.prepare(poly_m)
    shapely.prepare(line_m)
    return _Home(poly_m, line_m, tol)


def _geod_dist(a: Point, b: Point) -> float:
    return length_m(LineString([a, b]))
