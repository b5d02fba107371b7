"""Geodesic areas against closed-form ellipsoid areas (independent of PROJ's algorithm)."""

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from frontline import geodesy

A = 6378137.0
F = 1 / 298.257223563
B = A * (1 - F)
E = math.sqrt(F * (2 - F))


def zone_area(lat1, lat2, dlon_deg):
    """Area of the ellipsoid between two parallels over dlon degrees (closed form)."""

    def q(phi):
        s = math.sin(math.radians(phi))
        return s / (1 - E * E * s * s) + math.log((1 + E * s) / (1 - E * s)) / (2 * E)

    return math.radians(dlon_deg) * B * B / 2 * (q(lat2) - q(lat1))


def graticule_box(lon1, lat1, lon2, lat2, n=2000):
    """A lon/lat rectangle with edges densified so geodesic edges follow the parallels."""
    xs = np.linspace(lon1, lon2, n)
    ys = np.linspace(lat1, lat2, n)
    ring = (
        [(x, lat1) for x in xs]
        + [(lon2, y) for y in ys[1:]]
        + [(x, lat2) for x in xs[::-1][1:]]
        + [(lon1, y) for y in ys[::-1][1:]]
    )
    return Polygon(ring)


def test_box_area_matches_closed_form():
    g = graticule_box(35.0, 51.0, 36.0, 51.5)
    assert geodesy.area_m2(g) == pytest.approx(zone_area(51.0, 51.5, 1.0), rel=1e-6)


def test_hole_and_multipart_and_z():
    outer = graticule_box(30.0, 48.0, 32.0, 49.0)
    inner = graticule_box(30.5, 48.2, 31.0, 48.6)
    holed = Polygon(outer.exterior.coords, [inner.exterior.coords])
    expected = zone_area(48.0, 49.0, 2.0) - zone_area(48.2, 48.6, 0.5)
    assert geodesy.area_m2(holed) == pytest.approx(expected, rel=1e-6)
    multi = shapely.MultiPolygon([holed, graticule_box(36.0, 47.0, 36.5, 47.5)])
    assert geodesy.area_m2(multi) == pytest.approx(expected + zone_area(47.0, 47.5, 0.5), rel=1e-6)
    # orientation does not matter
    assert geodesy.area_m2(shapely.reverse(holed)) == pytest.approx(expected, rel=1e-6)


def test_area_is_not_square_degrees():
    g = graticule_box(35.0, 51.0, 36.0, 52.0)
    assert geodesy.area_km2(g) == pytest.approx(zone_area(51, 52, 1) / 1e6, rel=1e-6)
    assert abs(geodesy.area_km2(g) - g.area) > 7000


def test_length_of_meridian_degree():
    line = shapely.LineString([(35.0, 50.0), (35.0, 51.0)])
    # meridian arc = ∫ M(φ) dφ with M the meridional radius of curvature (numerical integral)
    phis = np.radians(np.linspace(50.0, 51.0, 10001))
    m = A * (1 - E * E) / (1 - E * E * np.sin(phis) ** 2) ** 1.5
    arc = float(np.sum((m[1:] + m[:-1]) / 2 * np.diff(phis)))
    assert geodesy.length_m(line) == pytest.approx(arc, abs=0.01)


def test_vectorised_areas_match_closed_form_per_geometry():
    """areas_km2 over a mixed array: each entry is its own closed-form area (holes, parts, collections, nothing)."""
    outer = graticule_box(30.0, 48.0, 32.0, 49.0)
    inner = graticule_box(30.5, 48.2, 31.0, 48.6)
    holed = Polygon(outer.exterior.coords, [inner.exterior.coords])
    small = graticule_box(36.0, 47.0, 36.5, 47.5)
    coll = shapely.GeometryCollection(
        [shapely.MultiPolygon([holed, small]), shapely.Point(30, 50), shapely.LineString([(30, 50), (31, 51)])]
    )
    geoms = [holed, None, small, shapely.Polygon(), coll, shapely.LineString([(0, 0), (1, 1)])]
    h = zone_area(48.0, 49.0, 2.0) - zone_area(48.2, 48.6, 0.5)
    s = zone_area(47.0, 47.5, 0.5)
    got = geodesy.areas_km2(geoms)
    assert got == pytest.approx(np.array([h, 0, s, 0, h + s, 0]) / 1e6, rel=1e-6)
