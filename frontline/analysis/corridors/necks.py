"""Necks and pockets of one control map: :func:`find_necks`, ranked by the ground at stake."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from frontline.geodesy import LocalProjection, area_km2

from .erosion import _Candidate, _events, _Filtration, _Grouping, _refine
from .facing import _HOSTILE, _Facing, _geometry_lookup
from .measure import (
    _Component,
    _geod_dist,
    _Home,
    _home_border_km,
    _home_context,
    _measure_segment,
    _narrow_length,
    _split_sides,
)
from .prepare import _checked_polygonal, _clean, _outside_home, _polygons_only
from .report import (
    MODE_HELD,
    MODE_HELD_CONTESTED,
    NECK_HOME_LINK,
    NECK_SPLIT,
    CorridorReport,
    Neck,
    NeckPart,
    Pocket,
)


def _rule_text(
    mode: str,
    min_part_km2: float,
    min_part_share: float,
    max_width_m: float,
    alert_width_m: float,
    ladder_ratio: float,
    min_pocket_km2: float,
    facing_known: bool,
    front_m: float,
) -> str:
    facing = (
        f"Only ground facing the enemy or the grey zone counts: a neck needs a bank on enemy or grey ground "
        f"(not sea, lakes, own ground or home's border, nor the undisputed state border), a pocket at least "
        f"{front_m:g} m of such outline. "
        if facing_known
        else "What lies beyond the ground is unknown: every edge counts as facing the enemy. "
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
        Smallest side as a share of the base area (see ``docs/corridors.md``).
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
    held = _checked_polygonal(held, "held", required=True, fill_km2=min_hole_km2)
    home = _checked_polygonal(home, "home", required=False, repair=False)
    contested = _checked_polygonal(contested, "contested", required=False, fill_km2=min_hole_km2)
    _check_params(max_width_m, alert_width_m, min_part_share, ladder_ratio, enemy)
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
    facing = _facing_for(enemy, None if include_contested else contested, home, ground, proj, home_ctx)

    necks: list[Neck] = []
    for unit in _units(comps_m, comp_areas, proj, home_ctx, min_km2, simplify_m, max_work_vertices):
        necks.extend(
            _component_necks(
                unit, home_ctx, min_km2, min_part_share, max_width_m, alert_width_m, min_width_m, ladder_ratio, facing
            )
        )
    necks, left_necks = _rank_facing(_dedupe(necks), facing)
    pockets, left_pockets = _pockets(comps_ll, comp_areas, comps_m, proj, home_ctx, facing, min_pocket_km2, home_tol_m)
    left_out = {"necks": left_necks, "pockets": left_pockets}

    return CorridorReport(
        mode=mode,
        rule=_rule_text(
            mode,
            min_km2,
            min_part_share,
            max_width_m,
            alert_width_m,
            ladder_ratio,
            min_pocket_km2,
            facing is not None,
            2 * home_tol_m,
        ),
        necks=necks,
        pockets=pockets,
        params=params,
        ground_km2=float(comp_areas.sum()),
        n_components=len(comps_ll),
        main_body_km2=float(comp_areas[0]) if len(comp_areas) else 0.0,
        elapsed_s=time.perf_counter() - t0,
        left_out=left_out,
    )


def _check_params(max_width_m: float, alert_width_m: float, min_part_share: float, ladder_ratio: float, enemy) -> None:
    """Refuse parameters :func:`find_necks` cannot work with, saying which and why."""
    if max_width_m <= 0 or alert_width_m <= 0:
        raise ValueError("max_width_m and alert_width_m must be positive distances in metres.")
    if not (0 <= min_part_share < 1):
        raise ValueError("min_part_share must be a fraction between 0 and 1.")
    if ladder_ratio <= 1:
        raise ValueError("ladder_ratio must be greater than 1.")
    if enemy is not None and not callable(enemy) and not isinstance(enemy, BaseGeometry):
        raise ValueError(f"enemy must be a shapely geometry or a function of (lon, lat), got {type(enemy).__name__}.")


def _facing_for(enemy, grey: BaseGeometry | None, home, ground, proj: LocalProjection, home_ctx) -> _Facing | None:
    """What the banks face: from a lookup function as given, or from the enemy's ground; None when unknown."""
    if enemy is None:
        return None
    if callable(enemy):
        lookup = enemy
    else:
        enemy_ll = _checked_polygonal(enemy, "enemy", required=False, repair=False)
        lookup = _geometry_lookup(enemy_ll, grey, home, ground)
    return _Facing(lookup, proj, home_ctx)


def _rank_facing(necks: list[Neck], facing: _Facing | None) -> tuple[list[Neck], int]:
    """Necks with a bank on enemy or grey ground, ranked by risk; and how many were left out."""
    left_out = 0
    if facing is not None and necks:
        for n, b in zip(necks, facing.banks([n._job for n in necks])):
            n.banks = b
        military = [n for n in necks if any(b in _HOSTILE for b in n.banks)]
        left_out = len(necks) - len(military)
        necks = military
    necks.sort(key=lambda n: (-n.risk, n.width_m))
    for i, n in enumerate(necks):
        n.rank = i + 1
    return necks, left_out


def _pockets(
    comps_ll,
    comp_areas,
    comps_m,
    proj: LocalProjection,
    home_ctx,
    facing: _Facing | None,
    min_pocket_km2: float,
    home_tol_m: float,
) -> tuple[list[Pocket], int]:
    """Components other than the largest that do not reach home and face the enemy; and how many were left out."""
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
    pockets: list[Pocket] = []
    left_out = 0
    for idx, front_km in zip(cut_off, fronts):
        if (
            front_km is not None and front_km * 1000 < 2 * home_tol_m
        ):  # an island, or ground facing only sea and own ground
            left_out += 1
            continue
        g = comps_ll[idx]
        pockets.append(Pocket(area_km2=float(comp_areas[idx]), centroid=g.centroid, geometry=g, front_km=front_km))
    return pockets, left_out


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
        if (
            home is not None
            and bool(shapely.dwithin(home.poly_m, C, home.tol))
            and not shapely.contains_properly(home.poly_m, C)
        ):
            outside = _outside_home(C, home.poly_m, home.tol / 2)
            if C.area - outside.area > 1e-3 * C.area:
                yield _Component(C, proj, float(area), "component", float(area), False, simplify_m, max_work_vertices)
                pieces = shapely.get_parts(outside)
                pieces = pieces[shapely.area(pieces) >= max(min_km2, 1e-9) * 1e6]
                if len(pieces):
                    base_km2 = area_km2(proj.to_lonlat(outside))
                    for piece in pieces:
                        yield _Component(
                            piece,
                            proj,
                            area_km2(proj.to_lonlat(piece)),
                            "outside_home",
                            base_km2,
                            True,
                            simplify_m,
                            max_work_vertices,
                        )
                continue
        yield _Component(
            C, proj, float(area), "component", float(area), home is not None, simplify_m, max_work_vertices
        )


def _component_necks(
    comp: _Component,
    home: _Home | None,
    min_km2: float,
    share: float,
    max_width_m: float,
    alert_width_m: float,
    min_width_m: float,
    ratio: float,
    facing: _Facing | None = None,
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


def _build_neck(
    comp: _Component,
    cand: _Candidate,
    home: _Home | None,
    thr_km2: float,
    alert_width_m: float,
    max_width_m: float,
    facing: _Facing | None = None,
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
