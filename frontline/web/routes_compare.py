"""Several maps side by side: the store's sources, and where two of them disagree.

* ``/api/sources`` — every source with its title, licence and attribution
  (:func:`frontline.source_info.list_sources`): what the page shows with each
  map's data.
* ``/api/compare-sources`` — :func:`frontline.analysis.compare.compare_at`:
  the km² per pair of statuses (A says ``ru``, B says ``contested``, …), the
  agreement per status, the disagreement as GeoJSON (one feature per pair) and
  the settlements whose status differs; ``bbox`` cuts the answer to a box.
* ``/api/compare-sources/lags`` — :func:`frontline.analysis.compare.compare_lags`:
  each gain of ground seen by both sources with the lag in days (B's time less
  A's), the mean per period, and a histogram of the lags by whole day.

Both comparisons run on the app's analysis service (``svc.analyses``: its own
store handle, lock and threads, :meth:`~frontline.web.service.Service.offload`),
so a comparison never holds up ``/api/state``. Answers are kept in the
response cache under the versions they compare (a revision is a new answer).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated

import orjson
from fastapi import Query, Response

from ..store.source_info import attribution_line, list_sources
from .errors import ApiError
from .params import At, Bbox, parse_bbox, parse_range, parse_source, parse_time_param, regions

SourceA = Annotated[str, Query(description="the first source (A), as /api/sources lists them")]
SourceB = Annotated[str, Query(description="the second source (B)")]
Region = Annotated[str, Query(description="theatre, ukraine, russia or home:<side> (as /api/area takes them)")]
EVERY = ("day", "week", "month")


def _json(obj) -> Response:
    body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


def _pair(store, a: str, b: str) -> tuple[str, str]:
    sa, sb = parse_source(store, a, "a"), parse_source(store, b, "b")
    if not sa:
        raise ApiError(400, "a", "a must name a source (see /api/sources).")
    if not sb:
        raise ApiError(400, "b", "b must name a source (see /api/sources).")
    if sa == sb:
        raise ApiError(400, "b", f"a and b must be two different sources (both are {sa!r}).")
    return sa, sb


def _region(store, region: str) -> str:
    # Only named regions: a region file would read the server's disk; outside:<side> is not compared.
    allowed = {r for r in regions(store.sides) if not r.startswith("outside:")}
    if region not in allowed:
        raise ApiError(400, "region", f"region must be one of {', '.join(sorted(allowed))}, not {region!r}.")
    return region


def compare_body(an, a: str, b: str, t: int | None, region: str, box) -> bytes:
    """JSON bytes of the comparison of ``a`` and ``b`` at ``t`` (``an``: the analysis service)."""
    from ..analysis.compare import compare_at

    with an.read():
        rep = compare_at(an.store, a, b, t, region=region)
        attribution = attribution_line(an.store, [a, b])
    if box is not None:
        rep = rep.within(box)
    d = rep.to_dict() | {"disagreement": rep.to_geojson(), "attribution": attribution}
    return orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)


def lag_histogram(rows: list[dict]) -> list[dict]:
    """Matched gains counted by lag, in whole days (rounded towards zero): ``{lag_days, count}`` rows in order."""
    c = Counter(int(math.trunc(r["lag_days"])) for r in rows if r.get("lag_days") is not None)
    return [{"lag_days": k, "count": c[k]} for k in sorted(c)]


def lags_body(an, a: str, b: str, start: int, end: int, every, side: str, max_lag: float) -> bytes:
    """JSON bytes of who showed each change first between ``start`` and ``end``."""
    from ..analysis.compare import compare_lags

    with an.read():
        rep = compare_lags(an.store, a, b, start, end, every=every, side=side, max_lag_days=max_lag)
        attribution = attribution_line(an.store, [a, b])
    d = rep.to_dict()
    d |= {"histogram": lag_histogram(d["ground"]), "attribution": attribution}
    return orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)


def register(app, svc) -> None:
    """Add ``/api/sources``, ``/api/compare-sources`` and ``/api/compare-sources/lags`` to ``app``."""

    an = svc.analyses

    @app.get("/api/sources", summary="The sources (maps) of the store, with licence and attribution")
    def sources():
        with svc.read():
            rows = list_sources(svc.store)
            default = svc.store.default_source() if rows and svc.store.sources() else None
        return _json({"default": default, "sources": rows})

    @app.get("/api/compare-sources", summary="Where two sources disagree at a time: km² per pair of statuses")
    @svc.offload
    def compare_sources(a: SourceA, b: SourceB, at: At = None, region: Region = "theatre", bbox: Bbox = None):
        sa, sb = _pair(svc.store, a, b)
        reg = _region(svc.store, region)
        box = parse_bbox(bbox)
        t = None if at in (None, "", "latest") else parse_time_param(at, "at", "at")
        with an.read():
            from ..state import resolve_version

            va, vb = resolve_version(an.store, t, sa), resolve_version(an.store, t, sb)
        key = ("compare-sources", va.pk, va.revision, vb.pk, vb.revision, reg, box)
        return _json_bytes(svc.memo(key, lambda: compare_body(an, sa, sb, t, reg, box)))

    @app.get("/api/compare-sources/lags", summary="Which source showed each change first, and the lag in days")
    @svc.offload
    def compare_lags_route(
        a: SourceA,
        b: SourceB,
        from_: str = Query(..., alias="from", description="start of the range"),
        to: str = Query(..., description="end of the range"),
        every: str | None = Query(None, description="day, week or month: only the last version of each"),
        side: str = Query("ru", description="whose gains of ground are matched"),
        max_lag: float = Query(14.0, gt=0, le=365, description="days a match may lag at most"),
    ):
        sa, sb = _pair(svc.store, a, b)
        start, end = parse_range(from_, to)
        if start is None or end is None:  # both are required: an empty value is no bound
            raise ApiError(400, "from" if start is None else "to", "Give both from and to (a range of times).")
        if every not in (None, "", *EVERY):
            raise ApiError(400, "every", f"every must be one of {', '.join(EVERY)}, not {every!r}.")
        if side not in svc.store.sides:
            raise ApiError(400, "side", f"side must be one of {', '.join(svc.store.sides)}, not {side!r}.")
        with an.read():
            n = (len(an.store.versions(sa)), len(an.store.versions(sb)))  # a new version is a new answer
        key = ("compare-lags", sa, sb, start, end, every or None, side, max_lag, n)
        return _json_bytes(svc.memo(key, lambda: lags_body(an, sa, sb, start, end, every or None, side, max_lag)))


def _json_bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


__all__ = ["register", "compare_body", "lags_body", "lag_histogram"]
