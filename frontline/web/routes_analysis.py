"""Analyses on the web map: contact line, corridors and pockets, road exposure.

Every answer is a GeoJSON FeatureCollection with ``version`` and ``time``;
addressed by a version it is cached as immutable (a version's content never
changes once imported, a revision bumps the ETag) and kept in the server's
response cache. Where an analysis has nothing to work on (no roads in the
store, the side holds no ground abroad, the analysis module is not
installed) the answer is an empty collection with a ``note`` saying why.

* ``/api/contact-line`` — :func:`frontline.analysis.contact_line.contact_line`.
* ``/api/corridors`` — :func:`frontline.analysis.corridors.find_necks` on one
  side's ground held outside its home (the Kursk salient; default) or all its
  ground; each neck is a segment bank to bank with ``width_m`` and a
  ``label`` such as ``"420 m"``, each pocket a polygon.
* ``/api/roads`` — :func:`frontline.analysis.roads.road_exposure` of one
  side's roads, cut into pieces by fire-range band with a ``colour`` each.

Each runs on the app's analysis service (``svc.analyses``: its own store
handle, lock and threads, :meth:`~frontline.web.app._Service.offload`), so a
slow analysis never holds up ``/api/state``.
"""

from __future__ import annotations

import orjson
from fastapi import Query, Request

from ..model import iso
from .app import ApiError, _cached, _plain

MODES = ("abroad", "held")


