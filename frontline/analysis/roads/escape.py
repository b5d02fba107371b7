"""The last road out of a salient: the least exposed route from the ground to home, and the other roads out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from frontline.borders import polygonal
from frontline.geodesy import GEOD, LocalProjection, geodesic_lengths_m
from frontline.model import ControlMap, iso
from frontline.road_network import Roads

from .exposure import _cumulative, _feature, _lines_only, _r
from .graph import _dijkstra, _junction_edges, _reachable
from .threat import (
    BEYOND,
    DEFAULT_SIMPLIFY_M,
    INSIDE,
    _band_colours,
    _check_inputs,
    _expanded_box,
    _map_name,
    _sides,
    _Threat,
    _threat_near,
    reach_window,
)

#: Route-cost penalties per km (added to the km itself). Ranges are cumulative,
#: so a km within FPV reach costs 1 + 10 + 3 + 1 = 15 km of driving: a detour
#: up to 15 times longer is preferred to a road under FPV watch, a 5× detour
#: to one under artillery only. ``inside`` applies to road inside contested
#: ground (enemy-held ground is impassable) on top of every range.
DEFAULT_PENALTIES: dict[str, float] = {"inside": 50.0, "fpv": 10.0, "tube_artillery": 3.0, "loitering_mlrs": 1.0}


@dataclass
class Route:
    """One way out of a salient.

    ``geometry`` is a lon/lat LineString from ``start`` (in the salient) to
    ``crossing`` (the first road junction/vertex inside home territory).
    ``exposed_km``/``exposed_share`` are keyed by range name (cumulative:
    the part within 10 km is also within 20 km); ``inside_km`` is the part in
    contested ground; ``cost`` the penalised length that was minimised;
    ``roads`` the named roads along it, in order.
    """

    rank: int
    geometry: LineString
    length_km: float
    cost: float
    exposed_km: dict[str, float]
    exposed_share: dict[str, float]
    inside_km: float
    roads: list[str]
    road_ids: list[str]
    start: tuple[float, float]
    crossing: tuple[float, float]
    pieces: dict[str, BaseGeometry] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (geometry as GeoJSON)."""
        return {
            "rank": self.rank,
            "geometry": mapping(self.geometry),
            "length_km": self.length_km,
            "cost": self.cost,
            "exposed_km": dict(self.exposed_km),
            "exposed_share": dict(self.exposed_share),
            "inside_km": self.inside_km,
            "roads": list(self.roads),
            "road_ids": list(self.road_ids),
            "start": list(self.start),
            "crossing": list(self.crossing),
        }


