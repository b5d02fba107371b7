"""Necks over a run of versions: one row per version, with errors kept as rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapely.geometry.base import BaseGeometry

from .necks import find_necks

#: Series rows show necks holding at least this share of all the ground analysed.
SERIES_MIN_GROUND_SHARE = 0.05


def error_row(error: str) -> dict[str, Any]:
    """A series row for a version that could not be analysed: no neck, and ``error`` saying why."""
    return {
        "rank": None,
        "width_m": None,
        "cut_off_km2": None,
        "cut_off_share": None,
        "ground_share": None,
        "type": None,
        "banks": None,
        "location": None,
        "narrowest_m": None,
        "n_necks": 0,
        "n_below_threshold": 0,
        "n_pockets": 0,
        "ground_km2": 0.0,
        "mode": None,
        "error": error,
    }


def corridor_series(
    maps: Iterable[tuple[Any, BaseGeometry, BaseGeometry | None, BaseGeometry | None]],
    min_ground_share: float = SERIES_MIN_GROUND_SHARE,
    **kw,
) -> list[dict[str, Any]]:
    """The neck with the most ground at stake per map version.

    Parameters
    ----------
    maps
        ``(time, held, home, contested)`` per version; ``time`` is passed
        through as given (an ISO string or a datetime).
    min_ground_share
        Rows show the best-ranked neck holding at least this share of all
        the ground analysed (see :meth:`CorridorReport.summary`).
    **kw
        Passed to :func:`find_necks` (e.g. ``enemy``).

    Returns
    -------
    list of dict
        One row per version: ``time`` and :meth:`CorridorReport.summary`.
        A version whose input is rejected gets ``width_m`` None and an
        ``error`` sentence instead of stopping the series.
    """
    rows = []
    for t, held, home, contested in maps:
        try:
            rep = find_necks(held, home=home, contested=contested, **kw)
        except ValueError as e:
            rows.append({"time": t} | error_row(str(e)))
            continue
        rows.append({"time": t} | rep.summary(min_ground_share))
    return rows
