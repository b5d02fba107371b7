"""Necks (narrow corridors) and pockets of a side's ground, ranked by what is at stake.

In March 2025 Ukraine's ground in Kursk oblast was "nearly cleaved in two":
most of it hung on a passage under 500 m wide. :func:`find_necks` finds such
necks, and the pockets already cut off, on one control map;
:func:`corridor_inputs` prepares a stored version for it and
:func:`corridor_series` runs it over versions. The full rule, with the
method and its accuracy, is in ``docs/corridors.md``; in short:

* A **neck** is the narrowest crossing (``width_m`` ≤ ``max_width_m``) of a
  passage whose closure would cut a connected piece of ground (a
  component, or a component's ground outside home: a salient) in two. It
  is found by eroding the ground with discs of growing radius and measured
  bank to bank on the full outline. Its *cut-off* side is the side that
  loses home (``home_link``), or for a ``split`` the side with the shorter
  border on home (the smaller side where neither or no home is known).
* Only ground **facing the enemy or the grey zone** makes a neck or pocket.
  With ``enemy`` known, what lies beyond each bank is probed: a neck with
  neither bank facing enemy-held or grey ground (both on the sea, a lake,
  the side's own ground or home's border) is left out, and so is a pocket
  that faces them along less than ``2 × home_tol_m`` of its outline. The
  undisputed state border (the side's home ground against the enemy's
  home) faces no enemy.
* Necks are **ranked by the ground at stake**: ``risk = cut_off_km2 ×
  exp(−width_m / alert_width_m)``, rank 1 the highest, so a narrow pinch of
  a small border patch never outranks a slightly wider neck that carries a
  whole salient. ``cut_off_share`` is the cut-off side's share of the base
  (the component, or its ground outside home).
* A neck's cut-off side must hold at least ``max(min_part_km2,
  min_part_share × base)``; for a ``split`` both sides must. Bumps, spikes
  and uniform salients never separate under erosion and are no necks.
* **Pockets** are components other than the largest that do not reach
  home. With ``include_contested`` the grey zone joins the ground;
  :func:`corridor_inputs` then adds only grey ground outside home to the
  ground held abroad.

Shape work runs in a local azimuthal equidistant projection in metres
(GEOS through shapely 2); areas and lengths are geodesic (WGS84).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection, area_km2, length_m

__all__ = [
    "MODE_HELD",
    "MODE_HELD_CONTESTED",
    "NECK_SPLIT",
    "NECK_HOME_LINK",
    "NeckPart",
    "Neck",
    "Pocket",
    "CorridorReport",
    "find_necks",
    "corridor_inputs",
    "corridor_key",
    "surroundings",
    "corridor_series",
    "BANK_LABELS",
    "SERIES_MIN_GROUND_SHARE",
    "error_row",
]

MODE_HELD = "held only"
MODE_HELD_CONTESTED = "held+contested"
NECK_SPLIT = "split"
NECK_HOME_LINK = "home_link"

#: What a neck's bank faces: enemy-held ground, the grey zone, home's border
#: (the side's own home beyond it, or the undisputed state border), the side's
#: own ground, nothing (sea, inland water, land outside the theatre), or
#: unknown (no ``enemy`` given).
BANK_LABELS = ("enemy", "grey", "border", "own", "sea", "unknown")
_HOSTILE = ("enemy", "grey")

_HOME = -1  # graph node standing for home territory
_POLYGONAL = ("Polygon", "MultiPolygon")


# --------------------------------------------------------------------------
# Report types
# --------------------------------------------------------------------------


def _geojson(geom: BaseGeometry | None) -> dict | None:
    """GeoJSON dict with plain lists and floats, so ``json.dumps`` always works."""
    if geom is None or geom.is_empty:
        return None

    def listify(x):
        if isinstance(x, (tuple, list)):
            return [listify(v) for v in x]
        if isinstance(x, dict):
            return {k: listify(v) for k, v in x.items()}
        if isinstance(x, (np.floating, float)):
            return float(x)
        return x

    return listify(mapping(geom))


@dataclass
class NeckPart:
    """One side of a neck.

    Attributes
    ----------
    area_km2
        Geodesic area of the side (the component cut along the neck segment).
    share
        ``area_km2`` as a fraction of the neck's base area (``Neck.base``):
        the whole component, or for necks of ground reaching into home the
        component's ground outside home (then the side is part of that
        ground).
    touches_home
        Whether the side reaches home's border (``home_border_km`` longer than
        twice the tolerance). Always False without ``home``.
    home_border_km
        Geodesic length of home's border within the tolerance of this side.
    cut_off
        True for the side that would be isolated: the side without home for
        ``home_link``; for ``split`` the side with the shorter border on home
        when both reach it, else the smaller side.
    geometry
        The side in lon/lat. Not serialised by default (it can be the whole
        main body); see :meth:`to_dict`.
    """

    area_km2: float
    share: float
    touches_home: bool
    home_border_km: float
    cut_off: bool
    _geom_m: Any = field(default=None, repr=False, compare=False)  # metric geometry, or a function making it
    _proj: LocalProjection | None = field(default=None, repr=False, compare=False)
    _geom_ll: BaseGeometry | None = field(default=None, repr=False, compare=False)

    @property
    def geometry(self) -> BaseGeometry | None:
        """The side in lon/lat, converted on first use (it may be a whole country's worth)."""
        if self._geom_ll is None and self._geom_m is not None and self._proj is not None:
            g = self._geom_m() if callable(self._geom_m) else self._geom_m
            self._geom_ll = self._proj.to_lonlat(g)
        return self._geom_ll

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        d = {
            "area_km2": float(self.area_km2),
            "share": float(self.share),
            "touches_home": bool(self.touches_home),
            "home_border_km": float(self.home_border_km),
            "cut_off": bool(self.cut_off),
        }
        if with_geometry:
            d["geometry"] = _geojson(self.geometry)
        return d


@dataclass
class Neck:
    """A narrow passage whose closure would cut held ground in two.

    Attributes
    ----------
    type
        ``"split"`` or ``"home_link"`` (see the module docstring).
    width_m
        Length of ``segment``: the narrowest crossing of the passage.
    length_m
        Length of the stretch where the passage stays narrower than
        1.5 × ``width_m`` (mean length of its two banks).
    segment
        LineString across the neck, bank to bank, lon/lat.
    location
        Midpoint of ``segment``, lon/lat.
    parts
        The two sides, the cut-off side first.
    risk, rank
        Ground at stake weighted by narrowness, km²:
        ``cut_off_km2 × exp(−width_m / alert_width_m)``; rank 1 is the
        highest.
    below_threshold
        ``width_m < alert_width_m``.
    base, base_km2
        What ``share`` is relative to: ``"component"`` or ``"outside_home"``,
        and that area.
    component_km2
        Area of the whole connected component the neck lies in.
    banks
        What lies beyond each end of ``segment`` (one of
        :data:`BANK_LABELS` each); at least one is ``"enemy"`` or
        ``"grey"`` when ``enemy`` was given.
    """

    type: str
    width_m: float
    length_m: float
    segment: LineString
    location: Point
    parts: list[NeckPart]
    risk: float
    below_threshold: bool
    base: str
    base_km2: float
    component_km2: float
    rank: int = 0
    banks: tuple[str, str] = ("unknown", "unknown")
    _job: Any = field(default=None, repr=False, compare=False)  # (ground, boundary, p1, p2, width), metres

    @property
    def cut_off_km2(self) -> float:
        """Ground beyond the neck (the cut-off side), km²."""
        return float(self.parts[0].area_km2)

    @property
    def cut_off_share(self) -> float:
        """The cut-off side's share of the base (component or salient)."""
        return float(self.parts[0].share)

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        return {
            "rank": int(self.rank),
            "type": self.type,
            "width_m": float(self.width_m),
            "length_m": float(self.length_m),
            "cut_off_km2": self.cut_off_km2,
            "cut_off_share": self.cut_off_share,
            "banks": list(self.banks),
            "risk": float(self.risk),
            "below_threshold": bool(self.below_threshold),
            "location": [float(self.location.x), float(self.location.y)],
            "segment": _geojson(self.segment),
            "base": self.base,
            "base_km2": float(self.base_km2),
            "component_km2": float(self.component_km2),
            "parts": [p.to_dict(with_geometry) for p in self.parts],
        }


@dataclass
class Pocket:
    """A component of held ground cut off from the main body and from home.

    ``front_km`` is the length of its outline facing enemy-held or grey
    ground (None when ``enemy`` was not given).
    """

    area_km2: float
    centroid: Point
    geometry: BaseGeometry = field(repr=False)
    front_km: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "area_km2": float(self.area_km2),
            "centroid": [float(self.centroid.x), float(self.centroid.y)],
            "front_km": None if self.front_km is None else float(self.front_km),
            "geometry": _geojson(self.geometry),
        }


