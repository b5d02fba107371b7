"""The contact line: where one side's held ground meets the other's or the grey zone.

:func:`contact_line` returns the line, per pair of neighbours (``ua|ru``,
``ua|contested``, ``ru|contested``), as lon/lat MultiLineStrings with
geodesic lengths; :func:`contact_line_series` gives the lengths over time.

What counts as front
--------------------
The theatre is a partition into cells, each with an *owner* (a side or
``contested``) and a *home* (the state it lies in). A boundary between two
cells is **front** when the owners differ, **except** where both cells are
home ground held by their own side: that is the state border, and nobody
fights across it on the map (the Russia–Ukraine border north of Kharkiv and
Sumy, where Russia holds Russia and Ukraine holds Ukraine). As soon as one
side holds ground across the border, or the grey zone reaches it, the line
there is front: ``ua`` ground in Kursk oblast meets Russian-held Russia along a
front inside Russia, and grey ground at Vovchansk meets Russian-held Russia at
the border. The edge of the theatre (sea coast, Belarus, the cut of Russia's
theatre box) borders no cell and is never front. Boundaries between cells of
one owner (ground held abroad meeting the holder's own home at the border,
grey ground on both sides of the border, tile cuts) are not front either.

Border slivers: source drawings and the state border disagree by tens of
metres, which leaves thin slivers of "home-held" ground between a drawn
polygon and the border. Each boundary segment is classified by probing the
ground ``probe_m`` (default 50 m) beyond its midpoint, so a sliver narrower
than that is looked through, and the segment is classified by what lies
beyond it (the same 50 m tolerance :mod:`frontline.analysis.corridors` uses
for home's border). Where home ground is seen beyond a segment, a second
probe ``sliver_m`` (default 500 m) out decides: if it finds the sea, the
theatre's edge or the inside side's own ground, the home ground was a sliver
left between a drawn polygon and the border or coast, and the segment is not
front. On the real archive this removes about 120 km of false ``ua|ru`` line
along the Azov coast and the Luhansk border (Aug 2025: 151 → 24 km); a real
front is never within 500 m of such a place for long.

Method
------
From a :class:`~frontline.normalise.VersionControl` (what the store
rebuilds), only the boundaries of the small parts are walked: ground held
abroad and contested ground, per 0.5° tile, as stored. Every front segment
lies on such a boundary, because a front always has non-home ground on at
least one side. Rings are normalised (material on the right), every segment's
outward probe point is located with one vectorised STRtree query over the
parts and a prepared point-in-polygon test against the homes, and the
segments that are front are kept. Lengths are geodesic (WGS84) segment by
segment; the geometry is the kept segments line-merged. No large polygon
(a side's whole country) is ever built, which keeps one version under
0.1 s. A plain :class:`~frontline.model.ControlMap` (no VersionControl) is
walked the same way over its held and contested polygons, with ``homes``
(optional) deciding which ground is home ground.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ..geodesy import GEOD
from ..model import CONTESTED, ControlMap, iso, utc

__all__ = ["ContactLine", "contact_line", "contact_line_series", "locate", "PROBE_M"]

#: How far beyond a boundary segment the ground is probed (metres); see the module docstring.
PROBE_M = 50.0
#: Longest boundary segment probed as one (degrees, about 1 km).
SEGMENT_DEG = 0.01
#: Home ground thinner than this between a drawn polygon and the border or coast is a sliver.
SLIVER_M = 500.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


def _pair_name(a: str, b: str, order: list[str]) -> str:
    a, b = sorted((a, b), key=order.index)
    return f"{a}|{b}"


@dataclass
class ContactLine:
    """The contact line of one map.

    Attributes
    ----------
    lines
        ``pair → MultiLineString`` in lon/lat, pairs named ``"ua|ru"``,
        ``"ua|contested"``, ``"ru|contested"``.
    length_km
        ``pair → geodesic km``.
    total_km
        Sum over pairs.
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
    elapsed_s: float = 0.0
    pairs: list[str] = field(default_factory=list)

    def to_dict(self, with_geometry: bool = False) -> dict[str, Any]:
        """JSON-ready dict: lengths per pair and total (geometry as GeoJSON on request)."""
        d = {
            "source": self.source,
            "version_id": self.version_id,
            "time": self.valid_time,
            "length_km": {p: round(float(self.length_km[p]), 3) for p in self.pairs},
            "total_km": round(float(self.total_km), 3),
            "probe_m": self.probe_m,
            "rule": "front = boundary between ground of different owners, except where both sides hold "
                    "their own home ground (the state border); the theatre's edge is never front",
        }
        if with_geometry:
            d["geometry"] = {p: mapping(self.lines[p]) for p in self.pairs}
        return d

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection with one MultiLineString feature per pair (``pair``, ``sides``, ``length_km``)."""
        feats = []
        for p in self.pairs:
            feats.append({
                "type": "Feature",
                "geometry": mapping(self.lines[p]),
                "properties": {"kind": "contact_line", "pair": p, "sides": p.split("|"),
                               "length_km": round(float(self.length_km[p]), 3),
                               "version_id": self.version_id, "time": self.valid_time},
            })
        return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------
# Cells: owner/home of the ground, and their boundaries
# --------------------------------------------------------------------------


class _Cells:
    """Labelled polygons of a map and a vectorised lookup of points in them.

    ``emit`` cells contribute boundary segments; every cell takes part in the
    lookup. ``homes`` (side → polygon) are the fallback lookup: a point in no
    cell but in ``homes[H]`` is ``H``'s home ground.
    """

    def __init__(self, geoms: list[BaseGeometry], owners: list[str], home_held: list[bool],
                 emit: list[bool], homes: dict[str, BaseGeometry]):
        keep = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
        self.geoms = np.array([geoms[i] for i in keep], dtype=object)
        self.owner = np.array([owners[i] for i in keep], dtype=object)
        self.home_held = np.array([home_held[i] for i in keep], dtype=bool)
        self.emit = np.array([emit[i] for i in keep], dtype=bool)
        self.homes = {s: g for s, g in homes.items() if g is not None and not g.is_empty}
        self.tree = shapely.STRtree(self.geoms) if len(self.geoms) else None
        if len(self.geoms):
            shapely.prepare(self.geoms)
        for g in self.homes.values():
            shapely.prepare(g)

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(owner, home_held)`` per point; owner None outside every cell and home."""
        n = len(x)
        owner = np.full(n, None, dtype=object)
        home_held = np.zeros(n, dtype=bool)
        if n == 0:
            return owner, home_held
        found = np.zeros(n, dtype=bool)
        if self.tree is not None:
            pts = shapely.points(x, y)
            # Interiors first; a point exactly on an edge takes the first cell it touches.
            pi, ci = self.tree.query(pts, predicate="within")
            edge = np.setdiff1d(np.arange(n), pi)
            if len(edge):
                pe, ce = self.tree.query(pts[edge], predicate="intersects")
                pi, ci = np.concatenate([pi, edge[pe]]), np.concatenate([ci, ce])
            if len(pi):
                # A point on a shared edge may hit two cells; the first hit decides (rare, and
                # such a point is on the line itself, so either answer is within tolerance).
                first = np.unique(pi, return_index=True)[1]
                pi, ci = pi[first], ci[first]
                owner[pi] = self.owner[ci]
                home_held[pi] = self.home_held[ci]
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
            home_held[sub[hit]] = True
            todo = np.setdiff1d(todo, sub[hit], assume_unique=True)
        return owner, home_held


