"""From classified source features to the partition of the theatre.

Every side holds its own home territory except where the source draws
otherwise. What the source draws is cut, once per distinct feature, into
*pieces*: its parts in each 0.5° tile of each home (:func:`feature_pieces`).
A version's partition is then built tile by tile (:class:`PartitionBuilder`):

* in home H, contested ground ``C`` = union of contested pieces;
* in home H, ground held by another side S ``A[S]`` = union of S's held
  pieces, minus ``C`` (grey drawn over red means *contested*);
* side X holds ``home_X − C − ∪A`` plus every ``A[X]`` abroad.

Held pieces of a side inside its own home add nothing (DeepState's
"liberated" labels inside Ukraine) and are ignored. Areas follow without
building the large complement polygons: X's area in its home is
``area(home_X) − area(C) − Σ area(A)``, exact because the parts are disjoint
by construction. Tile unions are cached by the set of pieces they are made
of, so consecutive versions only recompute the tiles where the map changed:
that is what makes a 1,359-version archive import in under a minute.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from . import geodesy
from .borders import Theatre, polygonal
from .model import CONTESTED, ROLE_CONTESTED, ROLE_HELD, RawFeature

CONVENTION_CLIPPED = "clipped"
CONVENTION_AS_DRAWN = "as_drawn"
CONVENTIONS = {
    CONVENTION_CLIPPED: "clipped to region: the partition of the theatre, cut to the region's border",
    CONVENTION_AS_DRAWN: (
        "as drawn by the source: the source's own polygons, unclipped (sea and "
        "border overshoot included), each counted in the home holding most of it"
    ),
}
THEATRE = "theatre"
DRAWN_CELL = 0.5  # degrees: grid for the as-drawn convention's cached unions
EMPTY = shapely.Polygon()


@dataclass
class Piece:
    """Part of a drawn feature in one tile: held by ``what`` (a side) or contested."""

    key: bytes  # content hash of the piece's WKB (see piece_key): equal keys, equal geometry
    home: str  # the home the tile belongs to; for drawn pieces, the feature's home_of
    tile: int | tuple[int, int]
    what: str
    geom: BaseGeometry
    area_km2: float


@dataclass
class FeaturePieces:
    """How one feature enters the partition.

    ``counted`` is False for labels, excluded and unclassified features and
    for drawn ground outside the theatre. ``home_of`` is the home holding most
    of the feature. ``drawn`` cuts the raw polygon by a plain grid, for the
    as-drawn convention.
    """

    pieces: list[Piece] = field(default_factory=list)
    drawn: list[Piece] = field(default_factory=list)
    counted: bool = False
    home_of: str | None = None
    drawn_km2: float = 0.0
    note: str | None = None


def piece_key(wkb: bytes) -> bytes:
    """Identity of a piece: a hash of its WKB.

    Pieces, not features, are the unit of caching: DeepState redraws its large
    polygons every version, but a redrawn polygon's pieces in the tiles where
    nothing moved are byte-identical, so their tile unions are reused.
    """
    return hashlib.blake2b(wkb, digest_size=16).digest()


_CELL_AREAS: dict[bytes, float] = {}  # piece key -> km²: a redrawn polygon's unchanged cells are not re-measured


def _grid_cells(geom: BaseGeometry) -> list[tuple[tuple[int, int], BaseGeometry, bytes, float]]:
    """``(cell, part, key, km²)`` of a drawn polygon cut by the as-drawn grid (the cells cover all of it)."""
    minx, miny, maxx, maxy = geom.bounds
    cells, parts = [], []
    for ix in range(int(np.floor(minx / DRAWN_CELL)), int(np.floor(maxx / DRAWN_CELL)) + 1):
        for iy in range(int(np.floor(miny / DRAWN_CELL)), int(np.floor(maxy / DRAWN_CELL)) + 1):
            part = polygonal(
                shapely.clip_by_rect(
                    geom, ix * DRAWN_CELL, iy * DRAWN_CELL, (ix + 1) * DRAWN_CELL, (iy + 1) * DRAWN_CELL
                )
            )
            if not part.is_empty:
                cells.append((ix, iy))
                parts.append(part)
    if not parts:
        return []
    keys = [piece_key(w) for w in shapely.to_wkb(np.array(parts, dtype=object))]
    miss = [j for j, k in enumerate(keys) if k not in _CELL_AREAS]
    if miss:
        if len(_CELL_AREAS) > 100_000:
            _CELL_AREAS.clear()
        for j, a in zip(miss, geodesy.areas_km2([parts[j] for j in miss]).tolist()):
            _CELL_AREAS[keys[j]] = a
    return [(c, g, k, _CELL_AREAS[k]) for c, g, k in zip(cells, parts, keys)]


def feature_pieces(rf: RawFeature, theatre: Theatre) -> FeaturePieces:
    """Cut one classified area feature into tile pieces of the theatre's homes.

    Parameters
    ----------
    rf
        A classified area feature in lon/lat.
    theatre
        Homes of the sides.
    """
    if rf.kind != "area" or rf.role not in (ROLE_HELD, ROLE_CONTESTED):
        return FeaturePieces()
    what = CONTESTED if rf.role == ROLE_CONTESTED else rf.side
    if rf.role == ROLE_HELD and what in theatre.homes and shapely.contains_properly(theatre.homes[what], rf.geometry):
        # Wholly inside its own side's home (most "liberated" labels): adds nothing.
        return FeaturePieces(home_of=what)
    # A held feature without a side never reaches the partition (it has no home: see the note below),
    # so its pieces, only measured, need no side of their own.
    tag = what or ""
    by_home: dict[str, list[Piece]] = {}
    for home, tiling in theatre.tiled.items():
        by_home[home] = [Piece(k, home, i, tag, g, a) for i, g, k, a in tiling.split_measured(rf.geometry)]
    areas = {h: sum(p.area_km2 for p in ps) for h, ps in by_home.items()}
    grid = _grid_cells(rf.geometry)
    drawn_km2 = sum(a for *_, a in grid)
    if sum(areas.values()) <= 0:
        return FeaturePieces(drawn_km2=drawn_km2, note="drawn outside the theatre; not counted")
    home_of = max(areas, key=lambda h: areas[h])
    out = FeaturePieces(counted=True, home_of=home_of, drawn_km2=drawn_km2)
    if rf.role == ROLE_HELD:
        if what not in theatre.homes:
            return FeaturePieces(
                drawn_km2=drawn_km2,
                home_of=home_of,
                note=f"held by side {what!r}, which has no home in this theatre; not counted",
            )
        abroad = sum(a for h, a in areas.items() if h != what)
        if abroad <= 0 or (rf.abroad_rule == "majority" and abroad <= areas.get(what, 0.0)):
            # Inside (mostly inside) its own side's home: a label, not ground held abroad.
            return FeaturePieces(drawn_km2=drawn_km2, home_of=home_of)
        by_home.pop(what, None)
    out.pieces = [p for ps in by_home.values() for p in ps]
    out.drawn = [Piece(k, home_of, c, tag, g, a) for c, g, k, a in grid]
    return out


def _union(geoms: list[BaseGeometry]) -> BaseGeometry:
    if not geoms:
        return EMPTY
    if len(geoms) == 1:
        return geoms[0]
    return polygonal(shapely.union_all(geoms))


class _LazyKey:
    """A tile union's cache key (its kind, place and the set of its pieces' keys), made only when first used.

    Building a version registers a few thousand tile parts; most are never unioned (a cached one, or
    one nobody asks for), so the sets of piece keys are not hashed up front.
    """

    __slots__ = ("_parts", "_value")

    def __init__(self, *parts):
        self._parts = parts
        self._value = None

    @property
    def value(self) -> tuple:
        if self._value is None:
            self._value = tuple(frozenset(p.key for p in x) if isinstance(x, list) else x for x in self._parts)
        return self._value


def _key_value(key):
    return key.value if isinstance(key, _LazyKey) else key


class PartitionBuilder:
    """Builds :class:`VersionControl` objects, caching tile unions across versions.

    Parameters
    ----------
    theatre
        Homes of the sides.
    cache_size
        Tile unions kept (least recently used are dropped).
    """

    def __init__(self, theatre: Theatre, cache_size: int = 50_000):
        self.theatre = theatre
        self.sides = tuple(theatre.homes)
        self._cache: OrderedDict = OrderedDict()
        self._size = cache_size

    def _cached(self, key, make):
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        val = make()
        self._cache[key] = val
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return val

    def _tile_union(self, kind: str, home: str, tile, what: str, pieces: list[Piece]):
        """``(geometry_fn, area_fn)`` of the union of a tile's pieces: each computed (and cached) when first asked."""
        if len(pieces) == 1:
            p = pieces[0]
            return (lambda: p.geom), (lambda: p.area_km2)
        key = _LazyKey(kind, home, tile, what, pieces)
        geom_fn = lambda: self._cached(key.value, lambda: _union([p.geom for p in pieces]))  # noqa: E731
        if kind == "d":  # as-drawn pieces only ever serve areas: their union is never kept for itself
            return None, self._area_fn(key, lambda: _union([p.geom for p in pieces]))
        return geom_fn, self._area_fn(key, geom_fn)

    def _area_fn(self, key, geom_fn):
        # Areas are cached apart from geometry: a state read (map, corridors) needs no geodesic areas,
        # which cost as much as the unions themselves.
        return lambda: self._cached(("area", _key_value(key)), lambda: geodesy.area_km2(geom_fn()))

    def build(self, features: Iterable[FeaturePieces]) -> VersionControl:
        """The partition made by a version's counted features."""
        tiles: dict[tuple[str, int | tuple[int, int]], dict[str, list[Piece]]] = {}
        drawn: dict[tuple[str, int | tuple[int, int]], dict[str, list[Piece]]] = {}
        for fp in features:
            if not fp.counted:
                continue
            for p in fp.pieces:
                tiles.setdefault((p.home, p.tile), {}).setdefault(p.what, []).append(p)
            for p in fp.drawn:
                drawn.setdefault((p.home, p.tile), {}).setdefault(p.what, []).append(p)
        vc = VersionControl(self.theatre)
        # Nothing is unioned here: each tile part is a function, run (and cached) when the geometry or an
        # area is first asked for. A state read that only wants points or one window pays for none of it.
        for (home, tile), groups in tiles.items():
            c_pieces = groups.get(CONTESTED, [])
            if c_pieces:
                c, c_area = self._tile_union("t", home, tile, CONTESTED, c_pieces)
                vc._add(home, CONTESTED, c, c_area)
            for what, ps in groups.items():
                if what == CONTESTED:
                    continue
                a, a_area = self._tile_union("t", home, tile, what, ps)
                if c_pieces:
                    key = _LazyKey("cut", home, tile, what, ps, c_pieces)
                    cut = lambda key=key, a=a, c=c: self._cached(  # noqa: E731
                        key.value, lambda: polygonal(shapely.difference(a(), c()))
                    )
                    a, a_area = cut, self._area_fn(key, cut)
                vc._add(home, what, a, a_area)
        for (home, cell), groups in drawn.items():
            for what, ps in groups.items():
                _, area = self._tile_union("d", home, cell, what, ps)
                vc._add_drawn(home, what, area)
        return vc


