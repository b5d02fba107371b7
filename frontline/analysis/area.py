"""Geodesic area held by each side, at a time and over time, within a region.

Regions: ``theatre``; ``home:<side>`` (e.g. ``home:ua`` = Ukraine) and its
aliases ``ukraine``/``russia``; ``outside:<side>`` (the theatre outside that
side's home); or a polygon file: GeoJSON, GeoPackage, Shapefile, KML/KMZ or
any GDAL vector format, in any CRS (reprojected to lon/lat). A file is one
region, the union of its polygons, labelled by the file name (and by the
feature's name when it holds one named feature); with ``region_field`` each
value of that attribute is a region of its own (one row per oblast),
labelled ``<file>:<value>``.

Two conventions, named in every output:

``clipped``
    The partition of the theatre cut to the region: land only, every point
    held by one side or contested (grey drawn over red is contested). The
    part of a region outside the theatre (sea, Belarus, …) counts nothing.
``as_drawn``
    The source's own polygons as drawn, the way the source itself measures:
    per class, the union of the polygons that count (held by ``ru``,
    contested, and ``ua``-held ground *abroad*: DeepState's "liberated"
    polygons inside Ukraine are history labels), sea and border overshoot
    included, grey over red counted in both. In a polygon file: that union
    cut to the region; polygons of a class overlapping each other count
    once. (The stored ``theatre``/``home:<side>`` figures count each polygon
    in the home holding most of it, then add the homes.)

Standard regions read areas precomputed at import; a polygon file is
measured from the stored feature pieces: each distinct piece is cut to the
region once (tiles wholly inside or outside it need no cut), and unions are
cached by piece set, so an unchanged stretch of front costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..borders import Theatre, polygonal
from ..model import CONTESTED, iso
from ..normalise import (
    CONVENTION_AS_DRAWN,
    CONVENTION_CLIPPED,
    CONVENTIONS,
    DRAWN_CELL,
    THEATRE,
    FeaturePieces,
    PartitionBuilder,
    Piece,
    piece_key,
)
from ..store import GeoPackageStore, VersionInfo, theatre_of
from ..times import check_period, last_per_period, period_key

ALIASES = {"ukraine": "home:ua", "russia": "home:ru"}


def parse_time(value: str | int | float | datetime | None, *, role: str = "at", name: str | None = None) -> int | None:
    """Epoch seconds of a user's time: :func:`frontline.times.parse_time` (kept here for existing callers).

    ``role="at"``/``"end"``: a bare date is the end of that day (23:59:59 UTC);
    ``role="start"``: its start (00:00:00 UTC). Timestamps and epoch seconds as given.
    """
    from ..times import parse_time as _parse

    return _parse(value, role=role, name=name)  # type: ignore[arg-type]


def _sides(store: GeoPackageStore) -> tuple[str, ...]:
    return store.sides


def resolve_region(store: GeoPackageStore, region: str) -> tuple[str, str | None]:
    """``(region key, stored column)``: the column is None for a polygon file."""
    region = ALIASES.get(region, region)
    sides = _sides(store)
    if region == THEATRE:
        return region, THEATRE
    if region.startswith("home:"):
        side = region.split(":", 1)[1]
        if side not in sides:
            raise ValueError(f"Unknown side {side!r} in region {region!r}; sides are {', '.join(sides)}.")
        return region, side
    if region.startswith("outside:"):
        side = region.split(":", 1)[1]
        if side not in sides:
            raise ValueError(f"Unknown side {side!r} in region {region!r}; sides are {', '.join(sides)}.")
        others = [s for s in sides if s != side]
        return region, others[0] if len(others) == 1 else None
    if Path(region).is_file():
        return region, None
    if Path(region).is_dir():
        raise ValueError(f"Region {region!r} is a folder: give the polygon file inside it (e.g. its .shp).")
    if "/" in region or "\\" in region or Path(region).suffix:
        raise ValueError(f"{region}: no such region file.")
    raise ValueError(
        f"Region {region!r} is not 'theatre', 'ukraine', 'russia', 'home:<side>', "
        "'outside:<side>' nor an existing polygon file."
    )


FILE_MEANINGS = {
    CONVENTION_CLIPPED: "clipped to region: the partition of the theatre's land cut to the region "
    "(sea and ground outside the theatre count nothing)",
    CONVENTION_AS_DRAWN: "as drawn by the source, cut to the region: per class the union of the source's own "
    "polygons (sea and border overshoot included); a side's km² are its ground held abroad",
}


def convention_meaning(region: str, convention: str) -> str:
    """What a convention means for this region (a polygon file's as-drawn figures are cut to it)."""
    key = ALIASES.get(region, region)
    if key != THEATRE and not key.startswith(("home:", "outside:")) and convention in FILE_MEANINGS:
        return FILE_MEANINGS[convention]
    return CONVENTIONS[convention]


# -- polygon files -------------------------------------------------------------


@dataclass
class RegionShape:
    """One region read from a polygon file.

    Attributes
    ----------
    label
        What outputs call it: the file name, ``<file>:<feature name>`` for a
        file of one named feature, ``<file>:<value>`` per ``region_field`` value.
    geom
        Polygon or MultiPolygon in lon/lat (EPSG:4326 axis order lon, lat).
    path
        The file as given.
    value
        The ``region_field`` value (None for the union of a file).
    """

    label: str
    geom: BaseGeometry
    path: str
    value: str | None = None


_POINTS_LINES = ("point", "linestring", "multipoint", "multilinestring", "linearring")


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()).split("; It might help", 1)[0]
    return text[:300] + ("…" if len(text) > 300 else "")