@dataclass
class CorridorReport:
    """Necks and pockets of one side's ground at one time.

    Attributes
    ----------
    mode
        ``"held only"`` or ``"held+contested"``.
    rule
        The significance rule, in words, with the numbers used.
    necks
        Ranked by risk (ground at stake), highest first.
    pockets
        Largest first.
    left_out
        ``{"necks": n, "pockets": m}``: found but left out because they
        face no enemy or grey ground (sea spits, islands, border strips).
    params
        The parameters the analysis ran with.
    ground_km2, n_components, main_body_km2
        Size of the analysed ground, its number of connected components and
        the area of the largest one.
    elapsed_s
        Wall time of the analysis.
    """

    mode: str
    rule: str
    necks: list[Neck]
    pockets: list[Pocket]
    params: dict[str, Any]
    ground_km2: float
    n_components: int
    main_body_km2: float
    elapsed_s: float
    left_out: dict[str, int] = field(default_factory=lambda: {"necks": 0, "pockets": 0})

    @property
    def top(self) -> Neck | None:
        """The rank-1 neck (most ground at stake), or None."""
        return self.necks[0] if self.necks else None

    def summary(self, min_ground_share: float = 0.0) -> dict[str, Any]:
        """One row for a series: the neck with the most ground at stake, and counts.

        Parameters
        ----------
        min_ground_share
            Only necks whose cut-off side holds at least this share of all
            the ground analysed are candidates (a 3 km² border patch is no
            part of the story of a 900 km² salient).

        Returns
        -------
        dict
            ``width_m``, ``cut_off_km2``, ``cut_off_share`` (of its base),
            ``ground_share`` (of all the ground), ``rank``, ``type``,
            ``banks`` and ``location`` of the best-ranked candidate (None
            when there is none); ``narrowest_m`` is the narrowest neck's
            width; ``n_necks``, ``n_below_threshold``, ``n_pockets``,
            ``ground_km2`` and ``mode`` describe the whole report.
        """
        total = float(self.ground_km2) or 1.0
        top = next((n for n in self.necks if n.cut_off_km2 >= min_ground_share * total), None)
        return {
            "rank": int(top.rank) if top else None,
            "width_m": round(float(top.width_m), 1) if top else None,
            "cut_off_km2": round(top.cut_off_km2, 3) if top else None,
            "cut_off_share": round(top.cut_off_share, 4) if top else None,
            "ground_share": round(top.cut_off_km2 / total, 4) if top else None,
            "type": top.type if top else None,
            "banks": list(top.banks) if top else None,
            "location": [round(float(top.location.x), 5), round(float(top.location.y), 5)] if top else None,
            "narrowest_m": round(min(float(n.width_m) for n in self.necks), 1) if self.necks else None,
            "n_necks": len(self.necks),
            "n_below_threshold": sum(bool(n.below_threshold) for n in self.necks),
            "n_pockets": len(self.pockets),
            "ground_km2": round(float(self.ground_km2), 3),
            "mode": self.mode,
        }

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        """JSON-serialisable dict; ``with_geometry`` adds each side's polygon."""
        return {
            "mode": self.mode,
            "rule": self.rule,
            "params": dict(self.params),
            "ground_km2": float(self.ground_km2),
            "n_components": int(self.n_components),
            "main_body_km2": float(self.main_body_km2),
            "elapsed_s": float(self.elapsed_s),
            "left_out": dict(self.left_out),
            "necks": [n.to_dict(with_geometry) for n in self.necks],
            "pockets": [p.to_dict() for p in self.pockets],
        }

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection for the web map: neck segments and pocket polygons."""
        feats = []
        for n in self.necks:
            cut = n.parts[0]
            feats.append(
                {
                    "type": "Feature",
                    "geometry": _geojson(n.segment),
                    "properties": {
                        "kind": "neck",
                        "mode": self.mode,
                        "rank": int(n.rank),
                        "neck_type": n.type,
                        "width_m": round(float(n.width_m), 1),
                        "length_m": round(float(n.length_m), 1),
                        "label": f"{n.width_m:,.0f} m",
                        "risk": round(float(n.risk), 4),
                        "below_threshold": bool(n.below_threshold),
                        "cut_off_km2": round(float(cut.area_km2), 3),
                        "cut_off_share": round(float(cut.share), 4),
                        "banks": list(n.banks),
                    },
                }
            )
        for i, p in enumerate(self.pockets):
            feats.append(
                {
                    "type": "Feature",
                    "geometry": _geojson(p.geometry),
                    "properties": {
                        "kind": "pocket",
                        "mode": self.mode,
                        "index": i,
                        "area_km2": round(float(p.area_km2), 3),
                        "front_km": None if p.front_km is None else round(float(p.front_km), 3),
                        "label": f"pocket {p.area_km2:,.1f} km²",
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _polygonal(geom: BaseGeometry | None, what: str, *, required: bool, repair: bool = True, fill_km2: float = 0.0) -> BaseGeometry | None:
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
    out, filled, owner = [], [], []
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
    out = np.array(out, dtype=object)
    if filled:
        tree = shapely.STRtree(np.array(filled, dtype=object))
        part_i, hole_i = tree.query(reps, predicate="within")
        drop = np.unique(part_i[np.asarray(owner)[hole_i] != part_i])  # islands in another part's pond
        if len(drop):
            out = np.delete(out, drop)
    return out[0] if len(out) == 1 else shapely.multipolygons(out)


# --------------------------------------------------------------------------
# Erosion filtration
# --------------------------------------------------------------------------


class _Level:
    """The pieces of one component eroded by radius ``r`` (metres)."""

    def __init__(self, r: float, pieces: np.ndarray):
        self.r = r
        self.pieces = pieces
        self.area = shapely.area(pieces) / 1e6  # km²
        self.reps = shapely.point_on_surface(pieces)
        self.tree = shapely.STRtree(pieces)
        self._weight = np.full(len(pieces), np.nan)
        self._ub: np.ndarray | None = None
        self._anchored: np.ndarray | None = None

    def locate(self, points) -> np.ndarray:
        """Index of the piece holding each point, -1 where none does."""
        out = np.full(len(points), -1, dtype=int)
        if len(points) and len(self.pieces):
            q_idx, t_idx = self.tree.query(np.asarray(points, dtype=object), predicate="within")
            out[q_idx] = t_idx
        return out

    def weight(self, j: int) -> float:
        """Area (km²) of piece ``j`` dilated back by ``r``: the ground it stands for."""
        if np.isnan(self._weight[j]):
            self._weight[j] = shapely.buffer(self.pieces[j], self.r, quad_segs=8).area / 1e6 if self.r > 0 else self.area[j]
        return float(self._weight[j])

    def substantial(self, thr_km2: float, mask: np.ndarray | None = None) -> np.ndarray:
        """Which pieces (among ``mask``) weigh at least ``thr_km2``.

        Openings are costly, so they are computed only where two cheap bounds
        disagree: a piece lies inside its own opening (lower bound), and the
        opening lies inside the dilated convex hull, whose area Steiner's
        formula gives in closed form (upper bound).
        """
        n = len(self.pieces)
        todo = np.ones(n, bool) if mask is None else np.asarray(mask, bool).copy()
        out = todo & (self.area >= thr_km2)
        if self.r <= 0:
            return out
        todo &= ~out
        idx = np.flatnonzero(todo)
        if not len(idx):
            return out
        if self._ub is None:
            self._ub = np.full(n, np.nan)
        need = idx[np.isnan(self._ub[idx])]
        if len(need):
            hull = shapely.convex_hull(self.pieces[need])
            self._ub[need] = (shapely.area(hull) + shapely.length(hull) * self.r + math.pi * self.r**2) / 1e6
        for j in idx[self._ub[idx] >= thr_km2]:
            out[j] = self.weight(int(j)) >= thr_km2
        return out

    def anchored(self, home: BaseGeometry | None, tol: float, idx=None) -> np.ndarray:
        """Whether pieces' openings reach home (within ``tol``); computed for ``idx`` (default all)."""
        n = len(self.pieces)
        if self._anchored is None:
            self._anchored = np.full(n, -1, dtype=np.int8)
        if home is None:
            self._anchored[:] = 0
            return self._anchored.astype(bool)
        idx = np.arange(n) if idx is None else np.atleast_1d(np.asarray(idx, dtype=int))
        need = idx[self._anchored[idx] < 0]
        if len(need):
            self._anchored[need] = shapely.dwithin(home, self.pieces[need], self.r + tol)  # prepared home first
        return self._anchored == 1


class _Filtration:
    """Erosions of one metric (multi)polygon, cached by radius.

    GEOS erodes a polygon with many holes slowly (each hole's offset curve is
    noded against all others). Eroding the outer rings and subtracting the
    holes dilated by the same radius gives the same set (a disc avoids a hole
    exactly when its centre is farther than ``r`` from it) several times
    faster, so that is how erosions are computed here.
    """

    def __init__(self, geom: BaseGeometry, home: BaseGeometry | None, tol: float, quad_segs: int = 8):
        self.geom = geom
        self.home = home
        self.tol = tol
        self.quad_segs = quad_segs
        self._levels: dict[float, _Level] = {}
        parts = shapely.get_parts(geom)
        parts = parts[shapely.get_type_id(parts) == 3] if len(parts) else parts
        self._outer = shapely.polygons(shapely.get_exterior_ring(parts)) if len(parts) else parts
        holes = [shapely.get_interior_ring(p, np.arange(shapely.get_num_interior_rings(p))) for p in parts]
        holes = np.concatenate(holes) if holes else np.array([], dtype=object)
        self._holes = shapely.polygons(holes) if len(holes) else holes

    def _erode(self, r: float) -> BaseGeometry:
        if r <= 0:
            return self.geom
        outer = shapely.buffer(self._outer, -r, quad_segs=self.quad_segs)
        outer = shapely.union_all(outer[~shapely.is_empty(outer)]) if len(outer) > 1 else (outer[0] if len(outer) else Polygon())
        if not len(self._holes) or outer.is_empty:
            return outer
        grown = shapely.union_all(shapely.buffer(self._holes, r, quad_segs=self.quad_segs))
        return shapely.difference(outer, grown)

    def _make(self, r: float, eroded: BaseGeometry) -> _Level:
        pieces = shapely.get_parts(eroded)
        if len(pieces):
            pieces = pieces[(shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 0)]
        return _Level(r, pieces)

    def prefetch(self, radii: Iterable[float]) -> None:
        """Erode at many radii, on two threads (GEOS releases the GIL)."""
        todo = [r for r in radii if round(r, 3) not in self._levels and r > 0]
        if not todo:
            return
        if len(todo) > 2 and shapely.get_num_coordinates(self.geom) > 2000:
            with ThreadPoolExecutor(max_workers=2) as ex:
                eroded = list(ex.map(self._erode, todo))
        else:
            eroded = [self._erode(r) for r in todo]
        for r, e in zip(todo, eroded):
            self._levels[round(r, 3)] = self._make(r, e)

    def level(self, r: float) -> _Level:
        key = round(r, 3)
        lvl = self._levels.get(key)
        if lvl is None:
            lvl = self._levels[key] = self._make(max(r, 0.0), self._erode(r))
        return lvl


