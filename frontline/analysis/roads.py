"""Supply-road exposure: how much of a side's road network lies within reach
of the enemy, and which road out of a salient is least exposed.

Exposure is measured from the edge of the ground the enemy holds *or* that is
contested (grey zone): nobody controls the grey zone, so drones and observers
operate from it. A road's exposure within a range *r* is the length of the
road lying within *r* km of that ground (the part inside it counts too).

Default fire ranges
-------------------
:data:`DEFAULT_RANGES_KM` are distances *beyond the enemy's forward edge*
(weapons sit some way behind it, so these are less than the weapons' maximum
ranges):

``fpv`` — 10 km
    FPV drones (radio and, since late 2024, fibre-optic) routinely hit
    vehicles 10–15 km behind the contact line in 2024–25; 10 km is the
    commonly reported depth of the logistics "kill zone" where daytime
    driving is a gamble. Raise it to 15–20 km to model fibre-optic and
    relay-extended drones.
``tube_artillery`` — 20 km
    152/155 mm guns reach 20–25 km with base-bleed (30+ km rocket-assisted)
    and are emplaced a few km back, so ~20 km past the line is routinely in
    reach and adjustable by drones.
``loitering_mlrs`` — 40 km
    Lancet-type loitering munitions (~40–70 km flight range), heavy unguided
    MLRS (Uragan, ~35 km) and medium-range strike drones: deliberate strikes
    on vehicles, depots and bridges out to roughly 40 km.

All analysis functions take ``ranges_km`` to override them.

Method
------
The enemy ∪ contested ground is built once per map, projected into a local
azimuthal equidistant projection centred on the roads (see
:class:`frontline.geodesy.LocalProjection`), clipped to the roads' surroundings
(ground further than the longest range from every road cannot matter),
simplified (``simplify_m``, 100 m by default: 1 % of the smallest default
range) and buffered out to each range in turn, each buffer grown from the
previous one (see :func:`_grow`; band edges within ~2 m of the true
distance). The bands (ground, then the rings between consecutive ranges) are
cut into 5 km grid tiles.
Roads are projected once; a prepared containment test per band settles the
roads lying wholly in one band, and only the roads crossing a band edge are
intersected, tile by tile, through an STRtree. The pieces are projected back
and measured geodesically on WGS84, so reported km are geodesic; only the
buffer distances carry the projection's scale error (< 0.2 % within 600 km of
its centre).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, Point, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

from frontline.geodesy import GEOD, LocalProjection
from frontline.model import ControlMap, iso
from frontline.sources.osm import Roads, geodesic_lengths_m

__all__ = [
    "DEFAULT_RANGES_KM",
    "DEFAULT_PENALTIES",
    "DEFAULT_SIMPLIFY_M",
    "INSIDE",
    "BEYOND",
    "ExposureTable",
    "road_exposure",
    "exposure_series",
    "Route",
    "RoadsOut",
    "last_road_out",
]

#: Fire ranges in km beyond the enemy/contested edge; see the module docstring.
DEFAULT_RANGES_KM: dict[str, float] = {"fpv": 10.0, "tube_artillery": 20.0, "loitering_mlrs": 40.0}

#: Route-cost penalties per km (added to the km itself). Ranges are cumulative,
#: so a km within FPV reach costs 1 + 10 + 3 + 1 = 15 km of driving: a detour
#: up to 15 times longer is preferred to a road under FPV watch, a 5× detour
#: to one under artillery only. ``inside`` applies to road inside contested
#: ground (enemy-held ground is impassable) on top of every range.
DEFAULT_PENALTIES: dict[str, float] = {"inside": 50.0, "fpv": 10.0, "tube_artillery": 3.0, "loitering_mlrs": 1.0}

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


# --------------------------------------------------------------------------- helpers


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


def _sides(cm: ControlMap, side: str, window: BaseGeometry | None = None
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


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """Only the polygon parts (clipping can leave stray lines that would buffer into ghosts)."""
    if g is None or g.is_empty:
        return shapely.Polygon()
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _expanded_box(bounds, metres: float) -> BaseGeometry:
    minx, miny, maxx, maxy = bounds
    return box(minx - metres, miny - metres, maxx + metres, maxy + metres)


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
        g = _polygonal(shapely.make_valid(proj.to_metric(ground_ll))) if not ground_ll.is_empty else shapely.Polygon()
        if clip_m is not None and not g.is_empty:
            # Ground further than the longest range from every road cannot reach
            # any of them: clip before buffering to keep the theatre-wide
            # polygon from being buffered for a local question.
            g = _polygonal(shapely.intersection(g, clip_m))
        if simplify_m > 0 and not g.is_empty:
            g = shapely.make_valid(shapely.simplify(g, simplify_m, preserve_topology=True))
            g = _polygonal(g)
        self.proj = proj
        self.names = [INSIDE] + [n for n, _ in ranges]
        self.ground = g
        prev = g
        prev_km = 0.0
        self.bands: list[BaseGeometry] = [g]
        for _, km in ranges:
            buf = _grow(prev, prev_km * 1000.0, km * 1000.0)
            self.bands.append(_polygonal(shapely.difference(buf, prev)) if not prev.is_empty else buf)
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
        t = _polygonal(tiles[i])
        if not t.is_empty:
            tiles[i] = t
            keep[i] = True
    return tiles[keep]


def _cumulative(band_km: np.ndarray, total_km: np.ndarray) -> np.ndarray:
    """Exposed km within each range (columns 1..) from band km; clipped to the line's length."""
    cum = np.cumsum(band_km, axis=1)[:, 1:]
    return np.minimum(cum, total_km[:, None])