def _to_lonlat(geoms: np.ndarray, crs: str | None, path: str) -> np.ndarray:
    """Geometries of the user's file ``path`` in lon/lat; projected edges are densified (1 km) first.

    The checked front of :func:`frontline.geodesy.to_lonlat_from`, which does the transform: this adds what a
    user's file needs (coordinates that are not lon/lat without a CRS, an unknown CRS, an impossible
    transform: each a message naming the file) and densifies projected edges, so they keep their shape.
    """
    ok = ~shapely.is_missing(geoms)
    if not crs:
        xy = shapely.get_coordinates(geoms[ok])
        if len(xy) and (np.abs(xy[:, 0]).max() > 180 or np.abs(xy[:, 1]).max() > 90):
            raise ValueError(
                f"{path}: the coordinates are not longitude/latitude and the file names no CRS "
                "(a Shapefile's .prj missing?)."
            )
        return geoms
    if crs in ("EPSG:4326", "OGC:CRS84"):
        return geoms
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs)
    except CRSError as exc:
        raise ValueError(f"{path}: unknown CRS ({_one_line(exc)}).") from None
    out = geoms.copy()
    g = geoms[ok]
    if c.is_projected:
        unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
        g = shapely.segmentize(g, 1000.0 / (unit or 1.0))
    try:
        out[ok] = geodesy.to_lonlat_from(g, crs)
    except Exception as exc:  # pyproj raises its own types for impossible transforms
        raise ValueError(f"{path}: cannot reproject from {c.name} to lon/lat ({_one_line(exc)}).") from None
    return out


def _read_layers(path: str, layer: str | None) -> list[tuple[dict, np.ndarray, list]]:
    """``(meta, geometries, field values)`` of the layers to read: the named one, else the polygon layers."""
    import pyogrio

    from ..sources.gis import gdal_path as to_gdal_path

    try:
        gdal_path = to_gdal_path(path)
        layers = [(str(n), str(t or "")) for n, t in pyogrio.list_layers(gdal_path)]
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}.") from None
    except Exception as exc:  # GDAL's own error types
        raise ValueError(f"{path}: cannot read it as a polygon file ({_one_line(exc)}).") from None
    names = [n for n, _ in layers]
    if layer is not None:
        if layer not in names:
            raise ValueError(f"{path}: no layer {layer!r}; its layers are {', '.join(names) or 'none'}.")
        wanted = [layer]
    else:
        wanted = [n for n, t in layers if t.lower().split(" ")[0] not in _POINTS_LINES] or names
    kml = path.lower().endswith((".kml", ".kmz"))
    read = []
    for name in wanted:
        try:
            meta, _, wkb, values = pyogrio.raw.read(gdal_path, layer=name)
        except Exception as exc:
            raise ValueError(f"{path}: cannot read layer {name!r} ({_one_line(exc)}).") from None
        geoms = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
        if layer is None and not shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist():
            continue
        read.append((meta, geoms, values, name))
    if layer is None and not kml:
        poly = [r for r in read if any(t in (3, 6, 7) for t in shapely.get_type_id(r[1]).tolist())]
        if len(poly) > 1:
            raise ValueError(
                f"{path}: {len(poly)} layers hold polygons ({', '.join(r[3] for r in poly)}): "
                "name one with --region-layer."
            )
        read = poly or read[:1]
    return [(m, g, v) for m, g, v, _ in read]


