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
    claim's time), a date (``2024-08-20``: the value then), or the
    claimant's own figure in km² (``baseline=1268``; a share written
    ``801 of 1,268 km²`` gives value 801 km² against baseline 1,268 km²,
    judged as the share 801/1268). ``reading`` pins how "side's ground" is
    read (``held``, ``held+contested``, ``held/held+contested``,
    ``held+contested/held``; see :mod:`frontline.analysis.claims`); by
    default every reading is tried and the one that fits is named. ``region`` is
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

Every kind may carry ``confidence`` (how sure the one entering the claim is
that it was said as recorded): a number in [0, 1], or a percentage written
with ``%`` (``90%``); a bare ``7`` is an error, never read as 7 %. A user's
own id (``claim_id``, ``id`` or ``ref`` column) is kept as ``ref``: the
ledger upserts by it (re-importing a file adds nothing; a changed row with
the same id updates the stored claim and its history says so).

Validation
----------
:func:`parse_claim` is the one validator (CLI ``claims add``, file import,
``POST /api/claims``): side (one of the store's sides), kind, change,
metric, reading, convention, confidence, coordinates, and a time that
parses and is not more than :data:`MAX_FUTURE_DAYS` ahead of the clock.
A failure raises :class:`ClaimInputError` naming where (``file line N``),
the field and the reason.

File formats
------------
CSV (UTF-8, header row; unknown columns are kept in ``extra``)::

    claimant,source_url,text,language,time,kind,settlement,lon,lat,side,change,metric,value,region,baseline
    RU MoD,https://t.me/mod_russia/1,"Лебедевка освобождена",ru,2025-03-08T10:00Z,settlement,Лебедевка,,,ru,taken,,,,
    RU MoD,https://t.me/mod_russia/2,Sudzha liberated,en,2025-03-13,,Sudzha,35.27,51.19,ru,taken,,,,
    Gerasimov,https://example.org/3,64% of the territory retaken,en,2025-03-12,numeric,,,,ua,,share_lost,64%,russia,peak

JSON: a list of objects with the same field names, ``{"claims": [...]}``, or
JSON Lines (``.jsonl``, one object per line); in JSON ``geometry`` may be a
GeoJSON geometry object. A GeoJSON FeatureCollection works too (properties
are the fields; the feature's geometry becomes the point or the polygon).
``time`` may also be called ``published_at``, ``date`` or ``published``.

Malformed rows never stop a read: each is reported as ``"<file> line N:
field 'F': reason"`` in ``problems`` and skipped; the valid rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import time as _clock
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import shapely
from shapely.geometry.base import BaseGeometry

from ..model import DEFAULT_SIDES
from ._records import ItemsAs, ReadResult, array_lines, blank, load_json, required_time

__all__ = [
    "Claim",
    "ClaimReadResult",
    "ClaimInputError",
    "KINDS",
    "CHANGES",
    "METRICS",
    "READINGS",
    "AREA_READINGS",
    "MAX_FUTURE_DAYS",
    "parse_claim",
    "parse_confidence",
    "read_claims",
    "parse_claims_text",
]

KINDS = ("settlement", "numeric", "polygon", "line")
CHANGES = ("taken", "lost")
METRICS = ("share", "share_lost", "area_km2", "change_km2")
SHARE_METRICS = ("share", "share_lost")
CONVENTIONS = ("clipped", "as_drawn")
# How "side's ground" is read: the current value, then (after "/") the baseline's when they differ.
READINGS = ("held", "held+contested", "held/held+contested", "held+contested/held")
AREA_READINGS = ("held", "held+contested")  # km² claims and shares against a km² baseline: no baseline reading
MAX_TEXT = 10_000
MAX_FUTURE_DAYS = 2.0  # clock skew and time zones; a claim "published" further ahead is a typo

_TIME_KEYS = ("time", "published_at", "published", "date", "datetime")
_REF_KEYS = ("ref", "claim_id", "id")
_KNOWN = {
    *_TIME_KEYS,
    *_REF_KEYS,
    *"kind claimant source_url url text language lang settlement name lon lat near side change metric value".split(),
    *"region baseline convention period_start period_end geometry wkt tolerance reading confidence".split(),
    *"value_km2 baseline_km2 origin extra published_at resolution".split(),
}


class ClaimInputError(ValueError):
    """An input record that is not a usable claim: where it is, which field, and why.

    Attributes
    ----------
    where
        ``"<file> line N"``, ``"command line"`` or ``"body"``.
    field
        The offending field (None when the record as a whole is wrong).
    reason
        What is wrong, in words.
    """

    def __init__(self, where: str, field: str | None, reason: str):
        self.where, self.field, self.reason = where, field, reason
        super().__init__(f"{where}: field {field!r}: {reason}" if field else f"{where}: {reason}")


class _FieldError(ValueError):
    """Raised inside the parser; :func:`parse_claim` adds where."""

    def __init__(self, field: str | None, reason: str):
        self.field, self.reason = field, reason
        super().__init__(reason)


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
    reading
        The reading of "side's ground" the claim pins (one of
        :data:`READINGS`), or None: every reading is tried.
    value_km2, baseline_km2
        A share claim given in km² by the claimant ("801 of 1,268 km²"):
        the km² claimed and the claimant's baseline; ``value`` is then
        ``value_km2 / baseline_km2``. ``baseline_km2`` alone: an explicit
        baseline for a share written as a share.
    confidence
        How sure the one entering it is that the claim was made as recorded (0–1).
    geometry
        The claimed polygon or line (lon/lat).
    ref
        The user's own id of the claim (``claim_id``/``id`` column): the
        ledger upserts by it.
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
    reading: str | None = None
    value_km2: float | None = None
    baseline_km2: float | None = None
    confidence: float | None = None
    geometry: BaseGeometry | None = None
    ref: str | None = None
    claim_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def has_point(self) -> bool:
        """Whether the claim has a point (given or resolved from its name)."""
        return self.lon is not None and self.lat is not None

    def uid(self) -> str:
        """A content hash of what was claimed (same claim imported twice → same uid)."""
        parts: list[Any] = [
            self.kind,
            self.claimant,
            self.published_at,
            self.source_url,
            self.text,
            self.settlement,
            self.lon,
            self.lat,
            self.side,
            self.change,
            self.metric,
            self.value,
            self.region,
            self.baseline,
            self.convention,
            self.period_start,
            self.period_end,
            None if self.geometry is None else shapely.to_wkt(self.geometry, rounding_precision=7),
        ]
        # fields added later enter the key only when set: claims stored before keep their uid
        newer = {
            k: getattr(self, k)
            for k in ("reading", "value_km2", "baseline_km2", "confidence")
            if getattr(self, k) is not None
        }
        if newer:
            parts.append(newer)
        key = json.dumps(parts, ensure_ascii=False, default=str)
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
    def from_dict(cls, d: dict[str, Any], where: str = "record") -> Claim:
        """Inverse of :meth:`to_dict` (validates like :func:`parse_claim`, without the side and clock checks).

        ``claim_id`` here is the ledger's id, not a user's: the user's is ``ref``.
        """
        rec = {k: v for k, v in d.items() if k not in ("claim_id", "id")}
        rec.update(rec.pop("extra", None) or {})
        c = parse_claim(rec, where, sides=None, max_future_days=None)
        c.claim_id = d.get("claim_id")
        c.origin = d.get("origin") or where
        return c


class ClaimReadResult(ReadResult[Claim]):
    """Claims read from a file and the problems of the rows that were skipped."""

    claims = ItemsAs[Claim]()  # the valid claims, in file order


def _text(d: dict, *keys: str) -> str:
    for k in keys:
        v = d.get(k)
        if not blank(v):
            return str(v).strip()
    return ""


def _time(value: Any, what: str) -> int:
    try:
        return required_time(value)
    except ValueError as exc:
        raise _FieldError(what, str(exc).rstrip(".")) from None


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([, \u00a0\u202f]\d{3})+(\.\d+)?$")


def _number_text(s: str) -> str:
    """``1,268`` / ``1 268`` → ``1268`` (thousands); ``0,64`` → ``0.64`` (a decimal comma)."""
    s = s.strip()
    if _THOUSANDS.match(s):
        return re.sub(r"[, \u00a0\u202f]", "", s)
    return s.replace(",", ".")


def _float(value: Any, what: str, lo: float | None = None, hi: float | None = None) -> float | None:
    if blank(value):
        return None
    if isinstance(value, bool):
        raise _FieldError(what, f"{value!r} is not a number")
    try:
        v = float(_number_text(str(value))) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise _FieldError(what, f"{value!r} is not a number") from None
    if not math.isfinite(v):
        raise _FieldError(what, f"{value!r} is not a finite number")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
        raise _FieldError(what, f"{v:g} is outside {rng}")
    return v


def parse_confidence(value: Any, what: str = "confidence") -> float | None:
    """A confidence in [0, 1], or a percentage written with ``%`` (``90%`` → 0.9); None when blank.

    A bare number above 1 (``7``) is an error, never read as a percentage: 7 might be 7 %, 70 % or a
    score out of 10, and guessing would store a different claim than the one meant.

    Raises
    ------
    ValueError
        With the reason (the caller adds where).
    """
    if blank(value):
        return None
    s = str(value).strip()
    if s.endswith("%"):
        v = _float(s[:-1], what, 0, 100)
        return None if v is None else v / 100.0
    v = _float(value, what)
    if v is None or not 0.0 <= v <= 1.0:
        raise _FieldError(what, f"{s} is not in [0, 1] (write {s}% for a percentage)")
    return v


def _geometry(value: Any) -> BaseGeometry | None:
    try:
        return _geometry_(value)
    except _FieldError:
        raise
    except ValueError as exc:
        raise _FieldError("geometry", str(exc)) from None


def _geometry_(value: Any) -> BaseGeometry | None:
    if blank(value):
        return None
    try:
        if isinstance(value, dict):
            g = shapely.from_geojson(json.dumps(value))
        else:
            s = str(value).strip()
            g = shapely.from_geojson(s) if s.startswith("{") else shapely.from_wkt(s)
    except Exception as exc:  # shapely raises GEOSException subclasses with GEOS text
        raise ValueError(f"is neither WKT nor GeoJSON ({str(exc).splitlines()[0][:120]})") from None
    if g is None or g.is_empty:
        raise ValueError("is empty")
    g = shapely.force_2d(g)
    x0, y0, x1, y1 = g.bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ValueError(f"is not in lon/lat degrees (bounds {g.bounds})")
    if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_valid:
        g = shapely.make_valid(g)
        from ..borders import polygonal

        g = polygonal(g)
    return g


_KM2 = re.compile(r"\s*(km²|km2|sq\.?\s*km|square\s+kilometres|square\s+kilometers)\s*$", re.I)
_OF = re.compile(r"^(.+?)\s+(?:of|out of|из|з)\s+(.+)$", re.I)


def _km2_text(s: str) -> tuple[str, bool]:
    """Text without a trailing km² unit, and whether it had one."""
    m = _KM2.search(s)
    return (s[: m.start()].strip(), True) if m else (s.strip(), False)


def _value(value: Any, metric: str) -> tuple[float, float | None, float | None]:
    """``(value, value_km2, baseline_km2)``: a share claim may be given in km² ("801 of 1,268 km²")."""
    if blank(value):
        raise _FieldError("value", f"is missing (metric {metric} needs a number)")
    s = str(value).strip()

    def number(text: str, lo: float | None = None) -> float:
        # a unit or sign alone ("km²", "%") leaves no number to read
        v = _float(text, "value", lo)
        if v is None:
            raise _FieldError("value", f"{s!r} has no number")
        return v

    if metric in SHARE_METRICS:
        m = _OF.match(s)
        if m:  # "801 of 1,268 km²": the claimant's own km² and baseline
            num, _ = _km2_text(m.group(1))
            den, _ = _km2_text(m.group(2))
            part, whole = number(num, 0), number(den, 0)
            if not whole:
                raise _FieldError("value", f"{s!r}: the baseline after 'of' must be a positive km² figure")
            if part > whole:
                raise _FieldError("value", f"{s!r}: {part:g} km² is more than the baseline {whole:g} km²")
            return part / whole, part, whole
        num, km2 = _km2_text(s)
        if km2:
            return -1.0, number(num, 0), None  # share from the baseline, once known
        pct = num.endswith("%")
        v = number(num.rstrip("%").strip())
        if pct or v > 1.0:
            v = v / 100.0
        if not 0.0 <= v <= 1.0:
            raise _FieldError("value", f"{s!r} is not a share between 0 and 100%")
        return v, None, None
    num, _ = _km2_text(s)
    if num.endswith("%"):
        raise _FieldError("value", f"{s!r} is a percentage, but metric {metric} is in km²")
    return number(num), None, None


def _baseline(value: Any) -> tuple[str, float | None]:
    """``(baseline text, km² or None)``: ``peak``, a date, or a number of km² (``1268``, ``1,268 km²``)."""
    s = str(value).strip()
    if s.lower() == "peak":
        return "peak", None
    num, km2 = _km2_text(s)
    try:
        v = float(_number_text(num))
    except ValueError:
        v = None
    if v is not None and (km2 or "-" not in num):
        if not (math.isfinite(v) and v > 0):
            raise _FieldError("baseline", f"{s!r} must be a positive number of km²")
        return f"{v:g} km²", v
    _time(s, "baseline")  # must be a date
    return s, None


def parse_claim(
    d: dict[str, Any],
    where: str = "record",
    *,
    sides: Sequence[str] | None = DEFAULT_SIDES,
    max_future_days: float | None = MAX_FUTURE_DAYS,
    now: float | None = None,
) -> Claim:
    """Validate one input record and build a :class:`Claim` — the one validator of every way in.

    Parameters
    ----------
    d
        Field → value (CSV row, JSON object, CLI options or an API body).
    where
        ``"<file> line N"``, for messages.
    sides
        The sides a claim may name (the store's); None skips the check
        (claims read back from the ledger).
    max_future_days
        A time later than the clock plus this many days is refused; None skips the check.
    now
        The clock (epoch seconds) for that check; the system clock when None.

    Returns
    -------
    Claim

    Raises
    ------
    ClaimInputError
        Naming ``where``, the field and the reason, when the record is not a usable claim.
    """
    try:
        c = _parse(d, sides)
        if max_future_days is not None:
            limit = (now if now is not None else _clock.time()) + max_future_days * 86400
            for name, t in (("time", c.published_at), ("period_end", c.period_end)):
                if t is not None and t > limit:
                    from ..model import iso

                    raise _FieldError(
                        name, f"{iso(t)} is in the future (more than {max_future_days:g} days ahead of the clock)"
                    )
        return c
    except _FieldError as exc:
        raise ClaimInputError(where, exc.field, exc.reason) from None
    except ValueError as exc:  # pragma: no cover - every check above raises _FieldError
        raise ClaimInputError(where, None, str(exc)) from None


def _choice(d: dict, key: str, allowed: Sequence[str], what: str = "") -> str | None:
    v = _text(d, key).lower() or None
    if v is not None and v not in allowed:
        raise _FieldError(key, f"{v!r} is not one of {', '.join(allowed)}{what}")
    return v


class _Given(NamedTuple):
    """What a record gives beyond the fields every claim has, for the checks of its kind."""

    geom: BaseGeometry | None
    lon: float | None
    lat: float | None
    metric: str | None
    reading: str | None


def _parse(d: dict[str, Any], sides: Sequence[str] | None) -> Claim:
    if not isinstance(d, dict):
        raise _FieldError(None, f"a claim must be an object with fields, not {type(d).__name__}")
    c, given = _common(d, sides)
    if c.kind != "numeric" and given.reading is not None:
        raise _FieldError("reading", f"applies to numeric claims only, not to a {c.kind} claim")
    if c.kind == "settlement":
        _settlement_fields(c, d, given)
    elif c.kind == "numeric":
        _numeric_fields(c, d, given)
    else:
        _drawn_fields(c, given)
    return c


def _common(d: dict[str, Any], sides: Sequence[str] | None) -> tuple[Claim, _Given]:
    """The claim with the fields every kind has, checked in the order a user reads them."""
    claimant = _text(d, "claimant")
    if not claimant:
        raise _FieldError("claimant", "is missing")
    tkey = next((k for k in _TIME_KEYS if not blank(d.get(k))), None)
    if tkey is None:
        raise _FieldError("time", "is missing (give time / published_at as ISO-8601 or epoch seconds)")
    published = _time(d[tkey], tkey)
    text = _text(d, "text")
    if len(text) > MAX_TEXT:
        raise _FieldError("text", f"is longer than {MAX_TEXT} characters")
    lon = _float(d.get("lon"), "lon", -180, 180)
    lat = _float(d.get("lat"), "lat", -90, 90)
    if (lon is None) != (lat is None):
        raise _FieldError("lon" if lon is None else "lat", "lon and lat must be given together")
    geom = _geometry(d.get("geometry", d.get("wkt")))
    metric = _text(d, "metric") or None
    kind = _choice(d, "kind", KINDS) or _kind_of(metric, geom)
    side = _text(d, "side").lower() or None
    if side is not None and sides is not None and side not in sides:
        raise _FieldError("side", f"{side!r} is not one of the store's sides ({', '.join(sides)})")
    change = _choice(d, "change", CHANGES)
    convention = _text(d, "convention") or "clipped"
    if convention not in CONVENTIONS:
        raise _FieldError("convention", f"{convention!r} is not one of {', '.join(CONVENTIONS)}")
    reading = _choice(d, "reading", READINGS)
    c = Claim(
        kind=kind,
        claimant=claimant,
        published_at=published,
        source_url=_text(d, "source_url", "url"),
        text=text,
        language=_text(d, "language", "lang").lower(),
        side=side,
        change=change,
        convention=convention,
        confidence=parse_confidence(d.get("confidence")),
        ref=next((str(d[k]).strip() for k in _REF_KEYS if not blank(d.get(k))), None),
        near=None if blank(d.get("near")) else _near(d["near"]),
        extra={k: v for k, v in d.items() if k not in _KNOWN and not blank(v)},
    )
    return c, _Given(geom, lon, lat, metric, reading)


def _kind_of(metric: str | None, geom: BaseGeometry | None) -> str:
    """The kind of a claim that does not say: numeric with a metric, else from its geometry."""
    if metric:
        return "numeric"
    if geom is not None and geom.geom_type not in ("Point", "MultiPoint"):
        return "line" if "Line" in geom.geom_type else "polygon"
    return "settlement"


def _near(raw: Any) -> tuple[float, float, float]:
    """``near``: ``"lon lat radius_km"`` (or a list of the three)."""
    parts = raw if isinstance(raw, (list, tuple)) else str(raw).replace(",", " ").split()
    try:
        vals = [float(p) for p in parts]
    except (TypeError, ValueError):
        vals = []
    if len(vals) != 3 or not (-180 <= vals[0] <= 180 and -90 <= vals[1] <= 90 and vals[2] > 0):
        raise _FieldError("near", f"{raw!r} must be 'lon lat radius_km'")
    return vals[0], vals[1], vals[2]


def _settlement_fields(c: Claim, d: dict[str, Any], given: _Given) -> None:
    """A settlement claim: a place (name or lon/lat), the side and whether it was taken or lost."""
    lon, lat, geom = given.lon, given.lat, given.geom
    c.settlement = _text(d, "settlement", "name") or None
    if geom is not None and geom.geom_type == "Point" and lon is None:
        lon, lat = geom.x, geom.y
    c.lon, c.lat = lon, lat
    if c.settlement is None and lon is None:
        raise _FieldError("settlement", "a settlement claim needs settlement (a name) or lon/lat")
    if c.side is None:
        raise _FieldError("side", "is missing (the side that took or lost the place)")
    if c.change is None:
        raise _FieldError("change", f"is missing: one of {', '.join(CHANGES)}")


def _numeric_fields(c: Claim, d: dict[str, Any], given: _Given) -> None:
    """A numeric claim: metric, value, region, baseline or period, tolerance."""
    metric, reading = given.metric, given.reading
    if metric not in METRICS:
        raise _FieldError("metric", f"{metric!r} must be one of {', '.join(METRICS)}")
    if c.side is None:
        raise _FieldError("side", "is missing (whose ground the number is about)")
    c.metric = metric
    c.reading = reading
    if not blank(d.get("value_km2")) and metric in SHARE_METRICS:  # read back from the ledger
        c.value_km2 = _float(d["value_km2"], "value_km2", 0)
        c.value = None
    else:
        c.value, c.value_km2, c.baseline_km2 = _value(d.get("value"), metric)
    c.region = _text(d, "region") or "theatre"
    base = d.get("baseline")
    if blank(base) and not blank(d.get("baseline_km2")):
        base = d["baseline_km2"]
    if metric in SHARE_METRICS:
        _share_baseline(c, base, reading)
    else:
        if not blank(base):
            raise _FieldError("baseline", f"applies to shares, not to metric {metric}")
        if reading not in (None, *AREA_READINGS):
            raise _FieldError(
                "reading", f"{reading!r} needs a baseline; metric {metric} is read as {' or '.join(AREA_READINGS)}"
            )
    if metric == "change_km2":
        if blank(d.get("period_start")) or blank(d.get("period_end")):
            raise _FieldError(
                "period_start" if blank(d.get("period_start")) else "period_end",
                "is missing: change_km2 needs period_start and period_end",
            )
        c.period_start = _time(d["period_start"], "period_start")
        c.period_end = _time(d["period_end"], "period_end")
        if c.period_start >= c.period_end:
            raise _FieldError("period_start", "must be before period_end")
    c.tolerance = _float(d.get("tolerance"), "tolerance", 0, None)


def _share_baseline(c: Claim, base: Any, reading: str | None) -> None:
    """The baseline of a share: the claimant's own km² figure, a date, or the peak; a km² value becomes a share."""
    if not blank(base):
        text_b, km2 = _baseline(base)
        if km2 is not None and c.baseline_km2 is not None and abs(km2 - c.baseline_km2) > 1e-6:
            raise _FieldError("baseline", f"{text_b} differs from the baseline in the value ({c.baseline_km2:g} km²)")
        c.baseline_km2 = km2 if km2 is not None else c.baseline_km2
        c.baseline = text_b
    c.baseline = (f"{c.baseline_km2:g} km²" if c.baseline_km2 is not None else c.baseline) or "peak"
    if c.value_km2 is not None:
        if c.baseline_km2 is None:
            raise _FieldError(
                "baseline",
                "a share given in km² needs the claimant's baseline in km² ('801 of 1268 km²' or baseline=1268)",
            )
        if c.value_km2 > c.baseline_km2:
            raise _FieldError("value", f"{c.value_km2:g} km² is more than the baseline {c.baseline_km2:g} km²")
        c.value = c.value_km2 / c.baseline_km2
    if c.baseline_km2 is not None and reading not in (None, *AREA_READINGS):
        raise _FieldError(
            "reading",
            f"{reading!r} reads the baseline from the map, but the claim gives "
            f"its own ({c.baseline}): use {' or '.join(AREA_READINGS)}",
        )


def _drawn_fields(c: Claim, given: _Given) -> None:
    """A polygon or line claim: its geometry of the right type and the side claiming it."""
    geom = given.geom
    if geom is None:
        raise _FieldError("geometry", f"is missing: a {c.kind} claim needs geometry (WKT or GeoJSON)")
    want = ("Polygon", "MultiPolygon") if c.kind == "polygon" else ("LineString", "MultiLineString")
    if geom.geom_type not in want:
        raise _FieldError("geometry", f"a {c.kind} claim needs a {' or '.join(want)}, got {geom.geom_type}")
    if c.side is None:
        raise _FieldError("side", "is missing (the side claiming the ground)")
    c.change = c.change or "taken"
    c.geometry = geom
    c.lon, c.lat = given.lon, given.lat


def _json_records(text: str) -> list[tuple[int, Any]]:
    """``(line, record)`` of each element of a JSON array / ``{"claims": [...]}`` / FeatureCollection."""
    doc = load_json(text)
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        key, items = "features", doc.get("features") or []
    elif isinstance(doc, dict) and isinstance(doc.get("claims"), list):
        key, items = "claims", doc["claims"]
    elif isinstance(doc, list):
        key, items = None, doc
    else:
        raise ValueError('line 1: expected a list of claims, {"claims": [...]} or a FeatureCollection')
    return list(zip(array_lines(text, key), items))


def _from_feature(rec: Any) -> Any:
    if isinstance(rec, dict) and rec.get("type") == "Feature":
        d = dict(rec.get("properties") or {})
        if rec.get("geometry"):
            d.setdefault("geometry", rec["geometry"])
        return d
    return rec


def parse_claims_text(
    text: str, fmt: str, source: str = "<input>", *, sides: Sequence[str] | None = DEFAULT_SIDES
) -> ClaimReadResult:
    """Claims from CSV or JSON text (``fmt``: ``csv``, ``json`` or ``jsonl``); ``sides``: the store's."""
    claims: list[Claim] = []
    problems: list[str] = []

    def take(line: int, rec: Any) -> None:
        where = f"{source} line {line}"
        try:
            c = parse_claim(_from_feature(rec), where, sides=sides)
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
            elif all(blank(v) for v in row.values()):
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


def read_claims(
    path: str | Path, fmt: str | None = None, *, sides: Sequence[str] | None = DEFAULT_SIDES
) -> ClaimReadResult:
    """Read claims from a CSV, JSON, JSON Lines or GeoJSON file.

    Parameters
    ----------
    path
        The file.
    fmt
        ``csv``, ``json`` or ``jsonl``; from the suffix when None
        (``.geojson`` is JSON).
    sides
        The sides a claim may name (pass the store's ``sides``).

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
        fmt = {
            ".csv": "csv",
            ".tsv": "csv",
            ".json": "json",
            ".geojson": "json",
            ".jsonl": "jsonl",
            ".ndjson": "jsonl",
        }.get(suf)
        if fmt is None:
            raise ValueError(f"{p}: cannot tell the format from the suffix {suf!r}; use .csv, .json or .jsonl.")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read the claims file ({exc}).") from None
    res = parse_claims_text(text, fmt, p.name, sides=sides)
    _same_ref_twice(res)
    return res


def _same_ref_twice(res: ClaimReadResult) -> None:
    """Two rows of one file with the same id: the later would silently overwrite the earlier; skip it."""
    seen: dict[str, str] = {}
    keep = []
    for c in res.claims:
        if c.ref is not None and c.ref in seen:
            res.problems.append(f"{c.origin}: field 'claim_id': {c.ref!r} was already used by {seen[c.ref]}")
            continue
        if c.ref is not None:
            seen[c.ref] = c.origin
        keep.append(c)
    res.claims = keep
