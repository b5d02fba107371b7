"""Times as users write them: one parser for every command, route and importer.

A time is a date (``2025-03-10``), an ISO-8601 time (``2025-03-10T18:00Z``,
``2025-03-10 18:00:00+02:00``; no zone means UTC), epoch seconds
(``1741629600``) or a ``datetime``/``date``. What a bare date means depends
on the time's *role*:

``at``
    The map as it stood that day: the end of the day, ``23:59:59`` UTC
    (``--at 2025-03-10`` answers with that day's last version).
``start``
    The start of a range: the start of the day, ``00:00:00`` UTC
    (``--from 2025-03-10`` includes that day's versions).
``end``
    The end of a range: the end of the day, ``23:59:59`` UTC (``--to``).

So ``--from 2025-01-01 --to 2025-01-01`` is that whole day. Full timestamps
and epoch seconds mean exactly what they say in every role.

:func:`parse_duration` reads the durations of ``--max-age`` (``7d``, ``36h``).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from .errors import InputError

TimeLike = str | int | float | datetime | date | None
"""What :func:`parse_time` accepts: ISO text, epoch seconds (number or digits), ``datetime``, ``date`` or None."""

Role = Literal["at", "start", "end"]
ROLES: tuple[str, ...] = ("at", "start", "end")

DAY = 86400
# Far enough for any map and inside what datetime and JavaScript can represent.
MIN_EPOCH, MAX_EPOCH = -62_135_596_800, 253_402_300_799  # 0001-01-01 .. 9999-12-31T23:59:59Z

EXAMPLES = "e.g. 2025-03-06, 2025-03-06T18:00Z or epoch seconds"

_EPOCH = re.compile(r"[+-]?\d+(\.\d+)?")


def _label(name: str | None, value) -> str:
    return f"{name}: time {value!r}" if name else f"Time {value!r}"


def _day(d: date, role: str) -> int:
    start = int(datetime.combine(d, time(0), tzinfo=UTC).timestamp())
    return start if role == "start" else start + DAY - 1


def _checked(t: int, value, name: str | None) -> int:
    if not MIN_EPOCH <= t <= MAX_EPOCH:
        raise ValueError(f"{_label(name, value)} is out of range (years 1 to 9999).")
    return t


def _from_datetime(dt: datetime, value, name: str | None) -> int:
    try:
        t = int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"{_label(name, value)} is out of range (years 1 to 9999).") from None
    return _checked(t, value, name)


def parse_time(value: TimeLike, *, role: Role = "at", name: str | None = None) -> int | None:
    """Epoch seconds (UTC) of a time as a user wrote it.

    Parameters
    ----------
    value
        ISO date or time text, epoch seconds (a number or digits), a
        ``datetime`` (naive = UTC) or a ``date``; None or ``""`` gives None.
    role
        ``"at"`` and ``"end"``: a bare date is the end of that day
        (23:59:59 UTC); ``"start"``: its start (00:00:00 UTC). Timestamps and
        epoch seconds are taken as given in every role.
    name
        The field or option the value came from (``"--from"``, ``"to"``),
        named in the error message.

    Returns
    -------
    int or None
        Epoch seconds, or None for an empty value.

    Raises
    ------
    ValueError
        When the text is neither ISO-8601 nor epoch seconds, the role is
        unknown, or the time is outside years 1-9999.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}.")
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{_label(name, value)} is a boolean, not a time.")
    if isinstance(value, datetime):
        return _from_datetime(value, value, name)
    if isinstance(value, date):
        return _day(value, role)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{_label(name, value)} is not a finite number.")
        return _checked(int(value), value, name)
    s = str(value).strip()
    if s == "":
        return None
    if _EPOCH.fullmatch(s):
        try:
            return _checked(int(float(s)) if "." in s else int(s), value, name)
        except OverflowError:
            raise ValueError(f"{_label(name, value)} is out of range (years 1 to 9999).") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        try:
            return _day(date.fromisoformat(s), role)
        except ValueError as exc:
            raise ValueError(f"{_label(name, value)} is not a valid date ({exc}).") from None
    try:
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in "zZ" else s)
    except ValueError:
        raise ValueError(f"{_label(name, value)} is not ISO-8601 ({EXAMPLES}).") from None
    return _from_datetime(dt, value, name)


_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)?\s*", re.IGNORECASE)


def parse_duration(value: str | int | float | timedelta | None, *, name: str = "--max-age") -> int | None:
    """Seconds of a duration: ``7d``, ``36h``, ``90m``, ``2w``, ``3600s``; a bare number is days.

    ``off``, ``none`` and ``0`` give None (no limit); None gives None.

    Raises
    ------
    ValueError
        Naming ``name`` when the text is not a duration.
    """
    if value is None:
        return None
    if isinstance(value, timedelta):
        secs = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        secs = float(value) * DAY
    else:
        s = str(value).strip().lower()
        if s in ("", "off", "none", "no"):
            return None
        m = _DURATION.fullmatch(s)
        if not m:
            raise ValueError(f"{name}: {value!r} is not a duration (e.g. 7d, 36h, 90m, 2w; a bare number is days).")
        secs = float(m.group(1)) * _UNITS[(m.group(2) or "d").lower()]
    if not math.isfinite(secs) or secs < 0:
        raise ValueError(f"{name}: {value!r} is not a duration of zero or more.")
    return int(secs) or None


def describe_age(seconds: float) -> str:
    """A short English length of time: ``45 min``, ``5 h``, ``3.2 days``, ``5.4 years``."""
    s = abs(float(seconds))
    if s < 3600:
        return f"{max(1, round(s / 60))} min"
    if s < 2 * DAY:
        return f"{s / 3600:.0f} h"
    if s < 365 * DAY:
        return f"{s / DAY:.0f} days" if s % DAY == 0 else f"{s / DAY:.1f} days"
    return f"{s / (365.25 * DAY):.1f} years"


__all__ = ["DAY", "ROLES", "Role", "TimeLike", "describe_age", "parse_duration", "parse_time"]


PERIODS: tuple[str, ...] = ("day", "week", "month")
"""The periods a series can be grouped by (``--every``)."""


def period_key(t: datetime, every: str) -> str:
    """The label of the period ``t`` falls in: ``2025-03-06`` (day), ``2025-W10`` (ISO week) or ``2025-03`` (month).

    Parameters
    ----------
    t
        An aware ``datetime`` (UTC is what every caller passes).
    every
        One of :data:`PERIODS`.
    """
    if every == "day":
        return t.strftime("%Y-%m-%d")
    if every == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    if every == "month":
        return t.strftime("%Y-%m")
    raise ValueError(f"every must be one of {', '.join(PERIODS)}, not {every!r}.")


def last_per_period(items, every: str, time_of=lambda v: v.valid_time) -> dict[str, Any]:
    """The last item of each period, keyed by :func:`period_key`, in the order the items came (time order).

    ``time_of`` gives an item's time in epoch seconds (default: its ``valid_time``).
    """
    last: dict[str, Any] = {}
    for v in items:
        last[period_key(datetime.fromtimestamp(time_of(v), UTC), every)] = v
    return last


def check_period(every: str | None, name: str = "--every") -> str | None:
    """``every`` if it is None or one of :data:`PERIODS`; otherwise an :class:`~frontline.errors.InputError`."""
    if every is not None and every not in PERIODS:
        raise InputError(f"must be one of {', '.join(PERIODS)}, not {every!r}", field=name)
    return every
