"""Settlements from OpenStreetMap: ``place=*`` nodes of an OSM extract (PBF or XML) as a gazetteer.

OSM maps every village of the theatre, with its current official name and, in tags, the names in other
languages and the former ones — what GeoNames' cities500 (the default) lacks below 500 people. A Geofabrik
extract (``ukraine-latest.osm.pbf``, ``central-fed-district-latest.osm.pbf``) read here gives a
:class:`frontline.gazetteer.Gazetteer`:

* kept: nodes tagged ``place`` = ``city``, ``town``, ``village``, ``hamlet`` (or the classes you pass), with a
  ``name``; the OSM node id is the id (``id_kind = "osm"``); the primary name is ``name:en`` when tagged (a
  Latin spelling, like GeoNames'), else ``name``, the local official name staying first among the alternates;
* alternate names: ``name:uk``, ``name:ru``, ``name:en``, ``int_name``, ``official_name``, ``alt_name``,
  ``old_name`` (and their language forms), each split on ``;``;
* population from ``population`` (digits only; "1 234" and "1,234" are read, anything else is 0);
* country from ``addr:country`` or ``is_in:country_code`` when tagged, else from the basemap's country
  polygons (:func:`frontline.borders.load_countries`, the OSM-derived borders) for nodes inside them.

Places mapped only as areas (a polygon with ``place=*``) are not read: in Ukraine and Russia nearly every
settlement has a node. A record that cannot be used is reported in ``problems`` by node id and skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from ..gazetteer import BBox, Gazetteer, GazetteerRows, build
from .gazetteer_common import Countries, PathArg, PlaceFilter, Problems

__all__ = ["PLACE_CLASSES", "OSM_SUFFIXES", "is_osm_file", "read_osm_places"]

#: ``place`` values read by default: settlements, not neighbourhoods or single farms.
PLACE_CLASSES = ("city", "town", "village", "hamlet")
#: Files read with pyosmium (compressed XML too).
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2")

_NAME_KEYS = (
    "name:uk",
    "name:ru",
    "name:en",
    "int_name",
    "official_name",
    "alt_name",
    "old_name",
    "old_name:uk",
    "old_name:ru",
    "old_name:en",
    "alt_name:uk",
    "alt_name:ru",
)
# How a class ranks when two nodes share a name; also the feature code kept (GeoNames-like).
_CODES = {"city": "PPLA", "town": "PPL", "village": "PPL", "hamlet": "PPLX"}
# The basemap's countries (ISO 3166 alpha-3, as the borders cache keys them) in alpha-2.
_A2 = {
    "BGR": "BG",
    "TUR": "TR",
    "SVK": "SK",
    "LVA": "LV",
    "RUS": "RU",
    "GEO": "GE",
    "BLR": "BY",
    "ROU": "RO",
    "MDA": "MD",
    "HUN": "HU",
    "LTU": "LT",
    "UKR": "UA",
    "POL": "PL",
}


def is_osm_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an OSM extract by its name (``.osm.pbf``, ``.osm``, compressed XML)."""
    name = Path(path).name.lower()
    return name.endswith(OSM_SUFFIXES)


def _population(text: str | None) -> int:
    if not text:
        return 0
    digits = re.sub(r"[\s,.\u00a0\u202f]", "", text.strip())
    return int(digits) if digits.isdigit() and len(digits) < 10 else 0


def read_osm_places(
    path: PathArg, *, classes: Iterable[str] = PLACE_CLASSES, countries: Countries = None, bbox: BBox | None = None
) -> Gazetteer:
    """Read ``place=*`` nodes of an OSM extract as a gazetteer.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or OSM XML file.
    classes
        ``place`` values to keep.
    countries
        Two-letter codes to keep (a node's country is its tag, else the basemap country it lies in; nodes
        outside the basemap's countries are kept).
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)``.

    Raises
    ------
    ValueError
        When the file cannot be read as OSM, or holds no place of the classes asked, naming the file.
    """
    import osmium

    path = str(path)
    wanted = {str(c).strip().lower() for c in classes}
    keep = PlaceFilter.of(countries, bbox)
    rows = GazetteerRows()
    problems = Problems()
    label = Path(path).name
    tag_filter = osmium.filter.TagFilter(*[("place", c) for c in sorted(wanted)])
    proc = osmium.FileProcessor(path).with_filter(osmium.filter.EntityFilter(osmium.osm.NODE)).with_filter(tag_filter)
    # the entity filter lets only nodes through
    nodes = cast("Iterable[osmium.osm.Node]", proc)
    n_places = 0
    try:
        for node in nodes:
            n_places += 1
            _add_node(rows, problems, label, node, keep)
    except RuntimeError as exc:  # pyosmium reports bad input as RuntimeError
        raise ValueError(f"{path}: cannot be read as an OSM file ({exc}).") from None
    if n_places == 0:
        raise ValueError(f"{path}: no node tagged place={'|'.join(sorted(wanted))}; is it the right extract?")
    messages = list(problems)
    if problems.dropped:
        messages.append(f"{label}: … more problems not listed")
    _fill_countries(rows)
    gz = build(rows, path, messages)
    gz.id_kind = "osm"
    if keep.codes is not None:  # now that every node inside the basemap has a country, keep only those asked
        gz = gz.subset([i for i, cc in enumerate(gz.country) if not cc or keep.keeps_country(cc)])
    return gz


def _add_node(rows: GazetteerRows, problems: Problems, label: str, node, keep: PlaceFilter) -> None:
    """Add one ``place=*`` node to ``rows`` when it is kept, or say in ``problems`` why it cannot be used."""
    tags = node.tags
    name = (tags.get("name") or "").strip()
    if not name:
        problems.add(f"{label}: node {node.id} (place={tags.get('place')}) has no name; skipped")
        return
    if not node.location.valid():
        problems.add(f"{label}: node {node.id} ({name}) has no valid location; skipped")
        return
    lon, lat = node.location.lon, node.location.lat
    if not keep.keeps_position(lon, lat):
        return
    cc = (tags.get("addr:country") or tags.get("is_in:country_code") or "").strip().upper()
    if cc and not keep.keeps_country(cc):
        return
    # The English name (a Latin spelling, as GeoNames' primary names are) leads when there is one;
    # the local official name is then the first alternate.
    local = name
    name = (tags.get("name:en") or "").strip() or local
    seen = {name, local}
    alts: list[str] = [local] if local != name else []
    for k in _NAME_KEYS:
        for a in (tags.get(k) or "").split(";"):
            a = a.strip()
            if a and a not in seen:
                seen.add(a)
                alts.append(a)
    code = _CODES.get(tags.get("place") or "", "PPL")
    population = _population(tags.get("population"))
    rows.add(int(node.id), name, float(lon), float(lat), cc if len(cc) == 2 else "", population, alts, code, "")


def _fill_countries(rows: GazetteerRows) -> None:
    """Country codes for untagged nodes from the basemap's country polygons (vectorised point-in-polygon)."""
    import numpy as np
    import shapely

    from ..borders import load_countries

    todo = [i for i, cc in enumerate(rows.country) if not cc]
    if not todo:
        return
    lon = np.array([rows.lon[i] for i in todo])
    lat = np.array([rows.lat[i] for i in todo])
    for a3, geom in load_countries().items():
        a2 = _A2.get(a3)
        if a2 is None:
            continue
        inside = shapely.contains_xy(geom, lon, lat)
        for k in np.flatnonzero(inside):
            rows.country[todo[k]] = a2