def _field_index(fields: list[str], field: str, path: str) -> int:
    if field in fields:
        return fields.index(field)
    loose = [i for i, f in enumerate(fields) if f.lower() == field.lower()]
    if len(loose) == 1:
        return loose[0]
    raise ValueError(f"{path}: no field {field!r}; its fields are {', '.join(fields) or 'none'}.")


def read_region_file(path: str | Path, *, field: str | None = None, layer: str | None = None) -> list[RegionShape]:
    """Regions from a polygon file, in lon/lat.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, KML/KMZ or any GDAL vector file, in
        any CRS (a file without one must be in lon/lat).
    field
        Attribute naming each feature: one region per distinct value (the
        features of one value are united). None: one region, the union of
        all polygons.
    layer
        Layer to read; by default the file's only polygon layer (every layer
        of a KML/KMZ: its folders).

    Returns
    -------
    list of RegionShape
        One region, or one per ``field`` value in file order. Points and
        lines in the file are ignored; invalid polygons are repaired.

    Raises
    ------
    ValueError
        One line naming the file (and field or layer): unreadable, no
        polygon, no such field or layer, coordinates not lon/lat without a CRS.
    """
    path = str(path)
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{path}: no such region file.")
    if p.is_dir():
        raise ValueError(f"{path}: is a folder; give the polygon file inside it (e.g. its .shp).")
    groups: OrderedDict[str | None, list[BaseGeometry]] = OrderedDict()
    names: list[str] = []
    kinds: dict[str, int] = {}
    for meta, geoms, values in _read_layers(path, layer):
        fields = [str(f) for f in meta.get("fields", [])]
        col = values[_field_index(fields, field, path)] if field else None
        name_i = next((i for i, f in enumerate(fields) if f.lower() == "name"), None)
        geoms = shapely.force_2d(_to_lonlat(geoms, meta.get("crs"), path))
        for i, g in enumerate(geoms):
            if g is None or g.is_empty:
                continue
            kinds[g.geom_type] = kinds.get(g.geom_type, 0) + 1
            try:
                g = polygonal(g if g.is_valid else shapely.make_valid(g))
            except shapely.errors.GEOSException as exc:
                raise ValueError(f"{path}: feature {i + 1} has a broken geometry ({_one_line(exc)}).") from None
            if g.is_empty:
                continue
            key = None
            if col is not None:
                v = col[i]
                key = "" if v is None else str(v).strip()
            groups.setdefault(key, []).append(g)
            if name_i is not None and values[name_i][i] not in (None, ""):
                names.append(str(values[name_i][i]).strip())
    if not groups:
        found = ", ".join(f"{n} {t}" for t, n in kinds.items()) or "no geometry"
        raise ValueError(f"{path}: no polygon in the region file (found {found}).")
    fname = p.name
    out = []
    for key, gs in groups.items():
        try:
            geom = gs[0] if len(gs) == 1 else polygonal(shapely.make_valid(shapely.union_all(gs)))
        except shapely.errors.GEOSException as exc:
            raise ValueError(f"{path}: cannot unite its polygons ({_one_line(exc)}).") from None
        if field:
            label = f"{fname}:{key if key else f'(no {field})'}"
        else:
            n_polys = sum(len(v) for v in groups.values())
            label = f"{fname}:{names[0]}" if n_polys == 1 and len(names) == 1 else fname
        out.append(RegionShape(label, geom, path, key))
    return out


def load_region_file(path: str | Path, *, layer: str | None = None) -> BaseGeometry:
    """Union of the polygons of a polygon file, in lon/lat (see :func:`read_region_file`)."""
    return read_region_file(path, layer=layer)[0].geom


# -- measuring a polygon region -------------------------------------------------

_OUT, _IN, _EDGE = 0, 1, 2
SUB_PER_DEG = 4  # the fine grid (0.25°) region pieces are cut by, so that unions are redone only where the map moved


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        hit = self.get(key)
        if hit is not None:
            self.move_to_end(key)
            return hit
        val = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return val


