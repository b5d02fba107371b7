"""Claims made by parties to a war, read from CSV or JSON.

A *claim* is something a claimant said at a time: a settlement taken or lost,
a number about ground (a share or km²), or a drawn line or polygon. Each
claim carries who said it, where (source URL), the text, its language and its
publication time; :mod:`frontline.analysis.claims` checks it against the map.

Kinds
-----
``settlement``
    ``side`` took or lost a place: ``change`` is ``taken`` or ``lost``; the
    place is ``settlement`` (a name, in any spelling, resolved against the
    gazetteer) and/or ``lon``/``lat``. ``near`` (``"lon lat radius_km"``)
    narrows the name search when the name exists many times.
``numeric``
    A number about the ground ``side`` holds in ``region``:

    ``metric=share``
        ``side``'s ground as a share of a baseline ("shrunk to 20% of its
        original size": ``side=ua region=russia baseline=peak value=20%``).
    ``metric=share_lost``
        the share of the baseline ``side`` no longer holds ("Russia has
        regained 64% of the territory": ``side=ua region=russia baseline=peak
        value=64%``).
    ``metric=area_km2``
        ``side``'s ground in km².
    ``metric=change_km2``
        net gain of ``side`` from ``period_start`` to ``period_end``
        ("X km² taken in March": ``side=ru region=ukraine
        period_start=2025-03-01 period_end=2025-03-31``).

    ``baseline`` is ``peak`` (the most ``side`` held in ``region`` up to the
    claim's time), or a date (``2024-08-20``: the value then). ``region`` is
    ``theatre``, ``ukraine``, ``russia``, ``home:<side>``, ``outside:<side>``
    or a polygon file; ``convention`` is ``clipped`` (default) or
    ``as_drawn``. Shares are fractions (``0.64``) or percentages (``64%``;
    a bare number above 1 is read as a percentage). ``tolerance`` overrides
    the default agreement tolerance (shares: 0.05; km²: 10 %).
``polygon`` / ``line``
    ``geometry`` (WKT or a GeoJSON geometry object/text) that ``side`` claims
    to hold (``change=taken``, default) or to have lost (``change=lost``).

The kind is inferred when not given: ``metric`` → numeric, ``geometry`` →
polygon/line, otherwise settlement.

File formats
------------
CSV (UTF-8, header row; unknown columns are kept in ``extra``)::

    claimant,source_url,text,language,time,kind,settlement,lon,lat,side,change,metric,value,region,baseline
    RU MoD,https://t.me/mod_russia/1,"Освобождён населённый пункт Лебедевка",ru,2025-03-08T10:00Z,settlement,Лебедевка,,,ru,taken,,,,
    RU MoD,https://t.me/mod_russia/2,Sudzha liberated,en,2025-03-13,,Sudzha,35.27,51.19,ru,taken,,,,
    Gerasimov,https://example.org/3,64% of the territory retaken,en,2025-03-12,numeric,,,,ua,,share_lost,64%,russia,peak

JSON: a list of objects with the same field names, ``{"claims": [...]}``, or
JSON Lines (``.jsonl``, one object per line); in JSON ``geometry`` may be a
GeoJSON geometry object. A GeoJSON FeatureCollection works too (properties
are the fields; the feature's geometry becomes the point or the polygon).
``time`` may also be called ``published_at``, ``date`` or ``published``.

Malformed rows never stop a read: each is reported as ``"<file> line N:
reason"`` in ``problems`` and skipped; the valid rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["Claim", "ClaimReadResult", "KINDS", "CHANGES", "METRICS", "parse_claim", "read_claims",
           "parse_claims_text"]

KINDS = ("settlement", "numeric", "polygon", "line")
CHANGES = ("taken", "lost")
METRICS = ("share", "share_lost", "area_km2", "change_km2")
SHARE_METRICS = ("share", "share_lost")
CONVENTIONS = ("clipped", "as_drawn")
MAX_TEXT = 10_000

_TIME_KEYS = ("time", "published_at", "published", "date", "datetime")
_KNOWN = {"claim_id", "kind", "claimant", "source_url", "url", "text", "language", "lang", *_TIME_KEYS,
          "settlement", "name", "lon", "lat", "near", "side", "change", "metric", "value", "region", "baseline",
          "convention", "period_start", "period_end", "geometry", "wkt", "tolerance", "id"}


@dataclass
class Claim:
    """One claim, normalised.

    Attributes
    ----------
    kind
        ``settlement``, ``numeric``, ``polygon`` or ``line``.
    claimant, source_url, text, language
        Who said it, where, the words, and their language code.
    published_at
        Epoch seconds (UTC) of publication: verification counts from here.
    settlement, lon, lat, near
        The place of a settlement claim; ``near`` is ``(lon, lat, radius_km)``.
    side, change
        Who took (``taken``) or lost (``lost``) it.
    metric, value, region, baseline, convention, period_start, period_end, tolerance
        A numeric claim (see the module docstring); ``value`` is a fraction
        for shares, km² otherwise.
    geometry
        The claimed polygon or line (lon/lat).
    claim_id
        The ledger's id once stored.
    extra
        Other fields of the input row, kept as they were.
    origin
        ``"<file> line N"``: where the claim came from.
    """

    kind: str
    claimant: str
    published_at: int
    source_url: str = ""
    text: str = ""
    language: str = ""
    settlement: str | None = None
    lon: float | None = None
    lat: float | None = None
    near: tuple[float, float, float] | None = None
    side: str | None = None
    change: str | None = None
    metric: str | None = None
    value: float | None = None
    region: str | None = None
    baseline: str | None = None
    convention: str = "clipped"
    period_start: int | None = None
    period_end: int | None = None
    tolerance: float | None = None
    geometry: BaseGeometry | None = None
    claim_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def has_point(self) -> bool:
        return self.lon is not None and self.lat is not None

    def uid(self) -> str:
        """A content hash of what was claimed (same claim imported twice → same uid)."""
        key = json.dumps([self.kind, self.claimant, self.published_at, self.source_url, self.text, self.settlement,
                          self.lon, self.lat, self.side, self.change, self.metric, self.value, self.region,
                          self.baseline, self.convention, self.period_start, self.period_end,
                          None if self.geometry is None else shapely.to_wkt(self.geometry, rounding_precision=7)],
                         ensure_ascii=False, default=str)
        return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (geometry as WKT, times as ISO text)."""
        from ..model import iso

        d = asdict(self)
        d["geometry"] = None if self.geometry is None else shapely.to_wkt(self.geometry, rounding_precision=7)
        d["time"] = iso(self.published_at)
        d["period_start"] = iso(self.period_start) if self.period_start is not None else None
        d["period_end"] = iso(self.period_end) if self.period_end is not None else None
        d["near"] = list(self.near) if self.near else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> "Claim":
        """Inverse of :meth:`to_dict` (validates like :func:`parse_claim`)."""
        c = parse_claim(d, where)
        c.claim_id = d.get("claim_id")
        c.origin = d.get("origin") or where
        return c


