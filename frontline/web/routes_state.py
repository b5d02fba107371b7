"""The state of the map: versions, control polygons, points, areas over time, change between two times, borders.

``/api/state``, ``/api/points`` and ``/api/versions`` run on the app's own
service (its lock is held for reads and partition builds, never for an
analysis); ``/api/areas`` and ``/api/change`` run on the analysis service
(:meth:`~frontline.web.service.Service.offload`).
"""

from __future__ import annotations

import hashlib

import orjson
import shapely
from fastapi import Query, Request

from ..model import iso
from .errors import ApiError
from .geojson import _geojson, _plain, tolerance, zoom_bucket
from .params import (
    At,
    Bbox,
    KnownAt,
    Source,
    Zoom,
    parse_bbox,
    parse_known_at,
    parse_range,
    parse_time_param,
    parse_zoom,
    regions,
)
from .responses import cached, etag_for, json_response, not_modified
from .service import resolve_known


def register(app, svc) -> None:
    """Add the state routes to ``app`` (svc: the app's service) and the change list's warmer."""
    _register_state(app, svc)
    _register_analyses(app, svc)
    an = svc.analyses

    def warm_change(v):  # the changes list of the page: previous version → this one, top 8
        vs = svc.versions()
        i = next((k for k, x in enumerate(vs) if x.pk == v.pk), 0)
        if i > 0:
            svc.memo(
                ("change", vs[i - 1].pk, vs[i - 1].revision, v.pk, v.revision, None, 8),
                lambda: orjson.dumps(change_payload(an, vs[i - 1], v, None, 8), option=orjson.OPT_SERIALIZE_NUMPY),
            )

    svc.warmers.append(warm_change)


def _register_state(app, svc) -> None:
    """``/api/versions``, ``/api/state``, ``/api/points``, ``/api/borders``: the app's own service."""

    @app.get("/api/versions", summary="All versions of a source (the default source when none is named)")
    def versions(request: Request, known_at: KnownAt = None, source: Source = None):
        src = svc.pick_source(source)
        rows = [
            {
                "id": v.version_id,
                "time": iso(v.valid_time),
                "revision": v.revision,
                "published_at": iso(v.published_at),
                "revised_at": iso(v.revised_at),
            }
            for v in svc.versions(parse_known_at(known_at), src)
        ]
        return cached(request, {"sides": list(svc.store.sides), "versions": rows}, source=svc.source_name(src))

    @app.get("/api/state", summary="Control polygons at a time (held abroad and contested)")
    def state(
        request: Request,
        at: At = None,
        zoom: Zoom = None,
        bbox: Bbox = None,
        known_at: KnownAt = None,
        source: Source = None,
        legacy: str | None = Query(None, alias="_legacy", include_in_schema=False),
    ):
        z = parse_zoom(zoom)
        box = parse_bbox(bbox)
        v, exact = resolve_known(svc, at, known_at, source=svc.pick_source(source))
        etag = etag_for(request, f"{v.version_id}.{v.revision}", v.source)
        if not_modified(request, etag):
            return cached(request, b"", v, exact)  # 304 before any work
        old = legacy not in (None, "", "0")  # the answer as made before (bench/bench_wire.py compares)
        if box is None:
            body = svc.state_body(v, z, legacy=old)
        else:
            body = svc._state_body(v, zoom_bucket(z), box, old)
        return cached(request, body, v, exact)

    @app.get("/api/points", summary="Directions of attack, units, HQs and markers at a time")
    def points(request: Request, at: At = None, known_at: KnownAt = None, source: Source = None):
        v, exact = resolve_known(svc, at, known_at, source=svc.pick_source(source))
        return cached(request, svc.memo(("points", v.pk, v.revision), lambda: points_body(svc, v)), v, exact)

    @app.get("/api/borders", summary="Country outlines and lakes (simplified) for the offline basemap")
    def borders(request: Request):
        body, etag = svc.borders()
        return json_response(request, body, {"Cache-Control": "public, max-age=86400"}, etag)