@dataclass
class _Grouping:
    """How pieces form groups: each piece alone, or anchored pieces merged into home."""

    thr_km2: float
    anchor: bool


@dataclass
class _Candidate:
    """A located neck before measurement."""

    center: Point  # metric
    r_est: float
    side1_points: list[Point]  # metric points inside the cut-off side's cores
    side1_region: BaseGeometry | None = None  # the cut-off side's cores opened again: a rough side
    fallback: bool = False


class _UnionFind:
    def __init__(self):
        self.p: dict = {}

    def find(self, a):
        self.p.setdefault(a, a)
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[ra] = rb


class _Composed:
    """Union-find lookups through a base partition, then a second one over its roots."""

    def __init__(self, base: _UnionFind, top: _UnionFind):
        self.base, self.top = base, top

    def find(self, a):
        return self.top.find(self.base.find(a))


def _node_of(lvl: _Level, j: int, grouping: _Grouping, filt: _Filtration):
    if j < 0:
        return None
    if grouping.anchor and lvl.anchored(filt.home, filt.tol, j)[j]:
        return _HOME
    return int(j)


def _partition(filt: _Filtration, r: float, tokens: list, grouping: _Grouping) -> frozenset:
    """Group event tokens (core points, or None for home) by the piece holding them at radius ``r``."""
    lvl = filt.level(r)
    pts = [t for t in tokens if t is not None]
    loc = iter(lvl.locate(pts))
    groups: dict = {}
    for i, t in enumerate(tokens):
        if t is None:
            key = _HOME
        else:
            j = int(next(loc))
            key = _node_of(lvl, j, grouping, filt)
            if key is None:  # lost to buffer round-off: keep it on its own
                key = ("lost", i)
        groups.setdefault(key, []).append(i)
    return frozenset(frozenset(v) for v in groups.values())


def _events(filt: _Filtration, radii: list[float], grouping: _Grouping) -> list[tuple[float, float, list]]:
    """Split events between consecutive ladder rungs: (r_lo, r_hi, tokens)."""
    out = []
    prev_sub = filt.level(radii[0]).substantial(grouping.thr_km2)
    for k in range(len(radii) - 1):
        lo, hi = filt.level(radii[k]), filt.level(radii[k + 1])
        if not len(hi.pieces) or not prev_sub.any():
            break
        parents = lo.locate(hi.reps)
        # Openings shrink as r grows: only children of substantial pieces can be substantial.
        mask = (parents >= 0) & prev_sub[np.maximum(parents, 0)]
        subst = hi.substantial(grouping.thr_km2, mask)
        prev_sub = subst
        kids = np.flatnonzero(subst)
        if grouping.anchor:
            kids = kids[~hi.anchored(filt.home, filt.tol, kids)[kids]]
        elif len(kids) < 2:
            continue
        if not len(kids):
            continue
        by_parent: dict = {}
        for kid in kids:
            node = _node_of(lo, int(parents[kid]), grouping, filt)
            if node is None:
                continue
            by_parent.setdefault(node, []).append(hi.reps[kid])
        if grouping.anchor:
            by_parent.setdefault(_HOME, []).insert(0, None)  # home is always there
        for node, toks in by_parent.items():
            if len(toks) >= 2:
                out.append((radii[k], radii[k + 1], toks))
    return out


def _eps(r: float) -> float:
    """Bisection precision on the radius: 1 % of it, at least 1 m.

    It only has to place the bridge; the reported width is measured
    afterwards on the full geometry.
    """
    return max(1.0, 0.01 * r)


def _refine(filt: _Filtration, grouping: _Grouping, r_lo: float, r_hi: float, tokens: list) -> list[_Candidate]:
    """Locate the neck(s) of one event found between two ladder rungs.

    The bridges that close between the rungs are found once on the whole
    component. Each is then bisected on a window around it only: whether the
    two sides still meet across *this* bridge is a local question, and
    eroding a few square kilometres instead of the whole component at every
    step is what keeps large components fast.
    """
    p_lo = _partition(filt, r_lo, tokens, grouping)
    p_hi = _partition(filt, r_hi, tokens, grouping)
    if p_lo == p_hi:
        return []
    if r_hi - r_lo <= _eps(r_hi):
        return _emit(filt, grouping, tokens, r_lo, p_lo, r_hi, p_hi)
    out: list[_Candidate] = []
    for br in _cut_bridges(filt, grouping, tokens, r_lo, p_lo, r_hi, p_hi):
        cands = _refine_local(filt, grouping, br) if br.geom is not None else []
        if not cands:
            cands = _bisect(filt, grouping, br.r_lo, br.r_hi, tokens)
        out.extend(cands)
    return out


def _bisect(filt: _Filtration, grouping: _Grouping, r_lo: float, r_hi: float, tokens: list) -> list[_Candidate]:
    """Bisect an event down to a thin radius interval on ``filt`` and locate its neck(s)."""
    p_lo = _partition(filt, r_lo, tokens, grouping)
    p_hi = _partition(filt, r_hi, tokens, grouping)
    stack = [(r_lo, p_lo, r_hi, p_hi)]
    cands: list[_Candidate] = []
    while stack:
        a, pa, b, pb = stack.pop()
        if pa == pb:
            continue
        if b - a <= _eps(b):
            cands.extend(_emit(filt, grouping, tokens, a, pa, b, pb, r_floor=r_lo))
            continue
        m = 0.5 * (a + b)
        pm = _partition(filt, m, tokens, grouping)
        if pm == pa:
            stack.append((m, pm, b, pb))
        elif pm == pb:
            stack.append((a, pa, m, pm))
        else:
            stack.append((a, pa, m, pm))
            stack.append((m, pm, b, pb))
    return cands


def _refine_local(filt: _Filtration, grouping: _Grouping, br: "_Bridge") -> list[_Candidate]:
    """Bisect one bridge on a window around it, with one core point per side."""
    r_hi = br.r_hi
    pad = 2 * r_hi + 4 * filt.tol + 200.0
    minx, miny, maxx, maxy = br.geom.bounds
    local = _polygons_only(shapely.clip_by_rect(filt.geom, minx - pad, miny - pad, maxx + pad, maxy + pad))
    if local.is_empty:
        return []
    lf = _Filtration(local, filt.home, filt.tol, filt.quad_segs)

    def core_point(nodes: list):
        if _HOME in nodes:
            return None
        pieces = [br.hi_pieces[nd[1]] for nd in nodes if isinstance(nd, tuple) and nd[0] == "h"]
        if not pieces:
            return False
        reach = r_hi + 2 * (br.r_hi - br.r_lo) + 10.0
        best = None
        for piece in pieces:  # the core's ground next to the bridge
            near = _polygons_only(shapely.intersection(piece, shapely.buffer(br.geom, reach, quad_segs=4)))
            if not near.is_empty and (best is None or near.area > best.area):
                best = near
        return shapely.point_on_surface(best) if best is not None else False

    t1, t2 = core_point(br.s1_nodes), core_point(br.s2_nodes)
    if t1 is False or t2 is False or t1 is None:
        return []
    cands = _bisect(lf, grouping, br.r_lo, br.r_hi, [t1, t2])
    for c in cands:  # the sides are the event's, not the window's
        c.side1_points = br.side1_points
        c.side1_region = br.side1_region
    return cands


@dataclass
class _Bridge:
    """Ground that joins the two sides of a split between two radii."""

    geom: BaseGeometry | None
    r_lo: float
    r_hi: float
    s1_nodes: list
    s2_nodes: list
    hi_pieces: np.ndarray
    side1_points: list
    side1_region: BaseGeometry | None


def _emit(filt: _Filtration, grouping: _Grouping, tokens: list, r_lo: float, p_lo: frozenset, r_hi: float, p_hi: frozenset,
          r_floor: float | None = None) -> list[_Candidate]:
    """Place a neck centre on each bridge that closes between ``r_lo`` and ``r_hi``.

    Over a very thin interval the bridge can drown in the round-off of the
    polygonal arcs (about 0.5 % of the radius); the interval is then widened
    downwards (never below ``r_floor``, where the sides were known joined)
    until the bridge stands out.
    """
    bridges = _cut_bridges(filt, grouping, tokens, r_lo, p_lo, r_hi, p_hi)
    if any(br.geom is None for br in bridges):
        banded = _cut_bridges(filt, grouping, tokens, r_lo, p_lo, r_hi, p_hi, band=True)
        if banded and all(br.geom is not None for br in banded):
            bridges = banded
    if r_floor is not None and any(br.geom is None for br in bridges):
        for k in (4.0, 16.0):
            lo2 = max(r_floor, r_hi - k * (r_hi - r_lo))
            wider = _cut_bridges(filt, grouping, tokens, lo2, _partition(filt, lo2, tokens, grouping), r_hi, p_hi)
            if wider and all(br.geom is not None for br in wider):
                bridges, r_lo = wider, lo2
                break
            if lo2 <= r_floor:
                break
    out: list[_Candidate] = []
    for br in bridges:
        if br.geom is None:
            cand = _fallback_candidate(filt, tokens, br, r_lo, r_hi)
        else:
            cand = _Candidate(
                center=_bridge_center(filt, br.geom, br.s1_nodes, br.s2_nodes, br.hi_pieces, r_hi),
                r_est=0.5 * (r_lo + r_hi),
                side1_points=br.side1_points,
                side1_region=br.side1_region,
            )
        if cand is not None:
            out.append(cand)
    return out


