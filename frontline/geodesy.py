"""Geodesic measures on the WGS84 ellipsoid and local metric projections.

Every area and length Frontline reports comes from here: areas are computed on
the ellipsoid with Karney's algorithm (PROJ's ``geod``), never as ``.area`` in
degrees. Metric projections are only used for *shape* work (buffers, widths),
and each is a local azimuthal equidistant projection centred on the data, so
distortion stays far below the tolerances analysts care about.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")

__all__ = [
    "GEOD",
    "area_m2",
    "area_km2",
    "areas_km2",
    "length_m",
    "LocalProjection",
]


def _ring_area(coords: np.ndarray) -> float:
    if len(coords) < 4:
        return 0.0
    a, _ = GEOD.polygon_area_perimeter(coords[:, 0], coords[:, 1])
    return abs(a)


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
    polys = shapely.get_parts(shapely.get_parts(geom))  # flatten collections twice
    total = 0.0
    for poly in polys:
        if poly.geom_type == "MultiPolygon" or poly.geom_type == "GeometryCollection":
            total += area_m2(poly)
            continue
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        total += _ring_area(shapely.get_coordinates(poly.exterior))
        for ring in poly.interiors:
            total -= _ring_area(shapely.get_coordinates(ring))
    return total


def area_km2(geom: BaseGeometry | None) -> float:
    """Geodesic area in km² (see :func:`area_m2`)."""
    return area_m2(geom) / 1e6


def areas_km2(geoms) -> np.ndarray:
    """Geodesic areas in km² of an array of geometries."""
    return np.array([area_km2(g) for g in np.asarray(geoms, dtype=object).ravel()], dtype=float)


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
                total += GEOD.line_length(xy[:, 0], xy[:, 1])
        elif part.geom_type in ("MultiLineString", "GeometryCollection", "Polygon", "MultiPolygon"):
            total += length_m(part)
    return total


def to_lonlat_from(geoms, crs: str | None):
    """Reproject geometries from ``crs`` to lon/lat (unchanged when already EPSG:4326 or no CRS)."""
    if not crs or crs in ("EPSG:4326", "OGC:CRS84"):
        return geoms
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


@lru_cache(maxsize=64)
def _transformers(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
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
    def for_geometry(cls, geom: BaseGeometry) -> "LocalProjection":
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
