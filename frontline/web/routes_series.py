"""Series for the side panel's chart: the front's length, a salient's narrowest neck, settlements changed.

* ``/api/contact-line/series`` — total front km (and per pair) of the last
  version of each day, week or month, from
  :func:`frontline.analysis.contact_line.contact_line` on each version, with
  the jump notes of :func:`~frontline.analysis.contact_line.contact_line_series`.
* ``/api/series?what=front|neck|settlements`` — any stored series, read from
  the results ``frontline recompute`` keeps (compact rows: milliseconds for
  the whole archive) and computed on the analysis service only for the
  versions that have none: ``front`` (km of front per version), ``neck``
  (``side``'s neck with the most ground at stake: ``width_m``, and
  ``narrowest_m``), ``settlements`` (places whose status changed since the
  row before, by new status). Each row has ``version_id``: the chart jumps there.

The series runs on the app's analysis service (``svc.analyses``: its own
store handle, lock and threads), so a long series never holds up
``/api/state``; it takes the analysis lock one version at a time, so other
analyses go on between its versions. The answer is cached per period and
latest revision (and ``known_at``: the series as the source had published
it by then, each version in its revision then).
"""

from __future__ import annotations

import orjson
from fastapi import Query, Request

from .errors import ApiError
from .params import KnownAt, Source, parse_known_at
from .responses import cached

EVERY = ("day", "week", "month")

#: What ``/api/series`` serves: the value the chart draws and its unit.
SERIES = {
    "front": ("total_km", "km"),
    "neck": ("narrowest_m", "m"),  # the narrowest neck of the side's ground abroad (its salients)
    "settlements": ("changed", "places"),
}


def stored_series_body(svc, what: str, every: str | None, side: str | None, source: str | None = None) -> bytes:
    """JSON bytes of the ``what`` series (:data:`SERIES`), stored rows where current; ``svc`` the analysis service.

    ``source``: the series of that source (None: the default source).

    Computing what is missing holds the analysis lock for the whole series
    (rows read from the store need no lock); ``/api/state`` runs on the
    other service and never waits for it.
    """
    from ..analysis import materialise as m

    key, unit = SERIES[what]
    st = svc.store
    with svc.lock:
        if what == "front":
            rows, n_stored = m.contact_line_series_stored(st, every=every, source=source)
        elif what == "settlements":
            rows, n_stored = m.settlement_changes_series(st, every=every, source=source)
        else:
            rows, n_stored = _neck_rows(svc, every, side or "", source)
    head = {"what": what, "every": every or "version", "key": key, "unit": unit, "side": side}
    return orjson.dumps(head | {"n_stored": n_stored, "rows": rows})


def _neck_rows(svc, every: str | None, side: str, source: str | None = None) -> tuple[list[dict], int]:
    """Rows of ``side``'s neck series (the corridors series row per version), stored where current."""
    from ..analysis import materialise as m
    from ..analysis.contact_line import pick_periods
    from ..model import iso

    picked = pick_periods(svc.store.versions(source), every)
    stored = m.stored_series(
        svc.store, "corridors", m.corridor_params(side, **m.CORRIDOR_DEFAULTS), [v for _, v in picked]
    )
    rows = []
    for period, v in picked:
        got = stored.get(v.version_id)
        if got is None:
            d = m.CORRIDOR_DEFAULTS
            body = m.corridors_body(svc.state(v)[0], v, side, d["ground"], d["include_contested"], d["alert_width_m"])
            got = orjson.loads(body).get("series") or {"width_m": None, "narrowest_m": None}
        head = {"time": iso(v.valid_time), "version_id": v.version_id} | ({"period": period} if period else {})
        rows.append(head | got)
    return rows, len(stored)


def series_body(svc, every: str, known_at: int | None = None, source: str | None = None) -> bytes:
    """JSON bytes of the front-length series (one row per ``every``); ``svc`` is the analysis service.

    ``known_at`` (epoch seconds): the versions as known then; ``source``: that source's (None: the default).
    """
    from ..analysis.contact_line import contact_line, explain_jumps, pick_periods, series_row

    rows = []
    versions = svc.versions(known_at, source)
    for period, v in pick_periods(versions, every):
        with svc.lock:  # one version at a time: the version's partition is shared with the other analyses
            rows.append(series_row(v, period, contact_line(svc.state(v)[0])))
    with svc.lock:
        explain_jumps(svc.known(known_at), rows, source)
    head = {"every": every, "unit": "km", "rule": "see docs/contact_line.md"}
    return orjson.dumps(head | {"rows": rows})


def register(app, svc) -> None:
    """Add ``/api/contact-line/series`` to ``app``."""

    an = svc.analyses

    @app.get("/api/contact-line/series", summary="Length of the front over time (km, one row per period)")
    @svc.offload
    def series(
        request: Request,
        every: str = Query("month", description="day, week or month: the last version of each"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        if every not in EVERY:
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        known = parse_known_at(known_at)
        src = svc.pick_source(source)
        versions = svc.versions(known, src)
        if not versions:
            raise ApiError(404, None, "The store has no version yet.")
        last = versions[-1]
        key: tuple = ("cl-series", last.source, every, len(versions), last.pk, last.revision)
        if known is not None:  # earlier versions may be in past revisions: the answer is its own
            key += (known,)
        body = svc.memo(key, lambda: series_body(an, every, known, src))
        return cached(request, body, source=last.source)  # no-cache, credited

    @app.get(
        "/api/series",
        summary="A stored series for the chart: front length, a side's narrowest neck, settlements changed",
        description="One row per version (or the last version of each `every`), each with `version_id` and "
        "`time`; the chart draws the member named by `key` (`unit`). Read from the results `frontline recompute` "
        "keeps; versions without one are computed (slow: `n_stored` says how many rows came from the store). "
        "`what=front`: `total_km`, `length_km` per pair. `what=neck&side=S`: the corridors series row of S's "
        "ground held abroad (`width_m` of the neck with the most ground at stake, `narrowest_m`, `cut_off_km2`). "
        "`what=settlements`: `changed` (places of the store's gazetteer whose status differs from the row "
        "before) and `to_<status>` counts. Area per side: `/api/areas`.",
    )
    @svc.offload
    def any_series(
        request: Request,
        what: str = Query(..., description="front, neck or settlements"),
        side: str | None = Query(None, description="With what=neck: whose ground (a side of the store)"),
        every: str | None = Query(
            None, description="day, week or month: the last version of each (default: every version)"
        ),
        source: Source = None,
    ):
        if what not in SERIES:
            raise ApiError(400, "what", f"what must be one of {', '.join(SERIES)}, not {what!r}.")
        if every is not None and every not in EVERY:
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        sides = list(svc.store.sides)
        if what == "neck" and side not in sides:
            raise ApiError(400, "side", f"what=neck needs side= one of {', '.join(sides)}, not {side!r}.")
        src = svc.pick_source(source)
        versions = svc.versions(None, src)
        if not versions:
            raise ApiError(404, None, "The store has no version yet.")
        if what == "settlements":
            from ..store.reference import load_settlements

            if load_settlements(an.store) is None:
                raise ApiError(
                    404, "what", "The store holds no gazetteer: run `frontline settlements import --default` first."
                )
        last = versions[-1]
        key: tuple = ("series", last.source, what, side, every, len(versions), last.pk, last.revision)
        body = svc.memo(key, lambda: stored_series_body(an, what, every, side if what == "neck" else None, src))
        return cached(request, body, source=last.source)  # no-cache, credited


__all__ = ["register", "series_body", "stored_series_body", "SERIES"]
