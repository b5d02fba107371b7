"""DeepStateMAP snapshots: archived files, API-shaped JSON and the live API.

DeepState's features carry their meaning in the ``name`` property, as
``"<UA> /// <EN> /// geoJSON.<key> {{at:dd.mm}}"``, typed by hand: expect
non-breaking spaces, newlines, missing parts. Versions before 2024-03-23 have
no ``geoJSON.`` key at all; their class is read from the KML ``fill`` colour
and, for the pre-2022 territories, from the name.

How each class enters the partition (see :mod:`frontline.model`):

====================================  =================================================
``status.occupied``                   held by ``ru``
``territories.crimea/ordlo/tuzla``    held by ``ru`` (occupied before 2022)
``status.unknown``                    contested (grey)
``status.dismissed[_at]``             "liberated": a history label inside Ukraine; outside
                                      Ukraine (Kursk 2024–25, drawn blue) ground held by
                                      ``ua`` — decided by where most of the polygon lies
``zmiinyi_island``                    label
other ``territories.*``               political jokes (Karelia, Kurils, …): excluded
anything else                         unclassified: stored, reported, never counted
====================================  =================================================

DeepState's licence forbids redistributing its data: Frontline only ships this
connector; the user runs the fetch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import shape

from ..model import (
    ROLE_CONTESTED,
    ROLE_EXCLUDED,
    ROLE_HELD,
    ROLE_LABEL,
    ROLE_UNCLASSIFIED,
    RawFeature,
    Snapshot,
    utc,
)
from ._archive import count_members, iter_members

SOURCE = "deepstate"
DEFAULT_BASE_URL = "https://deepstatemap.live/api"
FILE_SUFFIXES = (".geojson", ".json")

_KEY_RE = re.compile(r"geoJSON\.([A-Za-z0-9_.\-]+)")
_AT_RE = re.compile(r"\{\{\s*at:\s*([^}]*)\}\}")
_ICON_RE = re.compile(r"\{icon=([A-Za-z0-9_\-]+)")
_WS_RE = re.compile(r"[ \t\u00a0\u2007\u202f]+")

RU_TERRITORIES = {"territories.crimea", "territories.ordlo", "territories.tuzla"}
LIBERATED = {"status.dismissed", "status.dismissed_at"}
LABEL_KEYS = {"zmiinyi_island"}

# Colours of the pre-2024 maps, read off the archive (KML style ``fill``).
FILL_KEYS = {
    "#a52714": "status.occupied",
    "#bcaaa4": "status.unknown",
    "#bdbdbd": "status.unknown",
    "#0f9d58": "status.dismissed",
    "#0288d1": "status.dismissed",
    "#01579b": "status.dismissed",
    "#ff5252": "territories.other",  # the political-joke layer
}
# Name fragments of the pre-2022 territories (lower-case, UA and EN).
NAME_KEYS = (
    (("крим", "crimea"), "territories.crimea"),
    (("ордло", "cadr", "calr"), "territories.ordlo"),
    (("тузла", "tuzla"), "territories.tuzla"),
    (("придністров", "transnistr"), "territories.transnistria"),
    (("зміїний", "snake island"), "zmiinyi_island"),
)
POINT_ICON_KINDS = {"enemy": "unit", "headquarter": "hq"}


@dataclass
class ParsedName:
    """The parts of a DeepState ``name``."""

    ua: str
    en: str
    key: str | None
    at: str | None


def parse_name(raw: Any) -> ParsedName:
    """Split a DeepState ``name`` into Ukrainian and English text, class key and date.

    Parameters
    ----------
    raw
        The ``name`` property as served; anything that is not a string is
        treated as empty.

    Examples
    --------
    >>> parse_name("Окуповано /// Occupied\\xa0/// geoJSON.status.occupied\\n")
    ParsedName(ua='Окуповано', en='Occupied', key='status.occupied', at=None)
    """
    text = raw if isinstance(raw, str) else ""
    at_m = _AT_RE.search(text)
    at = _WS_RE.sub(" ", at_m.group(1)).strip() if at_m else None
    text = _AT_RE.sub(" ", text)
    key_m = _KEY_RE.search(text)
    key = key_m.group(1).strip(".") if key_m else None
    parts = []
    for part in text.split("///"):
        if "geoJSON." in part:
            part = _KEY_RE.sub(" ", part).replace("geoJSON.", " ")
        part = _WS_RE.sub(" ", part.replace("\r", "\n")).strip().replace("\n", " ").strip()
        parts.append(_WS_RE.sub(" ", part))
    parts = [p for p in parts if p]
    ua = parts[0] if parts else ""
    en = parts[1] if len(parts) > 1 else ""
    return ParsedName(ua=ua, en=en, key=key, at=at)


def classify_area(props: dict) -> tuple[str, str, str | None, str | None]:
    """Class key, role, side and how the key was found for a polygon's properties.

    Returns
    -------
    tuple
        ``(key, role, side, inferred)`` where ``inferred`` is None when the key
        came from the name, else ``"fill"`` or ``"name"``.
    """
    parsed = parse_name(props.get("name"))
    key, inferred = parsed.key, None
    if key is None:
        low = f"{parsed.ua} {parsed.en}".lower()
        for frags, k in NAME_KEYS:
            if any(f in low for f in frags):
                key, inferred = k, "name"
                break
        if key is None:
            fill = str(props.get("fill") or "").lower()
            if fill in FILL_KEYS:
                key, inferred = FILL_KEYS[fill], "fill"
    if key is None:
        return "unknown", ROLE_UNCLASSIFIED, None, None
    if key == "status.occupied" or key in RU_TERRITORIES:
        return key, ROLE_HELD, "ru", inferred
    if key == "status.unknown":
        return key, ROLE_CONTESTED, None, inferred
    if key in LIBERATED:
        return key, ROLE_HELD, "ua", inferred
    if key in LABEL_KEYS:
        return key, ROLE_LABEL, None, inferred
    if key.startswith("territories."):
        return key, ROLE_EXCLUDED, None, inferred
    return key, ROLE_UNCLASSIFIED, None, inferred


def classify_point(props: dict) -> tuple[str, str, float | None]:
    """Kind (direction/unit/hq/marker), key and bearing of a point's properties.

    Directions of attack carry ``{icon=arrow_N}`` with N in 1..16; we read it
    as 16 compass points clockwise from north (arrow_1 = 0°, arrow_5 = 90°).
    """
    parsed = parse_name(props.get("name"))
    desc = str(props.get("description") or "")
    icon_m = _ICON_RE.search(desc)
    icon = icon_m.group(1) if icon_m else ""
    if icon.startswith("arrow_") or parsed.key == "status.attack_direction":
        bearing = None
        try:
            n = int(icon.split("_", 1)[1])
            if 1 <= n <= 16:
                bearing = (n - 1) * 22.5
        except (IndexError, ValueError):
            pass
        return "direction", parsed.key or "status.attack_direction", bearing
    kind = POINT_ICON_KINDS.get(icon, "marker")
    return kind, parsed.key or (f"icon.{icon}" if icon else "marker"), None


def feature_hash(feature: dict) -> bytes:
    """A 16-byte content hash of one feature (geometry and properties).

    Keys keep the order the source serves them in: the same feature served
    twice hashes the same, which is all deduplication needs.
    """
    return hashlib.blake2b(orjson.dumps(feature), digest_size=16).digest()


def _check_lonlat(geom) -> str | None:
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        return f"coordinates out of lon/lat range (bounds {minx:.3f},{miny:.3f},{maxx:.3f},{maxy:.3f})"
    return None


def _shape(g: dict):
    """Geometry from a GeoJSON geometry dict: GEOS's reader (fast), shapely's as the fallback."""
    try:
        return shapely.from_geojson(orjson.dumps(g))
    except Exception:  # let shapely's reader raise the clearer message, or accept what GEOS refused
        return shape(g)


def _named(geom: Any, parsed: ParsedName, keep: dict[str, Any]) -> dict[str, Any]:
    """The fields every DeepState feature fills alike: its geometry, the parts of its name, the kept properties."""
    return {"geometry": geom, "name": parsed.ua, "name_en": parsed.en, "at": parsed.at, "props": keep}


def parse_feature(feature: dict) -> tuple[RawFeature | None, str | None]:
    """Turn one GeoJSON feature into a :class:`RawFeature` (2-D, repaired).

    Returns
    -------
    tuple
        ``(feature, note)``: ``feature`` is None when the feature was skipped;
        ``note`` says why it was skipped, repaired or left unclassified.
    """
    if not isinstance(feature, dict):
        return None, "not a GeoJSON feature object"
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        props = {}
    g = feature.get("geometry")
    if not isinstance(g, dict) or "type" not in g:
        return None, "feature has no geometry"
    gtype = g.get("type")
    gc_repaired = False
    try:
        if gtype == "GeometryCollection":
            parts = [_shape(x) for x in g.get("geometries") or []]
            polys = [shapely.force_2d(p) for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
            if not polys:
                return None, "geometry collection without polygons"
            gc_repaired = not all(p.is_valid for p in polys)
            if gc_repaired:
                # Union fails on invalid parts ("unable to assign free hole"): repair each first.
                from ..borders import polygonal

                polys = [polygonal(shapely.make_valid(p)) for p in polys]
            geom = shapely.union_all(polys) if len(polys) > 1 else polys[0]
        else:
            geom = _shape(g)
    except Exception as exc:  # shapely raises several types for broken coordinates
        return None, f"unreadable {gtype} geometry ({exc.__class__.__name__}: {exc})"
    if geom.is_empty:
        return None, f"empty {gtype} geometry"
    geom = shapely.force_2d(geom)
    bad = _check_lonlat(geom)
    if bad:
        return None, bad
    parsed = parse_name(props.get("name"))
    keep = {k: v for k, v in props.items() if k in ("name", "description", "fill", "stroke", "icon")}
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        repaired = gtype == "GeometryCollection" and gc_repaired
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            from ..borders import polygonal

            geom = polygonal(geom)
            repaired = True
            if geom.is_empty:
                return None, "invalid polygon with no area left after repair"
        key, role, side, inferred = classify_area(props)
        if inferred:
            keep["key_from"] = inferred
        note = None
        if role == ROLE_UNCLASSIFIED:
            note = f"unclassified polygon (name {props.get('name')!r}, fill {props.get('fill')!r})"
        elif repaired:
            note = "repaired invalid polygon"
        abroad_rule = "majority" if key in LIBERATED else "part"
        named = _named(geom, parsed, keep)
        return RawFeature(
            kind="area", key=key, role=role, side=side, repaired=repaired, abroad_rule=abroad_rule, **named
        ), note
    if geom.geom_type == "Point":
        kind, key, bearing = classify_point(props)
        return RawFeature(kind=kind, key=key, role=ROLE_LABEL, bearing=bearing, **_named(geom, parsed, keep)), None
    return None, f"unsupported geometry type {geom.geom_type}"


def _to_dt(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        try:
            return utc(value)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"time {value!r} is out of range for epoch seconds") from None
    try:
        return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError as exc:
        raise ValueError(f"time {value!r} is not ISO-8601") from exc


def snapshot_from_bytes(
    data: bytes, origin: str, version_hint: str | None = None, meta: dict | None = None
) -> Snapshot:
    """Read one version from file bytes: a FeatureCollection or an API version object.

    Parameters
    ----------
    data
        The file content.
    origin
        File name or URL, used in messages.
    version_hint
        Version id when the content does not carry one (archived files are
        named ``<epoch seconds>.geojson``).
    meta
        History-listing entry for this version (``createdAt``/``updatedAt``).

    Raises
    ------
    ValueError
        With a sentence naming what is wrong (empty, truncated, not JSON,
        wrong shape, no version id).
    """
    if not data or not data.strip():
        raise ValueError("empty file")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON, truncated or malformed ({exc})") from None
    meta = dict(meta or {})
    if isinstance(doc, dict) and isinstance(doc.get("map"), dict):
        for k in ("id", "datetime", "createdAt", "updatedAt"):
            if k in doc and k not in meta:
                meta[k] = doc[k]
        doc = doc["map"]
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("not a GeoJSON FeatureCollection nor a DeepState API version object")
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise ValueError("FeatureCollection has no 'features' list")
    vid = meta.get("id", version_hint)
    try:
        vid_int = int(str(vid).strip())
    except (TypeError, ValueError):
        raise ValueError(
            f"cannot tell the version id (got {vid!r}): name the file <epoch seconds>.geojson "
            "or use the API shape {id, map}"
        ) from None
    if not (946684800 <= vid_int <= 4102444800):  # 2000-01-01 .. 2100-01-01
        raise ValueError(f"version id {vid_int} is not an epoch-seconds time between 2000 and 2100")
    created = _to_dt(meta.get("createdAt") or meta.get("datetime"))
    updated = _to_dt(meta.get("updatedAt"))
    hashes = [feature_hash(f) if isinstance(f, dict) else b"\0" * 16 for f in feats]
    content = hashlib.blake2b(b"".join(sorted(hashes)), digest_size=16).hexdigest()
    return Snapshot(
        source=SOURCE,
        version_id=str(vid_int),
        valid_time=utc(vid_int),
        features=feats,
        hashes=hashes,
        published_at=created or utc(vid_int),
        revised_at=updated,
        origin=origin,
        content_hash=content,
        parse=lambda i: parse_feature(feats[i]),
    )


def _hint_from_name(name: str) -> str | None:
    stem = Path(name.split(":")[-1]).name.split(".")[0]
    return stem if stem.isdigit() else None


def count(path: Path) -> int | None:
    """How many snapshot files a path holds, if cheap to know."""
    return count_members(Path(path), FILE_SUFFIXES)


def for_import(snap: Snapshot) -> Snapshot:
    """The snapshot as the importer takes it (kept for callers written when reading and wrapping were two steps)."""
    return snap


def read_member(name: str, content: bytes | Exception):
    """One file (or archive member) → an importable snapshot, or ``(origin, reason)`` when it is bad.

    ``content`` is what :func:`frontline.sources._archive.iter_members` yields:
    the bytes, or the exception met reading them.
    """
    if isinstance(content, Exception):
        return name, f"cannot read: {content}"
    try:
        return snapshot_from_bytes(content, name, _hint_from_name(name))
    except ValueError as exc:
        return name, str(exc)


def read_path(path: Path | str) -> Iterator:
    """Yield importable snapshots from a folder, file or archive; ``(origin, reason)`` for bad files."""
    for name, content in iter_members(Path(path), FILE_SUFFIXES):
        yield read_member(name, content)


# ---------------------------------------------------------------- live API (HTTP lives in sources/live.py)

from .._http import FetchError  # noqa: E402, F401  (one error type for every HTTP failure; re-exported here)
