"""The front line: where a state's own held ground faces the enemy or the grey zone.

:func:`contact_line` returns the front of one map per pair of neighbours
(``ua|ru``, ``ua|contested``, ``ru|contested``) as lon/lat MultiLineStrings
with geodesic lengths, split by state (and by region on request);
:func:`contact_line_series` gives the lengths over time and explains jumps.
What counts as front (the state border, the coast, the rear edge of the grey
zone, slivers and water) and the method are in ``docs/contact_line.md``.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from .. import geodesy  # its GEOD (pyproj) is made on first use, not at import
from ..model import CONTESTED, ControlMap, iso
from ..times import check_period, last_per_period

__all__ = [
    "ContactLine",
    "contact_line",
    "contact_line_series",
    "front_series",
    "progress_bar",
    "explain_jumps",
    "pick_periods",
    "series_row",
    "locate",
    "PROBE_M",
    "SLIVER_M",
    "WATER_M",
    "RULE",
]

#: How far beyond a boundary segment the ground is probed (metres); see the module docstring.
PROBE_M = 50.0
#: Longest boundary segment probed as one (degrees, about 1 km).
SEGMENT_DEG = 0.01
#: Home ground thinner than this between a drawn polygon and the border or coast is a sliver.
SLIVER_M = 500.0
#: Widest inland water (river, reservoir, lake) looked across for the other bank (metres).
WATER_M = 30_000.0
#: Steps at which ground across water is looked for (metres, up to ``water_m``).
_WATER_STEPS = (150.0, 300.0, 600.0, 1_200.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0, 30_000.0)
#: Series jumps above this share between consecutive rows are explained.
JUMP_SHARE = 0.05
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0

RULE = (
    "front = boundary where a state's own held ground faces the enemy or the grey zone inside that state "
    "(ua|ru and ua|grey in Ukraine, ru|ua and ru|grey in Russia), looked across rivers, reservoirs and lakes "
    "up to {water_km:g} km wide; not front: the state border, the sea coast and the theatre's edge, the rear "
    "edge of the grey zone (occupier's ground abroad | grey, given as rear_km), slivers under {sliver_m:g} m "
    "between a drawing and the border or coast"
)


@dataclass
class ContactLine:
    """The front line of one map.

    Attributes
    ----------
    lines
        ``pair → MultiLineString`` in lon/lat, pairs named ``"ua|ru"``,
        ``"ua|contested"``, ``"ru|contested"``: front segments only.
    length_km
        ``pair → geodesic km`` of front.
    total_km
        Sum over pairs: the front's length.
    rear_km
        ``pair → km`` of boundaries that are not front because neither ground
        is its state's own (an occupier's ground abroad against the grey zone).
    by_state
        ``state → pair → km``: where the front lies (``ua`` = in Ukraine).
    by_region
        ``region name → pair → km`` when regions were given.
    across_water_km
        Front km (included in ``length_km``) whose other bank lies across water.
    source, version_id, valid_time
        Which map (``valid_time`` ISO text; None when unknown).
    elapsed_s
        Wall time of the computation.
    """

    lines: dict[str, BaseGeometry]
    length_km: dict[str, float]
    total_km: float
    source: str | None = None
    version_id: str | None = None
    valid_time: str | None = None
    probe_m: float = PROBE_M
    sliver_m: float = SLIVER_M
    water_m: float = WATER_M
    elapsed_s: float = 0.0
    pairs: list[str] = field(default_factory=list)
    rear_km: dict[str, float] = field(default_factory=dict)
    by_state: dict[str, dict[str, float]] = field(default_factory=dict)
    by_region: dict[str, dict[str, float]] = field(default_factory=dict)
    across_water_km: float = 0.0

    @property
    def rule(self) -> str:
        """The rule, in one sentence, with this computation's thresholds."""
        return RULE.format(water_km=self.water_m / 1000.0, sliver_m=self.sliver_m)

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        """JSON-ready dict: front km per pair and total, rear km, per state/region (geometry on request)."""
        r3 = lambda d: {k: round(float(v), 3) for k, v in d.items()}  # noqa: E731
        d = {
            "source": self.source,
            "version_id": self.version_id,
            "time": self.valid_time,
            "length_km": {p: round(float(self.length_km[p]), 3) for p in self.pairs},
            "total_km": round(float(self.total_km), 3),
            "rear_km": r3(self.rear_km),
            "by_state": {s: r3(v) for s, v in self.by_state.items()},
            "across_water_km": round(float(self.across_water_km), 3),
            "probe_m": self.probe_m,
            "sliver_m": self.sliver_m,
            "water_m": self.water_m,
            "rule": self.rule,
        }
        if self.by_region:
            d["by_region"] = {s: r3(v) for s, v in self.by_region.items()}
        if with_geometry:
            d["geometry"] = {p: mapping(self.lines[p]) for p in self.pairs}
        return d

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection with one MultiLineString feature per pair (``pair``, ``sides``, ``length_km``)."""
        feats = []
        for p in self.pairs:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": mapping(self.lines[p]),
                    "properties": {
                        "kind": "contact_line",
                        "pair": p,
                        "sides": p.split("|"),
                        "length_km": round(float(self.length_km[p]), 3),
                        "version_id": self.version_id,
                        "time": self.valid_time,
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats, "rule": self.rule}


# --------------------------------------------------------------------------
# Cells: owner and state of the ground, and their boundaries
# --------------------------------------------------------------------------

_FILLED: dict[tuple, tuple[dict[str, BaseGeometry], list]] = {}


def _filled_homes(homes: dict[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """Each home's land with inland water filled (exterior rings only), prepared; cached per homes."""
    key = tuple((s, id(g)) for s, g in homes.items())
    hit = _FILLED.get(key)
    if hit is not None and all(g is h for g, h in zip(hit[1], homes.values())):
        return hit[0]
    filled = {}
    for side, g in homes.items():
        polys = [shapely.Polygon(p.exterior) for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
        filled[side] = shapely.multipolygons(polys)
        shapely.prepare(filled[side])
    if len(_FILLED) > 8:
        _FILLED.clear()
    _FILLED[key] = (filled, list(homes.values()))
    return filled


class _Cells:
    """Labelled polygons of a map and a vectorised lookup of points in them.

    ``emit`` cells contribute boundary segments; every cell takes part in the
    lookup. ``homes`` (side → polygon) are the fallback lookup: a point in no
    cell but in ``homes[H]`` is ``H``'s own ground in state ``H``.
    """

    def __init__(
        self,
        geoms: list[BaseGeometry],
        owners: list[str],
        states: list[str | None],
        emit: list[bool],
        homes: dict[str, BaseGeometry],
    ):
        keep = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
        self.geoms = np.array([geoms[i] for i in keep], dtype=object)
        self.owner = np.array([owners[i] for i in keep], dtype=object)
        self.state = np.array([states[i] for i in keep], dtype=object)
        self.emit = np.array([emit[i] for i in keep], dtype=bool)
        self.homes = {s: g for s, g in homes.items() if g is not None and not g.is_empty}
        self.tree = shapely.STRtree(self.geoms) if len(self.geoms) else None
        if len(self.geoms):
            shapely.prepare(self.geoms)
        for g in self.homes.values():
            shapely.prepare(g)

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(owner, state)`` per point; both None outside every cell and home."""
        n = len(x)
        owner = np.full(n, None, dtype=object)
        state = np.full(n, None, dtype=object)
        if n == 0:
            return owner, state
        found = np.zeros(n, dtype=bool)
        if self.tree is not None:
            pts = shapely.points(x, y)
            # Interiors first; a point exactly on an edge takes the first cell it touches. One box query,
            # then point-in-polygon on the prepared cells (contains_xy / intersects_xy on the candidate
            # pairs, in the query's order): the same pairs as the tree's "within" then "intersects"
            # predicates, without a second tree query for every point that lies in no cell (most of them).
            bi, bc = self.tree.query(pts)
            inside = shapely.contains_xy(self.geoms[bc], x[bi], y[bi]) if len(bi) else np.zeros(0, dtype=bool)
            pi, ci = bi[inside], bc[inside]
            has = np.zeros(n, dtype=bool)
            has[pi] = True
            rest = ~inside & ~has[bi]
            if rest.any():
                ei, ec = bi[rest], bc[rest]
                touch = shapely.intersects_xy(self.geoms[ec], x[ei], y[ei])
                pi, ci = np.concatenate([pi, ei[touch]]), np.concatenate([ci, ec[touch]])
            if len(pi):
                # A point on a shared edge may hit two cells; the first hit decides (rare, and
                # such a point is on the line itself, so either answer is within tolerance).
                first = np.unique(pi, return_index=True)[1]
                pi, ci = pi[first], ci[first]
                owner[pi] = self.owner[ci]
                state[pi] = self.state[ci]
                found[pi] = True
        todo = np.flatnonzero(~found)
        for side, g in self.homes.items():
            if len(todo) == 0:
                break
            x0, y0, x1, y1 = g.bounds
            sub = todo[(x[todo] >= x0) & (x[todo] <= x1) & (y[todo] >= y0) & (y[todo] <= y1)]
            if len(sub) == 0:
                continue
            hit = shapely.contains_xy(g, x[sub], y[sub])
            owner[sub[hit]] = side
            state[sub[hit]] = side
            todo = np.setdiff1d(todo, sub[hit], assume_unique=True)
        return owner, state


def _cells_from_control(vc) -> _Cells:
    """Cells of a VersionControl: tile parts held abroad and contested (emit), homes as fallback."""
    geoms, owners, states, emit = [], [], [], []
    for (home, what), parts in vc.tile_parts().items():
        for g in parts:
            geoms.append(g)
            owners.append(what)
            states.append(home)
            emit.append(True)
    return _Cells(geoms, owners, states, emit, dict(vc.theatre.homes))


def _cells_from_map(cm: ControlMap, sides, homes: dict[str, BaseGeometry] | None) -> _Cells:
    """Cells of a plain ControlMap: each side's held ground and the grey zone, all emitting.

    With ``homes``, held polygons are cut by state so every cell has one; without, states are unknown
    and every boundary between different owners is front.
    """
    geoms, owners, states, emit = [], [], [], []

    def add(g, owner):
        if g is None or g.is_empty:
            return
        if homes:
            for st, h in homes.items():
                for part in shapely.get_parts(shapely.intersection(g, h)):
                    if part.geom_type == "Polygon" and not part.is_empty:
                        geoms.append(part)
                        owners.append(owner)
                        states.append(st)
                        emit.append(True)
        else:
            for part in shapely.get_parts(g):
                geoms.append(part)
                owners.append(owner)
                states.append(None)
                emit.append(True)

    add(cm.contested, CONTESTED)
    for s in sides:
        add(cm.held.get(s) if hasattr(cm.held, "get") else cm.held[s], s)
    return _Cells(geoms, owners, states, emit, {})


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every boundary segment of polygons, oriented with the polygon on its right.

    Returns ``(a, b, cell)``: start and end points (n×2 arrays) and the index
    of the polygon each segment bounds.
    """
    if len(geoms) == 0:
        z = np.zeros((0, 2))
        return z, z, np.zeros(0, dtype=np.int64)
    # normalize(): exterior rings clockwise, holes counter-clockwise, so the
    # polygon's material is on the right of every ring.
    # Long straight edges (tile cuts, drawn boxes) are split every ~1 km (SEGMENT_DEG) so that
    # each probe speaks for a short stretch only.
    # get_rings() returns nothing for a MultiPolygon: explode to polygons first (tile parts are often multi).
    polys, poly_idx = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(shapely.segmentize(shapely.normalize(polys), SEGMENT_DEG), return_index=True)
    owner_idx = poly_idx[ring_poly]
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    cell = owner_idx[ring_idx[:-1][same]]
    nz = (a != b).any(axis=1)
    return a[nz], b[nz], cell[nz]


def _probe(a: np.ndarray, b: np.ndarray, probe_m) -> tuple[np.ndarray, np.ndarray]:
    """Points ``probe_m`` (scalar or per segment) to the left (outside) of each segment's midpoint, in lon/lat."""
    mid = (a + b) / 2
    k = np.cos(np.radians(mid[:, 1])) * _M_PER_DEG_LON
    dx = (b[:, 0] - a[:, 0]) * k
    dy = (b[:, 1] - a[:, 1]) * _M_PER_DEG_LAT
    n = np.hypot(dx, dy)
    n[n == 0] = 1.0
    # left normal of (dx, dy) is (-dy, dx)
    return mid[:, 0] - dy / n * probe_m / k, mid[:, 1] + dx / n * probe_m / _M_PER_DEG_LAT


def _in_filled(homes: dict[str, BaseGeometry], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """State whose land *with inland water filled* holds each point (None: sea or outside)."""
    out = np.full(len(x), None, dtype=object)
    if not len(x) or not homes:
        return out
    todo = np.arange(len(x))
    for side, g in _filled_homes(homes).items():
        if not len(todo):
            break
        x0, y0, x1, y1 = g.bounds
        sub = todo[(x[todo] >= x0) & (x[todo] <= x1) & (y[todo] >= y0) & (y[todo] <= y1)]
        if not len(sub):
            continue
        hit = shapely.contains_xy(g, x[sub], y[sub])
        out[sub[hit]] = side
        todo = np.setdiff1d(todo, sub[hit], assume_unique=True)
    return out


def _cross_water(cells: _Cells, homes, a, b, idx, in_state, water_m: float):
    """Owner and state of the first ground across inland water beyond segments ``idx`` (None: none found)."""
    owner = np.full(len(idx), None, dtype=object)
    state = np.full(len(idx), None, dtype=object)
    todo = np.arange(len(idx))
    for d in [s for s in _WATER_STEPS if s < water_m] + [water_m]:
        if not len(todo):
            break
        sel = idx[todo]
        x, y = _probe(a[sel], b[sel], d)
        o, s = cells.locate(x, y)
        land = o != None  # noqa: E711  (object array)
        owner[todo[land]] = o[land]
        state[todo[land]] = s[land]
        rest = todo[~land]
        if len(rest):
            # Still water only while inside the same state's outline; the sea or another state ends the search.
            wet = _in_filled(homes, x[~land], y[~land]) == in_state[rest]
            todo = rest[wet]
        else:
            todo = rest
    return owner, state


def contact_line(
    control,
    *,
    sides=None,
    homes: dict[str, BaseGeometry] | None = None,
    probe_m: float = PROBE_M,
    sliver_m: float = SLIVER_M,
    water_m: float = WATER_M,
    regions: dict[str, BaseGeometry] | None = None,
) -> ContactLine:
    """The front line: where a state's own held ground faces the enemy or the grey zone.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (from
        :func:`frontline.state.version_control`) or a
        :class:`~frontline.model.ControlMap` (its ``control`` is used when it
        has one).
    sides
        The sides (default: the map's sides).
    homes
        ``side → home polygon`` for a plain ControlMap: says which state each
        ground lies in, so the border, the coast and the rear of the grey zone
        are not front. Without it every boundary between different owners is
        front. Ignored for a VersionControl (its theatre knows the homes).
    probe_m
        How far beyond each boundary segment the neighbouring ground is
        probed (looks through drawing gaps narrower than this).
    sliver_m
        Home ground seen beyond a segment is probed again this far out; when
        another state or the sea lies there, the home ground was a sliver
        between a drawing and the border or coast, not front. 0: no check.
    water_m
        Widest inland water looked across for the other bank (0: water ends
        the front, as the sea does).
    regions
        ``name → polygon`` (lon/lat): front km per pair inside each.

    Returns
    -------
    ContactLine
        Geometry and geodesic length per pair, in total, per state and region.

    Raises
    ------
    ValueError
        When ``control`` is neither a VersionControl nor a ControlMap, or a
        side is called ``contested``.
    """
    t0 = _time.perf_counter()
    cells, all_sides, homes, plain, meta = _map_cells(control, sides, homes)
    sides = list(sides or all_sides)
    if CONTESTED in sides:
        raise ValueError(f"A side may not be called {CONTESTED!r}: that name is kept for grey ground.")
    order = sides + [CONTESTED]
    pairs = [f"{a}|{b}" for i, a in enumerate(order) for b in order[i + 1 :]]
    segs = _boundary_segments(cells, homes, plain, probe_m, water_m)
    front, rear, lo, hi = _front_segments(segs, order, homes, plain, probe_m, sliver_m)
    _, _, seg_m = (
        geodesy.GEOD.inv(segs.a[:, 0], segs.a[:, 1], segs.b[:, 0], segs.b[:, 1])
        if len(segs.a)
        else (None, None, np.zeros(0))
    )
    seg_km = np.asarray(seg_m, dtype=float) / 1000.0
    region_hits = _region_hits(segs, regions)
    lines: dict[str, BaseGeometry] = {}
    lengths: dict[str, float] = {}
    rear_km: dict[str, float] = {}
    by_state: dict[str, dict[str, float]] = {}
    by_region: dict[str, dict[str, float]] = {n: {} for n in region_hits}
    for i, x in enumerate(order):
        for j in range(i + 1, len(order)):
            name = f"{x}|{order[j]}"
            pair = (lo == i) & (hi == j)
            sel = front & pair
            lengths[name] = float(seg_km[sel].sum())
            if homes:
                rear_km[name] = float(seg_km[rear & pair].sum())
                for st in homes:
                    by_state.setdefault(st, {})[name] = float(seg_km[sel & (segs.in_state == st)].sum())
            for rn, hit in region_hits.items():
                by_region[rn][name] = float(seg_km[sel & hit].sum())
            lines[name] = _merged(segs, sel)
    return ContactLine(
        lines=lines,
        length_km=lengths,
        total_km=float(sum(lengths.values())),
        probe_m=probe_m,
        sliver_m=sliver_m,
        water_m=water_m,
        elapsed_s=_time.perf_counter() - t0,
        pairs=pairs,
        rear_km={k: v for k, v in rear_km.items() if v > 0},
        by_state=by_state,
        by_region=by_region,
        across_water_km=float(seg_km[front & segs.water].sum()),
        **meta,
    )


def _map_cells(
    control, sides, homes: dict[str, BaseGeometry] | None
) -> tuple[_Cells, list[str], dict[str, BaseGeometry], bool, dict[str, Any]]:
    """(cells, the map's sides, homes, whether it is a plain ControlMap, which map) of a contact-line input."""
    meta: dict[str, Any] = {}
    cm = None
    if isinstance(control, ControlMap):
        cm = control
        meta = {
            "source": cm.source,
            "version_id": cm.version_id,
            "valid_time": iso(cm.valid_time) if cm.valid_time else None,
        }
        if cm.control is not None:
            control = cm.control
    if hasattr(control, "tile_parts") and hasattr(control, "theatre"):
        return _cells_from_control(control), list(control.sides), dict(control.theatre.homes), False, meta
    if cm is not None:
        all_sides = list(cm.sides if hasattr(cm, "sides") else cm.held)
        return _cells_from_map(cm, sides or all_sides, homes), all_sides, dict(homes or {}), True, meta
    raise ValueError(f"contact_line needs a VersionControl or a ControlMap, got {type(control).__name__}.")


@dataclass
class _Segments:
    """Boundary segments ``a → b`` of the emitting cells, with who holds the ground on each side.

    ``in_*`` is the cell's own owner and state; ``out_*`` what was found just beyond (None: nothing, the sea);
    ``px``/``py`` the probe points; ``own_side`` whether the owner holds the ground just inside; ``water``
    whether the far ground was found across inland water.
    """

    a: np.ndarray
    b: np.ndarray
    in_owner: np.ndarray
    in_state: np.ndarray
    out_owner: np.ndarray
    out_state: np.ndarray
    own_side: np.ndarray
    water: np.ndarray


def _boundary_segments(
    cells: _Cells, homes: dict[str, BaseGeometry], plain: bool, probe_m: float, water_m: float
) -> _Segments:
    """Every boundary segment of the emitting cells, probed for the ground beyond (across water too)."""
    emitting = np.flatnonzero(cells.emit)
    a, b, ci = _segments(cells.geoms[emitting])
    ci = emitting[ci]
    in_owner = cells.owner[ci]
    in_state = cells.state[ci]
    px, py = _probe(a, b, probe_m)
    out_owner, out_state = cells.locate(px, py)
    own_side = np.ones(len(a), dtype=bool)
    if plain and len(a):
        # Overlapping or touching drawings leave rings with no ground of their own behind them
        # (a hole edge on the outline): a segment counts only if its own owner holds the ground
        # just inside it.
        qx, qy = _probe(b, a, min(probe_m, 5.0))
        inner, _ = cells.locate(qx, qy)
        own_side = inner == in_owner
    water = np.zeros(len(a), dtype=bool)
    if homes and water_m > 0 and len(a):
        # Inland water: no ground beyond, but inside the same state's filled outline.
        dry = out_owner == None  # noqa: E711
        cand = np.flatnonzero(dry & own_side)
        if len(cand):
            wet = _in_filled(homes, px[cand], py[cand]) == in_state[cand]
            cand = cand[wet]
        if len(cand):
            o, s = _cross_water(cells, homes, a, b, cand, in_state[cand], water_m)
            out_owner[cand], out_state[cand] = o, s
            water[cand] = o != None  # noqa: E711
    return _Segments(a, b, in_owner, in_state, out_owner, out_state, own_side, water)


def _front_segments(
    segs: _Segments, order: list[str], homes: dict[str, BaseGeometry], plain: bool, probe_m: float, sliver_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(front, rear, lower and higher rank of the two owners) per segment; each boundary counted once."""
    known = bool(homes)
    rank = {o: i for i, o in enumerate(order)}
    in_rank = np.array([rank.get(o, -1) for o in segs.in_owner], dtype=np.int64)
    out_rank = np.array([rank.get(o, -1) if o is not None else -1 for o in segs.out_owner], dtype=np.int64)
    differ = (out_rank >= 0) & (in_rank >= 0) & (in_rank != out_rank) & segs.own_side
    if known:
        in_own = segs.in_owner == segs.in_state
        out_own = segs.out_owner == segs.out_state
        same_state = (segs.in_state == segs.out_state) & (segs.in_state != None)  # noqa: E711
        front = differ & same_state & (in_own ^ out_own)
        rear = differ & same_state & ~in_own & ~out_own
        # Every boundary between two emitting cells is walked from both sides: keep one copy. Home
        # ground looked up from the homes (VersionControl) emits nothing, and across water the far
        # bank's copy is its own segment.
        out_emits = ~out_own if not plain else np.ones(len(segs.a), dtype=bool)
        once = ~out_emits | segs.water | (in_rank < out_rank)
        front &= once
        rear &= once
    else:
        in_own = out_own = np.zeros(len(segs.a), dtype=bool)
        front = differ & (in_rank < out_rank)
        rear = np.zeros(len(segs.a), dtype=bool)
    if known and sliver_m and sliver_m > probe_m:
        _drop_slivers(segs, front, in_own, out_own, homes, sliver_m)
    return front, rear, np.minimum(in_rank, out_rank), np.maximum(in_rank, out_rank)


def _drop_slivers(
    segs: _Segments,
    front: np.ndarray,
    in_own: np.ndarray,
    out_own: np.ndarray,
    homes: dict[str, BaseGeometry],
    sliver_m: float,
) -> None:
    """Unmark front segments whose own ground is a sliver against the border or coast (in place)."""
    # Own ground seen beyond a segment may be a sliver the drawing left against the border or coast:
    # look further; another state, the sea or the theatre's edge there means sliver.
    for beyond in (True, False):
        chk = np.flatnonzero(front & ~segs.water & (out_own if beyond else in_own))
        if not len(chk):
            continue
        fa, fb = (segs.a[chk], segs.b[chk]) if beyond else (segs.b[chk], segs.a[chk])
        fx, fy = _probe(fa, fb, sliver_m)
        far = _in_filled(homes, fx, fy)
        front[chk[far != segs.in_state[chk]]] = False


def _region_hits(segs: _Segments, regions: dict[str, BaseGeometry] | None) -> dict[str, np.ndarray]:
    """``name → whether each segment's midpoint lies in the region``."""
    a, b = segs.a, segs.b
    mid_x, mid_y = (a[:, 0] + b[:, 0]) / 2, (a[:, 1] + b[:, 1]) / 2
    region_hits = {}
    for name, g in (regions or {}).items():
        shapely.prepare(g)
        region_hits[name] = shapely.contains_xy(g, mid_x, mid_y) if len(a) else np.zeros(0, dtype=bool)
    return region_hits


def _merged(segs: _Segments, sel: np.ndarray) -> BaseGeometry:
    """The selected segments merged into a MultiLineString."""
    if not sel.any():
        return shapely.MultiLineString()
    lines = shapely.linestrings(np.stack([segs.a[sel], segs.b[sel]], axis=1))
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    if merged.geom_type == "LineString":
        merged = shapely.multilinestrings([merged])
    return merged


def locate(control, lon, lat) -> np.ndarray:
    """Who holds each point on a VersionControl, without building any side's whole ground.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (or a ControlMap with one).
    lon, lat
        Arrays of degrees.

    Returns
    -------
    numpy.ndarray of object
        Per point: a side, ``"contested"``, or None outside the theatre.
        Boundary points take the first part they touch (settlements.py's
        boundary rules are finer; this is the fast lookup).
    """
    if isinstance(control, ControlMap):
        control = control.control
    if control is None or not hasattr(control, "tile_parts"):
        raise ValueError("locate needs a VersionControl (a map read from a store).")
    cells = _cells_from_control(control)
    owner, _ = cells.locate(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return owner


def contact_line_series(
    store,
    start=None,
    end=None,
    *,
    every: str | None = None,
    source: str | None = None,
    regions: dict[str, BaseGeometry] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Length of the front per version (or per period) over a time range, with jumps explained.

    Parameters
    ----------
    store
        An open store.
    start, end
        Time range (ISO text or epoch seconds); all versions when None.
    every
        ``day``, ``week`` or ``month``: one row per period, the last version of each.
    source
        Source name; the default source when None.
    regions
        ``name → polygon``: front km per pair inside each (``by_region``).
    progress
        Show a progress bar.

    Returns
    -------
    list of dict
        ``time``, ``version_id``, ``length_km`` (pair → km), ``total_km``,
        ``by_state`` (and ``period`` with ``every``, ``by_region`` with
        ``regions``). A row whose total moved more than 5% from the row
        before has ``jump``: the change, the pair that moved most, and the
        km² that changed hands between the two versions, so a reader can
        tell a real move from a redrawing.
    """
    return front_series(store, start, end, every=every, source=source, regions=regions, progress=progress)[0]


def front_series(
    store,
    start=None,
    end=None,
    *,
    every: str | None = None,
    source: str | None = None,
    regions: dict[str, BaseGeometry] | None = None,
    progress: bool = False,
    rule: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """As :func:`contact_line_series`, the rows ``frontline recompute`` stored read instead of computed.

    Parameters
    ----------
    store, start, end, every, source, regions, progress
        As for :func:`contact_line_series`.
    rule
        The rule version of stored contact lines to read
        (``frontline.analysis.materialise.RULES["contact-line"]``); None, or
        with ``regions`` (stored lines are for the whole map), every row is
        computed. Only rows of the version's current revision count.

    Returns
    -------
    rows, n_stored
        The rows (the same either way) and how many were read from the store.

    Raises
    ------
    EmptyRangeError
        When no version lies in the range (the message names the nearest ones).
    """
    from ..state import version_control, versions_between
    from ..store.results import stored_series_members

    check_period(every)
    picked = pick_periods(versions_between(store, start, end, source), every)
    stored: dict[str, dict[str, Any] | None] = {}  # no None here: null members are left out
    if rule is not None and regions is None:
        stored = stored_series_members(store, "contact-line", "", [v for _, v in picked], rule=rule)
    rows: list[dict[str, Any]] = []
    todo = len(picked) - len(stored)
    with progress_bar(todo, "front length", progress and todo > 5) as advance:
        for period, v in picked:
            got = stored.get(v.version_id)
            if got is None:
                rows.append(series_row(v, period, contact_line(version_control(store, v), regions=regions)))
                advance()
                continue
            head: dict[str, Any] = {"time": iso(v.valid_time), "version_id": v.version_id}
            rows.append(head | ({"period": period} if period is not None else {}) | got)
    explain_jumps(store, rows, source)
    return rows, len(stored)


def progress_bar(total: int, label: str, enabled: bool):
    """A progress bar on stderr (:func:`frontline._progress.progress_bar`), rich imported only when drawn."""
    if not enabled:
        from contextlib import nullcontext

        return nullcontext(lambda n=1: None)
    from .._progress import progress_bar as bar

    return bar(total, label)


def pick_periods(versions: list, every: str | None) -> list[tuple[str | None, Any]]:
    """``(period, version)`` pairs: every version (period None), or the last version of each ``every``."""
    if not every:
        return [(None, v) for v in versions]
    return list(last_per_period(versions, every).items())


def series_row(v, period: str | None, cl: ContactLine) -> dict[str, Any]:
    """One series row of version ``v``'s front ``cl`` (km rounded to metres)."""
    r3 = lambda d: {k: round(x, 3) for k, x in d.items()}  # noqa: E731
    row: dict[str, Any] = {"time": iso(v.valid_time), "version_id": v.version_id}
    if period is not None:
        row["period"] = period
    row["length_km"] = {p: round(cl.length_km[p], 3) for p in cl.pairs}
    row["total_km"] = round(cl.total_km, 3)
    row["by_state"] = {st: r3(d) for st, d in cl.by_state.items()}
    if cl.by_region:
        row["by_region"] = {n: r3(d) for n, d in cl.by_region.items()}
    return row


def explain_jumps(store, rows: list[dict[str, Any]], source: str | None) -> None:
    """Add ``jump`` to the series rows whose total length moved more than :data:`JUMP_SHARE` from the row before.

    Parameters
    ----------
    store
        An open store (the theatre's area series says how much ground changed hands between the two rows).
    rows
        Series rows (:func:`series_row`) in time order; changed in place.
    source
        Source name; the default source when None.

    Notes
    -----
    ``jump`` holds the change in km and as a share, the pair of sides that moved most, the km² that changed
    hands, and a note that says when the line was redrawn more than the ground moved.
    """
    from .area import stored_areas

    jumps = [
        i
        for i in range(1, len(rows))
        if rows[i - 1]["total_km"] > 0
        and abs(rows[i]["total_km"] - rows[i - 1]["total_km"]) > JUMP_SHARE * rows[i - 1]["total_km"]
    ]
    if not jumps:
        return
    wanted = {rows[k]["version_id"] for i in jumps for k in (i - 1, i)}
    areas = stored_areas(store, [v for v in store.versions(source) if v.version_id in wanted], source=source)
    for i in jumps:
        prev, cur = rows[i - 1], rows[i]
        d = cur["total_km"] - prev["total_km"]
        dp = {p: cur["length_km"][p] - prev["length_km"].get(p, 0.0) for p in cur["length_km"]}
        pair = max(dp, key=lambda p: abs(dp[p]))
        a0, a1 = areas.get(prev["version_id"]), areas.get(cur["version_id"])
        moved = {}
        if a0 and a1:
            for k, val in a1.items():
                if (
                    k.endswith("_km2")
                    and not k.startswith(("peak_", "net_"))
                    and val is not None
                    and a0.get(k) is not None
                ):
                    moved[k[:-4]] = round(val - a0[k], 1)
        changed = sum(abs(x) for x in moved.values()) / 2 if moved else None
        what = ", ".join(f"{k} {x:+,.0f} km²" for k, x in moved.items() if abs(x) >= 0.5) or "no area changed hands"
        note = f"{d / prev['total_km']:+.0%} ({pair} {dp[pair]:+,.0f} km) since {prev['time']}: {what}" + (
            " — the line was redrawn more than the ground moved"
            if changed is not None and changed < 0.2 * abs(d)
            else ""
        )
        cur["jump"] = {
            "change_km": round(d, 3),
            "change_share": round(d / prev["total_km"], 4),
            "pair": pair,
            "pair_change_km": round(dp[pair], 3),
            "area_change_km2": moved,
            "note": note,
        }