def _cells_from_control(vc) -> _Cells:
    """Cells of a VersionControl: tile parts held abroad and contested (emit), homes as fallback."""
    geoms, owners, hh, emit = [], [], [], []
    for (home, what), parts in vc.tile_parts().items():
        for g in parts:
            geoms.append(g)
            owners.append(what)
            hh.append(False)
            emit.append(True)
    return _Cells(geoms, owners, hh, emit, dict(vc.theatre.homes))


def _cells_from_map(cm: ControlMap, sides, homes: dict[str, BaseGeometry] | None) -> _Cells:
    """Cells of a plain ControlMap: each side's held ground and the grey zone, all emitting."""
    geoms, owners, hh, emit = [], [], [], []
    c = cm.contested
    for g in ([] if c is None or c.is_empty else shapely.get_parts(c)):
        geoms.append(g)
        owners.append(CONTESTED)
        hh.append(False)
        emit.append(True)
    for s in sides:
        g = cm.held.get(s) if hasattr(cm.held, "get") else cm.held[s]
        if g is None or g.is_empty:
            continue
        for part in shapely.get_parts(g):
            geoms.append(part)
            owners.append(s)
            hh.append(False)  # decided per point below when homes are given
            emit.append(True)
    cells = _Cells(geoms, owners, hh, emit, {})
    cells.side_homes = homes or {}
    return cells


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
    rings, owner_idx = shapely.get_rings(shapely.segmentize(shapely.normalize(geoms), SEGMENT_DEG),
                                         return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    cell = owner_idx[ring_idx[:-1][same]]
    nz = (a != b).any(axis=1)
    return a[nz], b[nz], cell[nz]


def _probe(a: np.ndarray, b: np.ndarray, probe_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points ``probe_m`` to the left (outside) of each segment's midpoint, in lon/lat."""
    mid = (a + b) / 2
    k = np.cos(np.radians(mid[:, 1])) * _M_PER_DEG_LON
    dx = (b[:, 0] - a[:, 0]) * k
    dy = (b[:, 1] - a[:, 1]) * _M_PER_DEG_LAT
    n = np.hypot(dx, dy)
    n[n == 0] = 1.0
    # left normal of (dx, dy) is (-dy, dx)
    return mid[:, 0] - dy / n * probe_m / k, mid[:, 1] + dx / n * probe_m / _M_PER_DEG_LAT


def contact_line(control, *, sides=None, homes: dict[str, BaseGeometry] | None = None,
                 probe_m: float = PROBE_M, sliver_m: float = SLIVER_M) -> ContactLine:
    """The line where held ground of one side meets the other's or the grey zone.

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
        ``side → home polygon`` for a plain ControlMap: decides which ground
        is home ground, so the undisputed state border is not front. Without
        it every boundary between different owners is front. Ignored for a
        VersionControl (its theatre knows the homes).
    probe_m
        How far beyond each boundary segment the neighbouring ground is
        probed (looks through border slivers narrower than this).
    sliver_m
        Home ground seen beyond a segment is probed again this far out; when
        the sea, the theatre's edge or the inside side's own ground lies
        there, the home ground was a sliver and the segment is not front.
        0 turns the check off.

    Returns
    -------
    ContactLine
        Geometry and geodesic length per pair and in total.

    Raises
    ------
    ValueError
        When ``control`` is neither a VersionControl nor a ControlMap, or a
        side is called ``contested``.
    """
    t0 = _time.perf_counter()
    meta: dict[str, Any] = {}
    cm = None
    if isinstance(control, ControlMap):
        cm = control
        meta = {"source": cm.source, "version_id": cm.version_id,
                "valid_time": iso(cm.valid_time) if cm.valid_time else None}
        if cm.control is not None:
            control = cm.control
    if hasattr(control, "tile_parts") and hasattr(control, "theatre"):
        all_sides = list(control.sides)
        cells = _cells_from_control(control)
        plain = False
    elif cm is not None:
        all_sides = list(cm.sides if hasattr(cm, "sides") else cm.held)
        cells = _cells_from_map(cm, sides or all_sides, homes)
        plain = True
    else:
        raise ValueError(f"contact_line needs a VersionControl or a ControlMap, got {type(control).__name__}.")
    sides = list(sides or all_sides)
    if CONTESTED in sides:
        raise ValueError(f"A side may not be called {CONTESTED!r}: that name is kept for grey ground.")
    order = sides + [CONTESTED]
    pairs = [f"{a}|{b}" for i, a in enumerate(order) for b in order[i + 1:]]

    emitting = np.flatnonzero(cells.emit)
    a, b, ci = _segments(cells.geoms[emitting])
    ci = emitting[ci]
    px, py = _probe(a, b, probe_m)
    out_owner, out_home = cells.locate(px, py)
    in_owner = cells.owner[ci]
    in_home = cells.home_held[ci]
    if plain and cells.side_homes:
        # Which ground is home ground: the inside of a segment is tested just inside it.
        qx, qy = _probe(b, a, min(probe_m, 5.0))  # right of the segment = inside the cell
        for s, g in cells.side_homes.items():
            shapely.prepare(g)
            m_in = in_owner == s
            if m_in.any():
                in_home[m_in] = shapely.contains_xy(g, qx[m_in], qy[m_in])
            m_out = out_owner == s
            if m_out.any():
                out_home[m_out] = shapely.contains_xy(g, px[m_out], py[m_out])
    own_side = np.ones(len(a), dtype=bool)
    if plain and len(a):
        # Overlapping or touching drawings leave rings with no ground of their own behind them
        # (a hole edge on the outline): a segment counts only if its own owner holds the ground
        # just inside it.
        qx, qy = _probe(b, a, min(probe_m, 5.0))
        inner, _ = cells.locate(qx, qy)
        own_side = inner == in_owner
    rank = {o: i for i, o in enumerate(order)}
    in_rank = np.array([rank.get(o, -1) for o in in_owner], dtype=np.int64)
    out_rank = np.array([rank.get(o, -1) if o is not None else -1 for o in out_owner], dtype=np.int64)
    # The outer cell also emits its own copy of a shared segment unless it is home ground
    # looked up from the homes (VersionControl path) — keep one copy, from the lower rank.
    out_emits = ~out_home if not plain else np.ones(len(out_home), dtype=bool)
    front = (
        (out_rank >= 0) & (in_rank >= 0) & (in_rank != out_rank)
        & ~(in_home & out_home)
        & (~out_emits | (in_rank < out_rank))
        & own_side
    )
    if sliver_m and sliver_m > probe_m:
        # Home ground seen beyond a segment may be a sliver the drawing left against the
        # border or coast: look further; sea or the holder's own ground there means sliver.
        chk = np.flatnonzero(front & out_home)
        if len(chk):
            fx, fy = _probe(a[chk], b[chk], sliver_m)
            far_owner, _ = cells.locate(fx, fy)
            sliver = np.array([f is None or f == o for f, o in zip(far_owner, in_owner[chk])], dtype=bool)
            front[chk[sliver]] = False
        if plain:
            # A plain map's home ground emits segments too: home ground that is not the same
            # owner's ground sliver_m inside is a sliver (drawing and border disagree).
            chk = np.flatnonzero(front & in_home)
            if len(chk):
                fx, fy = _probe(b[chk], a[chk], sliver_m)
                far_owner, _ = cells.locate(fx, fy)
                sliver = np.array([f != o for f, o in zip(far_owner, in_owner[chk])], dtype=bool)
                front[chk[sliver]] = False
    lines: dict[str, BaseGeometry] = {}
    lengths: dict[str, float] = {}
    lo = np.minimum(in_rank, out_rank)
    hi = np.maximum(in_rank, out_rank)
    _, _, seg_m = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1]) if len(a) else (None, None, np.zeros(0))
    seg_m = np.asarray(seg_m, dtype=float)
    for i, x in enumerate(order):
        for j in range(i + 1, len(order)):
            name = f"{x}|{order[j]}"
            sel = front & (lo == i) & (hi == j)
            lengths[name] = float(seg_m[sel].sum()) / 1000.0
            if sel.any():
                segs = shapely.linestrings(np.stack([a[sel], b[sel]], axis=1))
                merged = shapely.line_merge(shapely.multilinestrings(segs))
                if merged.geom_type == "LineString":
                    merged = shapely.multilinestrings([merged])
                lines[name] = merged
            else:
                lines[name] = shapely.MultiLineString()
    return ContactLine(lines=lines, length_km=lengths, total_km=float(sum(lengths.values())),
                       probe_m=probe_m, elapsed_s=_time.perf_counter() - t0, pairs=pairs, **meta)


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


