"""Geodesic measures on the WGS84 ellipsoid and local metric projections.

Every area and length Frontline reports comes from here: areas are computed on
the ellipsoid with Karney's algorithm (PROJ's ``geod``), never as ``.area`` in
degrees. Metric projections are only used for *shape* work (buffers, widths),
and each is a local azimuthal equidistant projection centred on the data, so
distortion stays far below the tolerances analysts care about.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from pyproj import Geod, Transformer

# pyproj (about 0.3 s to import) loads on the first measure, not with every
# command that imports this module to read stored results.

__all__ = [
    "GEOD",  # noqa: F822 (module __getattr__: made on first use)
    "area_m2",
    "area_km2",
    "areas_m2",
    "areas_km2",
    "length_m",
    "LocalProjection",
]


@lru_cache(maxsize=1)
def _geod() -> Geod:
    """The WGS84 ellipsoid (``pyproj.Geod``), made on first use."""
    from pyproj import Geod

    return Geod(ellps="WGS84")


@lru_cache(maxsize=1)
def _poly_area() -> Any:
    """``Geod._polygon_area_perimeter`` (Cython entry point: skips per-call buffer copies), or None."""
    return getattr(_geod(), "_polygon_area_perimeter", None)


def __getattr__(name: str) -> Any:
    """``GEOD``: the shared :class:`pyproj.Geod`, made when first asked for (PEP 562)."""
    if name == "GEOD":
        return _geod()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _ring_area(x: np.ndarray, y: np.ndarray) -> float:
    """Unsigned geodesic area (m²) of one ring given as contiguous float64 lon, lat arrays."""
    if len(x) < 4:
        return 0.0
    poly_area = _poly_area()
    if poly_area is not None:
        return abs(poly_area(x, y, False)[0])
    return abs(_geod().polygon_area_perimeter(x, y)[0])


def _polygons(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten geometries to their polygons: ``(polygons, index of the input each came from)``."""
    idx = np.arange(len(geoms))
    while True:
        parts, pidx = shapely.get_parts(geoms, return_index=True)
        if (
            len(parts) == len(geoms)
            and np.array_equal(pidx, np.arange(len(geoms)))
            and not np.any(shapely.get_type_id(parts) >= 4)
        ):
            geoms, idx = parts, idx[pidx]
            break
        geoms, idx = parts, idx[pidx]
    keep = (shapely.get_type_id(geoms) == 3) & ~shapely.is_empty(geoms)
    return geoms[keep], idx[keep]


def areas_m2(geoms) -> np.ndarray:
    """Geodesic areas (m²) of an array of geometries, on the WGS84 ellipsoid.

    Parameters
    ----------
    geoms
        Geometries in lon/lat degrees. Holes are subtracted; points and lines
        contribute nothing; ``None`` or empty gives 0.

    Returns
    -------
    numpy.ndarray
        One area per input geometry.
    """
    geoms = np.asarray(geoms, dtype=object).ravel()
    out = np.zeros(len(geoms))
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if not ok.any():
        return out
    polys, pidx = _polygons(geoms[ok])
    if len(polys) == 0:
        return out
    # Every ring at once: exteriors add, holes subtract (rings come polygon by polygon, exterior first).
    rings, ridx = shapely.get_rings(polys, return_index=True)
    first = np.ones(len(rings), dtype=bool)
    first[1:] = ridx[1:] != ridx[:-1]
    xy, cidx = shapely.get_coordinates(rings, return_index=True)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    ends = np.cumsum(np.bincount(cidx, minlength=len(rings)))
    starts = ends - np.bincount(cidx, minlength=len(rings))
    ring_area = np.array([_ring_area(x[s:e], y[s:e]) for s, e in zip(starts.tolist(), ends.tolist())])
    signed = np.where(first, ring_area, -ring_area)
    per_input = np.bincount(pidx[ridx], weights=signed, minlength=int(ok.sum()))
    out[np.flatnonzero(ok)] = per_input
    return out


def area_m2(geom: BaseGeometry | None) -> float:
    """Geodesic area of a (multi)polygon or collection in square metres.

    Parameters
    ----------
    geom
        Geometry in lon/lat degrees (EPSG:4326). Holes are subtracted; points
        and lines contribute nothing; ``None`` or empty gives 0.

    Returns
    -------
    float
        Area on the WGS84 ellipsoid in m².
    """
    if geom is None or geom.is_empty:
        return 0.0
    return float(areas_m2([geom])[0])


def area_km2(geom: BaseGeometry | None) -> float:
    """Geodesic area in km² (see :func:`area_m2`)."""
    return area_m2(geom) / 1e6