def _empty(v, note: str, **members) -> bytes:
    return orjson.dumps({"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                         **members, "note": note, "features": []})


def _side(svc, side: str) -> str:
    sides = svc.store.sides
    if side not in sides:
        raise ApiError(400, "side", f"side must be one of {', '.join(sides)}, not {side!r}.")
    return side


def contact_line_body(svc, v, sides: tuple[str, ...] | None) -> bytes:
    """GeoJSON bytes of the contact line of version ``v``."""
    try:
        from ..analysis.contact_line import contact_line
    except ImportError:
        return _empty(v, "The contact-line analysis (frontline.analysis.contact_line) is not installed.")
    vc, _ = svc.state(v)
    with svc.lock:
        line = contact_line(vc, sides=list(sides) if sides else None)
        fc = _plain(line.to_geojson())
        summary = {k: x for k, x in _plain(line.to_dict()).items() if not isinstance(x, (dict, list))}
    return orjson.dumps({**fc, "type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                         "summary": summary, "features": fc.get("features", [])})


def corridors_body(svc, v, side: str, mode: str, include_contested: bool, alert_width_m: float) -> bytes:
    """GeoJSON bytes of the necks and pockets of ``side``'s ground in version ``v``."""
    from ..analysis.corridors import corridor_inputs, find_necks
    from ..geodesy import area_km2

    vc, _ = svc.state(v)
    with svc.lock:  # grey ground outside home only for ground abroad; what each bank faces from the partition
        kw = corridor_inputs(vc, side, "abroad" if mode == "abroad" else "all", include_contested)
    ground = kw["held"]
    members = {"side": side, "ground": mode, "include_contested": include_contested}
    if ground is None or ground.is_empty:
        where = "outside its home" if mode == "abroad" else "at all"
        return _empty(v, f"{side} holds no ground {where} in this version.", **members)
    rep = find_necks(**kw, alert_width_m=alert_width_m)
    fc = rep.to_geojson()
    return orjson.dumps({"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                         **members, "mode": rep.mode, "rule": rep.rule,
                         "ground_km2": round(float(rep.ground_km2 or area_km2(ground)), 3),
                         "n_necks": len(rep.necks), "n_pockets": len(rep.pockets),
                         "features": _plain(fc["features"])})


def roads_body(svc, v, side: str, segments: bool) -> bytes:
    """GeoJSON bytes of ``side``'s roads coloured by exposure in version ``v``."""
    from ..analysis.roads import DEFAULT_RANGES_KM, reach_window, road_exposure

    roads = svc.reference("roads")
    members = {"side": side}
    if roads is None:
        return _empty(v, "The store holds no roads: import a road layer into it, or start the server with "
                         "`frontline serve --roads FILE`.", **members)
    # Exposure depends only on ground within the longest range of the roads:
    # the control map is cut to the roads' box grown by that range (and a margin).
    box = reach_window(roads.bounds, max(DEFAULT_RANGES_KM.values()) + 10.0).bounds
    cmap = svc.local_map(v, box)  # snapped to 1 cm: see ControlMap.clipped
    if cmap.held[side].is_empty:
        return _empty(v, f"{side} holds no ground near the roads in this version.", **members)
    try:
        table = road_exposure(roads, cmap, side)
    except ValueError as exc:  # e.g. no road touches the side's ground: nothing to colour
        return _empty(v, str(exc), **members)
    fc = table.to_geojson(segments=segments)
    props = fc.get("properties", {})
    worst = {}
    for row in table:
        worst[row["worst"]] = worst.get(row["worst"], 0) + 1
    return orjson.dumps({"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                         **members, "ranges_km": props.get("ranges_km"), "colours": props.get("colours"),
                         "n_roads": len(table), "worst": worst, "features": _plain(fc["features"])},
                        option=orjson.OPT_SERIALIZE_NUMPY)


def register(app, svc) -> None:
    """Add ``/api/contact-line``, ``/api/corridors`` and ``/api/roads`` to ``app``."""

    an = svc.analyses  # the bodies are computed there: its lock is never the one the state path takes
    # what the page opens with: the contact line and the corridors of ua's ground abroad
    svc.warmers.append(lambda v: svc.memo(("contact", v.pk, v.revision, None), lambda: contact_line_body(an, v, None)))
    svc.warmers.append(lambda v: svc.memo(("corridors", v.pk, v.revision, "ua", "abroad", False, 1000.0),
                                          lambda: corridors_body(an, v, "ua", "abroad", False, 1000.0))
                       if "ua" in svc.store.sides else None)

    @app.get("/api/contact-line", summary="The contact line at a time (where the sides' ground meets)")
    @svc.offload
    def contact(request: Request, at: str | None = Query(None, description="version id, ISO time or epoch seconds"),
                sides: str | None = Query(None, description="comma-separated pair of sides, e.g. ua,ru")):
        chosen = None
        if sides:
            chosen = tuple(s.strip() for s in sides.split(",") if s.strip())
            for s in chosen:
                if s not in svc.store.sides:
                    raise ApiError(400, "sides", f"sides must name sides of the store ({', '.join(svc.store.sides)}),"
                                                 f" not {s!r}.")
        v, exact = svc.resolve(at)
        body = svc.memo(("contact", v.pk, v.revision, chosen), lambda: contact_line_body(an, v, chosen))
        return _cached(request, body, v, exact)

    @app.get("/api/corridors", summary="Necks (narrow corridors, with width) and pockets of a side's ground")
    @svc.offload
    def corridors(request: Request,
                  at: str | None = Query(None, description="version id, ISO time or epoch seconds"),
                  side: str = Query("ua", description="whose ground"),
                  ground: str = Query("abroad", description="abroad: ground held outside home (salients); "
                                                            "held: all ground (slower)"),
                  include_contested: bool = Query(False, description="analyse held ∪ contested"),
                  alert_width_m: float = Query(1000.0, gt=0, le=100000,
                                               description="necks narrower than this are flagged")):
        _side(svc, side)
        if ground not in MODES:
            raise ApiError(400, "ground", f"ground must be one of {', '.join(MODES)}, not {ground!r}.")
        v, exact = svc.resolve(at)
        key = ("corridors", v.pk, v.revision, side, ground, include_contested, alert_width_m)
        body = svc.memo(key, lambda: corridors_body(an, v, side, ground, include_contested, alert_width_m))
        return _cached(request, body, v, exact)

    @app.get("/api/roads", summary="A side's roads coloured by exposure to enemy fire")
    @svc.offload
    def roads(request: Request, at: str | None = Query(None, description="version id, ISO time or epoch seconds"),
              side: str = Query("ua", description="whose roads (the enemy is every other side)"),
              segments: bool = Query(True, description="cut roads into pieces by range band")):
        _side(svc, side)
        v, exact = svc.resolve(at)
        body = svc.memo(("roads", v.pk, v.revision, side, segments), lambda: roads_body(an, v, side, segments))
        return _cached(request, body, v, exact)


__all__ = ["register", "contact_line_body", "corridors_body", "roads_body"]
