"""Fire-range bands around the enemy's and the grey zone's ground: ranges, colours, the banded threat of one map."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from frontline.borders import polygonal
from frontline.geodesy import LocalProjection, geodesic_lengths_m
from frontline.model import ControlMap, iso
from frontline.road_network import Roads

#: Fire ranges in km beyond the enemy/contested edge; see ``docs/roads.md``.
DEFAULT_RANGES_KM: dict[str, float] = {"fpv": 10.0, "tube_artillery": 20.0, "loitering_mlrs": 40.0}

#: Tolerance in metres for simplifying enemy ground before buffering.
DEFAULT_SIMPLIFY_M = 100.0

# Side of the grid tiles the distance bands are cut into before intersecting roads.
TILE_M = 5000.0

INSIDE = "inside"  # band: inside enemy-held or contested ground
BEYOND = "beyond"  # band: beyond the longest range

# Map colours: inside, then ranges from near to far, then beyond.
_INSIDE_COLOUR = "#67000d"
_RANGE_COLOURS = ("#d7301f", "#fc8d59", "#fdcc8a", "#ffffb2", "#d9f0a3")
_BEYOND_COLOUR = "#1a9850"

_EPS_KM = 1e-6


def _check_ranges(ranges_km: Mapping[str, float] | None) -> list[tuple[str, float]]:
    ranges = dict(DEFAULT_RANGES_KM if ranges_km is None else ranges_km)
    if not ranges:
        raise ValueError("ranges_km is empty: give at least one fire range, e.g. {'fpv': 10}.")
    out = []
    for name, km in ranges.items():
        if not isinstance(name, str) or not name or name in (INSIDE, BEYOND):
            raise ValueError(f"Range names must be non-empty text other than {INSIDE!r}/{BEYOND!r}, got {name!r}.")
        try:
            km = float(km)
        except (TypeError, ValueError):
            raise ValueError(f"Range {name!r} must be a number of km, got {km!r}.") from None
        if not (math.isfinite(km) and km > 0):
            raise ValueError(f"Range {name!r} must be a positive number of km, got {km}.")
        out.append((name, km))
    return sorted(out, key=lambda t: t[1])


def _band_colours(names: Sequence[str]) -> dict[str, str]:
    cols = {INSIDE: _INSIDE_COLOUR, BEYOND: _BEYOND_COLOUR}
    for i, n in enumerate(names):
        cols[n] = _RANGE_COLOURS[min(i, len(_RANGE_COLOURS) - 1)]
    return cols


def _check_roads(roads: Roads) -> None:
    if not isinstance(roads, Roads):
        raise ValueError(f"Expected a Roads network (frontline.sources.osm.read_roads), got {type(roads).__name__}.")
    if len(roads) == 0:
        raise ValueError(f"The road network{' from ' + roads.source if roads.source else ''} has no lines.")


def _check_inputs(roads: Roads, ranges_km: Mapping[str, float] | None) -> list[tuple[str, float]]:
    """The checked ranges, nearest first, after checking the road network is one with lines."""
    _check_roads(roads)
    return _check_ranges(ranges_km)


def _map_name(cm: ControlMap) -> str:
    return f"{cm.source} {cm.version_id} ({iso(cm.valid_time)})"


def _holds_nothing(cm: ControlMap, side: str) -> bool:
    vc = cm.control
    if vc is not None and hasattr(vc, "areas"):  # from a store: the areas are known, no geometry needed
        return vc.areas().get(("theatre", side, "clipped"), 0.0) <= 0.0
    g = cm.held[side]
    return g is None or g.is_empty


def reach_window(bounds: Sequence, km: float) -> BaseGeometry:
    """Lon/lat box around ``bounds`` grown by ``km`` (conservatively in degrees): the ground that can reach them."""
    minx, miny, maxx, maxy = bounds
    dlat = km / 110.0
    dlon = km / (111.32 * max(math.cos(math.radians(min(max(abs(miny), abs(maxy)) + dlat, 89.0))), 0.01))
    return box(minx - dlon, max(miny - dlat, -90.0), maxx + dlon, min(maxy + dlat, 90.0))


def _sides(
    cm: ControlMap, side: str, window: BaseGeometry | None = None
) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry]:
    """(held by side, held by the enemy, enemy ∪ contested), lon/lat, within ``window`` when given.

    Only ground within the longest range of the roads can reach them: the map
    is cut there first (cheap for maps read from a store, which never build a
    whole country's ground), so projecting and buffering stay local.
    """
    if side not in cm.held:
        raise ValueError(
            f"Side {side!r} is not in control map {_map_name(cm)}; its sides are: {', '.join(cm.held) or 'none'}."
        )
    if _holds_nothing(cm, side):
        raise ValueError(f"Side {side!r} holds no ground in control map {_map_name(cm)}; nothing to supply.")
    if window is not None:
        cm = cm.clipped(window)  # may leave nothing near the roads: the callers say so, naming the roads
    own = cm.held[side]
    if own is None:
        own = shapely.Polygon()
    others = [g for s, g in cm.held.items() if s != side and g is not None and not g.is_empty]
    enemy = shapely.union_all(others) if others else shapely.Polygon()
    contested = cm.contested if cm.contested is not None else shapely.Polygon()
    ground = shapely.union_all([enemy, contested])
    return own, enemy, ground


def _expanded_box(bounds, metres: float) -> BaseGeometry:
    minx, miny, maxx, maxy = bounds
    return box(minx - metres, miny - metres, maxx + metres, maxy + metres)


def _threat_near(
    lines_m: np.ndarray,
    ground_ll: BaseGeometry,
    proj: LocalProjection,
    ranges: list[tuple[str, float]],
    simplify_m: float,
) -> _Threat:
    """The threat of ``ground_ll`` clipped to what the longest range can reach from the metric lines."""
    # Roads touching a search box may run far beyond it: clip around the lines themselves.
    clip = _expanded_box(shapely.total_bounds(lines_m), ranges[-1][1] * 1000.0 + 2000.0)
    return _Threat(ground_ll, proj, ranges, clip, simplify_m)


class _Threat:
    """Enemy ∪ contested ground split into distance bands, in one metric projection.

    ``bands[0]`` is the ground itself; ``bands[k]`` the ring between range
    ``k-1`` and ``k``; ``outer`` the buffer at the longest range.
    """

    def __init__(
        self,
        ground_ll: BaseGeometry,
        proj: LocalProjection,
        ranges: list[tuple[str, float]],
        clip_m: BaseGeometry | None,
        simplify_m: float,
    ):
        # Valid in lon/lat is not always valid once projected (nearly touching rings can cross): repair.
        g = polygonal(shapely.make_valid(proj.to_metric(ground_ll))) if not ground_ll.is_empty else shapely.Polygon()
        if clip_m is not None and not g.is_empty:
            # Ground further than the longest range from every road cannot reach
            # any of them: clip before buffering to keep the theatre-wide
            # polygon from being buffered for a local question.
            g = polygonal(shapely.intersection(g, clip_m))
        if simplify_m > 0 and not g.is_empty:
            g = shapely.make_valid(shapely.simplify(g, simplify_m, preserve_topology=True))
            g = polygonal(g)
        self.proj = proj
        self.clip_m = clip_m
        self.names = [INSIDE] + [n for n, _ in ranges]
        self.ground = g
        prev = g
        prev_km = 0.0
        self.bands: list[BaseGeometry] = [g]
        for _, km in ranges:
            buf = _grow(prev, prev_km * 1000.0, km * 1000.0)
            self.bands.append(polygonal(shapely.difference(buf, prev)) if not prev.is_empty else buf)
            prev, prev_km = buf, km
        self.outer = prev
        shapely.prepare(self.outer)
        # Cut every band into grid tiles: intersecting a road with a small
        # tile is far cheaper than with a front-wide polygon of thousands of
        # vertices, and the tiles partition the band so lengths add up.
        tiles, owner = [], []
        for k, band in enumerate(self.bands):
            t = _tiles(band, TILE_M)
            tiles.append(t)
            owner.append(np.full(len(t), k, dtype=np.int64))
        self.tiles = np.concatenate(tiles) if tiles else np.empty(0, dtype=object)
        self.tile_band = np.concatenate(owner) if owner else np.empty(0, dtype=np.int64)
        shapely.prepare(self.tiles)

    def measure(
        self, lines_ll: np.ndarray, lines_m: np.ndarray, total_km: np.ndarray, *, pieces: bool = False, tree=None
    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Geodesic km of each line in each band, shape (n, n_bands); optional lon/lat pieces.

        With ``pieces`` the list has one object array per band plus a last one
        for the part beyond the longest range.
        """
        n, nb = len(lines_m), len(self.bands)
        km = np.zeros((n, nb))
        out = [np.full(n, None, dtype=object) for _ in range(nb + 1)] if pieces else None
        if n == 0:
            return km, out
        if out is not None:
            out[-1][:] = lines_ll
        if len(self.tiles) == 0:
            return km, out
        tree = tree if tree is not None else shapely.STRtree(lines_m)
        # Most roads lie wholly within one band: one prepared containment test
        # per band settles them without any overlay.
        settled = np.zeros(n, dtype=bool)
        for k, b in enumerate(self.bands):
            if b.is_empty:
                continue
            inside = tree.query(b, predicate="contains")
            km[inside, k] = total_km[inside]
            settled[inside] = True
            if out is not None:
                out[k][inside] = lines_ll[inside]
        ti, li = tree.query(self.tiles, predicate="intersects")
        keep = ~settled[li]
        ti, li = ti[keep], li[keep]
        if len(ti) == 0:
            if out is not None:
                self._beyond(out[-1], lines_m, tree)
            return km, out
        band = self.tile_band[ti]
        whole = shapely.contains(self.tiles[ti], lines_m[li])
        np.add.at(km, (li[whole], band[whole]), total_km[li[whole]])
        part = ~whole
        piece_ll = self.proj.to_lonlat(shapely.intersection(lines_m[li[part]], self.tiles[ti[part]]))
        np.add.at(km, (li[part], band[part]), geodesic_lengths_m(piece_ll) / 1000.0)
        if out is not None:
            self._pieces(out, lines_ll, lines_m, li, band, whole, piece_ll, tree)
        return km, out

    def _pieces(self, out, lines_ll, lines_m, li, band, whole, piece_ll, tree) -> None:
        nb = len(self.bands)
        for k in range(nb):
            sel = whole & (band == k)
            out[k][li[sel]] = lines_ll[li[sel]]
        # Partial pieces: gather the line parts of each (road, band) into one geometry.
        parts, pidx = shapely.get_parts(piece_ll, return_index=True)
        is_line = shapely.get_type_id(parts) == 1
        parts, pidx = parts[is_line], pidx[is_line]
        if len(parts):
            key = li[~whole][pidx] * nb + band[~whole][pidx]
            uniq, inv = np.unique(key, return_inverse=True)
            order = np.argsort(inv, kind="stable")
            merged = shapely.multilinestrings(parts[order], indices=inv[order])
            for kk, g in zip(uniq.tolist(), merged):
                r, k = divmod(kk, nb)
                prev = out[k][r]
                out[k][r] = g if prev is None else shapely.union(prev, g)
        self._beyond(out[-1], lines_m, tree)

    def _beyond(self, beyond, lines_m, tree) -> None:
        if not self.outer.is_empty:
            cand = tree.query(self.outer, predicate="intersects")
            if len(cand):
                inside = shapely.contains(self.outer, lines_m[cand])
                beyond[cand[inside]] = None
                rest = cand[~inside]
                if len(rest):
                    beyond[rest] = self.proj.to_lonlat(shapely.difference(lines_m[rest], self.outer))


def _grow(poly: BaseGeometry, from_m: float, to_m: float) -> BaseGeometry:
    """Buffer an already ``from_m``-buffered polygon out to ``to_m``.

    Grows in steps of ×4 from 250 m instead of one big buffer: a disk of r1
    grown by r2 − r1 is the disk of r2, and after the first small step the
    jagged front line has become smooth, which GEOS offsets 10–30× faster
    than the raw front at 10–40 km. The arcs are 16 segments per quarter
    circle, so the band edges sit within ~15 m of the true distance.
    """
    cur = from_m
    while not poly.is_empty and cur < to_m:
        nxt = min(to_m, max(cur * 4.0, 250.0))
        poly = shapely.buffer(poly, nxt - cur, quad_segs=16)
        cur = nxt
    return poly


def _tiles(poly: BaseGeometry, cell: float) -> np.ndarray:
    """Cut a polygon into grid tiles of ``cell`` metres (whole boxes where it covers them)."""
    if poly is None or poly.is_empty:
        return np.empty(0, dtype=object)
    minx, miny, maxx, maxy = poly.bounds
    # Offset the grid by an irrational fraction so tile edges do not fall on
    # round coordinates that generated or surveyed roads may follow exactly.
    x0, y0 = minx - 0.381966 * cell, miny - 0.381966 * cell
    xs = x0 + cell * np.arange(int(math.ceil((maxx - x0) / cell)) + 1)
    ys = y0 + cell * np.arange(int(math.ceil((maxy - y0) / cell)) + 1)
    gx, gy = np.meshgrid(xs, ys)
    gx, gy = gx.ravel(), gy.ravel()
    boxes = shapely.box(gx, gy, gx + cell, gy + cell)
    shapely.prepare(poly)
    boxes = boxes[shapely.intersects(poly, boxes)]
    full = shapely.contains(poly, boxes)
    tiles = boxes.copy()
    if (~full).any():
        tiles[~full] = shapely.intersection(boxes[~full], poly)
    keep = full.copy()
    for i in np.flatnonzero(~full):
        t = polygonal(tiles[i])
        if not t.is_empty:
            tiles[i] = t
            keep[i] = True
    return tiles[keep]
