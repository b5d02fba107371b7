"""The erosion filtration: ground eroded by discs of growing radius, and the bridges whose loss splits it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from .prepare import _polygon_parts, _polygons_only

_HOME = -1  # graph node standing for home territory


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
            self._weight[j] = (
                shapely.buffer(self.pieces[j], self.r, quad_segs=8).area / 1e6 if self.r > 0 else self.area[j]
            )
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
        rings = [shapely.get_interior_ring(p, np.arange(shapely.get_num_interior_rings(p))) for p in parts]
        holes = np.concatenate(rings) if rings else np.array([], dtype=object)
        self._holes = shapely.polygons(holes) if len(holes) else holes

    def _erode(self, r: float) -> BaseGeometry:
        if r <= 0:
            return self.geom
        outer = shapely.buffer(self._outer, -r, quad_segs=self.quad_segs)
        outer = (
            shapely.union_all(outer[~shapely.is_empty(outer)])
            if len(outer) > 1
            else (outer[0] if len(outer) else Polygon())
        )
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
        key: int | tuple[str, int] | None
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
        for toks in by_parent.values():
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
    iv = _Interval(r_lo, p_lo, r_hi, p_hi)
    if r_hi - r_lo <= _eps(r_hi):
        return _emit(filt, grouping, tokens, iv)
    out: list[_Candidate] = []
    for br in _cut_bridges(filt, grouping, tokens, iv):
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
            cands.extend(_emit(filt, grouping, tokens, _Interval(a, pa, b, pb), r_floor=r_lo))
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


def _refine_local(filt: _Filtration, grouping: _Grouping, br: _Bridge) -> list[_Candidate]:
    """Bisect one bridge on a window around it, with one core point per side."""
    r_hi = br.r_hi
    assert br.geom is not None  # only bridges with a geometry are refined
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


@dataclass(frozen=True)
class _Interval:
    """Two radii of the erosion, ``r_lo < r_hi``, and the partition of the event's tokens at each."""

    r_lo: float
    p_lo: frozenset
    r_hi: float
    p_hi: frozenset


def _emit(
    filt: _Filtration, grouping: _Grouping, tokens: list, iv: _Interval, r_floor: float | None = None
) -> list[_Candidate]:
    """Place a neck centre on each bridge that closes between ``r_lo`` and ``r_hi``.

    Over a very thin interval the bridge can drown in the round-off of the
    polygonal arcs (about 0.5 % of the radius); the interval is then widened
    downwards (never below ``r_floor``, where the sides were known joined)
    until the bridge stands out.
    """
    r_lo, r_hi, p_hi = iv.r_lo, iv.r_hi, iv.p_hi
    bridges = _cut_bridges(filt, grouping, tokens, iv)
    if any(br.geom is None for br in bridges):
        banded = _cut_bridges(filt, grouping, tokens, iv, band=True)
        if banded and all(br.geom is not None for br in banded):
            bridges = banded
    if r_floor is not None and any(br.geom is None for br in bridges):
        for k in (4.0, 16.0):
            lo2 = max(r_floor, r_hi - k * (r_hi - r_lo))
            wider = _cut_bridges(
                filt, grouping, tokens, _Interval(lo2, _partition(filt, lo2, tokens, grouping), r_hi, p_hi)
            )
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


def _cut_bridges(
    filt: _Filtration, grouping: _Grouping, tokens: list, iv: _Interval, band: bool = False
) -> list[_Bridge]:
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
    r_lo, p_lo, r_hi, p_hi = iv.r_lo, iv.p_lo, iv.r_hi, iv.p_hi
    lo, hi = filt.level(r_lo), filt.level(r_hi)
    gap = 0.0 if band else r_hi - r_lo
    delta = 0.0 if band else max(0.25, 0.004 * r_hi)  # clears buffer round-off between the two erosions
    out: list[_Bridge] = []
    for block in p_lo:
        subs = [s for s in p_hi if s <= block]
        if len(subs) < 2:
            continue
        bg = _block_graph(filt, grouping, tokens, sorted(block), lo, hi, r_lo, gap, delta, band)
        if bg is None:
            continue
        cuts = bg.cuts()
        if not cuts:
            s1, s2 = subs[0], subs[1]
            if any(tokens[i] is None for i in s1):
                s1, s2 = s2, s1
            side1_points = [tokens[i] for i in s1 if tokens[i] is not None]
            out.append(_Bridge(None, r_lo, r_hi, [], [], bg.hi_pieces, side1_points, None))
            continue
        out.extend(bg.bridge(parts, x, tokens, r_lo, r_hi) for parts, x in cuts.items())
    return out