def points_body(svc, v) -> bytes:
    """GeoJSON bytes of a version's point features (areas left out; lines as a representative point)."""
    _, stored = svc.state(v)
    feats = []
    for f in stored:
        if f.kind == "area" or f.geometry is None or f.geometry.is_empty:
            continue
        g = f.geometry if f.geometry.geom_type == "Point" else f.geometry.representative_point()
        feats.append(
            {
                "type": "Feature",
                "id": f.fid,
                "properties": {
                    "kind": f.kind,
                    "key": f.key,
                    "bearing": f.bearing,
                    "name": f.name,
                    "name_en": f.name_en,
                    "side": f.side,
                },
                "geometry": {"type": "Point", "coordinates": [round(g.x, 6), round(g.y, 6)]},
            }
        )
    body = orjson.dumps(feats, option=orjson.OPT_SERIALIZE_NUMPY)
    # same points as another version → same digest: the page then keeps what it drew
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return (
        orjson.dumps(
            {"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time), "digest": digest}
        )[:-1]
        + b',"features":'
        + body
        + b"}"
    )


def _register_analyses(app, svc) -> None:
    """``/api/areas`` and ``/api/change``: on the analysis service."""
    from ..normalise import CONVENTIONS
    from ..times import PERIODS

    an = svc.analyses

    @app.get("/api/areas", summary="Area per side and contested over time in a region")
    @svc.offload
    def areas(
        request: Request,
        region: str = Query("home:ua", description="theatre, ukraine, russia, home:<side> or outside:<side>"),
        convention: str = Query("clipped", description="clipped or as_drawn"),
        from_: str | None = Query(None, alias="from"),
        to: str | None = None,
        every: str | None = Query(None, description="day, week or month"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        allowed = regions(svc.store.sides)
        if region not in allowed:  # no polygon files over HTTP: they would read the server's disk
            raise ApiError(400, "region", f"region must be one of {', '.join(sorted(allowed))}, not {region!r}.")
        if convention not in CONVENTIONS:
            raise ApiError(400, "convention", f"convention must be one of {', '.join(CONVENTIONS)}.")
        if every not in (None, "") and every not in PERIODS:
            raise ApiError(400, "every", f"every must be one of {', '.join(PERIODS)}.")
        start, end = parse_range(from_, to)
        src = svc.pick_source(source)
        known = parse_known_at(known_at)
        payload = areas_payload(svc, region, convention, start, end, to, every or None, known, src)
        return cached(request, payload, source=svc.source_name(src))

    @app.get("/api/change", summary="Ground gained and lost by each side between two times, top advances")
    @svc.offload
    def change(
        request: Request,
        from_: str = Query(..., alias="from"),
        to: str = Query(...),
        zoom: str | None = None,
        top: int = Query(5, ge=0, le=50, description="how many largest advances to list"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        z = parse_zoom(zoom)
        known = parse_known_at(known_at)
        src = svc.pick_source(source)
        # a bare date: from its start, to its end
        va, ea = resolve_known(svc, from_, known, "from", role="start", source=src)
        vb, eb = resolve_known(svc, to, known, "to", role="end", source=src)
        ta = va.valid_time if ea else parse_time_param(from_, "from", "start")
        tb = vb.valid_time if eb else parse_time_param(to, "to", "end")
        if ta is not None and tb is not None and ta > tb:
            raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
        if va.pk == vb.pk and not (ea and eb):  # two times with no version between them (ids: asked for)
            raise ApiError(
                404,
                "to",
                f"No version from {iso(ta)} to {iso(tb)}: both are version {va.version_id} "
                f"of {iso(va.valid_time)}, so nothing changed.",
            )
        pair = f"{va.version_id}.{va.revision}-{vb.version_id}.{vb.revision}"
        if ea and eb and not_modified(request, etag_for(request, pair, va.source)):
            return cached(request, b"", exact=True, data=pair, source=va.source)  # 304 before any work
        zb = zoom_bucket(z)
        body = svc.memo(
            ("change", va.pk, va.revision, vb.pk, vb.revision, zb, top),
            lambda: orjson.dumps(change_payload(an, va, vb, zb, top, known), option=orjson.OPT_SERIALIZE_NUMPY),
        )
        # both ends named by version: immutable, with an ETag; else no-cache (a time may resolve differently later)
        if ea and eb:
            return cached(request, body, exact=True, data=pair, source=va.source)
        return cached(request, body, source=va.source)


def areas_payload(
    svc,
    region: str,
    convention: str,
    start: int | None,
    end: int | None,
    to: str | None,
    every: str | None,
    known_at: int | None = None,
    source: str | None = None,
) -> dict:
    """Rows of area per side in ``region`` from ``start`` to ``end`` (404 when no version lies in the range).

    ``known_at`` (epoch seconds): each version as known then, its areas from
    that revision's own pieces (:mod:`frontline.store.known_at`). ``source``:
    the source's versions (None: the default source).
    """
    from ..analysis.area import area_series
    from ..state import empty_range_message

    sides = svc.store.sides
    versions = svc.versions(known_at, source)
    if not versions:
        return {"rows": []}
    if end is not None and end >= versions[0].valid_time:
        # an end past the last version's day: a warning (404 when strict)
        resolve_known(svc, to, known_at, "to", role="end", source=source)
    an = svc.analyses
    with an.lock:
        try:
            rows = area_series(
                an.known(known_at),
                region=region,
                convention=convention,
                start=start,
                end=end,
                every=every,
                source=versions[0].source,
            )
        except OverflowError as exc:
            raise ApiError(400, None, str(exc)) from None
    if not rows:
        raise ApiError(
            404, "from" if start is not None else "to", empty_range_message(versions, start, end, versions[0].source)
        )
    return {"region": region, "convention": convention, "sides": list(sides), "rows": rows}


def change_payload(svc, va, vb, zb: int | None, top: int, known_at: int | None = None) -> dict:
    """Gained/lost ground per side between two versions, totals and the largest advances.

    Uses :func:`frontline.analysis.change.change_between` (only tiles whose
    pieces differ are compared), both versions checked and compared in one
    snapshot of the analysis service ``svc``; ``known_at`` (epoch seconds):
    both read as known then (past revisions from their own members).
    """
    from ..analysis.change import change_between

    tol = tolerance(zb)
    feats, totals = [], {}
    with svc.read():
        svc.check(va)
        svc.check(vb)
        rep = change_between(svc.known(known_at), va.valid_time, vb.valid_time, source=va.source)
        sides = list(svc.store.sides)
        tt = rep.totals()
        for side in sides:
            t = tt.get(side, {})
            totals[f"{side}_gained_km2"] = round(float(t.get("gained_km2", 0.0)), 3)
            totals[f"{side}_lost_km2"] = round(float(t.get("lost_km2", 0.0)), 3)
        for side in sides:
            totals[f"{side}_net_km2"] = round(totals[f"{side}_gained_km2"] - totals[f"{side}_lost_km2"], 3)
        for (side, what, region), g in rep.parts.items():
            if g is None or g.is_empty:
                continue
            if tol:
                g = shapely.simplify(g, tol, preserve_topology=True)
            feats.append(
                {
                    "type": "Feature",
                    "geometry": _geojson(g),
                    "properties": {
                        "side": side,
                        "change": what,
                        "region": region,
                        "km2": round(float(rep.km2.get((side, what, region), 0.0)), 6),
                    },
                }
            )
        advances = [_advance(x) for x in (rep.advances(top, sides=sides) if top else [])]
        report = _plain(rep.to_dict())
    return {
        "type": "FeatureCollection",
        "from": va.version_id,
        "to": vb.version_id,
        "from_time": iso(va.valid_time),
        "to_time": iso(vb.valid_time),
        "totals": totals,
        "advances": advances,
        "features": feats,
        "report": report,
    }


def _advance(x) -> dict:
    """An advance as the page uses it: ``location`` [lon, lat] and ``bbox`` instead of its geometry."""
    x = _plain(x)
    x["location"] = [x.pop("lon"), x.pop("lat")]
    x["bbox"] = list(shapely.bounds(shapely.geometry.shape(x.pop("geometry"))).round(5))
    return x