class _RegionPiece(Piece):
    """A piece cut to a region: its geodesic area is measured on first use, once per content key.

    Most pieces only ever enter unions (whose areas are measured instead), so
    measuring every piece up front would be wasted.
    """

    def __init__(self, key: bytes, home: str, tile, what: str, geom: BaseGeometry, cache: dict[bytes, float]):
        self._cache = cache
        super().__init__(key, home, tile, what, geom, None)  # type: ignore[arg-type]

    @property
    def area_km2(self) -> float:
        a = self._cache.get(self.key)
        if a is None:
            a = self._cache[self.key] = geodesy.area_km2(self.geom)
        return a

    @area_km2.setter
    def area_km2(self, value: float | None) -> None:
        if value is not None:
            self._cache[self.key] = value


class _FileRegion:
    """Areas in one polygon region, from the stored pieces, each distinct piece cut once.

    Partition pieces (``clipped``) or as-drawn grid pieces (``as_drawn``) are
    cut to the region: the tile's box decides first (wholly outside: dropped;
    wholly inside: kept as stored), only pieces in tiles the region's
    boundary crosses are intersected, with the region's part in that tile.
    """

    def __init__(self, label: str, geom: BaseGeometry, theatre: Theatre, convention: str):
        self.label, self.geom, self.theatre = label, geom, theatre
        self.drawn = convention == CONVENTION_AS_DRAWN
        shapely.prepare(geom)
        bounds = np.array([g.bounds for g in theatre.homes.values()])
        reach = box(bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())
        self.outside = not shapely.intersects(geom, reach)  # nothing is ever drawn or held there
        self.sides = tuple(theatre.homes)
        self.home_area = {h: float(sum(a for *_, a in t.split_measured(geom))) for h, t in theatre.tiled.items()}
        self.builder = PartitionBuilder(theatre)
        self._tiles: dict = {}
        self._cut: dict[bytes, list[tuple[tuple[int, int], bytes, BaseGeometry]]] = {}
        self._areas: dict[bytes, float] = {}
        self.pieces: dict[int, list[Piece]] = {}  # fid -> its pieces in the region (only fids with some)
        self._unions = _LRU(50_000)
        self._memo: dict[tuple[int, ...], dict[str, float | None]] = {}
        self._by_pieces: dict[frozenset, dict[str, float | None]] = {}

    def _tile(self, p: Piece) -> tuple[int, BaseGeometry | None]:
        """Where a piece's 0.5° cell lies: outside the region, inside, or on its edge (with the region's part)."""
        hit = self._tiles.get(p.tile)
        if hit is None:
            ix, iy = cast(tuple[int, int], p.tile)  # pieces of a region are cut in 0.5° cells
            b = box(ix * DRAWN_CELL, iy * DRAWN_CELL, (ix + 1) * DRAWN_CELL, (iy + 1) * DRAWN_CELL)
            if not shapely.intersects(self.geom, b):
                hit = (_OUT, None)
            elif shapely.contains(self.geom, b):
                hit = (_IN, None)
            else:
                local = polygonal(shapely.intersection(self.geom, b))
                if local.is_empty:
                    hit = (_OUT, None)
                else:
                    shapely.prepare(local)
                    hit = (_EDGE, local)
            self._tiles[p.tile] = hit
        return hit

    def _cut_new(self, todo: dict[bytes, Piece]) -> None:
        whole: list[tuple[bytes, Piece]] = []  # pieces wholly inside the region
        edge: list[tuple[bytes, Piece, BaseGeometry]] = []
        for k, p in todo.items():
            state, local = self._tile(p)
            if state == _OUT:
                self._cut[k] = []
            elif state == _IN:
                whole.append((k, p))
            else:
                edge.append((k, p, local))
        cut: list[tuple[bytes, BaseGeometry, float | None]] = [(k, p.geom, p.area_km2) for k, p in whole]
        if edge:
            geoms = np.array([p.geom for _, p, _ in edge], dtype=object)
            masks = np.array([m for *_, m in edge], dtype=object)
            inside = shapely.contains(masks, geoms)
            touch = shapely.intersects(masks, geoms) & ~inside
            for j in np.flatnonzero(inside).tolist():
                k, p, _ = edge[j]
                cut.append((k, p.geom, p.area_km2))
            for j in np.flatnonzero(~inside & ~touch).tolist():
                self._cut[edge[j][0]] = []
            js = np.flatnonzero(touch).tolist()
            if js:
                try:
                    parts = shapely.intersection(geoms[js], masks[js]).tolist()
                except shapely.errors.GEOSException:  # one bad pair must not sink the batch: each, repaired
                    parts = [shapely.intersection(shapely.make_valid(g), m) for g, m in zip(geoms[js], masks[js])]
                for j, g in zip(js, parts):
                    g = polygonal(g)
                    if g.is_empty:
                        self._cut[edge[j][0]] = []
                    else:
                        cut.append((edge[j][0], g, None))
        self._split(cut)

    def _split(self, cut: list[tuple[bytes, BaseGeometry, float | None]]) -> None:
        """Cut region pieces by the fine grid; sub-pieces are keyed by content (areas measured when first asked)."""
        subs: list[tuple[bytes, tuple[int, int], BaseGeometry, float | None]] = []
        for k, g, area in cut:
            x0, y0, x1, y1 = g.bounds
            ix0, iy0 = int(np.floor(x0 * SUB_PER_DEG)), int(np.floor(y0 * SUB_PER_DEG))
            ix1, iy1 = int(np.floor(x1 * SUB_PER_DEG)), int(np.floor(y1 * SUB_PER_DEG))
            if ix0 == ix1 and iy0 == iy1:
                subs.append((k, (ix0, iy0), g, area))
                continue
            self._cut[k] = []
            for ix in range(ix0, ix1 + 1):
                for iy in range(iy0, iy1 + 1):
                    s = polygonal(
                        shapely.clip_by_rect(
                            g, ix / SUB_PER_DEG, iy / SUB_PER_DEG, (ix + 1) / SUB_PER_DEG, (iy + 1) / SUB_PER_DEG
                        )
                    )
                    if not s.is_empty:
                        subs.append((k, (ix, iy), s, None))
        if not subs:
            return
        arr = np.array([s for _, _, s, _ in subs], dtype=object)
        for key, (k, cell, sub, a) in zip((piece_key(w) for w in shapely.to_wkb(arr).tolist()), subs):
            if a is not None:
                self._areas[key] = a
            self._cut.setdefault(k, []).append((cell, key, sub))

    def add(self, fps: dict[int, FeaturePieces]) -> None:
        """Cut the pieces of newly read features to the region."""
        todo: dict[bytes, Piece] = {}
        for fp in fps.values():
            if fp.counted:
                for p in fp.drawn if self.drawn else fp.pieces:
                    if p.key not in self._cut:
                        todo[p.key] = p
        if todo:
            self._cut_new(todo)
        for fid, fp in fps.items():
            if not fp.counted:
                continue
            out: list[Piece] = [
                _RegionPiece(key, p.home, cell, p.what, sub, self._areas)
                for p in (fp.drawn if self.drawn else fp.pieces)
                for cell, key, sub in self._cut[p.key]
            ]
            if out:
                self.pieces[fid] = out

    def values(self, members: Iterable[int]) -> dict[str, float | None]:
        """km² per side and contested in the region for a version's member features."""
        whats = (*self.sides, CONTESTED)
        if self.outside:
            return {w: None for w in whats}
        inside = tuple(f for f in members if f in self.pieces)
        hit = self._memo.get(inside)
        if hit is not None:
            return hit
        # Features redrawn elsewhere get new ids but often the same pieces here: the same ground, the same figures.
        same = frozenset((p.key, p.home, p.what) for f in inside for p in self.pieces[f])
        vals = self._by_pieces.get(same)
        if vals is None:
            vals = self._measure(inside, whats)
            self._by_pieces[same] = vals
        self._memo[inside] = vals
        return vals

    def _measure(self, inside: tuple[int, ...], whats) -> dict[str, float | None]:
        """km² per side and contested of the features ``inside``: as drawn, or through the clipped partition."""
        if self.drawn:
            return dict(self._drawn_values(inside, whats))
        vc = self.builder.build(FeaturePieces(pieces=self.pieces[f], counted=True) for f in inside)
        a = vc.areas(home_area=self.home_area)
        return {w: a[(THEATRE, w, CONVENTION_CLIPPED)] for w in whats}

    def _drawn_values(self, fids: tuple[int, ...], whats) -> dict[str, float]:
        # Per class, the union of its drawn pieces, cell by cell (cells tile the plane: areas add up).
        cells: dict[tuple, list[Piece]] = {}
        for f in fids:
            for p in self.pieces[f]:
                cells.setdefault((p.tile, p.what), []).append(p)
        vals = dict.fromkeys(whats, 0.0)
        for (cell, what), ps in cells.items():
            keys = frozenset(p.key for p in ps)
            if len(keys) == 1:
                a = ps[0].area_km2
            else:
                a = self._unions.get_or(
                    (cell, what, keys),
                    lambda ps=ps: geodesy.area_km2(polygonal(shapely.union_all([p.geom for p in ps]))),
                )
            if what in vals:
                vals[what] += a
        return vals