@dataclass
class RoadsOut:
    """Result of :func:`last_road_out`.

    ``routes`` is sorted by cost: ``routes[0]`` (``best``) is the least exposed
    way out, the rest (``alternatives``) are the best route through each other
    distinct border crossing. Empty when the salient is cut off; ``note`` says why.
    """

    side: str
    valid_time: str | None
    ranges_km: dict[str, float]
    penalties: dict[str, float]
    origin: tuple[float, float] | None
    routes: list[Route]
    graph: dict[str, int]
    note: str = ""

    @property
    def best(self) -> Route | None:
        return self.routes[0] if self.routes else None

    @property
    def alternatives(self) -> list[Route]:
        return self.routes[1:]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "side": self.side,
            "valid_time": self.valid_time,
            "ranges_km": dict(self.ranges_km),
            "penalties": dict(self.penalties),
            "origin": list(self.origin) if self.origin else None,
            "routes": [r.as_dict() for r in self.routes],
            "graph": dict(self.graph),
            "note": self.note,
        }

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection: each route (``kind="route"``) and its pieces by
        exposure band (``kind="segment"``, with ``band`` and ``colour``)."""
        colours = _band_colours(list(self.ranges_km))
        features = []
        for r in self.routes:
            props = {
                "kind": "route",
                "rank": r.rank,
                "best": r.rank == 0,
                "length_km": _r(r.length_km),
                "cost": _r(r.cost),
                "inside_km": _r(r.inside_km),
                **{f"exposed_km_{n}": _r(v) for n, v in r.exposed_km.items()},
                **{f"exposed_share_{n}": _r(v, 4) for n, v in r.exposed_share.items()},
                "roads": " – ".join(r.roads),
                "colour": "#2166ac" if r.rank == 0 else "#969696",
            }
            features.append(_feature(r.geometry, props))
            for band, g in r.pieces.items():
                g = _lines_only(g) if g is not None else None
                if g is not None:
                    seg = {"kind": "segment", "rank": r.rank, "band": band, "colour": colours[band]}
                    features.append(_feature(g, seg))
        if self.origin:
            features.append(_feature(Point(self.origin), {"kind": "origin"}))
        return {
            "type": "FeatureCollection",
            "features": features,
            "properties": {
                "side": self.side,
                "valid_time": self.valid_time,
                "note": self.note,
                "ranges_km": dict(self.ranges_km),
                "colours": colours,
            },
        }


def _check_polygon(g, what: str) -> BaseGeometry:
    if g is None or not isinstance(g, BaseGeometry) or g.is_empty:
        raise ValueError(f"The {what} must be a non-empty lon/lat (Multi)Polygon.")
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"The {what} must be a (Multi)Polygon, got a {g.geom_type}.")
    if not g.is_valid:
        g = polygonal(shapely.make_valid(g))
    return g


def last_road_out(
    roads: Roads,
    control_map: ControlMap,
    side: str,
    salient: BaseGeometry,
    home: BaseGeometry,
    ranges_km: Mapping[str, float] | None = None,
    *,
    penalties: Mapping[str, float] | None = None,
    origin: str | Point | tuple[float, float] = "centre",
    search_km: float = 60.0,
    node: str = "vertices",
    max_routes: int = 5,
    crossing_separation_km: float = 3.0,
    blocked_tolerance_m: float = 100.0,
    simplify_m: float = DEFAULT_SIMPLIFY_M,
) -> RoadsOut:
    """The least exposed road route from a salient back to home territory.

    Roads near the salient are cut into a graph at junctions; each edge costs
    its length plus, per km, ``penalties[r]`` for every range ``r`` it lies
    within and ``penalties["inside"]`` inside contested ground. Edges running
    more than ``blocked_tolerance_m`` through enemy-held ground are
    impassable. Dijkstra finds the cheapest route from the origin to the first
    node inside ``home``; the best route through each other distinct crossing
    into home is returned as an alternative.

    Parameters
    ----------
    roads
        Road network in lon/lat.
    control_map
        The situation.
    side
        The side holding the salient.
    salient
        Lon/lat polygon of the salient (ground ``side`` holds outside home).
    home
        Lon/lat polygon of home territory: where a route counts as "out".
    ranges_km
        Fire ranges; default :data:`DEFAULT_RANGES_KM`.
    penalties
        Extra cost per km within each range and ``"inside"`` contested ground;
        missing keys fall back to :data:`DEFAULT_PENALTIES` (1.0 for unknown
        range names).
    origin
        ``"centre"`` (default): the junction inside the salient nearest to its
        pole of inaccessibility (the point deepest inside it);
        ``"any"``: routes may start at any junction in the salient (measures
        only the stretch from the salient's edge to home); or a lon/lat point
        (shapely Point or ``(lon, lat)``), snapped to the nearest junction.
    search_km
        Only roads within this distance of the salient's bounding box are used.
    node
        ``"vertices"`` (default): roads connect only at shared vertices, as in
        OSM (bridges and overpasses do not connect); ``"crossings"``: also at
        every crossing (for hand-drawn line data).
    max_routes
        At most this many routes (best + alternatives).
    crossing_separation_km
        Crossings into home closer than this count as one (dual carriageways).
    blocked_tolerance_m
        Length of enemy-held ground an edge may cross before it is impassable
        (absorbs map imprecision along the front).
    simplify_m
        Simplification tolerance for enemy ground before buffering.

    Returns
    -------
    RoadsOut
        Routes sorted by cost; ``to_geojson()`` for the map.

    Raises
    ------
    ValueError
        Bad inputs: no roads, side missing or holding nothing, salient not held
        by the side or inside home, no road in the salient.
    """
    ranges = _check_inputs(roads, ranges_km)
    names = [n for n, _ in ranges]
    pen = _check_penalties(penalties, names)
    if node not in ("vertices", "crossings"):
        raise ValueError(f"node must be 'vertices' or 'crossings', not {node!r}.")
    salient = _check_polygon(salient, "salient")
    home = _check_polygon(home, "home territory")
    _, enemy, ground = _salient_sides(roads, control_map, side, salient, home, ranges)

    proj = LocalProjection.for_geometry(salient)
    salient_m = proj.to_metric(salient)
    idx, lines, line_road = _road_lines(roads, salient_m, proj, search_km, node)
    shapely.prepare(salient)
    shapely.prepare(home)
    graph, threat = _road_graph(
        lines,
        line_road,
        _Regions(salient, home),
        proj,
        ground,
        enemy,
        ranges,
        pen=pen,
        simplify_m=simplify_m,
        blocked_tolerance_m=blocked_tolerance_m,
    )
    sources, origin_ll = _sources(origin, graph, salient_m, proj)
    dist, pred, reached = _dijkstra(graph.n_nodes, graph.u, graph.v, graph.weight, graph.ok, sources, graph.in_home)
    routes = _distinct_routes(graph, dist, pred, reached, roads, names, threat, max_routes, crossing_separation_km)
    note = ""
    if not routes:
        note = (
            f"No road connects the salient to home territory without running through ground held by the "
            f"enemy (within {search_km} km); the salient is cut off on this road network."
        )
    stats = {
        "nodes": int(graph.n_nodes),
        "edges": int(len(graph.edges)),
        "blocked": int(graph.blocked.sum()),
        "roads": int(len(idx)),
    }
    return RoadsOut(
        side=side,
        valid_time=iso(control_map.valid_time),
        ranges_km=dict(ranges),
        penalties=pen,
        origin=origin_ll,
        routes=routes,
        graph=stats,
        note=note,
    )


def _check_penalties(penalties: Mapping[str, float] | None, names: list[str]) -> dict[str, float]:
    """Penalty per km for contested ground and each range: the defaults, overridden by ``penalties``."""
    pen = {INSIDE: DEFAULT_PENALTIES[INSIDE], **{n: DEFAULT_PENALTIES.get(n, 1.0) for n in names}}
    for k, p in dict(penalties or {}).items():
        if k not in pen:
            raise ValueError(f"Penalty for unknown range {k!r}; ranges are: {', '.join([INSIDE] + names)}.")
        try:
            pf = float(p)
        except (TypeError, ValueError):
            pf = math.nan
        if not (math.isfinite(pf) and pf >= 0):
            raise ValueError(f"Penalty {k!r} must be a number ≥ 0 (extra km of cost per km), got {p!r}.")
        pen[k] = pf
    return pen


def _salient_sides(
    roads: Roads,
    control_map: ControlMap,
    side: str,
    salient: BaseGeometry,
    home: BaseGeometry,
    ranges: list[tuple[str, float]],
) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry]:
    """(own, enemy, enemy ∪ contested) near the roads and the salient, after checking the salient is the side's."""
    window = reach_window(
        shapely.total_bounds(np.array([box(*roads.bounds), salient], dtype=object)), max(ranges[-1][1] + 5.0, 0)
    )
    own, enemy, ground = _sides(control_map, side, window)
    if not shapely.intersects(salient, own):
        raise ValueError(f"The salient does not overlap ground held by {side!r} in {_map_name(control_map)}.")
    if shapely.covers(home, salient):
        raise ValueError("The salient lies inside home territory; give the salient and home as separate areas.")
    return own, enemy, ground


def _road_lines(
    roads: Roads, salient_m: BaseGeometry, proj: LocalProjection, search_km: float, node: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(roads used, their simple lines, the road of each line) within ``search_km`` of the salient."""
    region_m = _expanded_box(salient_m.bounds, search_km * 1000.0)
    region_ll = proj.to_lonlat(shapely.segmentize(region_m, 1000.0))
    tree_ll = shapely.STRtree(roads.geometry)
    idx = np.unique(tree_ll.query(region_ll, predicate="intersects"))
    if len(idx) == 0:
        raise ValueError(f"No road lies within {search_km} km of the salient; check the road file covers it.")
    # Graph edges must be simple LineStrings: explode any multi-part road.
    lines, part_of = shapely.get_parts(roads.geometry[idx], return_index=True)
    is_line = shapely.get_type_id(lines) == 1
    lines, line_road = lines[is_line], idx[part_of[is_line]]
    if node == "crossings":
        pieces = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
        mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
        q = shapely.STRtree(lines).query_nearest(mids, all_matches=False)
        owner = np.empty(len(pieces), dtype=np.int64)
        owner[q[0]] = q[1]
        lines, line_road = pieces, line_road[owner]
    return idx, lines, line_road


@dataclass
class _Regions:
    """Codes points by where they lie: bit 1 in the salient, bit 2 in home (both prepared)."""

    salient: BaseGeometry
    home: BaseGeometry

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        return shapely.contains_xy(self.salient, xy[:, 0], xy[:, 1]).astype(np.int8) + 2 * shapely.contains_xy(
            self.home, xy[:, 0], xy[:, 1]
        ).astype(np.int8)


@dataclass
class _RoadGraph:
    """The road graph around a salient: edges cut at junctions, their exposure and cost, and its nodes.

    Per edge: the lon/lat line, ``e_len`` (km), ``e_road`` (index into the Roads), ends ``u``/``v``,
    ``exposed`` (km within each range), ``inside`` (km in contested ground), ``blocked`` (through
    enemy ground), ``ok`` (usable: not blocked, no loop) and ``weight`` (the penalised cost). Per node:
    ``node_xy`` (lon/lat), ``in_home``, ``in_salient``.
    """

    edges: np.ndarray
    e_len: np.ndarray
    e_road: np.ndarray
    u: np.ndarray
    v: np.ndarray
    exposed: np.ndarray
    inside: np.ndarray
    blocked: np.ndarray
    ok: np.ndarray
    weight: np.ndarray
    node_xy: np.ndarray
    in_home: np.ndarray
    in_salient: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    def lonlat(self, n: int) -> tuple[float, float]:
        """The lon/lat of node ``n``."""
        return (float(self.node_xy[n, 0]), float(self.node_xy[n, 1]))


def _road_graph(
    lines: np.ndarray,
    line_road: np.ndarray,
    region_of: _Regions,
    proj: LocalProjection,
    ground: BaseGeometry,
    enemy: BaseGeometry,
    ranges: list[tuple[str, float]],
    *,
    pen: dict[str, float],
    simplify_m: float,
    blocked_tolerance_m: float,
) -> tuple[_RoadGraph, _Threat]:
    """The road graph cut at junctions, each edge costed by its exposure to the threat of ``ground``."""
    edges, e_line, u, v, node_xy = _junction_edges(lines, region_of=region_of)
    edges_m = proj.to_metric(edges)
    e_len = geodesic_lengths_m(edges) / 1000.0
    threat = _threat_near(edges_m, ground, proj, ranges, simplify_m)
    tree_m = shapely.STRtree(edges_m)
    band_km, _ = threat.measure(edges, edges_m, e_len, tree=tree_m)
    exposed = _cumulative(band_km, e_len)
    inside = np.minimum(band_km[:, 0], e_len)
    blocked = _blocked_edges(edges_m, tree_m, enemy, proj, threat.clip_m, blocked_tolerance_m)
    names = [n for n, _ in ranges]
    weight = e_len + pen[INSIDE] * inside + exposed @ np.array([pen[n] for n in names])
    loop = u == v  # closed ways with no other junction: never on a shortest path
    codes = region_of(node_xy)
    in_home = (codes & 2) > 0
    return _RoadGraph(
        edges=edges,
        e_len=e_len,
        e_road=line_road[e_line],
        u=u,
        v=v,
        exposed=exposed,
        inside=inside,
        blocked=blocked,
        ok=~blocked & ~loop,
        weight=weight,
        node_xy=node_xy,
        in_home=in_home,
        in_salient=((codes & 1) > 0) & ~in_home,
    ), threat


def _blocked_edges(
    edges_m: np.ndarray,
    tree_m: shapely.STRtree,
    enemy: BaseGeometry,
    proj: LocalProjection,
    clip_m: BaseGeometry,
    tolerance_m: float,
) -> np.ndarray:
    """Impassable edges: those running more than ``tolerance_m`` through enemy-held ground (not merely contested)."""
    blocked = np.zeros(len(edges_m), dtype=bool)
    if enemy.is_empty:
        return blocked
    enemy_m = polygonal(shapely.intersection(polygonal(proj.to_metric(enemy)), clip_m))
    if enemy_m.is_empty:
        return blocked
    shapely.prepare(enemy_m)
    # Edges wholly inside: a prepared test; only those crossing the edge of
    # enemy ground need an overlay to measure how far they run in it.
    inside_all = tree_m.query(enemy_m, predicate="contains")
    blocked[inside_all] = True
    cand = np.setdiff1d(tree_m.query(enemy_m, predicate="intersects"), inside_all)
    if len(cand):
        in_enemy_m = shapely.length(shapely.intersection(edges_m[cand], enemy_m))
        blocked[cand[in_enemy_m > tolerance_m]] = True
    return blocked


def _sources(
    origin: str | Point | tuple[float, float], g: _RoadGraph, salient_m: BaseGeometry, proj: LocalProjection
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(the nodes routes start from, the lon/lat origin or None for ``"any"``)."""
    degree = np.bincount(np.concatenate([g.u[g.ok], g.v[g.ok]]), minlength=g.n_nodes)
    node_m = shapely.get_coordinates(proj.to_metric(shapely.points(g.node_xy)))
    if not isinstance(origin, str):
        pt = origin if isinstance(origin, Point) else Point(*origin)
        cand_nodes = np.flatnonzero((degree > 0) & ~g.in_home)
        if len(cand_nodes) == 0:
            raise ValueError("No usable road junction outside home territory near the origin.")
        pm = proj.to_metric(pt)
        nearest = _nearest(node_m, cand_nodes, pm.x, pm.y)
        return np.array([nearest]), g.lonlat(nearest)
    cand_nodes = np.flatnonzero(g.in_salient & (degree > 0))
    if len(cand_nodes) == 0:
        raise ValueError("No usable road junction lies inside the salient; is the road file for this area?")
    # Snap the "centre" origin only to junctions from which home can be reached
    # at all, so a dead-end track by the salient's centre does not hide the way
    # out. An explicit origin point is honoured even when it is cut off.
    can_leave = _reachable(g.n_nodes, g.u, g.v, g.ok, np.flatnonzero(g.in_home))
    if origin == "centre" and can_leave[cand_nodes].any():
        cand_nodes = cand_nodes[can_leave[cand_nodes]]
    if origin == "any":
        return cand_nodes, None
    if origin != "centre":
        raise ValueError(f"origin must be 'centre', 'any' or a lon/lat point, not {origin!r}.")
    biggest = max(shapely.get_parts(salient_m), key=lambda p: p.area)
    tol = max(50.0, math.sqrt(biggest.area) / 200.0)
    pole = polylabel(biggest, tolerance=tol)
    nearest = _nearest(node_m, cand_nodes, pole.x, pole.y)
    return np.array([nearest]), g.lonlat(nearest)


def _nearest(node_m: np.ndarray, cand_nodes: np.ndarray, x: float, y: float) -> int:
    """The candidate node nearest to the metric point (x, y)."""
    d2 = ((node_m[cand_nodes] - np.array([x, y])) ** 2).sum(axis=1)
    return int(cand_nodes[int(np.argmin(d2))])


def _distinct_routes(
    g: _RoadGraph,
    dist: Sequence[float],
    pred: Sequence[int],
    reached: Sequence[int],
    roads: Roads,
    names: list[str],
    threat: _Threat,
    max_routes: int,
    separation_km: float,
) -> list[Route]:
    """The best route through each crossing into home, cheapest first, crossings at least ``separation_km`` apart."""
    labels = roads.labels()
    routes: list[Route] = []
    crossings: list[tuple[float, float]] = []
    for h in reached:
        if len(routes) >= max_routes:
            break
        cx, cy = g.lonlat(h)
        if crossings:
            _, _, dd = GEOD.inv(
                np.full(len(crossings), cx),
                np.full(len(crossings), cy),
                [c[0] for c in crossings],
                [c[1] for c in crossings],
            )
            if np.min(dd) < separation_km * 1000.0:
                continue
        crossings.append((cx, cy))
        routes.append(_build_route(len(routes), h, dist, pred, g, roads, labels, names, threat))
    return routes


def _build_route(
    rank: int,
    h: int,
    dist: Sequence[float],
    pred: Sequence[int],
    g: _RoadGraph,
    roads: Roads,
    labels: np.ndarray,
    names: list[str],
    threat: _Threat,
) -> Route:
    """The route ending at home node ``h``, measured along its edges."""
    start, path = _path_to(h, pred, g)
    coords = [g.node_xy[start]]
    for e, fwd in path:
        c = shapely.get_coordinates(g.edges[e])
        coords.append(c[1:] if fwd else c[::-1][1:])
    xy = np.vstack(coords)
    geom = LineString(xy) if len(xy) >= 2 else LineString([xy[0], xy[0]])
    eids = np.array([e for e, _ in path], dtype=np.int64)
    L = float(g.e_len[eids].sum()) if len(eids) else 0.0
    ex = g.exposed[eids].sum(axis=0) if len(eids) else np.zeros(len(names))
    seq_names, seq_ids = _road_sequence(eids, g.e_road, roads, labels)
    return Route(
        rank=rank,
        geometry=geom,
        length_km=L,
        cost=float(dist[h]),
        exposed_km={n: float(ex[k]) for k, n in enumerate(names)},
        exposed_share={n: (float(ex[k]) / L if L > 0 else 0.0) for k, n in enumerate(names)},
        inside_km=float(g.inside[eids].sum()) if len(eids) else 0.0,
        roads=seq_names,
        road_ids=seq_ids,
        start=g.lonlat(start),
        crossing=g.lonlat(h),
        pieces=_band_pieces(geom, threat),
    )


def _path_to(h: int, pred: Sequence[int], g: _RoadGraph) -> tuple[int, list[tuple[int, bool]]]:
    """(the start node, the path's edges in order, each with whether it is run forward) back from node ``h``."""
    path = []
    x = h
    while pred[x] != -1:
        e = pred[x]
        fwd = g.v[e] == x
        path.append((e, fwd))
        x = g.u[e] if fwd else g.v[e]
    path.reverse()
    return x, path


def _road_sequence(
    eids: np.ndarray, e_road: np.ndarray, roads: Roads, labels: np.ndarray
) -> tuple[list[str], list[str]]:
    """(road names, road ids) along the edges, each run of the same road once."""
    seq_names: list[str] = []
    seq_ids: list[str] = []
    for e in eids:
        r = e_road[e]
        nm = labels[r] if (roads.refs[r] or roads.names[r] or roads.names_en[r]) else ""
        if nm and (not seq_names or seq_names[-1] != nm):
            seq_names.append(nm)
        if not seq_ids or seq_ids[-1] != roads.ids[r]:
            seq_ids.append(roads.ids[r])
    return seq_names, seq_ids


def _band_pieces(geom: LineString, threat: _Threat) -> dict[str, BaseGeometry]:
    """The route's pieces in each band (lon/lat), for the map."""
    gm = threat.proj.to_metric(geom)
    pieces: dict[str, BaseGeometry] = {}
    for band_name, band in zip(threat.names, threat.bands):
        if not band.is_empty and shapely.intersects(band, gm):
            pieces[band_name] = threat.proj.to_lonlat(shapely.intersection(gm, band))
    rest = shapely.difference(gm, threat.outer) if not threat.outer.is_empty else gm
    if not rest.is_empty:
        pieces[BEYOND] = threat.proj.to_lonlat(rest)
    return pieces