@dataclass
class _BlockGraph:
    """One block of tokens joined at ``r_lo``: its ``r_hi`` pieces, home and the bridges between them, as a graph.

    Nodes are the ``r_hi`` pieces (``("h", position in in_region)``) and home; ``edges_b[x]`` are the nodes
    bridge ``x`` touches. ``base`` joins the pieces anchored on home; ``live`` are the bridges joining
    nodes not joined anyway (through home): the cut test runs on those only, over contracted nodes.
    """

    btoks: list[int]
    token_node: dict
    in_region: np.ndarray
    hi_pieces: np.ndarray
    hi_area: np.ndarray
    bridges: np.ndarray
    edges_b: list[set]
    base: _UnionFind
    roots_b: list[set]
    live: list[int]

    def components(self, skip: int | None) -> _Composed:
        """Connected nodes with every live bridge but ``skip``."""
        uf = _UnionFind()
        for x in self.live:
            if x == skip:
                continue
            for nd in self.roots_b[x]:
                uf.union(("b", x), nd)
        return _Composed(self.base, uf)

    def token_groups(self, uf: _Composed) -> frozenset:
        """The tokens grouped by the component holding them."""
        g: dict = {}
        for i in self.btoks:
            g.setdefault(uf.find(self.token_node[i]), set()).add(i)
        return frozenset(frozenset(v) for v in g.values())

    def weight(self, g) -> float:
        """Area (km²) of the ``r_hi`` pieces holding the tokens of a group."""
        return sum(self.hi_area[self.in_region[self.token_node[i][1]]] for i in g if self.token_node[i][0] == "h")

    def cuts(self) -> dict[frozenset, int]:
        """For each way of splitting the tokens, the largest bridge whose removal does it."""
        full = self.token_groups(self.components(None))
        seen: dict[frozenset, int] = {}
        for x in self.live:  # the others are slivers, appendices or redundant
            parts = self.token_groups(self.components(x))
            if len(parts) > len(full) and parts not in seen:
                seen[parts] = x
            elif parts in seen and shapely.area(self.bridges[x]) > shapely.area(self.bridges[seen[parts]]):
                seen[parts] = x
        return seen

    def bridge(self, parts: frozenset, x: int, tokens: list, r_lo: float, r_hi: float) -> _Bridge:
        """Bridge ``x`` with the side that lost contact with the others through it (``parts`` without it)."""
        uf_cut = self.components(x)
        groups = sorted(parts, key=len)
        home_group = next((g for g in groups if any(tokens[i] is None for i in g)), None)
        if home_group is not None:
            side1 = max((g for g in groups if g is not home_group), key=self.weight)
        else:
            side1 = min(groups, key=self.weight)
        side1_root = uf_cut.find(self.token_node[next(iter(side1))])
        s1_nodes = [nd for nd in self.edges_b[x] if uf_cut.find(nd) == side1_root]
        s2_nodes = [nd for nd in self.edges_b[x] if uf_cut.find(nd) != side1_root]
        side1_hi = [n for n in range(len(self.in_region)) if uf_cut.find(("h", n)) == side1_root]
        region1 = shapely.union_all(shapely.buffer(self.hi_pieces[side1_hi], r_hi, quad_segs=4)) if side1_hi else None
        side1_points = [tokens[i] for i in side1 if tokens[i] is not None]
        return _Bridge(self.bridges[x], r_lo, r_hi, s1_nodes, s2_nodes, self.hi_pieces, side1_points, region1)


def _block_graph(
    filt: _Filtration,
    grouping: _Grouping,
    tokens: list,
    btoks: list[int],
    lo: _Level,
    hi: _Level,
    r_lo: float,
    gap: float,
    delta: float,
    band: bool,
) -> _BlockGraph | None:
    """The graph of one block of tokens, or None when no ``r_lo`` piece holds them."""
    pts = [tokens[i] for i in btoks if tokens[i] is not None]
    lo_idx = np.unique(lo.locate(pts))
    lo_idx = lo_idx[lo_idx >= 0]
    if not len(lo_idx):
        return None
    region = shapely.union_all(lo.pieces[lo_idx])
    shapely.prepare(region)
    in_region = np.flatnonzero(shapely.within(hi.reps, region)) if len(hi.pieces) else np.array([], int)
    hi_pieces = hi.pieces[in_region]
    anch_hi = hi.anchored(filt.home, filt.tol, in_region) if grouping.anchor else np.zeros(len(hi.pieces), bool)
    hi_union = shapely.union_all(hi_pieces) if len(hi_pieces) else Polygon()
    grown = hi_union if band else shapely.buffer(hi_union, gap + delta, quad_segs=filt.quad_segs)
    bridges = _polygon_parts(shapely.difference(region, grown))
    token_node = _token_nodes(tokens, btoks, hi.locate(pts), in_region)
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
    return _BlockGraph(btoks, token_node, in_region, hi_pieces, hi.area, bridges, edges_b, base, roots_b, live)


def _token_nodes(tokens: list, btoks: list[int], hi_loc: np.ndarray, in_region: np.ndarray) -> dict:
    """The graph node of each token: home, the ``r_hi`` piece holding it, or ``("lost", i)`` outside the block."""
    token_node: dict = {}
    pos_of = {int(g): n for n, g in enumerate(in_region)}
    it = iter(hi_loc)
    for i in btoks:
        if tokens[i] is None:
            token_node[i] = _HOME
        else:
            g = int(next(it))
            token_node[i] = ("h", pos_of[g]) if g in pos_of else ("lost", i)
    return token_node


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


def _side_distance(
    filt: _Filtration, pts: np.ndarray, nodes: list, hi_pieces: np.ndarray, r_hi: float, home_core
) -> np.ndarray:
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


def _bridge_center(
    filt: _Filtration, bridge: BaseGeometry, s1: list, s2: list, hi_pieces: np.ndarray, r_hi: float
) -> Point:
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