def _load_drawn(
    store: GeoPackageStore, regions: list[_FileRegion], fids: Sequence[int], advance, chunk: int = 2000
) -> None:
    """As-drawn pieces of ``fids``, read in chunks and cut to every region (memory stays small)."""
    fids = list(fids)
    for i in range(0, len(fids), chunk):
        fps = store.pieces(fids[i : i + chunk])
        for r in regions:
            r.add(fps)
        advance()


def _load_clipped(store: GeoPackageStore, source: str, regions: list[_FileRegion], fids: set[int]) -> None:
    """Partition pieces of ``fids`` in the home tiles the regions reach (only those), cut to every region.

    Each distinct piece is decoded once; its 0.5° cell (the home tile's box)
    is found from its bounds, and its area is measured when it is first cut.
    """
    theatre = regions[0].theatre
    tiles: dict[str, Sequence[int]] = {}
    for home, tiled in theatre.tiled.items():
        hit: set[int] = set()
        for r in regions:
            if not r.outside:
                hit.update(tiled.tree.query(r.geom, predicate="intersects").tolist())
        if hit:
            tiles[home] = sorted(hit)
    rows = store.counted_pieces_in_tiles(source, tiles) if tiles else []
    wkbs: dict[bytes, bytes] = {}
    recs = []
    for fid, home, what, wkb in rows:
        if fid not in fids:
            continue
        k = piece_key(wkb)
        wkbs.setdefault(k, wkb)
        recs.append((fid, home, what, k))
    if not recs:
        return
    keys = list(wkbs)
    geoms = shapely.from_wkb(np.array([wkbs[k] for k in keys], dtype=object))
    b = shapely.bounds(geoms)
    cx = np.floor((b[:, 0] + b[:, 2]) / 2 / DRAWN_CELL).astype(int).tolist()
    cy = np.floor((b[:, 1] + b[:, 3]) / 2 / DRAWN_CELL).astype(int).tolist()
    by_key = {k: (g, (x, y)) for k, g, x, y in zip(keys, geoms.tolist(), cx, cy)}
    fps: dict[int, FeaturePieces] = {}
    for fid, home, what, k in recs:
        g, cell = by_key[k]
        fps.setdefault(fid, FeaturePieces(counted=True)).pieces.append(Piece(k, home, cell, what, g, None))  # type: ignore[arg-type]  # measured once cut
    for r in regions:
        r.add(fps)