def _share(exposed: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(total[:, None] > 0, exposed / total[:, None], 0.0)
    return np.clip(s, 0.0, 1.0)


def _road_props(roads: Roads, i: int, labels: np.ndarray) -> dict[str, Any]:
    return {
        "road": int(i),
        "id": roads.ids[i],
        "label": labels[i],
        "name": roads.names[i],
        "name_en": roads.names_en[i],
        "ref": roads.refs[i],
        "class": roads.classes[i],
    }


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": mapping(geom), "properties": props}


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


# --------------------------------------------------------------------------- exposure


class ExposureTable(list):
    """A list of per-road exposure rows (plain, JSON-ready dicts) with map output.

    Each row has ``road`` (index into the Roads), ``id``, ``label``, ``name``,
    ``name_en``, ``ref``, ``class``, ``length_km``, ``inside_km`` (inside enemy
    or contested ground), ``exposed_km`` and ``exposed_share`` (dicts keyed by
    range name, nearest range first) and ``worst`` (the nearest band the road
    enters: ``"inside"``, a range name, or ``"beyond"``).
    """

    def __init__(self, rows, *, side: str, ranges_km: dict[str, float], control_map: ControlMap,
                 geometry: np.ndarray, pieces: list[np.ndarray], band_names: list[str]):
        super().__init__(rows)
        self.side = side
        self.ranges_km = ranges_km
        self.source = control_map.source
        self.version_id = control_map.version_id
        self.valid_time = iso(control_map.valid_time)
        self._geometry = geometry
        self._pieces = pieces
        self._band_names = band_names

    def to_geojson(self, *, segments: bool = True) -> dict[str, Any]:
        """A GeoJSON FeatureCollection for the web map, coloured by exposure.

        Parameters
        ----------
        segments
            True (default): each road is cut into pieces by band (inside, each
            range ring, beyond), each piece a feature with ``band`` and
            ``colour``. False: one feature per road coloured by its worst band.
        """
        colours = _band_colours(self._band_names[1:])
        features = []
        for j, row in enumerate(self):
            props = {k: row[k] for k in ("road", "id", "label", "name", "ref", "class")}
            props.update(
                length_km=_r(row["length_km"]),
                inside_km=_r(row["inside_km"]),
                **{f"exposed_km_{n}": _r(v) for n, v in row["exposed_km"].items()},
                **{f"exposed_share_{n}": _r(v, 4) for n, v in row["exposed_share"].items()},
                worst=row["worst"],
            )
            if not segments:
                features.append(_feature(self._geometry[j], {**props, "colour": colours[row["worst"]]}))
                continue
            for k, band in enumerate(self._band_names + [BEYOND]):
                g = self._pieces[k][j]
                if g is None or g.is_empty:
                    continue
                g = _lines_only(g)
                if g is None:
                    continue
                features.append(_feature(g, {**props, "band": band, "colour": colours[band]}))
        return {
            "type": "FeatureCollection",
            "features": features,
            "properties": {
                "side": self.side,
                "source": self.source,
                "version_id": self.version_id,
                "valid_time": self.valid_time,
                "ranges_km": dict(self.ranges_km),
                "colours": colours,
            },
        }


def _lines_only(g: BaseGeometry) -> BaseGeometry | None:
    parts = shapely.get_parts(g)
    while len(parts) and (shapely.get_type_id(parts) >= 4).any():  # nested collections
        parts = shapely.get_parts(parts)
    parts = [p for p in parts if p.geom_type == "LineString" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiLineString(parts)


def _interest(roads: Roads, tree: shapely.STRtree, own: BaseGeometry, how: str) -> np.ndarray:
    if how == "all":
        return np.arange(len(roads))
    if how != "held":
        raise ValueError(f"roads_of_interest must be 'held' or 'all', not {how!r}.")
    shapely.prepare(own)
    return np.unique(tree.query(own, predicate="intersects"))


def road_exposure(
    roads: Roads,
    control_map: ControlMap,
    side: str,
    ranges_km: Mapping[str, float] | None = None,
    *,
    roads_of_interest: str = "held",
    simplify_m: float = DEFAULT_SIMPLIFY_M,
) -> ExposureTable:
    """Length and share of each of a side's roads within fire range of the enemy.

    Parameters
    ----------
    roads
        The road network (lon/lat), e.g. from :func:`frontline.sources.osm.read_roads`.
    control_map
        The situation to measure against.
    side
        Whose roads: the enemy is every other side; contested ground counts as enemy.
    ranges_km
        ``{name: km}`` ranges from the enemy/contested edge; default
        :data:`DEFAULT_RANGES_KM`.
    roads_of_interest
        ``"held"`` (default): roads touching ground ``side`` holds; ``"all"``: every road.
    simplify_m
        Simplification tolerance for the enemy ground before buffering.

    Returns
    -------
    ExposureTable
        One row per road of interest, in the order of ``roads``; see
        :class:`ExposureTable`. ``to_geojson()`` gives the map layer.

    Raises
    ------
    ValueError
        No roads, ``side`` missing from the map or holding nothing, bad
        ranges, or no road touching ``side``'s ground.
    """
    _check_roads(roads)
    ranges = _check_ranges(ranges_km)
    own, _, ground = _sides(control_map, side, reach_window(roads.bounds, ranges[-1][1] + 5.0))
    tree_ll = shapely.STRtree(roads.geometry)
    idx = _interest(roads, tree_ll, own, roads_of_interest)
    if len(idx) == 0:
        raise ValueError(
            f"None of the {len(roads)} roads (bounds {tuple(round(b, 3) for b in roads.bounds)}) touches ground "
            f"held by {side!r} in {_map_name(control_map)}; are the roads for this area and in lon/lat?"
        )
    lines_ll = roads.geometry[idx]
    proj, lines_m, total = _project_lines(lines_ll)
    clip = _expanded_box(shapely.total_bounds(lines_m), ranges[-1][1] * 1000.0 + 2000.0)
    threat = _Threat(ground, proj, ranges, clip, simplify_m)
    band_km, pieces = threat.measure(lines_ll, lines_m, total, pieces=True)
    rows = _exposure_rows(roads, idx, total, band_km, ranges)
    return ExposureTable(
        rows, side=side, ranges_km=dict(ranges), control_map=control_map,
        geometry=lines_ll, pieces=pieces, band_names=threat.names,
    )


def _project_lines(lines_ll: np.ndarray) -> tuple[LocalProjection, np.ndarray, np.ndarray]:
    proj = LocalProjection.for_geometry(box(*shapely.total_bounds(lines_ll)))
    return proj, proj.to_metric(lines_ll), geodesic_lengths_m(lines_ll) / 1000.0


def _worst(band_km_row: np.ndarray, names: list[str]) -> str:
    hit = np.flatnonzero(band_km_row > _EPS_KM)
    return names[hit[0]] if len(hit) else BEYOND


def _exposure_rows(roads: Roads, idx: np.ndarray, total: np.ndarray, band_km: np.ndarray,
                   ranges: list[tuple[str, float]]) -> list[dict[str, Any]]:
    names = [n for n, _ in ranges]
    exposed = _cumulative(band_km, total)
    share = _share(exposed, total)
    labels = roads.labels()
    rows = []
    for j, i in enumerate(idx):
        row = _road_props(roads, i, labels)
        row.update(
            length_km=float(total[j]),
            inside_km=float(min(band_km[j, 0], total[j])),
            exposed_km={n: float(exposed[j, k]) for k, n in enumerate(names)},
            exposed_share={n: float(share[j, k]) for k, n in enumerate(names)},
            worst=_worst(band_km[j], [INSIDE] + names),
        )
        rows.append(row)
    return rows


def exposure_series(
    roads: Roads,
    maps: Iterable[ControlMap],
    side: str,
    ranges_km: Mapping[str, float] | None = None,
    *,
    roads_of_interest: str = "held",
    simplify_m: float = DEFAULT_SIMPLIFY_M,
) -> list[dict[str, Any]]:
    """Exposure of each road over a sequence of control maps.

    Parameters
    ----------
    roads, side, ranges_km, roads_of_interest, simplify_m
        As for :func:`road_exposure`.
    maps
        Control maps, in any order (sorted by ``valid_time`` here).

    Returns
    -------
    list of dict
        One entry per road that is of interest on at least one date, with the
        road's attributes, ``length_km`` and aligned lists: ``times`` (ISO
        UTC), ``touches_held`` (whether the road touches ``side``'s ground on
        that date), ``inside_km``, and ``exposed_km`` / ``exposed_share`` as
        ``{range: [value per time]}``. Every road is measured on every date, so
        a road overrun by the enemy shows as fully inside/exposed.
    """
    _check_roads(roads)
    ranges = _check_ranges(ranges_km)
    maps = sorted(maps, key=lambda m: m.valid_time)
    if not maps:
        raise ValueError("exposure_series needs at least one control map.")
    tree_ll = shapely.STRtree(roads.geometry)
    per_map = []
    interest = np.zeros(len(roads), dtype=bool)
    window = reach_window(roads.bounds, ranges[-1][1] + 5.0)
    for cm in maps:
        own, _, ground = _sides(cm, side, window)
        idx = _interest(roads, tree_ll, own, roads_of_interest)
        touches = np.zeros(len(roads), dtype=bool)
        touches[idx] = True
        interest |= touches
        per_map.append((cm, ground, touches))
    idx = np.flatnonzero(interest)
    if len(idx) == 0:
        raise ValueError(
            f"None of the {len(roads)} roads touches ground held by {side!r} on any of the {len(maps)} maps."
        )
    lines_ll = roads.geometry[idx]
    proj, lines_m, total = _project_lines(lines_ll)
    tree_m = shapely.STRtree(lines_m)
    clip = _expanded_box(shapely.total_bounds(lines_m), ranges[-1][1] * 1000.0 + 2000.0)
    names = [n for n, _ in ranges]
    inside = np.zeros((len(idx), len(maps)))
    exposed = np.zeros((len(idx), len(maps), len(names)))
    for t, (cm, ground, _) in enumerate(per_map):
        band_km, _ = _Threat(ground, proj, ranges, clip, simplify_m).measure(lines_ll, lines_m, total, tree=tree_m)
        inside[:, t] = np.minimum(band_km[:, 0], total)
        exposed[:, t, :] = _cumulative(band_km, total)
    times = [iso(cm.valid_time) for cm, _, _ in per_map]
    labels = roads.labels()
    out = []
    for j, i in enumerate(idx):
        row = _road_props(roads, i, labels)
        L = float(total[j])
        row.update(
            length_km=L,
            times=list(times),
            touches_held=[bool(tm[i]) for _, _, tm in per_map],
            inside_km=[float(v) for v in inside[j]],
            exposed_km={n: [float(v) for v in exposed[j, :, k]] for k, n in enumerate(names)},
            exposed_share={
                n: [float(min(v / L, 1.0)) if L > 0 else 0.0 for v in exposed[j, :, k]] for k, n in enumerate(names)
            },
        )
        out.append(row)
    return out


# --------------------------------------------------------------------------- last road out


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
            "properties": {"side": self.side, "valid_time": self.valid_time, "note": self.note,
                           "ranges_km": dict(self.ranges_km), "colours": colours},
        }


def _check_polygon(g, what: str) -> BaseGeometry:
    if g is None or not isinstance(g, BaseGeometry) or g.is_empty:
        raise ValueError(f"The {what} must be a non-empty lon/lat (Multi)Polygon.")
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"The {what} must be a (Multi)Polygon, got a {g.geom_type}.")
    if not g.is_valid:
        g = _polygonal(shapely.make_valid(g))
    return g