def _cut_bridges(filt: _Filtration, grouping: _Grouping, tokens: list, r_lo: float, p_lo: frozenset, r_hi: float, p_hi: frozenset,
                 band: bool = False) -> list[_Bridge]:
    """The bridges whose closing between ``r_lo`` and ``r_hi`` splits the tokens.

    The ground eroded at ``r_lo`` but farther than ``r_hi − r_lo`` from the
    ground eroded at ``r_hi`` falls into pieces: bridges, slivers and dying
    appendices. With the ``r_hi`` pieces (and home) as nodes, a bridge is a
    neck when removing it disconnects the tokens; one bridge (the largest)
    is kept per way of splitting them. Without any such bridge (two equal
    parallel passages) a ``_Bridge`` with no geometry asks for a fallback.

    ``band=True`` keeps all of the ground eroded at ``r_lo`` but not at
    ``r_hi``. Where two rounded fronts meet at a point the clean bridge can
    be thinner than the interval and vanish; the band never does, and its
    point farthest from both sides is still the middle of the neck.
    """
    lo, hi = filt.level(r_lo), filt.level(r_hi)
    gap = 0.0 if band else r_hi - r_lo
    delta = 0.0 if band else max(0.25, 0.004 * r_hi)  # clears buffer round-off between the two erosions
    out: list[_Bridge] = []
    for block in p_lo:
        subs = [s for s in p_hi if s <= block]
        if len(subs) < 2:
            continue
        btoks = sorted(block)
        pts = [tokens[i] for i in btoks if tokens[i] is not None]
        lo_idx = np.unique(lo.locate(pts))
        lo_idx = lo_idx[lo_idx >= 0]
        if not len(lo_idx):
            continue
        region = shapely.union_all(lo.pieces[lo_idx])
        shapely.prepare(region)
        in_region = np.flatnonzero(shapely.within(hi.reps, region)) if len(hi.pieces) else np.array([], int)
        hi_pieces = hi.pieces[in_region]
        anch_hi = hi.anchored(filt.home, filt.tol, in_region) if grouping.anchor else np.zeros(len(hi.pieces), bool)
        hi_union = shapely.union_all(hi_pieces) if len(hi_pieces) else Polygon()
        grown = hi_union if band else shapely.buffer(hi_union, gap + delta, quad_segs=filt.quad_segs)
        bridges = shapely.get_parts(shapely.difference(region, grown))
        bridges = bridges[(shapely.get_type_id(bridges) == 3) & (shapely.area(bridges) > 0)] if len(bridges) else bridges

        # Graph: hi pieces (by position in in_region), home, bridges.
        token_node = {}
        hi_loc = hi.locate([tokens[i] for i in btoks if tokens[i] is not None])
        pos_of = {int(g): n for n, g in enumerate(in_region)}
        it = iter(hi_loc)
        for i in btoks:
            if tokens[i] is None:
                token_node[i] = _HOME
            else:
                g = int(next(it))
                token_node[i] = ("h", pos_of[g]) if g in pos_of else ("lost", i)
        edges_b: list[set] = [set() for _ in range(len(bridges))]
        if len(bridges) and len(hi_pieces):
            tree = shapely.STRtree(hi_pieces)
            bi, hj = tree.query(bridges, predicate="dwithin", distance=gap + 2 * delta + 0.5)
            for x, y in zip(bi, hj):
                edges_b[int(x)].add(("h", int(y)))
        if grouping.anchor and len(bridges):
            near_home = shapely.dwithin(filt.home, bridges, r_lo + filt.tol + 0.5)
            for x in np.flatnonzero(near_home):
                edges_b[int(x)].add(_HOME)

        # Bridges joining nodes that are joined anyway (through home) never
        # matter; the cut test runs on the others only, over contracted nodes.
        base = _UnionFind()
        for n, g in enumerate(in_region):
            if anch_hi[g]:
                base.union(("h", n), _HOME)
        roots_b = [{base.find(nd) for nd in nodes} for nodes in edges_b]
        live = [x for x, r in enumerate(roots_b) if len(r) >= 2]

        def components(skip: int | None) -> _UnionFind:
            uf = _UnionFind()
            for x in live:
                if x == skip:
                    continue
                for nd in roots_b[x]:
                    uf.union(("b", x), nd)
            return _Composed(base, uf)

        def token_groups(uf: _UnionFind) -> frozenset:
            g: dict = {}
            for i in btoks:
                g.setdefault(uf.find(token_node[i]), set()).add(i)
            return frozenset(frozenset(v) for v in g.values())

        def weight(g) -> float:
            return sum(hi.area[in_region[token_node[i][1]]] for i in g if token_node[i][0] == "h")

        full = token_groups(components(None))
        seen: dict[frozenset, int] = {}
        for x in live:  # the others are slivers, appendices or redundant
            parts = token_groups(components(x))
            if len(parts) > len(full) and parts not in seen:
                seen[parts] = x
            elif parts in seen and shapely.area(bridges[x]) > shapely.area(bridges[seen[parts]]):
                seen[parts] = x
        if not seen:
            s1, s2 = subs[0], subs[1]
            if any(tokens[i] is None for i in s1):
                s1, s2 = s2, s1
            out.append(_Bridge(None, r_lo, r_hi, [], [], hi_pieces, [tokens[i] for i in s1 if tokens[i] is not None], None))
            continue
        for parts, x in seen.items():
            # the group that lost contact with the others through bridge x
            uf_cut = components(x)
            groups = sorted(parts, key=len)
            home_group = next((g for g in groups if any(tokens[i] is None for i in g)), None)
            if home_group is not None:
                side1 = max((g for g in groups if g is not home_group), key=weight)
            else:
                side1 = min(groups, key=weight)
            side1_root = uf_cut.find(token_node[next(iter(side1))])
            s1_nodes = [nd for nd in edges_b[x] if uf_cut.find(nd) == side1_root]
            s2_nodes = [nd for nd in edges_b[x] if uf_cut.find(nd) != side1_root]
            side1_hi = [n for n in range(len(in_region)) if uf_cut.find(("h", n)) == side1_root]
            region1 = shapely.union_all(shapely.buffer(hi_pieces[side1_hi], r_hi, quad_segs=4)) if side1_hi else None
            out.append(_Bridge(bridges[x], r_lo, r_hi, s1_nodes, s2_nodes, hi_pieces, [tokens[i] for i in side1 if tokens[i] is not None], region1))
    return out


def _home_core(filt: _Filtration, bridge: BaseGeometry, r_hi: float) -> BaseGeometry:
    """Home's side of a passage eroded like the held side, near the bridge.

    The held side's cores poke into the mouth of a passage when dilated back
    (a disc barely wider than the passage reaches into it); eroding home
    together with the held ground gives home's end of the passage the same
    treatment, so the neck centre falls in the middle of the passage.
    """
    minx, miny, maxx, maxy = bridge.bounds
    pad = 4 * r_hi + 500.0  # home must keep a core after erosion inside the window
    win = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    ground = shapely.union(shapely.clip_by_rect(filt.geom, *win), shapely.clip_by_rect(filt.home, *win))
    # held ground and home are drawn apart: close gaps up to the tolerance
    close = max(filt.tol, 1.0)
    ground = shapely.buffer(shapely.buffer(ground, close, join_style="mitre"), -close, join_style="mitre")
    eroded = shapely.get_parts(shapely.buffer(ground, -r_hi, quad_segs=filt.quad_segs))
    if not len(eroded):
        return filt.home
    return shapely.union_all(eroded[shapely.intersects(eroded, filt.home)])


def _side_distance(filt: _Filtration, pts: np.ndarray, nodes: list, hi_pieces: np.ndarray, r_hi: float, home_core) -> np.ndarray:
    """Distance from points to the ground a side stands for (its opened cores, or home)."""
    d = np.full(len(pts), np.inf)
    for nd in nodes:
        if nd == _HOME:
            if home_core is None or home_core.is_empty:
                d = np.minimum(d, shapely.distance(pts, filt.home))
            else:
                d = np.minimum(d, shapely.distance(pts, home_core) - r_hi)
        elif isinstance(nd, tuple) and nd[0] == "h":
            d = np.minimum(d, shapely.distance(pts, hi_pieces[nd[1]]) - r_hi)
    return d


