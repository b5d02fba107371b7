"""Query parameters of the web API: parsing, checking, and refusing the ones a route does not take."""

from __future__ import annotations

import difflib
import math
from typing import Annotated

from fastapi import Query, Request

from ..times import parse_time
from .errors import ApiError

MAX_BBOX_DEG2 = 40.0 * 30.0  # a bbox larger than this (in square degrees) is refused
REGIONS_FIXED = ("theatre", "ukraine", "russia")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``(minx, miny, maxx, maxy)`` of a ``bbox`` parameter, or None when absent.

    Raises
    ------
    ApiError
        400 when it is not four finite numbers in order within lon ±180, lat ±90, or too large.
    """
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ApiError(400, "bbox", f"bbox must be minx,miny,maxx,maxy (four numbers), not {text!r}.")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise ApiError(400, "bbox", f"bbox has a part that is not a number: {text!r}.") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ApiError(400, "bbox", "bbox must be finite numbers.")
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ApiError(400, "bbox", "bbox must have minx<maxx, miny<maxy within lon ±180, lat ±90.")
    if (x1 - x0) * (y1 - y0) > MAX_BBOX_DEG2:
        raise ApiError(
            400,
            "bbox",
            f"bbox is too large ({(x1 - x0) * (y1 - y0):.0f} square degrees; "
            f"at most {MAX_BBOX_DEG2:.0f}). Omit it for the whole theatre.",
        )
    return x0, y0, x1, y1


def parse_zoom(z: str | None) -> float | None:
    """A ``zoom`` parameter (0 to 24), or None when absent; 400 otherwise."""
    if z is None or z == "":
        return None
    try:
        v = float(z)
    except ValueError:
        raise ApiError(400, "zoom", f"zoom must be a number from 0 to 24, not {z!r}.") from None
    if not (0 <= v <= 24):
        raise ApiError(400, "zoom", f"zoom must be from 0 to 24, not {z!r}.")
    return v


def parse_time_param(value: str | None, name: str, role: str) -> int | None:
    """Epoch seconds of a time parameter (a bare date: its start for ``start``, its end otherwise); 400."""
    try:
        return parse_time(value, role=role, name=name)  # type: ignore[arg-type]
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, name, str(exc)) from None


def parse_known_at(value: str | None) -> int | None:
    """Epoch seconds of a ``known_at`` parameter (the map as published by then; a bare date: its end); 400."""
    return parse_time_param(value, "known_at", "at")


def parse_range(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    """``(start, end)`` of ``from``/``to`` parameters (a bare date: from its 00:00:00, to its 23:59:59 UTC).

    Raises
    ------
    ApiError
        400 naming the parameter that is not a time, or ``from`` when the range is inverted.
    """
    start = parse_time_param(from_, "from", "start")
    end = parse_time_param(to, "to", "end")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
    return start, end


def regions(sides) -> set[str]:
    """Region names a request may give (no polygon files over HTTP: they would read the server's disk)."""
    return set(REGIONS_FIXED) | {f"{k}:{s}" for k in ("home", "outside") for s in sides}


def query_names(dependant) -> set[str]:
    """Query parameter names a route declares (its own and its dependencies')."""
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


def check_parameters(request: Request, allowed: set[str], path: str) -> None:
    """Refuse query parameters the route does not declare (a typo would otherwise be ignored silently).

    Raises
    ------
    ApiError
        400 naming the unknown parameter(s), the nearest declared name and what the route takes.
    """
    unknown = sorted({k for k in request.query_params.keys() if k not in allowed})
    if not unknown:
        return
    hints = [
        f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, allowed, n=1)) else repr(u)
        for u in unknown
    ]
    takes = ", ".join(sorted(allowed)) if allowed else "no parameters"
    word = "parameter" if len(unknown) == 1 else "parameters"
    raise ApiError(400, unknown[0], f"Unknown {word} {', '.join(hints)} for {path}; it takes {takes}.")


# The parameters many routes share, declared once (``at: At = None``).
At = Annotated[str | None, Query(description="version id, ISO time or epoch seconds")]
Bbox = Annotated[str | None, Query(description="minx,miny,maxx,maxy (lon/lat)")]
Zoom = Annotated[str | None, Query(description="map zoom 0-24: polygons are simplified for it")]
KnownAt = Annotated[
    str | None,
    Query(
        description="ISO time or epoch seconds: the map as the source had published it by then (each version in "
        "the revision current then; a revision counts from its revised_at, else published_at, else imported_at)"
    ),
]
Source = Annotated[
    str | None,
    Query(description="source (map) name, as /api/sources lists them; the store's default source when absent"),
]


def parse_source(store, value: str | None, parameter: str = "source") -> str | None:
    """A ``source`` parameter checked against the store's sources (None when absent: the default source).

    Raises
    ------
    ApiError
        400 naming the parameter, the nearest stored name and the sources the store holds
        (``/api/sources`` lists them with their attribution).
    """
    if value is None or value == "":
        return None
    have = list(store.sources())
    if value in have:
        return value
    near = difflib.get_close_matches(value, have, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise ApiError(
        400,
        parameter,
        f"No source {value!r}{hint}; the store holds {', '.join(have) or 'no sources'} (see /api/sources).",
    )