@dataclass
class ClaimReadResult:
    """Claims read from a file and the problems of the rows that were skipped."""

    claims: list[Claim]
    problems: list[str]
    source: str = ""


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or (isinstance(v, float) and math.isnan(v))


def _text(d: dict, *keys: str) -> str:
    for k in keys:
        v = d.get(k)
        if not _blank(v):
            return str(v).strip()
    return ""


def _time(value: Any, what: str) -> int:
    from ..analysis.area import parse_time

    try:
        t = parse_time(value)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if t is None:
        raise ValueError(f"{what} is missing")
    return t


def _float(value: Any, what: str, lo: float | None = None, hi: float | None = None) -> float | None:
    if _blank(value):
        return None
    try:
        v = float(str(value).strip().replace(",", ".")) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} {value!r} is not a finite number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{what} {v:g} is outside [{lo:g}, {hi:g}]")
    return v


def _geometry(value: Any) -> BaseGeometry | None:
    if _blank(value):
        return None
    try:
        if isinstance(value, dict):
            g = shapely.from_geojson(json.dumps(value))
        else:
            s = str(value).strip()
            g = shapely.from_geojson(s) if s.startswith("{") else shapely.from_wkt(s)
    except Exception as exc:  # shapely raises GEOSException subclasses with GEOS text
        raise ValueError(f"geometry is neither WKT nor GeoJSON ({str(exc).splitlines()[0][:120]})") from None
    if g is None or g.is_empty:
        raise ValueError("geometry is empty")
    g = shapely.force_2d(g)
    x0, y0, x1, y1 = g.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError(f"geometry is not in lon/lat degrees (bounds {g.bounds})")
    if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_valid:
        g = shapely.make_valid(g)
        from ..borders import polygonal

        g = polygonal(g)
    return g


