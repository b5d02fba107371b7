"""Claims and events API: the ledger as GeoJSON, claim histories, and adding a claim with a token.

* ``GET /api/claims?at=`` — claims as a FeatureCollection (Point for settlement
  claims, the claimed polygon/line, no geometry for numeric claims) with
  ``status`` and its detail; with ``at``, only claims published by then.
* ``GET /api/claims/{id}/history`` — every change of status.
* ``GET /api/events?bbox=&from=&to=`` — events as Points (the map clusters them).
* ``POST /api/claims`` — add a claim (JSON body with the fields of
  :mod:`frontline.sources.claims`). Needs ``Authorization: Bearer <token>``
  (or ``X-Frontline-Token``) equal to the app's ``write_token``: 403 when the
  app has none (writes disabled), 401 when missing or wrong; bodies over
  64 KB → 413; invalid fields → 422 naming the field (the validator of
  :func:`frontline.sources.claims.parse_claim`, as for the CLI and files).
  A ``claim_id`` in the body is the user's own id: posting it again with
  new content updates the claim (200, ``outcome: updated``). The store is
  opened writable for the write only, and every claim is re-verified.

Numeric claims carry ``detail.reading`` (the reading of "side's ground"
that fits: ``held``, ``held+contested``, …; None when none does) and
``detail.readings`` (the map's value under each); settlement and shape
claims the map showed before they were made have ``shown_before_claim``
true, a negative ``lag_days`` and ``detail.note``.
"""

from __future__ import annotations

import json

import shapely
from fastapi import Query, Request
from fastapi.responses import JSONResponse

from ..model import iso
from ..store import ledger
from .errors import ApiError, error_responses
from .geojson import _geojson
from .params import Bbox, parse_bbox, parse_time_param, regions
from .responses import cached, require_write

MAX_BODY = 64 * 1024
CLAIM_FIELDS = (
    "claim_id",
    "kind",
    "claimant",
    "source_url",
    "text",
    "language",
    "time",
    "settlement",
    "side",
    "change",
    "metric",
    "value",
    "region",
    "baseline",
    "convention",
)
BODY_DOC = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "description": "the fields of a claim"}}},
}


def register(app, svc) -> None:
    """Add the claims and events routes to ``app`` (svc: the app's read-only service)."""

    @app.get("/api/claims", summary="Claims with their verification status (GeoJSON)")
    def get_claims(request: Request, at: str | None = Query(None, description="only claims published by this time")):
        return cached(request, ledger_geojson(svc, at))

    @app.get("/api/claims/{claim_id}/history", summary="Every change of status of one claim")
    def get_history(request: Request, claim_id: int):
        with svc.lock:
            if ledger.get_claim(svc.store, claim_id) is None:
                raise ApiError(404, "claim_id", f"No claim {claim_id} in the ledger.")
            rows = ledger.status_history(svc.store, claim_id)
        for r in rows:
            r["version_time"] = iso(r["version_time"])
            r["changed_at"] = iso(r["changed_at"])
        return cached(request, {"claim_id": claim_id, "history": rows})

    @app.get("/api/events", summary="Geolocated events (GeoJSON points)")
    def get_events(
        request: Request, bbox: Bbox = None, from_: str | None = Query(None, alias="from"), to: str | None = None
    ):
        box = parse_bbox(bbox)
        start, end = parse_time_param(from_, "from", "start"), parse_time_param(to, "to", "end")
        return cached(request, events_geojson(svc, box, start, end))

    written = {
        200: {"description": "The claim with this `claim_id` was updated"},
        **error_responses(401, 403, 409, 413),
    }

    @app.post(
        "/api/claims",
        summary="Add a claim (needs the write token)",
        status_code=201,
        responses=written,
        openapi_extra={"requestBody": BODY_DOC},
    )
    async def post_claim(request: Request):
        require_write(request)  # 403 on a read-only server, 401 without the right token
        return add_claim(svc, await read_claim_body(request))