def contact_line_series(store, start=None, end=None, *, every: str | None = None,
                        source: str | None = None) -> list[dict[str, Any]]:
    """Length of the contact line per version (or per period) over a time range.

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

    Returns
    -------
    list of dict
        ``time``, ``version_id``, ``length_km`` (pair → km), ``total_km``
        (and ``period`` with ``every``).
    """
    from ..state import version_control
    from .area import PERIODS, _period_key, parse_time

    if every is not None and every not in PERIODS:
        raise ValueError(f"--every must be one of {', '.join(PERIODS)}, not {every!r}.")
    t0, t1 = parse_time(start), parse_time(end)
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValueError(f"The range is inverted: start {iso(t0)} is after end {iso(t1)}.")
    versions = [v for v in store.versions(source)
                if (t0 is None or v.valid_time >= t0) and (t1 is None or v.valid_time <= t1)]
    if not versions:
        raise ValueError(f"No version of {store.default_source(source)} between "
                         f"{iso(t0) if t0 else 'the start'} and {iso(t1) if t1 else 'the end'}.")
    periods: dict[str, Any] = {}
    if every:
        for v in versions:
            periods[_period_key(utc(v.valid_time), every)] = v
        picked = list(periods.items())
    else:
        picked = [(None, v) for v in versions]
    rows = []
    for period, v in picked:
        cl = contact_line(version_control(store, v))
        row = {"time": iso(v.valid_time), "version_id": v.version_id}
        if period is not None:
            row["period"] = period
        row["length_km"] = {p: round(cl.length_km[p], 3) for p in cl.pairs}
        row["total_km"] = round(cl.total_km, 3)
        rows.append(row)
    return rows
