"""Series for the side panel's chart: the front's length over time.

* ``/api/contact-line/series`` — total front km (and per pair) of the last
  version of each day, week or month, from
  :func:`frontline.analysis.contact_line.contact_line` on each version, with
  the jump notes of :func:`~frontline.analysis.contact_line.contact_line_series`.

The series runs on the app's analysis service (``svc.analyses``: its own
store handle, lock and threads), so a long series never holds up
``/api/state``; it takes the analysis lock one version at a time, so other
analyses go on between its versions. The answer is cached per period and
latest revision.
"""

from __future__ import annotations

import orjson
from fastapi import Query, Response

from .errors import ApiError

EVERY = ("day", "week", "month")


def series_body(svc, every: str) -> bytes:
    """JSON bytes of the front-length series (one row per ``every``); ``svc`` is the analysis service."""
    from ..analysis.contact_line import _explain_jumps, contact_line, pick_periods, series_row

    rows = []
    for period, v in pick_periods(svc.versions(), every):
        with svc.lock:  # one version at a time: the version's partition is shared with the other analyses
            rows.append(series_row(v, period, contact_line(svc.state(v)[0])))
    with svc.lock:
        _explain_jumps(svc.store, rows, None)
    return orjson.dumps({"every": every, "unit": "km", "rule": "see docs/contact_line.md", "rows": rows})


def register(app, svc) -> None:
    """Add ``/api/contact-line/series`` to ``app``."""

    an = svc.analyses

    @app.get("/api/contact-line/series", summary="Length of the front over time (km, one row per period)")
    @svc.offload
    def series(every: str = Query("month", description="day, week or month: the last version of each")):
        if every not in EVERY:
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        versions = svc.versions()
        if not versions:
            raise ApiError(404, None, "The store has no version yet.")
        last = versions[-1]
        body = svc.memo(("cl-series", every, len(versions), last.pk, last.revision), lambda: series_body(an, every))
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


__all__ = ["register", "series_body"]