def _junction_edges(lines: np.ndarray, region_of=None):
    """Split lines into graph edges at shared vertices (OSM junction semantics).

    A vertex becomes a graph node when it is a line end, occurs more than once
    (shared by two ways, or a loop), or when the region it lies in (salient,
    home, neither) differs from a neighbouring vertex's — so every road
    entering home or the salient gets a node just inside it.

    Returns ``(edges, line_of_edge, u, v, node_xy)``.
    """
    xy, li = shapely.get_coordinates(lines, return_index=True)
    # Drop repeated consecutive vertices: they would make zero-length edges.
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = ~((li[1:] == li[:-1]) & np.all(xy[1:] == xy[:-1], axis=1))
    xy, li = xy[keep], li[keep]
    # Vertices equal to ~1 cm are the same node.
    key = np.round(xy * 1e7).astype(np.int64)
    _, vid, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    vid = vid.reshape(-1)
    n = len(xy)
    first = np.ones(n, dtype=bool)
    first[1:] = li[1:] != li[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = li[1:] != li[:-1]
    is_node = first | last | (counts[vid] > 1)
    if region_of is not None:
        code = region_of(xy)
        change = np.zeros(n, dtype=bool)
        d = (code[1:] != code[:-1]) & (li[1:] == li[:-1])
        change[1:] |= d
        change[:-1] |= d
        is_node |= change
    pos = np.flatnonzero(is_node)
    same_line = li[pos[1:]] == li[pos[:-1]]
    a, b = pos[:-1][same_line], pos[1:][same_line]
    lengths = b - a + 1
    starts = np.repeat(a, lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cidx = starts + offs
    edges = shapely.linestrings(xy[cidx], indices=np.repeat(np.arange(len(a)), lengths))
    u_raw, v_raw = vid[a], vid[b]
    # Renumber the nodes that are used by edges as 0..N-1.
    used, inv = np.unique(np.concatenate([u_raw, v_raw]), return_inverse=True)
    u, v = inv[: len(a)], inv[len(a):]
    node_xy = np.zeros((len(used), 2))
    node_xy[u] = xy[a]
    node_xy[v] = xy[b]
    return edges, li[a], u, v, node_xy


def _reachable(n_nodes: int, u: np.ndarray, v: np.ndarray, ok: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Nodes connected to any seed through usable edges (breadth-first)."""
    eids = np.flatnonzero(ok)
    frm = np.concatenate([u[eids], v[eids]])
    to = np.concatenate([v[eids], u[eids]])
    order = np.argsort(frm, kind="stable")
    to_l = to[order].tolist()
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_nodes), out=ptr[1:])
    ptr_l = ptr.tolist()
    seen = bytearray(n_nodes)
    stack = seeds.tolist()
    for s in stack:
        seen[s] = 1
    while stack:
        x = stack.pop()
        for k in range(ptr_l[x], ptr_l[x + 1]):
            y = to_l[k]
            if not seen[y]:
                seen[y] = 1
                stack.append(y)
    return np.frombuffer(bytes(seen), dtype=np.uint8).astype(bool)


def _dijkstra(n_nodes: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, ok: np.ndarray,
              sources: np.ndarray, sink: np.ndarray) -> tuple[list[float], list[int], list[int]]:
    """Multi-source Dijkstra on the undirected graph; sinks are reached but not passed through.

    Returns distances, the edge each node was reached by (-1 for sources and
    unreached), and the sinks in order of increasing distance.
    """
    eids = np.flatnonzero(ok)
    frm = np.concatenate([u[eids], v[eids]])
    to = np.concatenate([v[eids], u[eids]])
    eid = np.concatenate([eids, eids])
    order = np.argsort(frm, kind="stable")
    to_l, eid_l = to[order].tolist(), eid[order].tolist()
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_nodes), out=ptr[1:])
    ptr_l, w_l, sink_l = ptr.tolist(), w.tolist(), sink.tolist()
    inf = math.inf
    dist = [inf] * n_nodes
    pred = [-1] * n_nodes
    done = bytearray(n_nodes)
    heap = []
    for s in sources.tolist():
        dist[s] = 0.0
        heap.append((0.0, s))
    heapq.heapify(heap)
    reached = []
    while heap:
        d, x = heapq.heappop(heap)
        if done[x]:
            continue
        done[x] = 1
        if sink_l[x]:
            reached.append(x)
            continue  # the route ends on entering home; don't route through it
        for k in range(ptr_l[x], ptr_l[x + 1]):
            y = to_l[k]
            e = eid_l[k]
            nd = d + w_l[e]
            if nd < dist[y]:
                dist[y] = nd
                pred[y] = e
                heapq.heappush(heap, (nd, y))
    return dist, pred, reached


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
    _check_roads(roads)
    ranges = _check_ranges(ranges_km)
    names = [n for n, _ in ranges]
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
    if node not in ("vertices", "crossings"):
        raise ValueError(f"node must be 'vertices' or 'crossings', not {node!r}.")
    salient = _check_polygon(salient, "salient")
    home = _check_polygon(home, "home territory")
    own, enemy, ground = _sides(control_map, side, reach_window(
        shapely.total_bounds(np.array([box(*roads.bounds), salient], dtype=object)), max(ranges[-1][1] + 5.0, 0)))
    if not shapely.intersects(salient, own):
        raise ValueError(f"The salient does not overlap ground held by {side!r} in {_map_name(control_map)}.")
    if shapely.covers(home, salient):
        raise ValueError("The salient lies inside home territory; give the salient and home as separate areas.")

    proj = LocalProjection.for_geometry(salient)
    salient_m = proj.to_metric(salient)
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

    shapely.prepare(salient)
    shapely.prepare(home)

    def region_of(xy):
        return (shapely.contains_xy(salient, xy[:, 0], xy[:, 1]).astype(np.int8)
                + 2 * shapely.contains_xy(home, xy[:, 0], xy[:, 1]).astype(np.int8))

    edges, e_line, u, v, node_xy = _junction_edges(lines, region_of=region_of)
    e_road = line_road[e_line]
    loop = u == v  # closed ways with no other junction: never on a shortest path
    n_nodes = len(node_xy)

    edges_m = proj.to_metric(edges)
    e_len = geodesic_lengths_m(edges) / 1000.0
    # Roads touching the search box may run far beyond it: clip around the edges themselves.
    clip = _expanded_box(shapely.total_bounds(edges_m), ranges[-1][1] * 1000.0 + 2000.0)
    threat = _Threat(ground, proj, ranges, clip, simplify_m)
    tree_m = shapely.STRtree(edges_m)
    band_km, _ = threat.measure(edges, edges_m, e_len, tree=tree_m)
    exposed = _cumulative(band_km, e_len)
    inside = np.minimum(band_km[:, 0], e_len)

    # Impassable: edges running through enemy-held ground (not merely contested).
    blocked = np.zeros(len(edges), dtype=bool)
    enemy_m = _polygonal(shapely.intersection(_polygonal(proj.to_metric(enemy)), clip)) if not enemy.is_empty else None
    if enemy_m is not None and not enemy_m.is_empty:
        shapely.prepare(enemy_m)
        # Edges wholly inside: a prepared test; only those crossing the edge of
        # enemy ground need an overlay to measure how far they run in it.
        inside_all = tree_m.query(enemy_m, predicate="contains")
        blocked[inside_all] = True
        cand = np.setdiff1d(tree_m.query(enemy_m, predicate="intersects"), inside_all)
        if len(cand):
            in_enemy_m = shapely.length(shapely.intersection(edges_m[cand], enemy_m))
            blocked[cand[in_enemy_m > blocked_tolerance_m]] = True

    weight = e_len + pen[INSIDE] * inside + exposed @ np.array([pen[n] for n in names])
    ok = ~blocked & ~loop
    codes = region_of(node_xy)
    in_home = (codes & 2) > 0
    in_salient = ((codes & 1) > 0) & ~in_home
    degree = np.bincount(np.concatenate([u[ok], v[ok]]), minlength=n_nodes)

    origin_ll: tuple[float, float] | None = None
    node_m = shapely.get_coordinates(proj.to_metric(shapely.points(node_xy)))
    # Snap the "centre" origin only to junctions from which home can be reached
    # at all, so a dead-end track by the salient's centre does not hide the way
    # out. An explicit origin point is honoured even when it is cut off.
    can_leave = _reachable(n_nodes, u, v, ok, np.flatnonzero(in_home))
    if isinstance(origin, str):
        cand_nodes = np.flatnonzero(in_salient & (degree > 0))
        if len(cand_nodes) == 0:
            raise ValueError("No usable road junction lies inside the salient; is the road file for this area?")
        if origin == "centre" and can_leave[cand_nodes].any():
            cand_nodes = cand_nodes[can_leave[cand_nodes]]
        if origin == "any":
            sources = cand_nodes
        elif origin == "centre":
            biggest = max(shapely.get_parts(salient_m), key=lambda p: p.area)
            tol = max(50.0, math.sqrt(biggest.area) / 200.0)
            pole = polylabel(biggest, tolerance=tol)
            d2 = ((node_m[cand_nodes] - np.array([pole.x, pole.y])) ** 2).sum(axis=1)
            sources = cand_nodes[[int(np.argmin(d2))]]
            origin_ll = (float(node_xy[sources[0], 0]), float(node_xy[sources[0], 1]))
        else:
            raise ValueError(f"origin must be 'centre', 'any' or a lon/lat point, not {origin!r}.")
    else:
        pt = origin if isinstance(origin, Point) else Point(*origin)
        cand_nodes = np.flatnonzero((degree > 0) & ~in_home)
        if len(cand_nodes) == 0:
            raise ValueError("No usable road junction outside home territory near the origin.")
        pm = proj.to_metric(pt)
        d2 = ((node_m[cand_nodes] - np.array([pm.x, pm.y])) ** 2).sum(axis=1)
        sources = cand_nodes[[int(np.argmin(d2))]]
        origin_ll = (float(node_xy[sources[0], 0]), float(node_xy[sources[0], 1]))

    dist, pred, reached = _dijkstra(n_nodes, u, v, weight, ok, sources, in_home)
    graph = {"nodes": int(n_nodes), "edges": int(len(edges)), "blocked": int(blocked.sum()),
             "roads": int(len(idx))}
    labels = roads.labels()

    routes: list[Route] = []
    crossings: list[tuple[float, float]] = []
    for h in reached:
        if len(routes) >= max_routes:
            break
        cx, cy = float(node_xy[h, 0]), float(node_xy[h, 1])
        if crossings:
            _, _, dd = GEOD.inv(np.full(len(crossings), cx), np.full(len(crossings), cy),
                                [c[0] for c in crossings], [c[1] for c in crossings])
            if np.min(dd) < crossing_separation_km * 1000.0:
                continue
        crossings.append((cx, cy))
        routes.append(_build_route(len(routes), h, dist, pred, u, v, edges, e_len, exposed, inside,
                                   e_road, roads, labels, node_xy, names, threat))

    note = ""
    if not routes:
        note = (f"No road connects the salient to home territory without running through ground held by the "
                f"enemy (within {search_km} km); the salient is cut off on this road network.")
    return RoadsOut(
        side=side, valid_time=iso(control_map.valid_time), ranges_km=dict(ranges), penalties=pen,
        origin=origin_ll, routes=routes, graph=graph, note=note,
    )


def _build_route(rank, h, dist, pred, u, v, edges, e_len, exposed, inside, e_road, roads, labels,
                 node_xy, names, threat: _Threat) -> Route:
    path = []  # (edge, forward?)
    x = h
    while pred[x] != -1:
        e = pred[x]
        fwd = v[e] == x
        path.append((e, fwd))
        x = u[e] if fwd else v[e]
    path.reverse()
    start = (float(node_xy[x, 0]), float(node_xy[x, 1]))
    coords = [node_xy[x]]
    for e, fwd in path:
        c = shapely.get_coordinates(edges[e])
        coords.append(c[1:] if fwd else c[::-1][1:])
    xy = np.vstack(coords)
    geom = LineString(xy) if len(xy) >= 2 else LineString([xy[0], xy[0]])
    eids = np.array([e for e, _ in path], dtype=np.int64)
    L = float(e_len[eids].sum()) if len(eids) else 0.0
    ex = exposed[eids].sum(axis=0) if len(eids) else np.zeros(len(names))
    seq_names: list[str] = []
    seq_ids: list[str] = []
    for e in eids:
        r = e_road[e]
        nm = labels[r] if (roads.refs[r] or roads.names[r] or roads.names_en[r]) else ""
        if nm and (not seq_names or seq_names[-1] != nm):
            seq_names.append(nm)
        if not seq_ids or seq_ids[-1] != roads.ids[r]:
            seq_ids.append(roads.ids[r])
    # Band pieces of the route itself, for the map.
    gm = threat.proj.to_metric(geom)
    pieces: dict[str, BaseGeometry] = {}
    for band_name, band in zip(threat.names, threat.bands):
        if not band.is_empty and shapely.intersects(band, gm):
            pieces[band_name] = threat.proj.to_lonlat(shapely.intersection(gm, band))
    rest = shapely.difference(gm, threat.outer) if not threat.outer.is_empty else gm
    if not rest.is_empty:
        pieces[BEYOND] = threat.proj.to_lonlat(rest)
    return Route(
        rank=rank,
        geometry=geom,
        length_km=L,
        cost=float(dist[h]),
        exposed_km={n: float(ex[k]) for k, n in enumerate(names)},
        exposed_share={n: (float(ex[k]) / L if L > 0 else 0.0) for k, n in enumerate(names)},
        inside_km=float(inside[eids].sum()) if len(eids) else 0.0,
        roads=seq_names,
        road_ids=seq_ids,
        start=start,
        crossing=(float(node_xy[h, 0]), float(node_xy[h, 1])),
        pieces=pieces,
    )