def areas_km2(geoms) -> np.ndarray:
    """Geodesic areas in km² of an array of geometries (see :func:`areas_m2`)."""
    return areas_m2(geoms) / 1e6


def length_m(geom: BaseGeometry | None) -> float:
    """Geodesic length in metres of the lines (or polygon boundaries) of a geometry."""
    if geom is None or geom.is_empty:
        return 0.0
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = geom.boundary
    total = 0.0
    for part in shapely.get_parts(geom):
        if part.geom_type in ("LineString", "LinearRing"):
            xy = shapely.get_coordinates(part)
            if len(xy) >= 2:
                total += _geod().line_length(xy[:, 0], xy[:, 1])
        elif part.geom_type in ("MultiLineString", "GeometryCollection", "Polygon", "MultiPolygon"):
            total += length_m(part)
    return total


def to_lonlat_from(geoms, crs: str | None):
    """Reproject geometries from ``crs`` to lon/lat (unchanged when already EPSG:4326 or no CRS)."""
    if not crs or crs in ("EPSG:4326", "OGC:CRS84"):
        return geoms
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


@lru_cache(maxsize=64)
def _transformers(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    from pyproj import CRS, Transformer

    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs")
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return fwd, inv


class LocalProjection:
    """A local azimuthal equidistant projection in metres around a point.

    Use it for buffers, distances and widths over a few hundred km; measure
    final areas with :func:`area_m2` on the lon/lat result.

    Parameters
    ----------
    lon0, lat0
        Centre of the projection in degrees. Rounded to 0.1° so nearby
        analyses share one cached transformer.
    """

    def __init__(self, lon0: float, lat0: float):
        if not (-180 <= lon0 <= 180 and -90 <= lat0 <= 90):
            raise ValueError(f"Projection centre ({lon0}, {lat0}) is not a lon/lat position in degrees.")
        self.lon0 = round(float(lon0), 1)
        self.lat0 = round(float(lat0), 1)
        self._fwd, self._inv = _transformers(self.lon0, self.lat0)

    @classmethod
    def for_geometry(cls, geom: BaseGeometry) -> LocalProjection:
        """Projection centred on the middle of a geometry's bounding box."""
        if geom is None or geom.is_empty:
            raise ValueError("Cannot centre a projection on an empty geometry.")
        minx, miny, maxx, maxy = geom.bounds
        return cls((minx + maxx) / 2, (miny + maxy) / 2)

    def to_metric(self, geom):
        """Project lon/lat geometry (or array of geometries) to metres."""
        return shapely.transform(geom, lambda xy: np.column_stack(self._fwd.transform(xy[:, 0], xy[:, 1])))

    def to_lonlat(self, geom):
        """Project metric geometry (or array of geometries) back to lon/lat."""
        return shapely.transform(geom, lambda xy: np.column_stack(self._inv.transform(xy[:, 0], xy[:, 1])))


def geodesic_lengths_m(geoms) -> np.ndarray:
    """Geodesic lengths in metres of an array of (multi)line geometries, vectorised.

    Gives the same numbers as :func:`frontline.geodesy.length_m` per geometry
    (sum of WGS84 geodesic segment lengths) but in one ``Geod.inv`` call for
    all segments, which matters for tens of thousands of roads. Points,
    polygons, ``None`` and empties contribute 0.
    """
    geoms = np.asarray(geoms, dtype=object).reshape(-1)
    n = len(geoms)
    out = np.zeros(n)
    if n == 0:
        return out
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # Collections may nest (a GeometryCollection holding a MultiLineString).
    while len(parts):
        multi = shapely.get_type_id(parts) >= 4
        if not multi.any():
            break
        sub, sidx = shapely.get_parts(parts[multi], return_index=True)
        owner = np.concatenate([owner[~multi], owner[multi][sidx]])
        parts = np.concatenate([parts[~multi], sub])
    lines = np.isin(shapely.get_type_id(parts), (1, 2))  # LineString, LinearRing
    parts, owner = parts[lines], owner[lines]
    if len(parts) == 0:
        return out
    xy, cidx = shapely.get_coordinates(parts, return_index=True)
    same = cidx[1:] == cidx[:-1]  # consecutive vertices of one part form a segment
    if not same.any():
        return out
    a, b = xy[:-1][same], xy[1:][same]
    _, _, d = _geod().inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    per_part = np.bincount(cidx[1:][same], weights=d, minlength=len(parts))
    return np.bincount(owner, weights=per_part, minlength=n)
