"""Series for the side panel's chart: the front's length over time.

* ``/api/contact-line/series`` — total front km (and per pair) of the last
  version of each day, week or month, from
  :func:`frontline.analysis.contact_line.contact_line` on each version, with
  the jump notes of :func:`~frontline.analysis.contact_line.contact_line_series`.

Each version's line is computed outside the server's lock (only the state
read takes it), so a long series never holds up ``/api/state``; the answer is
cached per period and latest revision.
"""

from __future__ import annotations

import orjson
from fastapi import Query, Response

from .app import ApiError

EVERY = ("day", "week", "month")


def series_body(svc, every: str) -> bytes:
    """JSON bytes of the front-length series (one row per ``every``)."""
    from ..analysis.contact_line import _explain_jumps, contact_line, pick_periods, series_row

    rows = [series_row(v, period, contact_line(svc.state(v)[0])) for period, v in pick_periods(svc.versions(), every)]
    with svc.lock:
        _explain_jumps(svc.store, rows, None)
    return orjson.dumps({"every": every, "unit": "km", "rule": "see docs/contact_line.md", "rows": rows})


def register(app, svc) -> None:
    """Add ``/api/contact-line/series`` to ``app``."""

    @app.get("/api/contact-line/series", summary="Length of the front over time (km, one row per period)")
    def series(every: str = Query("month", description="day, week or month: the last version of each")):
        if every not in EVERY:
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        versions = svc.versions()
        if not versions:
            raise ApiError(404, None, "The store has no version yet.")
        last = versions[-1]
        body = svc.memo(("cl-series", every, len(versions), last.pk, last.revision), lambda: series_body(svc, every))
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


__all__ = ["register", "series_body"]