# -- series ---------------------------------------------------------------------


def _row(v: VersionInfo, region: str, convention: str, vals: Mapping[str, float | None], sides) -> dict:
    row: dict[str, Any] = {
        "time": iso(v.valid_time),
        "version_id": v.version_id,
        "region": region,
        "convention": convention,
    }
    for what in (*sides, CONTESTED):
        val = vals.get(what)
        row[f"{what}_km2"] = None if val is None else round(float(val), 3)
    return row


def _last_per_period(versions: list[VersionInfo], every: str) -> list[VersionInfo]:
    """The last version of each period (what :func:`_resample` keeps), in time order."""
    return list(last_per_period(versions, every).values())


def _file_regions(
    store: GeoPackageStore, key: str, convention: str, region_field: str | None, region_layer: str | None
) -> list[_FileRegion]:
    theatre = theatre_of(store)
    if key.startswith("outside:"):
        side = key.split(":", 1)[1]
        geom = polygonal(shapely.union_all([g for s, g in theatre.homes.items() if s != side]))
        return [_FileRegion(key, geom, theatre, convention)]
    shapes = read_region_file(key, field=region_field, layer=region_layer)
    regions = [_FileRegion(s.label, s.geom, theatre, convention) for s in shapes]
    if all(r.outside for r in regions):
        minx, miny, maxx, maxy = np.array([g.bounds for g in theatre.homes.values()]).T
        raise ValueError(
            f"{key}: the region lies outside the theatre ({minx.min():.1f}–{maxx.max():.1f}°E, "
            f"{miny.min():.1f}–{maxy.max():.1f}°N): nothing is mapped there."
        )
    return regions


