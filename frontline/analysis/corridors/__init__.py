"""Necks (narrow corridors) and pockets of a side's ground, ranked by what is at stake.

In March 2025 Ukraine's ground in Kursk oblast was "nearly cleaved in two": most of it hung on a passage under
500 m wide. :func:`find_necks` finds such necks, and the pockets already cut off, on one control map;
:func:`corridor_inputs` prepares a stored version for it and :func:`corridor_series` runs it over versions.
The rule, the method and its accuracy are in ``docs/corridors.md``.

Modules, in the order the work flows: ``prepare`` (input checks, cleaning), ``facing`` (what lies beyond each
bank; a stored version's inputs), ``erosion`` (discs of growing radius, bridges), ``measure`` (a neck bank to
bank), ``necks`` (the public :func:`find_necks`), ``report`` (result types), ``series`` (over versions).
Shape work runs in a local azimuthal equidistant projection in metres (GEOS through shapely 2); areas and
lengths are geodesic (WGS84).
"""

from .facing import corridor_inputs, corridor_key, surroundings
from .necks import find_necks
from .report import (
    BANK_LABELS,
    MODE_HELD,
    MODE_HELD_CONTESTED,
    NECK_HOME_LINK,
    NECK_SPLIT,
    CorridorReport,
    Neck,
    NeckPart,
    Pocket,
)
from .series import SERIES_MIN_GROUND_SHARE, corridor_series, error_row

__all__ = [
    "MODE_HELD",
    "MODE_HELD_CONTESTED",
    "NECK_SPLIT",
    "NECK_HOME_LINK",
    "NeckPart",
    "Neck",
    "Pocket",
    "CorridorReport",
    "find_necks",
    "corridor_inputs",
    "corridor_key",
    "surroundings",
    "corridor_series",
    "BANK_LABELS",
    "SERIES_MIN_GROUND_SHARE",
    "error_row",
]