def _bridge_center(filt: _Filtration, bridge: BaseGeometry, s1: list, s2: list, hi_pieces: np.ndarray, r_hi: float) -> Point:
    """Point of the bridge equally and least far from both sides: the middle of the passage."""
    step = max(2.0, r_hi / 20)
    pts = shapely.points(shapely.get_coordinates(shapely.segmentize(bridge, step)))
    pts = np.concatenate([pts, [shapely.point_on_surface(bridge), shapely.centroid(bridge)]])
    pts = pts[shapely.intersects(pts, shapely.buffer(bridge, 0.01))]
    if not s1 or not s2 or not len(pts):
        return shapely.point_on_surface(bridge)
    home_core = _home_core(filt, bridge, r_hi) if _HOME in s1 or _HOME in s2 else None
    # The neck is where the bridge comes equally close to both sides: the
    # point minimising the larger of its distances to them (along a uniform
    # corridor the middle; in a thin band around the sides, the one place
    # where it touches both).
    score = np.maximum(
        _side_distance(filt, pts, s1, hi_pieces, r_hi, home_core),
        _side_distance(filt, pts, s2, hi_pieces, r_hi, home_core),
    )
    best = np.flatnonzero(score <= score.min() + 0.5)
    # several equally good points (a uniform corridor): take their middle
    xy = shapely.get_coordinates(pts[best]).mean(axis=0)
    c = Point(xy)
    if not bridge.buffer(0.5).contains(c):
        c = pts[best[len(best) // 2]]
    return c


def _fallback_candidate(filt: _Filtration, tokens: list, br: _Bridge, r_lo: float, r_hi: float) -> _Candidate | None:
    """No single bridge separates the sides (e.g. two equal parallel passages):
    put the centre halfway across the gap between the cut-off side's cores and the rest."""
    lvl = filt.level(r_hi)
    idx = lvl.locate(br.side1_points)
    own = [lvl.pieces[j] for j in idx if j >= 0]
    if not own:
        return None
    g1 = shapely.union_all([shapely.buffer(p, r_hi) for p in own])
    others = [p for j, p in enumerate(lvl.pieces) if j not in set(idx.tolist())]
    if filt.home is not None:
        others.append(filt.home)
    if not others:
        return None
    g2 = shapely.union_all([shapely.buffer(p, r_hi) if p is not filt.home else p for p in others])
    line = shapely.shortest_line(g1, g2)
    return _Candidate(
        center=line.interpolate(0.5, normalized=True),
        r_est=0.5 * (r_lo + r_hi),
        side1_points=br.side1_points,
        fallback=True,
    )


# --------------------------------------------------------------------------
# Measuring a neck
# --------------------------------------------------------------------------


class _Component:
    """One unit of analysis: a connected piece of ground and what it is measured against.

    ``m`` is the cleaned metric geometry every measurement is taken on;
    ``work`` is what the erosions run on: ``m`` itself, or for very complex
    components a coarser copy (see :func:`_work_geometry`). ``base`` names
    what shares are fractions of, ``base_km2`` is that area; ``link`` says
    whether home links are searched here.
    """

    def __init__(self, geom_m: BaseGeometry, proj: LocalProjection, area: float, base: str, base_km2: float,
                 link: bool, simplify_m: float, max_work_vertices: int):
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

    def border_km(self, home: "_Home | None") -> float:
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
    local = shapely.clip_by_rect(shapely.union_all(outer) if len(outer) > 1 else outer[0], bx[0] - 2 * t, bx[1] - 2 * t, bx[2] + 2 * t, bx[3] + 2 * t)
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


# --------------------------------------------------------------------------
# What the ground faces
# --------------------------------------------------------------------------

#: Probes beyond an edge (metres, along its outward normal): past the
#: outline's simplification (``simplify_m``, 10 m), and 40 m deep.
_PROBE_M = (20.0, 60.0)
#: Enemy home ground (undrawn) seen beyond an edge is probed again this far
#: out; the sea or another state there means a sliver the drawing left
#: against the coast or border (as in :mod:`frontline.analysis.contact_line`).
_SLIVER_M = 500.0
#: Spacing of the edge samples (metres).
_STEP_M = 10.0


def _geometry_lookup(enemy: BaseGeometry | None, contested: BaseGeometry | None, home: BaseGeometry | None,
                     ground: BaseGeometry):
    """``f(lon, lat) → (owner, state)`` from plain geometries (see :func:`find_necks`).

    Owner: ``"enemy"`` in ``enemy``, else ``"grey"`` in ``contested``, else
    ``"own"`` in ``home``; None elsewhere (the sea). State: ``"home"`` in
    ``home``, ``"enemy"`` in the rest of the known land (the ground, the
    enemy's and the grey zone), None elsewhere.
    """
    parts = [(g, lab) for g, lab in ((home, "own"), (contested, "grey"), (enemy, "enemy")) if g is not None and not g.is_empty]
    land = [g for g in (ground, enemy, contested) if g is not None and not g.is_empty]
    for g in [g for g, _ in parts] + land:
        shapely.prepare(g)

    def lookup(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        owner = np.full(len(lon), None, dtype=object)
        for g, lab in parts:  # later labels win: enemy ground inside home is enemy
            owner[shapely.contains_xy(g, lon, lat)] = lab
        state = np.full(len(lon), None, dtype=object)
        for g in land:
            state[shapely.contains_xy(g, lon, lat)] = "enemy"
        if home is not None:
            state[shapely.contains_xy(home, lon, lat)] = "home"
        return owner, state

    return lookup


class _Facing:
    """What lies beyond the edges of the analysed ground (the rule in ``docs/corridors.md``).

    ``lookup(lon, lat)`` gives ``(owner, state)`` per point: owner
    ``"own"``, ``"enemy"``, ``"grey"`` or None (sea, inland water, land
    outside the theatre); state ``"home"`` (the side's home), ``"enemy"``
    (another side's home) or None. An edge sample faces the enemy (grey
    zone) when both probes beyond it land in enemy (grey) ground of the same
    state as the ground at the edge (not across a state border), and, for
    enemy home ground, the state goes on ``_SLIVER_M`` out (no coast or
    border sliver). Probes falling back into the ground say nothing.
    """

    def __init__(self, lookup, proj: LocalProjection, home: "_Home | None"):
        self.lookup = lookup
        self.proj = proj
        self.home = home

    def _look(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(x):
            e = np.array([], dtype=object)
            return e, e
        ll = shapely.get_coordinates(self.proj.to_lonlat(shapely.points(x, y)))
        owner, state = self.lookup(ll[:, 0], ll[:, 1])
        return np.asarray(owner, dtype=object), np.asarray(state, dtype=object)

    @staticmethod
    def _samples(ground: BaseGeometry, lines: BaseGeometry, step: float):
        """Edge samples: midpoints, outward unit normals and lengths of ``lines`` cut every ``step``."""
        parts = [q for q in shapely.get_parts(lines) if q.geom_type in ("LineString", "LinearRing")]
        xs, ns, ls = [], [], []
        for q in parts:
            c = shapely.get_coordinates(shapely.segmentize(q, step))
            if len(c) < 2:
                continue
            t = c[1:] - c[:-1]
            L = np.hypot(t[:, 0], t[:, 1])
            ok = L > 1e-6
            xs.append((0.5 * (c[1:] + c[:-1]))[ok])
            ns.append(np.column_stack([t[ok, 1], -t[ok, 0]]) / L[ok, None])
            ls.append(L[ok])
        if not xs:
            return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
        m, n, L = np.concatenate(xs), np.concatenate(ns), np.concatenate(ls)
        flip = shapely.contains_xy(ground, m[:, 0] + n[:, 0], m[:, 1] + n[:, 1])  # the normal points inwards
        n[flip] *= -1
        return m, n, L

    def classify(self, items: list[tuple[BaseGeometry, BaseGeometry, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per ``(ground, edge lines, sample spacing m)``: the label of each edge sample and its length (m).

        Labels: ``"enemy"``, ``"grey"``, ``"border"`` (beyond a state border,
        or a sliver against one), ``"own"``, ``"sea"`` (nothing beyond, or a
        sliver against the coast) and ``"inside"`` (the probes fall back
        into the ground: no information). One lookup serves all items.
        """
        for g, _, _ in items:
            shapely.prepare(g)
        samples = [self._samples(g, ln, step) for g, ln, step in items]
        if not any(len(L) for _, _, L in samples):
            return [(np.array([], dtype=object), L) for _, _, L in samples]
        r1, r2 = _PROBE_M
        inside = []
        for (g, _, _), (m, n, _) in zip(items, samples):
            ins = np.zeros(len(m), bool)
            for r in (r1, r2):
                ins |= shapely.contains_xy(g, m[:, 0] + r * n[:, 0], m[:, 1] + r * n[:, 1])
            inside.append(ins)
        m = np.concatenate([sm for sm, _, _ in samples])
        n = np.concatenate([sn for _, sn, _ in samples])
        k = len(m)
        px = np.concatenate([m[:, 0] - 2.0 * n[:, 0], m[:, 0] + r1 * n[:, 0], m[:, 0] + r2 * n[:, 0]])
        py = np.concatenate([m[:, 1] - 2.0 * n[:, 1], m[:, 1] + r1 * n[:, 1], m[:, 1] + r2 * n[:, 1]])
        owner, state = self._look(px, py)
        s_in, o1, s1, o2 = state[:k], owner[k:2 * k], state[k:2 * k], owner[2 * k:]
        h1 = np.isin(o1.astype(str), _HOSTILE)
        h2 = np.isin(o2.astype(str), _HOSTILE)
        label = np.where(o2 == "own", "own", "sea").astype(object)
        hostile = h1 & h2
        across = hostile & (s1 != s_in)  # beyond a state border: the undisputed border, no front
        label[across] = "border"
        front = hostile & ~across
        label[front] = np.where((o1[front] == "enemy") | (o2[front] == "enemy"), "enemy", "grey")
        home_ground = front & (o1 == "enemy") & (s1 == "enemy")
        idx = np.flatnonzero(home_ground)
        if len(idx):  # enemy home ground: a sliver the drawing left against the coast or a border?
            _, s3 = self._look(m[idx, 0] + _SLIVER_M * n[idx, 0], m[idx, 1] + _SLIVER_M * n[idx, 1])
            sliver = s3 != s1[idx]
            label[idx[sliver]] = np.where(s3[sliver] == None, "sea", "border")  # noqa: E711
        out, i = [], 0
        for ins, (_, _, L) in zip(inside, samples):
            lab = label[i:i + len(L)].copy()
            lab[ins] = "inside"
            out.append((lab, L))
            i += len(L)
        return out

    def banks(self, jobs: list[tuple[BaseGeometry, BaseGeometry, np.ndarray, np.ndarray, float]]) -> list[tuple[str, str]]:
        """Labels of both banks per neck job ``(ground, boundary, p1, p2, width)``; see :data:`BANK_LABELS`."""
        items, meta = [], []
        for ground, boundary, p1, p2, width in jobs:
            rho = max(12.0, min(60.0, 0.4 * width))  # the bank's own edge, short of the other bank
            for p in (p1, p2):
                near = shapely.clip_by_rect(boundary, p[0] - rho, p[1] - rho, p[0] + rho, p[1] + rho)
                near = shapely.intersection(near, Point(p).buffer(rho, quad_segs=8)) if not near.is_empty else near
                items.append((ground, near, max(2.0, min(_STEP_M, rho / 3))))
                meta.append(p)
        res = self.classify(items)
        labels = []
        for (lab, _), p in zip(res, meta):
            on_border = self.home is not None and bool(shapely.dwithin(self.home.line_m, Point(p), self.home.tol))
            for cand in ("enemy", "grey"):
                if (lab == cand).any():
                    labels.append(cand)
                    break
            else:
                if on_border or (lab == "border").any():
                    labels.append("border")
                elif (lab == "own").any():
                    labels.append("own")
                else:
                    labels.append("sea")
        return [(labels[2 * i], labels[2 * i + 1]) for i in range(len(jobs))]

    def front_km(self, geoms: list[BaseGeometry]) -> list[float]:
        """Length (km, planar in the local projection) of each outline facing enemy or grey ground.

        Outlines are sampled every 25 m (at most 4000 samples each).
        """
        if not geoms:
            return []
        items = [(g, shapely.boundary(g), max(25.0, float(shapely.length(g)) / 4000)) for g in geoms]
        return [float(L[np.isin(lab.astype(str), _HOSTILE)].sum()) / 1000.0 for lab, L in self.classify(items)]


_FILLED: dict[int, tuple[BaseGeometry, dict[str, BaseGeometry]]] = {}


def _filled(homes: dict[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """Homes with inland water filled (exterior rings), prepared; cached per theatre."""
    key = id(homes)
    hit = _FILLED.get(key)
    if hit is not None and hit[0] is homes:
        return hit[1]
    out = {}
    for side, g in homes.items():
        polys = [Polygon(q.exterior) for q in shapely.get_parts(g) if q.geom_type == "Polygon"]
        out[side] = shapely.multipolygons(polys) if len(polys) > 1 else polys[0]
        shapely.prepare(out[side])
    if len(_FILLED) > 8:
        _FILLED.clear()
    _FILLED[key] = (homes, out)
    return out


def surroundings(control, side: str):
    """Who holds each point, and in which state, as side ``side`` sees it, on a stored version.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (or a ControlMap read
        from a store).
    side
        The side whose ground is analysed.

    Returns
    -------
    callable
        ``f(lon, lat) → (owner, state)``, numpy arrays: owner ``"own"`` (held
        by ``side``), ``"enemy"`` (held by another side), ``"grey"``
        (contested) or None (sea, inland water, land outside the theatre);
        state ``"home"`` (inside ``side``'s home, inland water included),
        ``"enemy"`` (inside another side's) or None. The ``enemy`` argument
        of :func:`find_necks`. Uses the partition's tile parts and homes
        only: no side's whole ground is built.
    """
    from ..model import CONTESTED, ControlMap
    from .contact_line import locate

    vc = control.control if isinstance(control, ControlMap) else control
    homes = vc.theatre.homes
    if side not in homes:
        raise ValueError(f"Unknown side {side!r}; the sides are {', '.join(homes)}.")

    def lookup(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        who = locate(vc, lon, lat)
        owner = np.full(len(who), None, dtype=object)
        owner[who != None] = "enemy"  # noqa: E711 - elementwise on an object array
        owner[who == side] = "own"
        owner[who == CONTESTED] = "grey"
        state = np.full(len(who), None, dtype=object)
        for s_, g in _filled(homes).items():
            x0, y0, x1, y1 = g.bounds
            sel = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1) & (state == None))  # noqa: E711
            if len(sel):
                hit = shapely.contains_xy(g, lon[sel], lat[sel])
                state[sel[hit]] = "home" if s_ == side else "enemy"
        return owner, state

    return lookup


def corridor_inputs(control, side: str, scope: str = "abroad", include_contested: bool = False) -> dict[str, Any]:
    """Keyword arguments of :func:`find_necks` for one side of a stored version.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (``version_control``)
        or a ControlMap read from a store.
    side
        Whose ground (``"ua"``, ``"ru"``).
    scope
        ``"abroad"``: the side's ground outside its home (salients; home is
        their rear); ``"all"``: all its ground.
    include_contested
        Add the grey zone to the ground. With ``scope="abroad"`` only grey
        ground outside the side's home is added: grey ground inside its own
        home is not ground abroad.

    Returns
    -------
    dict
        ``held``, ``home``, ``contested``, ``include_contested`` and
        ``enemy`` (:func:`surroundings`). ``held`` may be empty: check it
        before calling :func:`find_necks` to word the error for the user.

    Raises
    ------
    ValueError
        For an unknown side or scope.
    """
    from ..model import CONTESTED, ControlMap

    vc = control.control if isinstance(control, ControlMap) else control
    if vc is None or not hasattr(vc, "tile_parts"):
        raise ValueError("corridor_inputs needs a version read from a store (a VersionControl).")
    if side not in vc.sides:
        raise ValueError(f"Unknown side {side!r}; the sides are {', '.join(vc.sides)}.")
    if scope not in ("abroad", "all"):
        raise ValueError(f"Unknown scope {scope!r}; choose 'abroad' or 'all'.")
    if scope == "abroad":
        held = vc.abroad(side)
        grey = [vc.part(h, CONTESTED) for h in vc.sides if h != side]
        grey = [g for g in grey if not g.is_empty]
        contested = shapely.union_all(grey) if len(grey) > 1 else (grey[0] if grey else Polygon())
    else:
        held = vc.held(side)
        contested = vc.contested
    return {"held": held, "home": vc.theatre.homes[side], "contested": contested,
            "include_contested": include_contested, "enemy": surroundings(vc, side)}


def corridor_key(control, inputs: dict[str, Any], pad_deg: float = 0.1) -> str:
    """A content key of what :func:`find_necks` reads for ``inputs`` (from :func:`corridor_inputs`).

    The ground, the grey zone when it is part of the ground, and every tile
    part of the partition within ``pad_deg`` (0.1°, about 7–11 km: past the
    widest neck searched and the farthest probe) of the ground's bounds.
    Consecutive versions often leave a salient and its surroundings
    untouched (147 of the 234 versions of ua's ground in Russia from August
    2024 to March 2025): a series analyses each key once.
    """
    import hashlib

    from ..model import ControlMap

    vc = control.control if isinstance(control, ControlMap) else control
    h = hashlib.blake2b(digest_size=16)
    held = inputs["held"]
    h.update(shapely.to_wkb(held))
    h.update(b"contested" if inputs.get("include_contested") else b"held")
    if inputs.get("include_contested") and inputs.get("contested") is not None:
        h.update(shapely.to_wkb(inputs["contested"]))
    if not held.is_empty:
        x0, y0, x1, y1 = held.bounds
        window = shapely.box(x0 - pad_deg, y0 - pad_deg, x1 + pad_deg, y1 + pad_deg)
        for (home, what), parts in sorted(vc.tile_parts().items()):
            for g in parts:
                if shapely.intersects(g, window):
                    h.update(f"{home}|{what}".encode())
                    h.update(shapely.to_wkb(g))
    return h.hexdigest()


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _rule_text(mode: str, min_part_km2: float, min_part_share: float, max_width_m: float, alert_width_m: float,
               ladder_ratio: float, min_pocket_km2: float, facing_known: bool, front_m: float) -> str:
    facing = (
        f"Only ground facing the enemy or the grey zone counts: a neck needs a bank on enemy or grey ground "
        f"(not sea, lakes, own ground or home's border, nor the undisputed state border), a pocket at least "
        f"{front_m:g} m of such outline. "
        if facing_known else "What lies beyond the ground is unknown: every edge counts as facing the enemy. "
    )
    return (
        f"Ground analysed: {mode}. A neck is the narrowest passage (at most {max_width_m:g} m wide) whose "
        f"closure would cut a connected piece of ground in two, found by eroding it with discs of growing "
        f"radius. Its cut-off side is the side that loses home (home_link) or, for a split, the side with the "
        f"shorter border on home (the smaller side when neither reaches home); each side of a split, and the "
        f"cut-off side of a home_link, must have at least max({min_part_km2:g} km², {min_part_share:.0%} of the "
        f"base), the base being the component, or for ground reaching into home its ground outside home. "
        f"Bumps, spikes and uniform salients never separate under erosion and are no necks; each side must be "
        f"about {ladder_ratio:g}× wider than the neck. {facing}Ranked by ground at stake: risk = cut-off km² × "
        f"exp(−width / {alert_width_m:g} m); below_threshold = width < {alert_width_m:g} m. Pockets: components of "
        f"at least {min_pocket_km2:g} km² other than the largest that do not reach home's border."
    )


def find_necks(
    held: BaseGeometry,
    *,
    home: BaseGeometry | None = None,
    contested: BaseGeometry | None = None,
    include_contested: bool = False,
    enemy: BaseGeometry | Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    min_part_km2: float | None = None,
    min_part_share: float = 0.05,
    max_width_m: float = 5000.0,
    alert_width_m: float = 1000.0,
    simplify_m: float = 10.0,
    heal_m: float = 0.5,
    home_tol_m: float = 50.0,
    min_hole_km2: float = 1.0,
    min_pocket_km2: float = 0.1,
    min_width_m: float = 40.0,
    ladder_ratio: float = 1.4,
    max_work_vertices: int = 5000,
) -> CorridorReport:
    """Find necks (narrow corridors) and pockets in one side's ground.

    Parameters
    ----------
    held
        (Multi)Polygon of the ground the side holds, lon/lat (EPSG:4326).
    home
        The side's home territory (e.g. Ukraine for ``ua``), lon/lat.
        Enables ``home_link`` necks, ``touches_home`` and pocket filtering.
    contested
        Grey zone, lon/lat. Used only with ``include_contested``.
    include_contested
        Analyse ``held ∪ contested`` (mode ``"held+contested"``) instead of
        ``held`` alone (mode ``"held only"``).
    enemy
        What the ground faces. Either the ground held by the other side
        (lon/lat polygon; the grey zone is then ``contested``, home is the
        side's own rear and what lies in none of them is sea), or a
        function ``f(lon, lat) → (owner, state)`` of numpy arrays as
        :func:`surroundings` makes for a stored version: owner ``"own"``,
        ``"enemy"``, ``"grey"`` or None (sea, inland water, outside the
        theatre), state ``"home"`` (in this side's home), ``"enemy"`` (in
        another side's) or None. With it, necks with no bank on enemy or
        grey ground and pockets facing none are left out (counted in
        ``left_out``). None: unknown, every edge counts as facing the enemy
        (banks ``"unknown"``).
    min_part_km2
        Smallest side worth a neck, km². None means 2 km².
    min_part_share
        Smallest side as a share of the base area (see module docstring).
    max_width_m
        Widest passage searched for.
    alert_width_m
        Necks narrower than this get ``below_threshold``; also the width
        scale of ``risk``.
    simplify_m
        Topology-preserving simplification tolerance in metres before the
        analysis. Widths are exact to about twice this.
    heal_m
        Cracks narrower than twice this (misfits between separately drawn
        polygons) are closed before the analysis.
    home_tol_m
        How far drawn borders may disagree and still count as touching.
    min_hole_km2
        Holes smaller than this are filled first (with any island in them):
        ponds and union artefacts would otherwise split corridors into false
        narrow lanes, and islands in them would read as pockets.
    min_pocket_km2
        Smaller detached components are not listed as pockets.
    min_width_m, ladder_ratio
        The erosion ladder: widths ``min_width_m × ladder_ratio^k`` up to
        ``max_width_m``. Narrower necks are still found (by bisection below
        the first rung). A side must be about ``ladder_ratio`` times wider
        than the neck to be seen.
    max_work_vertices
        Components with more vertices (or more than 100 holes) are searched
        on a coarser copy; widths are still measured on the full outline.

    Returns
    -------
    CorridorReport

    Raises
    ------
    ValueError
        If ``held`` is empty (the side holds no ground at this time), not
        polygonal, or not in lon/lat, or ``enemy`` is neither a geometry
        nor a function.
    """
    t0 = time.perf_counter()
    held = _polygonal(held, "held", required=True, fill_km2=min_hole_km2)
    home = _polygonal(home, "home", required=False, repair=False)
    contested = _polygonal(contested, "contested", required=False, fill_km2=min_hole_km2)
    if max_width_m <= 0 or alert_width_m <= 0:
        raise ValueError("max_width_m and alert_width_m must be positive distances in metres.")
    if not (0 <= min_part_share < 1):
        raise ValueError("min_part_share must be a fraction between 0 and 1.")
    if ladder_ratio <= 1:
        raise ValueError("ladder_ratio must be greater than 1.")
    if enemy is not None and not callable(enemy) and not isinstance(enemy, BaseGeometry):
        raise ValueError(f"enemy must be a shapely geometry or a function of (lon, lat), got {type(enemy).__name__}.")
    min_km2 = 2.0 if min_part_km2 is None else float(min_part_km2)
    mode = MODE_HELD_CONTESTED if include_contested else MODE_HELD
    ground = held
    if include_contested and contested is not None:
        ground = shapely.union(held, contested)
    params = {
        "min_part_km2": min_km2,
        "min_part_share": min_part_share,
        "max_width_m": max_width_m,
        "alert_width_m": alert_width_m,
        "simplify_m": simplify_m,
        "heal_m": heal_m,
        "home_tol_m": home_tol_m,
        "min_hole_km2": min_hole_km2,
        "min_pocket_km2": min_pocket_km2,
        "min_width_m": min_width_m,
        "ladder_ratio": ladder_ratio,
        "home_given": home is not None,
        "facing_known": enemy is not None,
    }

    proj = LocalProjection.for_geometry(ground)
    comps_ll = shapely.get_parts(ground)
    comp_areas = np.array([area_km2(g) for g in comps_ll])
    order = np.argsort(-comp_areas)
    comps_ll, comp_areas = comps_ll[order], comp_areas[order]

    # Metric copies: projected, small holes filled, simplified; and for very
    # complex components a coarser copy for the erosions.
    # Components too small to hold a neck or to be listed as a pocket (slivers,
    # islands) are not worked on at all: there can be hundreds of them.
    keep = comp_areas >= min(min_km2, min_pocket_km2)
    comps_m = np.full(len(comps_ll), Polygon(), dtype=object)
    if keep.any():
        comps_m[keep] = [_clean(g, min_hole_km2 * 1e6, simplify_m, heal_m) for g in proj.to_metric(comps_ll[keep])]

    home_ctx = _home_context(home, ground, proj, max_width_m, home_tol_m, simplify_m)
    facing = None
    if enemy is not None:
        if callable(enemy):
            lookup = enemy
        else:
            enemy_ll = _polygonal(enemy, "enemy", required=False, repair=False)
            lookup = _geometry_lookup(enemy_ll, None if include_contested else contested, home, ground)
        facing = _Facing(lookup, proj, home_ctx)

    necks: list[Neck] = []
    for unit in _units(comps_m, comp_areas, proj, home_ctx, min_km2, simplify_m, max_work_vertices):
        necks.extend(_component_necks(unit, home_ctx, min_km2, min_part_share, max_width_m, alert_width_m, min_width_m,
                                      ladder_ratio, facing))
    necks = _dedupe(necks)
    left_out = {"necks": 0, "pockets": 0}
    if facing is not None and necks:
        for n, b in zip(necks, facing.banks([n._job for n in necks])):
            n.banks = b
        military = [n for n in necks if any(b in _HOSTILE for b in n.banks)]
        left_out["necks"] = len(necks) - len(military)
        necks = military
    necks.sort(key=lambda n: (-n.risk, n.width_m))
    for i, n in enumerate(necks):
        n.rank = i + 1

    pockets: list[Pocket] = []
    cut_off = []
    for idx in range(1, len(comps_ll)):
        if comp_areas[idx] < min_pocket_km2 or comps_m[idx].is_empty:
            continue
        if home_ctx is not None and shapely.dwithin(home_ctx.line_m, comps_m[idx], home_tol_m):
            border = _home_border_km(home_ctx, comps_m[idx], proj)
            if border * 1000 > 2 * home_tol_m:
                continue
        cut_off.append(idx)
    fronts = facing.front_km([comps_m[i] for i in cut_off]) if facing is not None else [None] * len(cut_off)
    for idx, front_km in zip(cut_off, fronts):
        if front_km is not None and front_km * 1000 < 2 * home_tol_m:  # an island, or ground facing only sea and own ground
            left_out["pockets"] += 1
            continue
        g = comps_ll[idx]
        pockets.append(Pocket(area_km2=float(comp_areas[idx]), centroid=g.centroid, geometry=g, front_km=front_km))

    return CorridorReport(
        mode=mode,
        rule=_rule_text(mode, min_km2, min_part_share, max_width_m, alert_width_m, ladder_ratio, min_pocket_km2,
                        facing is not None, 2 * home_tol_m),
        necks=necks,
        pockets=pockets,
        params=params,
        ground_km2=float(comp_areas.sum()),
        n_components=len(comps_ll),
        main_body_km2=float(comp_areas[0]) if len(comp_areas) else 0.0,
        elapsed_s=time.perf_counter() - t0,
        left_out=left_out,
    )


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
    holes = shapely.get_interior_ring(g, np.arange(len(g.interiors))) if len(g.interiors) else np.array([], dtype=object)
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


def _work_geometry(g: BaseGeometry, simplify_m: float, max_vertices: int, max_holes: int = 100) -> tuple[BaseGeometry, float]:
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


def _units(comps_m, comp_areas, proj, home: _Home | None, min_km2: float, simplify_m: float, max_work_vertices: int):
    """The pieces of ground to search, with their bases.

    A component that lies outside home (or without home) is one unit, with
    both searches. A component that reaches into home (Ukraine's side with
    the Kursk salient: all of free Ukraine plus the salient) gives one unit
    for splits of the whole, and one unit per piece of its ground outside
    home, searched and measured on that ground alone with shares of all of
    it: "Ukraine's held ground in Russia nearly cut in two" is a split of the
    salient, whatever Ukrainian ground lies behind the border.
    """
    for C, area in zip(comps_m, comp_areas):
        if C.is_empty or area < min_km2:
            continue  # too small to hold a neck
        if home is not None and bool(shapely.dwithin(home.poly_m, C, home.tol)) and not shapely.contains_properly(home.poly_m, C):
            outside = _outside_home(C, home.poly_m, home.tol / 2)
            if C.area - outside.area > 1e-3 * C.area:
                yield _Component(C, proj, float(area), "component", float(area), False, simplify_m, max_work_vertices)
                pieces = shapely.get_parts(outside)
                pieces = pieces[shapely.area(pieces) >= max(min_km2, 1e-9) * 1e6]
                if len(pieces):
                    base_km2 = area_km2(proj.to_lonlat(outside))
                    for piece in pieces:
                        yield _Component(piece, proj, area_km2(proj.to_lonlat(piece)), "outside_home", base_km2, True, simplify_m, max_work_vertices)
                continue
        yield _Component(C, proj, float(area), "component", float(area), home is not None, simplify_m, max_work_vertices)


def _component_necks(
    comp: _Component,
    home: _Home | None,
    min_km2: float,
    share: float,
    max_width_m: float,
    alert_width_m: float,
    min_width_m: float,
    ratio: float,
    facing: "_Facing | None" = None,
) -> list[Neck]:
    """Search one unit with both groupings on one shared set of erosions."""
    W = comp.work
    thr = max(min_km2, share * comp.base_km2)
    work_km2 = W.area / 1e6
    can_split = work_km2 >= 2 * thr
    can_link = comp.link and home is not None and work_km2 >= thr and bool(shapely.dwithin(home.poly_m, W, home.tol))
    if not can_split and not can_link:
        return []
    radii = [0.0]
    w = min(min_width_m, max_width_m)
    while w < max_width_m:
        radii.append(w / 2)
        w *= ratio
    # a coarse copy may read a passage a little wider than it is: search further
    radii.append(max_width_m / 2 + (comp.work_tol if W is not comp.m else 0.0))

    filt = _Filtration(W, home.poly_m if home is not None else None, home.tol if home is not None else 0.0)
    filt.prefetch(radii)
    cands: list[_Candidate] = []
    done: dict[tuple, set] = {}  # split events already refined: bracket -> their core points
    for anchor, on in ((False, can_split), (True, can_link)):
        if not on:
            continue
        g = _Grouping(thr, anchor=anchor)
        for r_lo, r_hi, toks in _events(filt, radii, g):
            pts = {id(t) for t in toks if t is not None}
            if anchor and pts and pts <= done.get((r_lo, r_hi), set()):
                continue  # the same pieces split off in the same bracket: the split search has this neck
            if not anchor:
                done.setdefault((r_lo, r_hi), set()).update(pts)
            cands.extend(_refine(filt, g, r_lo, r_hi, toks))
    out: list[Neck] = []
    for cand in cands:
        neck = _build_neck(comp, cand, home, thr, alert_width_m, max_width_m, facing)
        if neck is not None:
            out.append(neck)
    return out


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


def _polygons_only(g: BaseGeometry) -> BaseGeometry:
    parts = shapely.get_parts(g)
    parts = parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)] if len(parts) else parts
    if not len(parts):
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)


def _build_neck(
    comp: _Component,
    cand: _Candidate,
    home: _Home | None,
    thr_km2: float,
    alert_width_m: float,
    max_width_m: float,
    facing: "_Facing | None" = None,
) -> Neck | None:
    """Measure a located neck on the full geometry and apply the significance rule.

    Only one side is cut out and measured directly; the other side is the
    rest of the unit (its area and border by difference, its geometry made
    only when asked for), because it is often the whole main body with a
    country's border and lakes.

    The cut-off side is the side that loses home (``home_link``); for a
    ``split`` where both sides reach home it is the side with the shorter
    border on home (its foothold on home is the narrower one, so it is the
    ground that hangs on the neck: the Kursk salient in March 2025, 83 %
    of it beyond a 216 m pinch but along 14 km of border against 23 km for
    the rest); otherwise the smaller side.
    """
    proj = comp.proj
    p1, p2, width = _measure_segment(comp, cand)
    if width <= 0 or width > max_width_m * 1.02:
        return None
    side1_m = _split_sides(comp, cand, p1, p2)
    if side1_m is None or side1_m.is_empty:
        return None
    a1 = area_km2(proj.to_lonlat(side1_m))
    a2 = comp.area_km2 - a1
    if a1 <= 0 or a2 <= 0:
        return None
    C = comp.m
    side2_m = lambda: _polygons_only(shapely.difference(C, side1_m))  # noqa: E731 - made on demand
    b1 = _home_border_km(home, side1_m, proj)
    b2 = max(0.0, comp.border_km(home) - b1) if home is not None else 0.0
    tol_km = 2 * home.tol / 1000 if home is not None else math.inf
    h1, h2 = b1 > tol_km, b2 > tol_km
    sides = [[a1, b1, h1, side1_m], [a2, b2, h2, side2_m]]
    if home is not None and h1 != h2:
        kind = NECK_HOME_LINK
        if h1:  # the cut-off side, without home, goes first
            sides.reverse()
        significant = sides[0][0] >= thr_km2
    else:
        kind = NECK_SPLIT
        if h1 and h2:  # both reach home: the side with the narrower foothold on it is cut off
            if b1 > b2:
                sides.reverse()
        elif a1 > a2:  # the smaller side is the one cut off
            sides.reverse()
        significant = min(a1, a2) >= thr_km2
    if not significant:
        return None
    shares = [sd[0] / comp.base_km2 for sd in sides]

    seg_m = LineString([p1, p2])
    seg_ll = proj.to_lonlat(seg_m)
    mid = seg_ll.interpolate(0.5, normalized=True)
    length = _narrow_length(comp, 0.5 * (p1 + p2), seg_m, width, home)
    risk = sides[0][0] * math.exp(-width / alert_width_m)  # km² at stake, weighted by narrowness
    parts = [
        NeckPart(float(sd[0]), float(sh), bool(sd[2]), float(sd[1]), i == 0, sd[3], proj)
        for i, (sd, sh) in enumerate(zip(sides, shares))
    ]
    return Neck(
        type=kind,
        width_m=width,
        length_m=length,
        segment=seg_ll,
        location=mid,
        parts=parts,
        risk=risk,
        below_threshold=width < alert_width_m,
        base=comp.base,
        base_km2=comp.base_km2,
        component_km2=comp.area_km2,
        _job=(C, comp.boundary, p1, p2, width),
    )


def _dedupe(necks: list[Neck]) -> list[Neck]:
    """One neck per place.

    The split and home-link searches, and the searches of a whole component
    and of its ground outside home, can find the same passage. The same
    place with the same cut-off side is one neck; the version measured
    against the ground outside home is kept (its shares are the telling
    ones), then home links, then the narrower reading.
    """
    kept: list[Neck] = []
    order = sorted(necks, key=lambda n: (n.base != "outside_home", n.type != NECK_HOME_LINK, n.width_m))
    for n in order:
        dup = False
        for k in kept:
            near = _geod_dist(n.location, k.location) < max(100.0, 0.75 * max(n.width_m, k.width_m))
            a, b = n.parts[0].area_km2, k.parts[0].area_km2
            if near and abs(a - b) <= 0.1 * max(a, b) + 0.01:
                dup = True
                break
        if not dup:
            kept.append(n)
    return kept


def _geod_dist(a: Point, b: Point) -> float:
    return length_m(LineString([a, b]))


#: Series rows show necks holding at least this share of all the ground analysed.
SERIES_MIN_GROUND_SHARE = 0.05


def error_row(error: str) -> dict[str, Any]:
    """A series row for a version that could not be analysed: no neck, and ``error`` saying why."""
    return {"rank": None, "width_m": None, "cut_off_km2": None, "cut_off_share": None, "ground_share": None,
            "type": None, "banks": None, "location": None, "narrowest_m": None, "n_necks": 0,
            "n_below_threshold": 0, "n_pockets": 0, "ground_km2": 0.0, "mode": None, "error": error}


def corridor_series(maps: Iterable[tuple[Any, BaseGeometry, BaseGeometry | None, BaseGeometry | None]],
                    min_ground_share: float = SERIES_MIN_GROUND_SHARE, **kw) -> list[dict[str, Any]]:
    """The neck with the most ground at stake per map version.

    Parameters
    ----------
    maps
        ``(time, held, home, contested)`` per version; ``time`` is passed
        through as given (an ISO string or a datetime).
    min_ground_share
        Rows show the best-ranked neck holding at least this share of all
        the ground analysed (see :meth:`CorridorReport.summary`).
    **kw
        Passed to :func:`find_necks` (e.g. ``enemy``).

    Returns
    -------
    list of dict
        One row per version: ``time`` and :meth:`CorridorReport.summary`.
        A version whose input is rejected gets ``width_m`` None and an
        ``error`` sentence instead of stopping the series.
    """
    rows = []
    for t, held, home, contested in maps:
        try:
            rep = find_necks(held, home=home, contested=contested, **kw)
        except ValueError as e:
            rows.append({"time": t} | error_row(str(e)))
            continue
        rows.append({"time": t} | rep.summary(min_ground_share))
    return rows