def ledger_geojson(svc, at: str | None) -> dict:
    """The ledger's claims as GeoJSON with their status (only those published by ``at``, when given)."""
    t = None
    if at not in (None, "", "latest"):  # a bare date: claims published by its end (23:59:59 UTC)
        t = parse_time_param(at, "at", "at")
    with svc.lock:
        claims = ledger.list_claims(svc.store)
        status = ledger.current_status(svc.store)
    feats = []
    for d in claims:
        if t is not None and d.get("published_at", 0) > t:
            continue
        s = status.get(d["claim_id"], {})
        props = {k: d.get(k) for k in CLAIM_FIELDS}
        props["status"] = s.get("status") or "unchecked"
        det = s.get("detail") or {}
        props["lag_days"] = det.get("lag_days")
        props["shown_before_claim"] = det.get("shown_before_claim")
        props["reading"] = det.get("reading")  # numeric claims: the reading of "side's ground" that fits
        props["ref"] = d.get("ref")
        props["detail"] = s.get("detail") or {}
        props["checked_against"] = s.get("version_id")
        feats.append({"type": "Feature", "id": d["claim_id"], "geometry": _claim_geometry(d), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _claim_geometry(d: dict) -> dict | None:
    """A claim's shape, else its point (given, or where its settlement was resolved), else None."""
    if d.get("geometry"):
        return _geojson(shapely.from_wkt(d["geometry"]))
    res = d.get("resolution") or {}
    lon = d.get("lon") if d.get("lon") is not None else res.get("lon")
    lat = d.get("lat") if d.get("lat") is not None else res.get("lat")
    if lon is not None and lat is not None:
        return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
    return None


def events_geojson(svc, box, start: int | None, end: int | None) -> dict:
    """The ledger's events in ``box`` from ``start`` to ``end`` as GeoJSON points."""
    with svc.lock:
        evs = ledger.list_events(svc.store, bbox=box, start=start, end=end, limit=50_000)
    feats = [
        {
            "type": "Feature",
            "id": e.event_id,
            "geometry": {"type": "Point", "coordinates": [round(e.lon, 6), round(e.lat, 6)]},
            "properties": {
                "event_id": e.event_id,
                "time": iso(e.time),
                "type": e.type,
                "side": e.side,
                "precision_m": e.precision_m,
                "confidence": e.confidence,
                "source_url": e.source_url,
                "title": e.title,
            },
        }
        for e in evs
    ]
    return {"type": "FeatureCollection", "features": feats}


async def read_claim_body(request: Request) -> dict:
    """The JSON object of a claim's body: 413 over ``MAX_BODY``, 400 when not JSON, 422 when not an object."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise ApiError(413, None, f"The body is larger than {MAX_BODY // 1024} KB.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, None, f"The body is larger than {MAX_BODY // 1024} KB.")
    try:
        rec = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, None, f"The body is not JSON ({exc}).") from None
    if not isinstance(rec, dict):
        raise ApiError(422, None, "The body must be a JSON object with the claim's fields.")
    return rec


def add_claim(svc, rec: dict) -> JSONResponse:
    """Validate, store and verify one claim (a writable store handle for this write only)."""
    from ..analysis.claims import resolve_settlements, verify_all
    from ..errors import InputError
    from ..sources.claims import ClaimInputError, parse_claim
    from ..store import open_store

    region = rec.get("region")
    sides = svc.store.sides
    allowed = regions(sides)
    if region not in (None, "") and region not in allowed:  # no files over HTTP: they would read the disk
        raise ApiError(422, "region", f"region must be one of {', '.join(sorted(allowed))}.")
    try:  # the one validator of the CLI and the file import: side among the store's, confidence, time, …
        c = parse_claim(rec, "body", sides=sides)
    except (ClaimInputError, InputError) as exc:  # the field travels on the error, not in its text
        raise ApiError(422, getattr(exc, "field", None), str(exc)) from None
    with svc.lock:
        st = open_store(svc.store.path)  # svc.store is read-only: a writable handle for this write only
        try:
            res = resolve_settlements([c], store=st)
            [(cid, outcome)] = ledger.upsert_claims(st, [c], res)
            verify_all(st)
            cur = ledger.current_status(st).get(cid, {})
        except ValueError as exc:  # an update that would duplicate another stored claim
            raise ApiError(409, "claim_id", str(exc)) from None
        finally:
            st.close()
    added = outcome == "added"
    detail = cur.get("detail")
    payload = {
        "claim_id": cid,
        "added": added,
        "outcome": outcome,
        "status": cur.get("status"),
        "reading": (detail or {}).get("reading"),
        "detail": detail,
        "resolution": res[0],
    }
    return JSONResponse(payload, status_code=201 if added else 200, headers={"Cache-Control": "no-cache"})
