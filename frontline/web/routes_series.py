"""Series for the side panel's chart: the front's length over time.

* ``/api/contact-line/series`` — total front km (and per pair) of the last
  version of each day, week or month, from
  :func:`frontline.analysis.contact_line.contact_line` on each version, with
  the jump notes of :func:`~frontline.analysis.contact_line.contact_line_series`.

The series runs on the app's analysis service (``svc.analyses``: its own
store handle, lock and threads), so a long series never holds up
``/api/state``; it takes the analysis lock one version at a time, so other
analyses go on between its versions. The answer is cached per period and
latest revision (and ``known_at``: the series as the source had published
it by then, each version in its revision then).
"""

from __future__ import annotations

import orjson
from fastapi import Query, Response

from .errors import ApiError
from .params import KnownAt, parse_known_at

EVERY = ("day", "week", "month")


def series_body(svc, every: str, known_at: int | None = None) -> bytes:
    """JSON bytes of the front-length series (one row per ``every``); ``svc`` is the analysis service.

    ``known_at`` (epoch seconds): the versions as known then.
    """
    from ..analysis.contact_line import _explain_jumps, contact_line, pick_periods, series_row

    rows = []
    for period, v in pick_periods(svc.versions(known_at), every):
        with svc.lock:  # one version at a time: the version's partition is shared with the other analyses
            rows.append(series_row(v, period, contact_line(svc.state(v)[0])))
    with svc.lock:
        _explain_jumps(svc.known(known_at), rows, None)
    return orjson.dumps({"every": every, "unit": "km", "rule": "see docs/contact_line.md", "rows": rows})


def register(app, svc) -> None:
    """Add ``/api/contact-line/series`` to ``app``."""

    an = svc.analyses

    @app.get("/api/contact-line/series", summary="Length of the front over time (km, one row per period)")
    @svc.offload
    def series(
        every: str = Query("month", description="day, week or month: the last version of each"),
        known_at: KnownAt = None,
    ):
        if every not in EVERY:
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        known = parse_known_at(known_at)
        versions = svc.versions(known)
        if not versions:
            raise ApiError(404, None, "The store has no version yet.")
        last = versions[-1]
        key: tuple = ("cl-series", every, len(versions), last.pk, last.revision)
        if known is not None:  # earlier versions may be in past revisions: the answer is its own
            key += (known,)
        body = svc.memo(key, lambda: series_body(an, every, known))
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


__all__ = ["register", "series_body"]