def _value(value: Any, metric: str) -> float:
    if _blank(value):
        raise ValueError(f"value is missing for metric {metric}")
    s = str(value).strip()
    pct = s.endswith("%")
    v = _float(s.rstrip("%").strip(), "value")
    if metric in SHARE_METRICS:
        if pct or v > 1.0:
            v = v / 100.0
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"value {s!r} is not a share between 0 and 100%")
    return v


def parse_claim(d: dict[str, Any], where: str = "record") -> Claim:
    """Validate one input record and build a :class:`Claim`.

    Parameters
    ----------
    d
        Field → value (CSV row or JSON object).
    where
        ``"<file> line N"``, for messages.

    Returns
    -------
    Claim

    Raises
    ------
    ValueError
        Naming ``where`` and the reason, when the record is not a usable claim.
    """
    try:
        return _parse(d)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _parse(d: dict[str, Any]) -> Claim:
    if not isinstance(d, dict):
        raise ValueError(f"a claim must be an object with fields, not {type(d).__name__}")
    claimant = _text(d, "claimant")
    if not claimant:
        raise ValueError("claimant is missing")
    tkey = next((k for k in _TIME_KEYS if not _blank(d.get(k))), None)
    if tkey is None:
        raise ValueError("time is missing (give time / published_at as ISO-8601 or epoch seconds)")
    published = _time(d[tkey], tkey)
    text = _text(d, "text")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    lon = _float(d.get("lon"), "lon", -180, 180)
    lat = _float(d.get("lat"), "lat", -90, 90)
    if (lon is None) != (lat is None):
        raise ValueError("lon and lat must be given together")
    geom = _geometry(d.get("geometry", d.get("wkt")))
    metric = _text(d, "metric") or None
    kind = _text(d, "kind").lower() or None
    if kind is None:
        if metric:
            kind = "numeric"
        elif geom is not None and geom.geom_type not in ("Point", "MultiPoint"):
            kind = "line" if "Line" in geom.geom_type else "polygon"
        else:
            kind = "settlement"
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    side = _text(d, "side").lower() or None
    change = _text(d, "change").lower() or None
    convention = _text(d, "convention") or "clipped"
    if convention not in CONVENTIONS:
        raise ValueError(f"convention {convention!r} is not one of {', '.join(CONVENTIONS)}")
    near = None
    if not _blank(d.get("near")):
        raw = d["near"]
        parts = raw if isinstance(raw, (list, tuple)) else str(raw).replace(",", " ").split()
        try:
            near = tuple(float(p) for p in parts)
        except (TypeError, ValueError):
            near = ()
        if len(near) != 3 or not (-180 <= near[0] <= 180 and -90 <= near[1] <= 90 and near[2] > 0):
            raise ValueError(f"near {raw!r} must be 'lon lat radius_km'")
    c = Claim(kind=kind, claimant=claimant, published_at=published, source_url=_text(d, "source_url", "url"),
              text=text, language=_text(d, "language", "lang").lower(), side=side, change=change,
              convention=convention, near=near,
              extra={k: v for k, v in d.items() if k not in _KNOWN and not _blank(v)})
    if kind == "settlement":
        c.settlement = _text(d, "settlement", "name") or None
        if geom is not None and geom.geom_type == "Point" and lon is None:
            lon, lat = geom.x, geom.y
        c.lon, c.lat = lon, lat
        if c.settlement is None and lon is None:
            raise ValueError("a settlement claim needs settlement (a name) or lon/lat")
        if side is None:
            raise ValueError("side is missing (the side that took or lost the place)")
        if change not in CHANGES:
            raise ValueError(f"change {change!r} must be one of {', '.join(CHANGES)}")
    elif kind == "numeric":
        if metric not in METRICS:
            raise ValueError(f"metric {metric!r} must be one of {', '.join(METRICS)}")
        if side is None:
            raise ValueError("side is missing (whose ground the number is about)")
        c.metric = metric
        c.value = _value(d.get("value"), metric)
        c.region = _text(d, "region") or "theatre"
        c.baseline = _text(d, "baseline") or None
        if metric in SHARE_METRICS:
            c.baseline = c.baseline or "peak"
            if c.baseline != "peak":
                _time(c.baseline, "baseline")  # must be a date
        if metric == "change_km2":
            if _blank(d.get("period_start")) or _blank(d.get("period_end")):
                raise ValueError("change_km2 needs period_start and period_end")
            c.period_start = _time(d["period_start"], "period_start")
            c.period_end = _time(d["period_end"], "period_end")
            if c.period_start >= c.period_end:
                raise ValueError("period_start must be before period_end")
        c.tolerance = _float(d.get("tolerance"), "tolerance", 0, None)
    else:
        if geom is None:
            raise ValueError(f"a {kind} claim needs geometry (WKT or GeoJSON)")
        want = ("Polygon", "MultiPolygon") if kind == "polygon" else ("LineString", "MultiLineString")
        if geom.geom_type not in want:
            raise ValueError(f"a {kind} claim needs a {' or '.join(want)}, got {geom.geom_type}")
        if side is None:
            raise ValueError("side is missing (the side claiming the ground)")
        change = change or "taken"
        if change not in CHANGES:
            raise ValueError(f"change {change!r} must be one of {', '.join(CHANGES)}")
        c.change = change
        c.geometry = geom
        c.lon, c.lat = lon, lat
    return c