def area_series(
    store: GeoPackageStore,
    *,
    region: str = "home:ua",
    convention: str = CONVENTION_CLIPPED,
    start=None,
    end=None,
    every: str | None = None,
    source: str | None = None,
    progress: bool = False,
    region_field: str | None = None,
    region_layer: str | None = None,
) -> list[dict]:
    """Area per side and contested, per version (or per period), in a region.

    Parameters
    ----------
    store
        An open store.
    region
        ``theatre``, ``ukraine``/``russia``, ``home:<side>``, ``outside:<side>``
        or a polygon file (see :func:`read_region_file`).
    convention
        ``clipped`` or ``as_drawn`` (see the module docstring).
    start, end
        Time range (ISO text or epoch seconds); all versions when None.
    every
        ``day``, ``week`` or ``month``: one row per period (the last version
        of each), with net change against the previous period.
    source
        Source name; the default source when None.
    progress
        Draw a progress bar on stderr (polygon files only).
    region_field
        With a polygon file: one region per value of this attribute.
    region_layer
        With a polygon file of several polygon layers: the layer to read.

    Returns
    -------
    list of dict
        Rows with ``time``, ``version_id``, ``region``, ``convention``,
        ``<side>_km2``, ``contested_km2``, and ``peak_<what>_km2``/
        ``share_of_peak_<what>`` (per region); with ``every``,
        ``net_<what>_km2`` and ``period``. With ``region_field``, one row per
        version and region, in time order then file order. A region wholly
        outside the theatre has None values.

    Raises
    ------
    ValueError
        Unknown convention, period, side or region; an unreadable region
        file; an inverted range.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"Convention {convention!r} is not one of {', '.join(CONVENTIONS)}.")
    check_period(every)
    t0, t1 = parse_time(start, role="start", name="from"), parse_time(end, role="end", name="to")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValueError(f"The range is inverted: start {iso(t0)} is after end {iso(t1)}.")
    source = store.default_source(source)
    sides = _sides(store)
    key, column = resolve_region(store, region)
    if (region_field or region_layer) and (column is not None or key.startswith("outside:")):
        raise ValueError(f"--region-field and --region-layer need a polygon file as region, not {region!r}.")

    def wanted(v: VersionInfo) -> bool:
        return not ((t0 is not None and v.valid_time < t0) or (t1 is not None and v.valid_time > t1))

    if column is not None:
        vals: dict[int, dict[str, float]] = {}
        for pk, side, km2 in store.area_rows(source, column, convention):
            vals.setdefault(pk, {})[side] = km2
        versions = sorted((v for v in store.versions(source) if wanted(v)), key=lambda v: v.valid_time)
        groups: list[list[dict]] = [[_row(v, key, convention, vals.get(v.pk, {}), sides) for v in versions]]
    else:
        regions = _file_regions(store, key, convention, region_field, region_layer)
        selected = [(v, m) for v, m in store.version_members(source) if wanted(v)]
        if every:  # only the versions a period row shows: the others would be measured for nothing
            keep = {v.pk for v in _last_per_period([v for v, _ in selected], every)}
            selected = [(v, m) for v, m in selected if v.pk in keep]
        from .._progress import progress_bar

        groups = [[] for _ in regions]
        fids = sorted({f for _, m in selected for f in m})
        n_read = (len(fids) + 1999) // 2000 if convention == CONVENTION_AS_DRAWN else 1
        with progress_bar(n_read + len(selected), "Measuring", enabled=progress) as advance:
            if convention == CONVENTION_AS_DRAWN:
                _load_drawn(store, regions, fids, advance)
            else:
                _load_clipped(store, source, regions, set(fids))
                advance()
            for v, members in selected:
                for g, r in zip(groups, regions):
                    g.append(_row(v, r.label, convention, r.values(members), sides))
                advance()
    out = []
    for rows in groups:
        if every:
            rows = _resample(rows, every, sides)
        _add_peaks(rows, sides)
        out.append(rows)
    if len(out) == 1:
        return out[0]
    return [r for rows in zip(*out) for r in rows]  # same versions in every region: time, then file order


def stored_areas(
    store: GeoPackageStore,
    versions: list[VersionInfo],
    *,
    region: str = THEATRE,
    convention: str = CONVENTION_CLIPPED,
    source: str | None = None,
) -> dict[str, dict]:
    """``{version id: row}`` of a built-in region's stored areas for a few versions (no peaks, no periods).

    The rows of :func:`area_series` (``<side>_km2``, ``contested_km2``) read
    from the areas stored at import, for just these versions: a series'
    notes need a handful, not every version's row.

    Raises
    ------
    ValueError
        When ``region`` is a polygon file or an ``outside:`` region with no stored column.
    """
    source = store.default_source(source)
    key, column = resolve_region(store, region)
    if column is None:
        raise ValueError(f"Region {region!r} has no stored areas: use area_series.")
    want = {v.pk: v for v in versions}
    vals: dict[int, dict[str, float]] = {}
    for pk, side, km2 in store.area_rows(source, column, convention):
        if pk in want:
            vals.setdefault(pk, {})[side] = km2
    sides = _sides(store)
    return {v.version_id: _row(v, key, convention, vals.get(pk, {}), sides) for pk, v in want.items()}


def _resample(rows: list[dict], every: str, sides) -> list[dict]:
    last: dict[str, dict] = {}
    for r in rows:
        last[period_key(datetime.fromisoformat(r["time"].replace("Z", "+00:00")), every)] = r
    out, prev = [], None
    for period, r in last.items():
        r = dict(r, period=period)
        for what in (*sides, CONTESTED):
            cur = r.get(f"{what}_km2")
            before: float | None = prev.get(f"{what}_km2") if prev else None
            r[f"net_{what}_km2"] = None if cur is None or before is None else round(cur - before, 3)
        out.append(r)
        prev = r
    return out


def _add_peaks(rows: list[dict], sides) -> None:
    for what in (*sides, CONTESTED):
        vals = [r[f"{what}_km2"] for r in rows if r.get(f"{what}_km2") is not None]
        peak = max(vals) if vals else None
        for r in rows:
            v = r.get(f"{what}_km2")
            r[f"peak_{what}_km2"] = peak
            r[f"share_of_peak_{what}"] = None if v is None or not peak else round(v / peak, 4)


def areas_at(
    store: GeoPackageStore,
    at=None,
    *,
    region: str = "home:ua",
    convention: str = CONVENTION_CLIPPED,
    source: str | None = None,
    region_field: str | None = None,
    region_layer: str | None = None,
) -> list[dict]:
    """Area per side and contested at one time, one row per region (several with ``region_field``).

    Parameters
    ----------
    at
        A time (ISO text, epoch seconds) or ``"latest"``/None: the version
        valid then answers.
    region, convention, source, region_field, region_layer
        As for :func:`area_series`.

    Raises
    ------
    ValueError
        When the time is before the first version of the source, or as
        :func:`area_series`.
    """
    from ..state import resolve_version

    v = resolve_version(store, at, source)
    t = v.valid_time if at in (None, "latest") else parse_time(at)
    rows = area_series(
        store,
        region=region,
        convention=convention,
        start=v.valid_time,
        end=v.valid_time,
        source=v.source,
        region_field=region_field,
        region_layer=region_layer,
    )
    out = []
    for r in rows:
        row = {k: val for k, val in r.items() if not k.startswith(("peak_", "share_of_peak_"))}
        row["convention_meaning"] = convention_meaning(region, convention)
        row["asked_time"] = iso(t)
        out.append(row)
    return out


def area_at(
    store: GeoPackageStore,
    at,
    *,
    region: str = "home:ua",
    convention: str = CONVENTION_CLIPPED,
    source: str | None = None,
) -> dict:
    """Area per side and contested at one time (the version valid then), in one region.

    Raises
    ------
    ValueError
        When the time is before the first version of the source.
    """
    return areas_at(store, at, region=region, convention=convention, source=source)[0]
