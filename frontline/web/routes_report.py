"""Reports and map images from the API: ``/api/report`` (the HTML of ``frontline report``) and ``/api/map.png``.

Both run on the analysis service (:meth:`~frontline.web.service.Service.offload`: its own store handle, lock
and threads), are kept in the server's response cache by version and parameters, and carry an ETag of the
version's revision and the parameters: addressed by a version they are immutable, otherwise ``no-cache``
(revalidated with ``If-None-Match``). Both take ``known_at`` (the map as the source had published it by
then: versions known then, each in its revision then), part of the cache key and the ETag.
"""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.responses import Response
from shapely.errors import GEOSException

from .errors import NO_CACHE, ApiError
from .params import At, Bbox, KnownAt, Source, parse_bbox, parse_known_at, parse_time_param, regions
from .responses import IMMUTABLE, credit, credit_headers, etag_for, not_modified
from .service import resolve_known

MAX_PX = 2048  # map.png's width and height are at most this


def _answer(request: Request, svc, kind: str, v, exact: bool, params: tuple, make, media_type: str) -> Response:
    """``make(v, *params)`` kept in the response cache, with caching headers; 304 (before any work) on a match.

    The ETag is the API's (:func:`~frontline.web.responses.etag_for`: the version's revision, the app
    version and a digest of the query), so an upgrade revalidates what browsers hold.
    """
    etag = etag_for(request, f"{v.version_id}.{v.revision}", v.source)
    # the source shown, and its attribution, in headers (the report and the image carry them in themselves)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if exact else NO_CACHE} | credit_headers(
        credit(request, v.source)
    )
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    body = svc.memo((kind, v.pk, v.revision, *params), lambda: make(v, *params))
    return Response(body, media_type=media_type, headers=headers)


def report_body(an, v, since: int | None, region: str, side: str | None, bbox, known_at: int | None = None) -> bytes:
    """The report's HTML (UTF-8) of version ``v``, as ``frontline report`` writes it (``--as-known-at``)."""
    from ..report import report_html
    from ..report.facts import gather

    with an.read():
        an.check(v)
        store = an.known(known_at)  # every version the report reads, as known then
        try:
            facts = gather(store, v.valid_time, since, region=region, side=side, bbox=bbox, source=v.source)
        except GEOSException as exc:
            raise ApiError(400, None, f"The map cannot be cut there ({exc}).") from None
        return report_html(facts, list(an.store.sides)).encode("utf-8")


def map_body(an, v, bbox, width: int, height: int, known_at: int | None = None) -> bytes:
    """PNG bytes of the map of version ``v`` (held per side, grey zone, contact line, date, attribution)."""
    from ..report.animate import map_png

    with an.read():
        an.check(v)
        vc, _ = an.state(v)
        try:
            return map_png(an.store, v, bbox, width, height, control=vc)
        except GEOSException as exc:
            raise ApiError(400, "bbox", f"The map cannot be cut there ({exc}).") from None


def _report_of(an):
    return lambda v, *params: report_body(an, v, *params)


def _map_of(an):
    return lambda v, *params: map_body(an, v, *params)


def register(app, svc) -> None:
    """Add ``/api/report`` and ``/api/map.png`` to ``app``."""
    an = svc.analyses

    @app.get(
        "/api/report",
        summary="A situation report of a region at a time, as one self-contained HTML page",
        # a plain Response: FastAPI would otherwise declare the JSON error bodies as text/html too
        response_class=Response,
        responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The report"}},
    )
    @svc.offload
    def report(
        request: Request,
        at: At = None,
        since: str | None = Query(None, description="changes are counted from then (default: 7 days before at)"),
        region: str = Query("outside:ua", description="theatre, ukraine, russia, home:<side> or outside:<side>"),
        side: str | None = Query(None, description="whose ground the report follows (default: the region's side)"),
        bbox: Bbox = None,
        known_at: KnownAt = None,
        source: Source = None,
    ):
        if region not in regions(svc.store.sides):
            raise ApiError(400, "region", f"region must be one of {', '.join(sorted(regions(svc.store.sides)))}.")
        if side is not None and side not in svc.store.sides:
            raise ApiError(400, "side", f"side must be one of {', '.join(svc.store.sides)}, not {side!r}.")
        box = parse_bbox(bbox)
        t0 = parse_time_param(since, "since", "start") if since else None
        known = parse_known_at(known_at)
        v, exact = resolve_known(svc, at, known, source=svc.pick_source(source))
        if t0 is not None and t0 > v.valid_time:
            raise ApiError(400, "since", f"since={since!r} is after the version at={at!r} answers.")
        params = (t0, region, side or None, box, known)
        return _answer(request, svc, "report", v, exact, params, _report_of(an), "text/html; charset=utf-8")

    @app.get(
        "/api/map.png",
        summary="The map at a time as a PNG image, for embedding",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                "description": "A PNG of width × height pixels",
            }
        },
    )
    @svc.offload
    def map_image(
        request: Request,
        at: At = None,
        bbox: Bbox = None,
        width: int = Query(800, ge=16, le=MAX_PX, description="image width in pixels"),
        height: int = Query(600, ge=16, le=MAX_PX, description="image height in pixels"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        box = parse_bbox(bbox)
        known = parse_known_at(known_at)
        v, exact = resolve_known(svc, at, known, source=svc.pick_source(source))
        return _answer(request, svc, "map.png", v, exact, (box, width, height, known), _map_of(an), "image/png")


__all__ = ["register", "report_body", "map_body"]