def _json_records(text: str) -> list[tuple[int, Any]]:
    """``(line, record)`` of each element of a JSON array / ``{"claims": [...]}`` / FeatureCollection."""
    dec = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        key, items = "features", doc.get("features") or []
    elif isinstance(doc, dict) and isinstance(doc.get("claims"), list):
        key, items = "claims", doc["claims"]
    elif isinstance(doc, list):
        key, items = None, doc
    else:
        raise ValueError("line 1: expected a list of claims, {\"claims\": [...]} or a FeatureCollection")
    # Find where each element starts, for line numbers: walk the array with raw_decode.
    start = text.find("[", text.find(f'"{key}"') if key else 0)
    pos, lines = start + 1, []
    for _ in items:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        lines.append(line_of(pos))
        _, pos = dec.raw_decode(text, pos)
    return list(zip(lines, items))


def _from_feature(rec: Any) -> Any:
    if isinstance(rec, dict) and rec.get("type") == "Feature":
        d = dict(rec.get("properties") or {})
        if rec.get("geometry"):
            d.setdefault("geometry", rec["geometry"])
        return d
    return rec


def parse_claims_text(text: str, fmt: str, source: str = "<input>") -> ClaimReadResult:
    """Claims from CSV or JSON text (``fmt``: ``csv``, ``json`` or ``jsonl``)."""
    claims: list[Claim] = []
    problems: list[str] = []

    def take(line: int, rec: Any) -> None:
        where = f"{source} line {line}"
        try:
            c = parse_claim(_from_feature(rec), where)
        except ValueError as exc:
            problems.append(str(exc))
            return
        c.origin = where
        claims.append(c)

    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
        if not reader.fieldnames:
            return ClaimReadResult([], [f"{source} line 1: no header row"], source)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        line = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                problems.append(f"{source} line {reader.line_num}: {exc}")
                break
            if None in row:
                problems.append(f"{source} line {line}: more values than columns ({len(reader.fieldnames)})")
            elif all(_blank(v) for v in row.values()):
                pass
            else:
                take(line, row)
            line = reader.line_num + 1
    elif fmt == "jsonl":
        for i, ln in enumerate(text.splitlines(), 1):
            if not ln.strip():
                continue
            try:
                rec = json.loads(ln)
            except json.JSONDecodeError as exc:
                problems.append(f"{source} line {i}: not valid JSON ({exc.msg})")
                continue
            take(i, rec)
    elif fmt == "json":
        try:
            recs = _json_records(text)
        except ValueError as exc:
            return ClaimReadResult([], [f"{source} {exc}"], source)
        for line, rec in recs:
            take(line, rec)
    else:
        raise ValueError(f"Unknown claims format {fmt!r}: use csv, json or jsonl.")
    return ClaimReadResult(claims, problems, source)


def read_claims(path: str | Path, fmt: str | None = None) -> ClaimReadResult:
    """Read claims from a CSV, JSON, JSON Lines or GeoJSON file.

    Parameters
    ----------
    path
        The file.
    fmt
        ``csv``, ``json`` or ``jsonl``; from the suffix when None
        (``.geojson`` is JSON).

    Returns
    -------
    ClaimReadResult
        The valid claims and one message per skipped row (``"file line N: why"``).

    Raises
    ------
    ValueError
        When the file cannot be read at all.
    """
    p = Path(path)
    if fmt is None:
        suf = p.suffix.lower()
        fmt = {".csv": "csv", ".tsv": "csv", ".json": "json", ".geojson": "json", ".jsonl": "jsonl",
               ".ndjson": "jsonl"}.get(suf)
        if fmt is None:
            raise ValueError(f"{p}: cannot tell the format from the suffix {suf!r}; use .csv, .json or .jsonl.")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read the claims file ({exc}).") from None
    return parse_claims_text(text, fmt, p.name)
