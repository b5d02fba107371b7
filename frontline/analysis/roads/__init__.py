"""Supply-road exposure and the last road out of a salient.

Exposure is measured from the edge of the ground the enemy holds *or* that is contested (grey zone: drones and
observers operate from it): a road's exposure within a range *r* is its length within *r* km of that ground.
The default fire ranges, why they are what they are, and the method are in ``docs/roads.md``.

Modules: ``threat`` (the fire-range bands of one map), ``exposure`` (km per road and band, at a time and as a
series), ``graph`` (junctions and shortest paths), ``escape`` (the last road out).
"""

from .escape import DEFAULT_PENALTIES, RoadsOut, Route, last_road_out
from .exposure import ExposureTable, exposure_series, road_exposure
from .threat import BEYOND, DEFAULT_RANGES_KM, DEFAULT_SIMPLIFY_M, INSIDE, reach_window

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
    "reach_window",
]
