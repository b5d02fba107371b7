"""Geolocated events (equipment losses, strikes, clashes) from CSV, GeoJSON and KML.

An :class:`Event` is a point in time and space with its evidence: ``time``
(epoch seconds, UTC), ``lon``/``lat``, ``precision_m`` (how far the true
place may be, metres), ``side`` (the side that suffered a loss, or the side
acting for strikes/clashes when known), ``type`` (``equipment_loss``,
``strike``, ``clash`` or ``other``), ``source_url`` and ``confidence`` (0–1).

Formats (``read_events(path, fmt=...)``; ``auto`` picks from the suffix and
content):

``csv``
    Header row with ``time`` (or ``date``), ``lon``, ``lat`` and optionally
    ``precision_m``, ``side``, ``type``, ``source_url``, ``confidence``,
    ``title``, ``id``. ``confidence`` is a number in [0, 1] or a percentage
    written with ``%`` (``90%``); a bare number above 1 is an error. Example::

        time,lon,lat,precision_m,side,type,source_url,confidence,title
        2025-03-10T08:00Z,35.21,51.20,50,ua,equipment_loss,https://x/1,0.9,BMP-2 destroyed

``geojson``
    A FeatureCollection of Point features whose properties use the CSV names.
``kml``
    Any KML: each Placemark with a Point; ``TimeStamp/when`` or a date in the
    name/description gives the time; ExtendedData fields use the CSV names.
``geoconfirmed``
    The shape of GeoConfirmed's KML export as assumed here (their public
    export is KML with one folder per side): ``Document > Folder`` (name
    containing ``Russia``/``Ukraine`` — or ``RU``/``UA`` — for the side
    *acting*/*shown*, optionally nested sub-folders by category such as
    ``Destroyed equipment``, ``Strikes``, ``Combat footage``) ``>
    Placemark`` with ``name`` (free text, often starting with a date
    ``12 MAR 2025``), ``description`` (HTML: the event text, then
    ``Source(s):`` and ``Geolocation:`` links), ``styleUrl`` (an icon per
    side/category; red = Russian, blue = Ukrainian when the folder says
    nothing) and ``Point/coordinates`` (``lon,lat[,alt]``). The first link
    after "Source" is ``source_url``; geolocated by GeoConfirmed, so
    ``confidence`` 0.9 and ``precision_m`` 100 unless the text says otherwise.
``warspotting``
    WarSpotting's API JSON (``/api/losses/russia/<date>``): ``{"losses": [
    {"id", "type", "model", "status", "lost_by", "date" (YYYY-MM-DD),
    "nearest_location", "geo": "lat,lon" (note the order; may be null),
    "unit", "tags"}]}``. Every loss is an ``equipment_loss`` of ``lost_by``
    (``Russia`` → ``ru``, ``Ukraine`` → ``ua``); losses without ``geo`` are
    reported and skipped; the source URL is ``https://ukr.warspotting.net/
    view/<id>/``; ``precision_m`` 500 (geolocated to the nearest location).

Malformed records are reported as ``"<file> line N: reason"`` and skipped.

The same event read from two formats (a KML imported as ``kml`` and as
``geoconfirmed``, a CSV and a GeoJSON of one export) is stored once: the
ledger merges events with the same time (±60 s), place (within ~50 m) and
title (or type when untitled) — :func:`frontline.store.ledger.add_events`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..model import Event
from ._records import ItemsAs, ReadResult, array_lines, blank, load_json, required_time

__all__ = ["Event", "EventReadResult", "EVENT_TYPES", "FORMATS", "read_events", "parse_events_text"]

EVENT_TYPES = ("equipment_loss", "strike", "clash", "other")
FORMATS = ("auto", "csv", "geojson", "kml", "geoconfirmed", "warspotting")

_SIDE_WORDS = {
    "ua": "ua",
    "ukraine": "ua",
    "ukrainian": "ua",
    "ukr": "ua",
    "ru": "ru",
    "russia": "ru",
    "russian": "ru",
    "rus": "ru",
    "україна": "ua",
    "россия": "ru",
    "росія": "ru",
}
_TYPE_WORDS = {
    "equipment_loss": "equipment_loss",
    "loss": "equipment_loss",
    "equipment": "equipment_loss",
    "destroyed": "equipment_loss",
    "vehicle": "equipment_loss",
    "strike": "strike",
    "strikes": "strike",
    "shelling": "strike",
    "drone strike": "strike",
    "missile": "strike",
    "clash": "clash",
    "combat": "clash",
    "fighting": "clash",
    "other": "other",
}
_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_RE_DMY = re.compile(r"\b(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{4})\b")
_RE_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?)\b")
_RE_URL = re.compile(r"https?://[^\s\"'<>]+")
KML_NS = "{http://www.opengis.net/kml/2.2}"
_TIME_KEYS = ("time", "date", "datetime")
_PLACE_KEYS = ("lon", "lat", "longitude", "latitude", "precision_m")
# the record fields an Event has a place for; the others are kept in its props
_FIELDS = {*_TIME_KEYS, *_PLACE_KEYS, "side", "type", "source_url", "url", "confidence", "title", "name", "id"}


class EventReadResult(ReadResult[Event]):
    """Events read from a file and the problems of the skipped records."""

    events = ItemsAs[Event]()  # the valid events, in file order


def _time(v: Any) -> int:
    if blank(v):
        raise ValueError("time is missing")
    s = str(v).strip()
    m = _RE_DMY.search(s)
    if m and not _RE_ISO.search(s):
        mon = _MONTHS.get(m.group(2).lower())
        if mon is None:
            raise ValueError(f"time {s!r} has an unknown month")
        return int(datetime(int(m.group(3)), mon, int(m.group(1)), 12, tzinfo=UTC).timestamp())
    if len(s) == 10 and s[4] == "-":  # a bare date: noon that day (events are dated, not timed)
        s = s + "T12:00:00Z"
    return required_time(s)


def _num(v: Any, what: str, lo: float | None = None, hi: float | None = None) -> float | None:
    if blank(v):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {v!r} is not a number") from None
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise ValueError(f"{what} {v!r} is out of range")
    return x


def _side(v: Any) -> str | None:
    if blank(v):
        return None
    s = str(v).strip().lower()
    return _SIDE_WORDS.get(s, s)


def _etype(v: Any) -> str:
    if blank(v):
        return "other"
    s = str(v).strip().lower().replace("-", "_")
    if s in _TYPE_WORDS:
        return _TYPE_WORDS[s]
    raise ValueError(f"type {v!r} is not one of {', '.join(EVENT_TYPES)}")


def _event(d: dict[str, Any], lon: Any = None, lat: Any = None) -> Event:
    lon = _num(d.get("lon", d.get("longitude")) if lon is None else lon, "lon", -180, 180)
    lat = _num(d.get("lat", d.get("latitude")) if lat is None else lat, "lat", -90, 90)
    if lon is None or lat is None:
        raise ValueError("lon/lat are missing")
    t = _time(d.get("time", d.get("date", d.get("datetime"))))
    from .claims import parse_confidence

    try:  # [0, 1], or a percentage only when written with "%": a bare 7 is an error, not 0.07
        conf = parse_confidence(d.get("confidence"))
    except ValueError as exc:
        raise ValueError(f"field 'confidence': {exc}") from None
    return Event(
        time=t,
        lon=lon,
        lat=lat,
        precision_m=_num(d.get("precision_m"), "precision_m", 0, 1e6),
        side=_side(d.get("side")),
        type=_etype(d.get("type")),
        source_url=str(d.get("source_url") or d.get("url") or "").strip(),
        confidence=conf,
        title=str(d.get("title") or d.get("name") or "").strip()[:500],
        source_id=str(d.get("id") or "").strip(),
        props={k: v for k, v in d.items() if k not in _FIELDS and not blank(v)},
    )


# -------------------------------------------------------------------- readers


def _read_csv(text: str, source: str, out: list, problems: list) -> None:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if not reader.fieldnames:
        problems.append(f"{source} line 1: no header row")
        return
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    line = reader.line_num + 1
    for row in reader:
        if None in row:
            problems.append(f"{source} line {line}: more values than columns")
        elif any(not blank(v) for v in row.values()):
            try:
                e = _event(row)
                e.origin = f"{source} line {line}"
                out.append(e)
            except ValueError as exc:
                problems.append(f"{source} line {line}: {exc}")
        line = reader.line_num + 1


def _tag_lines(text: str, tag: str) -> list[int]:
    """Line numbers where each occurrence of ``tag`` (``"<Placemark"``) starts, for messages."""
    lines, line, counted, pos = [], 1, 0, text.find(tag)
    while pos >= 0:
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        pos = text.find(tag, pos + 1)
    return lines


def _json_records(
    text: str, source: str, problems: list, key: str, what: str, expected: str, *, bare_list: bool = False
) -> list[tuple[str, Any]]:
    """``(where, record)`` of each element of the array under ``key`` (or of the document, if ``bare_list``).

    ``where`` is ``"<file> line N"``; ``what`` names a record whose line is unknown (``"<file> feature 3"``).
    Empty, after adding to ``problems`` why, when the text is not JSON or holds no such array.
    """
    try:
        doc = load_json(text)
    except ValueError as exc:
        problems.append(f"{source} {exc}")
        return []
    items = doc.get(key) if isinstance(doc, dict) else doc if bare_list else None
    if not isinstance(items, list):
        problems.append(f"{source} line 1: {expected}")
        return []
    lines = array_lines(text, key if isinstance(doc, dict) else None)
    return [(_where(source, lines, i, what), x) for i, x in enumerate(items)]


def _where(source: str, lines: list[int], i: int, what: str) -> str:
    """``"<file> line N"`` of record ``i``, or ``"<file> <what> i"`` when its line is not known."""
    return f"{source} line {lines[i]}" if i < len(lines) else f"{source} {what} {i}"


def _read_geojson(text: str, source: str, out: list, problems: list) -> None:
    expected = "not a GeoJSON FeatureCollection"
    for where, f in _json_records(text, source, problems, "features", "feature", expected):
        try:
            g = (f or {}).get("geometry") or {}
            if g.get("type") != "Point":
                raise ValueError(f"geometry must be a Point, not {g.get('type')!r}")
            c = g.get("coordinates") or []
            if len(c) < 2:
                raise ValueError("Point has no coordinates")
            e = _event(dict(f.get("properties") or {}) | ({"id": f["id"]} if "id" in f else {}), c[0], c[1])
            e.origin = where
            out.append(e)
        except (ValueError, AttributeError, TypeError) as exc:
            problems.append(f"{where}: {exc}")


def _kml_text(el, tag: str) -> str:
    x = el.find(f"{KML_NS}{tag}")
    if x is None:
        x = el.find(tag)
    return (x.text or "").strip() if x is not None and x.text else ""


def _strip_ns(root) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]


def _placemarks(root):
    """``(placemark, [folder names from the top])`` for every Placemark."""
    out = []

    def walk(el, path):
        for ch in el:
            if ch.tag == "Placemark":
                out.append((ch, path))
            elif ch.tag in ("Folder", "Document"):
                name = ch.find("name")
                walk(ch, path + ([name.text.strip()] if name is not None and name.text and ch.tag == "Folder" else []))
            elif ch.tag == "kml":
                walk(ch, path)

    walk(root if root.tag != "kml" else root, [])
    return out


def _side_from_words(words: list[str]) -> str | None:
    for w in words:
        for tok in re.split(r"[^\w]+", w.lower()):
            if tok in _SIDE_WORDS:
                return _SIDE_WORDS[tok]
    return None


def _type_from_words(words: list[str]) -> str:
    text = " ".join(words).lower()
    if any(
        k in text for k in ("destroyed", "damaged", "equipment", "loss", "abandoned", "captured", "vehicle", "tank")
    ):
        return "equipment_loss"
    if any(k in text for k in ("strike", "missile", "shelling", "artillery", "drone", "bomb")):
        return "strike"
    if any(k in text for k in ("clash", "combat", "fighting", "assault", "firefight")):
        return "clash"
    return "other"


def _read_kml(text: str, source: str, out: list, problems: list, geoconfirmed: bool) -> None:
    try:
        root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
    except ET.ParseError as exc:
        problems.append(f"{source} line {exc.position[0]}: not valid KML/XML ({exc})")
        return
    _strip_ns(root)
    lines = _tag_lines(text, "<Placemark")
    for i, (pm, folders) in enumerate(_placemarks(root)):
        where = _where(source, lines, i, "placemark")
        try:
            name = _kml_text(pm, "name")
            desc = _kml_text(pm, "description")
            pt = pm.find(".//Point/coordinates")
            if pt is None or not (pt.text or "").strip():
                raise ValueError("Placemark has no Point coordinates")
            parts = pt.text.strip().split()[0].split(",")
            if len(parts) < 2:
                raise ValueError(f"coordinates {pt.text.strip()!r} are not lon,lat")
            ext = {}
            for d in pm.iter("Data"):
                v = d.find("value")
                ext[d.get("name", "").strip().lower()] = (v.text or "").strip() if v is not None and v.text else ""
            for d in pm.iter("SimpleData"):
                ext[d.get("name", "").strip().lower()] = (d.text or "").strip()
            when = pm.find(".//TimeStamp/when")
            t = ext.get("time") or ext.get("date") or (when.text.strip() if when is not None and when.text else None)
            if not t:
                m = _RE_ISO.search(name) or _RE_DMY.search(name) or _RE_ISO.search(desc) or _RE_DMY.search(desc)
                if not m:
                    raise ValueError("no date in TimeStamp, name or description")
                t = m.group(0)
            style = _kml_text(pm, "styleUrl")
            d = dict(ext)
            d["time"] = t
            d.setdefault("title", name)
            if geoconfirmed:
                side = _side_from_words(folders)
                if side is None:
                    s = style.lower()
                    side = "ru" if ("red" in s or "ff0000" in s) else "ua" if ("blue" in s or "0000ff" in s) else None
                d["side"] = ext.get("side") or side
                d["type"] = ext.get("type") or _type_from_words(folders + [name])
                urls = _RE_URL.findall(desc)
                src = None
                low = desc.lower()
                k = low.find("source")
                if k >= 0:
                    after = _RE_URL.findall(desc[k:])
                    src = after[0] if after else None
                d["source_url"] = ext.get("source_url") or src or (urls[0] if urls else "")
                geo = desc[low.find("geolocation") :] if "geolocation" in low else ""
                gl = _RE_URL.findall(geo)
                d["geolocation_url"] = gl[0] if gl else ""
                d.setdefault("confidence", "0.9")
                d.setdefault("precision_m", "100")
                d["folder"] = "/".join(folders)
                d["description"] = re.sub(r"<[^>]+>", " ", desc).strip()[:2000]
            e = _event(d, parts[0], parts[1])
            e.origin = where
            out.append(e)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")


def _read_warspotting(text: str, source: str, out: list, problems: list) -> None:
    expected = 'expected {"losses": [...]} (WarSpotting API JSON)'
    for where, r in _json_records(text, source, problems, "losses", "loss", expected, bare_list=True):
        try:
            if not isinstance(r, dict):
                raise ValueError("a loss must be an object")
            geo = r.get("geo")
            if blank(geo):
                raise ValueError(f"loss {r.get('id')} has no geo (not geolocated)")
            ll = str(geo).replace(" ", "").split(",")
            if len(ll) != 2:
                raise ValueError(f"geo {geo!r} is not 'lat,lon'")
            lost_by = _side(r.get("lost_by"))
            lid = r.get("id")
            title = " ".join(str(r.get(k)) for k in ("status", "type", "model") if not blank(r.get(k)))
            e = _event(
                {
                    "time": r.get("date"),
                    "side": lost_by,
                    "type": "equipment_loss",
                    "source_url": f"https://ukr.warspotting.net/view/{lid}/" if lid is not None else "",
                    "precision_m": 500,
                    "confidence": 0.9,
                    "title": title,
                    "id": f"warspotting:{lid}",
                    "nearest_location": r.get("nearest_location"),
                    "unit": r.get("unit"),
                    "tags": r.get("tags"),
                    "status": r.get("status"),
                    "model": r.get("model"),
                },
                lon=ll[1],
                lat=ll[0],
            )
            e.origin = where
            out.append(e)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")


def _sniff(text: str, suffix: str) -> str:
    head = text.lstrip()[:4000]
    if suffix in (".kml",) or head.startswith("<"):
        return "geoconfirmed" if "geoconfirmed" in text[:20000].lower() else "kml"
    if head.startswith("{") or head.startswith("["):
        return "warspotting" if '"losses"' in head or '"lost_by"' in head else "geojson"
    return "csv"


def parse_events_text(text: str, fmt: str = "auto", source: str = "<input>", suffix: str = "") -> EventReadResult:
    """Events from text in one of :data:`FORMATS` (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown events format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if fmt == "auto":
        fmt = _sniff(text, suffix)
    out: list[Event] = []
    problems: list[str] = []
    if fmt == "csv":
        _read_csv(text, source, out, problems)
    elif fmt == "geojson":
        _read_geojson(text, source, out, problems)
    elif fmt in ("kml", "geoconfirmed"):
        _read_kml(text, source, out, problems, geoconfirmed=fmt == "geoconfirmed")
    else:
        _read_warspotting(text, source, out, problems)
    return EventReadResult(out, problems, source)


def read_events(path: str | Path, fmt: str = "auto") -> EventReadResult:
    """Read geolocated events from a file.

    Parameters
    ----------
    path
        CSV, GeoJSON, KML/KMZ (GeoConfirmed's export included) or WarSpotting JSON.
    fmt
        One of :data:`FORMATS`; ``auto`` decides from the suffix and content.

    Returns
    -------
    EventReadResult
        Valid events and one ``"file line N: why"`` message per skipped record.

    Raises
    ------
    ValueError
        When the file cannot be read at all or the format is unknown.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".kmz":
            import zipfile

            with zipfile.ZipFile(p) as z:
                name = next((n for n in z.namelist() if n.lower().endswith(".kml")), None)
                if name is None:
                    raise ValueError(f"{p}: the KMZ holds no .kml file.")
                text = z.read(name).decode("utf-8")
            suffix = ".kml"
        else:
            text = p.read_text(encoding="utf-8")
            suffix = p.suffix.lower()
    except (OSError, UnicodeDecodeError, Exception) as exc:
        if isinstance(exc, ValueError):
            raise
        raise ValueError(f"{p}: cannot read the events file ({exc}).") from None
    return parse_events_text(text, fmt, p.name, suffix)