class VersionControl:
    """The partition of one version: tile parts of contested and abroad ground.

    Built by :meth:`PartitionBuilder.build`. Geometry is assembled on demand.
    """

    def __init__(self, theatre: Theatre):
        self.theatre = theatre
        self.sides = tuple(theatre.homes)
        self._part_fns: dict[tuple[str, str], list] = {}
        self._area_fns: dict[tuple[str, str], list] = {}
        self._drawn_fns: dict[tuple[str, str], list] = {}
        self._drawn_any = False

    def _add(self, home: str, what: str, geom_fn, area_fn) -> None:
        """A tile part of ``what`` in ``home``: its geometry (or a function making it) and area function."""
        if isinstance(geom_fn, BaseGeometry):  # a geometry made already (tests build partitions by hand)
            geom_fn = lambda g=geom_fn: g  # noqa: E731
        self._part_fns.setdefault((home, what), []).append(geom_fn)
        self._area_fns.setdefault((home, what), []).append(area_fn)

    @cached_property
    def _parts(self) -> dict[tuple[str, str], list[BaseGeometry]]:
        """``(home, what) → tile parts``, unioned on first use; empty parts left out."""
        out: dict[tuple[str, str], list[BaseGeometry]] = {}
        for k, fns in self._part_fns.items():
            gs = [g for g in (f() for f in fns) if not g.is_empty]
            if gs:
                out[k] = gs
        return out

    def _add_drawn(self, home: str, what: str, area_fn) -> None:
        self._drawn_any = True
        self._drawn_fns.setdefault((home, what), []).append(area_fn)

    @cached_property
    def _areas(self) -> dict[tuple[str, str], float]:
        return {k: sum(f() for f in fs) for k, fs in self._area_fns.items()}

    @cached_property
    def _drawn_areas(self) -> dict[tuple[str, str], float]:
        return {k: sum(f() for f in fs) for k, fs in self._drawn_fns.items()}

    # -- areas --------------------------------------------------------------
    def areas(self, home_area: dict[str, float] | None = None) -> dict[tuple[str, str, str], float]:
        """Geodesic km² keyed by ``(region, side|contested, convention)``.

        Regions are each side's home (named by the side) and ``theatre``. The
        as-drawn convention has no value for a side's own home (the source
        does not draw it). ``home_area`` overrides the homes' areas when the
        pieces were cut to a smaller region.
        """
        out: dict[tuple[str, str, str], float] = {}
        home_area = home_area or self.theatre.home_area_km2
        whats = (*self.sides, CONTESTED)
        for home in self.sides:
            taken = 0.0
            for what in whats:
                if what == home:
                    continue
                a = self._areas.get((home, what), 0.0)
                out[(home, what, CONVENTION_CLIPPED)] = a
                taken += a
                out[(home, what, CONVENTION_AS_DRAWN)] = self._drawn_areas.get((home, what), 0.0)
            out[(home, home, CONVENTION_CLIPPED)] = max(home_area[home] - taken, 0.0)
        for what in whats:
            out[(THEATRE, what, CONVENTION_CLIPPED)] = sum(out[(h, what, CONVENTION_CLIPPED)] for h in self.sides)
            out[(THEATRE, what, CONVENTION_AS_DRAWN)] = sum(
                out.get((h, what, CONVENTION_AS_DRAWN), 0.0) for h in self.sides if h != what
            )
        return out

    # -- geometry -----------------------------------------------------------
    def tile_parts(self) -> Mapping[tuple[str, str], list[BaseGeometry]]:
        """``(home, what) → tile parts``: the partition's pieces as built, before any union (read-only)."""
        return self._parts

    def part(self, home: str, what: str) -> BaseGeometry:
        """Ground in ``home`` that is ``what`` (another side, or contested)."""
        return _union(self._parts.get((home, what), []))

    @cached_property
    def contested(self) -> BaseGeometry:
        return _union([g for h in self.sides for g in self._parts.get((h, CONTESTED), [])])

    def abroad(self, side: str) -> BaseGeometry:
        """Ground ``side`` holds outside its home."""
        return _union([g for h in self.sides if h != side for g in self._parts.get((h, side), [])])

    def held_in_home(self, side: str) -> BaseGeometry:
        """Ground ``side`` holds inside its own home (a large polygon: built on demand)."""
        cut = [g for (h, w), gs in self._parts.items() if h == side and w != side for g in gs]
        home = self.theatre.homes[side]
        if not cut:
            return home
        return polygonal(shapely.difference(home, _union(cut)))

    def local(self, window: BaseGeometry) -> tuple[dict[str, BaseGeometry], BaseGeometry, BaseGeometry]:
        """``(held per side, contested, theatre)`` inside ``window``, built from the parts near it only.

        A side's whole ground is its home minus everything cut out of it: a
        polygon with the full state border, costly to build. Questions about a
        place (a road, a settlement, a salient) only need it near that place.
        """

        def near(gs):
            gs = [g for g in gs if shapely.intersects(g, window)]
            return polygonal(shapely.intersection(_union(gs), window)) if gs else EMPTY

        homes = {h: polygonal(shapely.intersection(g, window)) for h, g in self.theatre.homes.items()}
        held = {}
        for s in self.sides:
            own = homes.get(s, EMPTY)
            cut = near([g for (h, _), gs in self._parts.items() if h == s for g in gs])
            abroad = near([g for (h, w), gs in self._parts.items() if w == s and h != s for g in gs])
            held[s] = _union([g for g in (polygonal(shapely.difference(own, cut)), abroad) if not g.is_empty])
        contested = near([g for (_, w), gs in self._parts.items() if w == CONTESTED for g in gs])
        return held, contested, _union([g for g in homes.values() if not g.is_empty])

    def held(self, side: str) -> BaseGeometry:
        """All ground ``side`` holds in the theatre."""
        parts = [self.held_in_home(side), self.abroad(side)]
        return _union([p for p in parts if not p.is_empty])


class LazyHeld(Mapping):
    """``side → held ground``, computed on first access (home complements are large)."""

    def __init__(self, vc: VersionControl):
        self._vc = vc
        self._cache: dict[str, BaseGeometry] = {}

    def __getitem__(self, side: str) -> BaseGeometry:
        if side not in self._vc.sides:
            raise KeyError(side)
        if side not in self._cache:
            self._cache[side] = self._vc.held(side)
        return self._cache[side]

    def __iter__(self):
        return iter(self._vc.sides)

    def __len__(self) -> int:
        return len(self._vc.sides)
