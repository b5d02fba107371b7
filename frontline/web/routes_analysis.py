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
handle, lock and threads, :meth:`~frontline.web.service.Service.offload`), so a
slow analysis never holds up ``/api/state``.

The contact line (default sides) and the corridors (default parameters) of a
version are served from the store when ``frontline recompute`` has kept them
there for the version's current revision and the code's rule version
(:mod:`frontline.analysis.materialise`): the same bytes as computing them, in
a few milliseconds. The server never writes results.

Every route takes ``known_at``: the map valid at ``at`` as the source had
published it by then (:mod:`frontline.store.known_at`). A past revision is
computed from its own members, never read from the stored results (they are
for current revisions only), and cached under its own negative ``pk``.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated

import orjson
from fastapi import Query, Request

from ..analysis import materialise
from ..analysis.materialise import RULES
from ..model import iso
from .errors import ApiError
from .geojson import _plain
from .params import At, KnownAt, Source
from .responses import cached as _cached
from .service import resolve_known

MODES = ("abroad", "held")
Side = Annotated[str, Query(description="whose ground or roads (the enemy is every other side)")]
Segments = Annotated[bool, Query(description="cut roads into pieces by range band")]


_empty = materialise.empty_body  # the empty answer the stored results use too (a local name)


def _side(svc, side: str) -> str:
    sides = svc.store.sides
    if side not in sides:
        raise ApiError(400, "side", f"side must be one of {', '.join(sides)}, not {side!r}.")
    return side


def _stored(svc, what: str, pkey: str, v) -> bytes | None:
    """A result of ``v`` kept in the store by ``frontline recompute``, if current (else None).

    Read through the service's own results reader (a read-only connection of
    its own: the lookup never waits for an analysis holding ``svc.lock``).
    ``$FRONTLINE_STORED_RESULTS=off`` turns stored results off (benchmarks,
    debugging).
    """
    if os.environ.get("FRONTLINE_STORED_RESULTS", "on").strip().lower() in ("0", "off", "no", "false"):
        return None
    if getattr(v, "known_at", None) is not None:  # a past revision: stored results are for current ones only
        return None
    reader = results_reader(svc)
    return reader.get(what, pkey, v, RULES[what]) if reader is not None else None


_READER_LOCK = threading.Lock()


def results_reader(svc):
    """The service's :class:`~frontline.store.results.ResultReader` (made on first use)."""
    reader = getattr(svc, "_results_reader", None)
    if reader is None:
        with _READER_LOCK:
            reader = getattr(svc, "_results_reader", None)
            if reader is None:
                from ..store.results import ResultReader

                reader = svc._results_reader = ResultReader(svc.store.path)
    return reader


def contact_line_body(svc, v, sides: tuple[str, ...] | None) -> bytes:
    """GeoJSON bytes of the contact line of version ``v``: the stored result when there is one."""
    if not sides:  # the default pairing is what `frontline recompute` stores
        body = _stored(svc, "contact-line", "", v)
        if body is not None:
            return body
    vc, _ = svc.state(v)
    return materialise.contact_line_body(vc, v, sides, lock=svc.lock)


def corridors_body(svc, v, side: str, mode: str, include_contested: bool, alert_width_m: float) -> bytes:
    """GeoJSON bytes of the necks and pockets of ``side``'s ground in version ``v`` (stored when default)."""
    d = materialise.CORRIDOR_DEFAULTS
    if (mode, bool(include_contested), float(alert_width_m)) == (
        d["ground"],
        d["include_contested"],
        d["alert_width_m"],
    ):
        body = _stored(svc, "corridors", materialise.corridor_params(side, mode, include_contested, alert_width_m), v)
        if body is not None:
            return body
    vc, _ = svc.state(v)
    return materialise.corridors_body(vc, v, side, mode, include_contested, alert_width_m, lock=svc.lock)


def roads_body(svc, v, side: str, segments: bool) -> bytes:
    """GeoJSON bytes of ``side``'s roads coloured by exposure in version ``v``."""
    from ..analysis.roads import DEFAULT_RANGES_KM, reach_window, road_exposure

    roads = svc.reference("roads")
    members = {"side": side}
    if roads is None:
        return _empty(
            v,
            "The store holds no roads: import a road layer into it, or start the server with "
            "`frontline serve --roads FILE`.",
            **members,
        )
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
    worst: dict[str, int] = {}
    for row in table:
        worst[row["worst"]] = worst.get(row["worst"], 0) + 1
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "version": v.version_id,
            "time": iso(v.valid_time),
            **members,
            "ranges_km": props.get("ranges_km"),
            "colours": props.get("colours"),
            "n_roads": len(table),
            "worst": worst,
            "features": _plain(fc["features"]),
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def _versioned(
    svc, request: Request, at: str | None, key: tuple, make, known_at: str | None = None, source: str | None = None
):
    """The answer ``make(version)`` for the version at ``at``, kept under ``(key[0], pk, revision, *key[1:])``.

    ``known_at``: the version as known then (a past revision has a ``pk`` of its own). ``source``: the
    ``source`` parameter (checked here; None: the default source); no two sources' versions share a ``pk``.
    """
    v, exact = resolve_known(svc, at, known_at, source=svc.pick_source(source))
    body = svc.memo((key[0], v.pk, v.revision, *key[1:]), lambda: make(v))
    return _cached(request, body, v, exact)


def register(app, svc) -> None:
    """Add ``/api/contact-line``, ``/api/corridors`` and ``/api/roads`` to ``app``."""

    an = svc.analyses  # the bodies are computed there: its lock is never the one the state path takes
    # what the page opens with: the contact line and the corridors of ua's ground abroad
    svc.warmers.append(lambda v: svc.memo(("contact", v.pk, v.revision, None), lambda: contact_line_body(an, v, None)))
    svc.warmers.append(
        lambda v: (
            svc.memo(
                ("corridors", v.pk, v.revision, "ua", "abroad", False, 1000.0),
                lambda: corridors_body(an, v, "ua", "abroad", False, 1000.0),
            )
            if "ua" in svc.store.sides
            else None
        )
    )

    @app.get("/api/contact-line", summary="The contact line at a time (where the sides' ground meets)")
    @svc.offload
    def contact(
        request: Request,
        at: At = None,
        sides: str | None = Query(None, description="comma-separated pair of sides, e.g. ua,ru"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        chosen = None
        if sides:
            chosen = tuple(s.strip() for s in sides.split(",") if s.strip())
            for s in chosen:
                if s not in svc.store.sides:
                    raise ApiError(
                        400, "sides", f"sides must name sides of the store ({', '.join(svc.store.sides)}), not {s!r}."
                    )
        return _versioned(
            svc, request, at, ("contact", chosen), lambda v: contact_line_body(an, v, chosen), known_at, source
        )

    @app.get("/api/corridors", summary="Necks (narrow corridors, with width) and pockets of a side's ground")
    @svc.offload
    def corridors(
        request: Request,
        at: At = None,
        side: Side = "ua",
        ground: str = Query(
            "abroad", description="abroad: ground held outside home (salients); held: all ground (slower)"
        ),
        include_contested: bool = Query(False, description="analyse held ∪ contested"),
        alert_width_m: float = Query(1000.0, gt=0, le=100000, description="necks narrower than this are flagged"),
        known_at: KnownAt = None,
        source: Source = None,
    ):
        _side(svc, side)
        if ground not in MODES:
            raise ApiError(400, "ground", f"ground must be one of {', '.join(MODES)}, not {ground!r}.")
        key = ("corridors", side, ground, include_contested, alert_width_m)
        return _versioned(
            svc,
            request,
            at,
            key,
            lambda v: corridors_body(an, v, side, ground, include_contested, alert_width_m),
            known_at,
            source,
        )

    @app.get("/api/roads", summary="A side's roads coloured by exposure to enemy fire")
    @svc.offload
    def roads(
        request: Request,
        at: At = None,
        side: Side = "ua",
        segments: Segments = True,
        known_at: KnownAt = None,
        source: Source = None,
    ):
        _side(svc, side)
        key = ("roads", side, segments)
        return _versioned(svc, request, at, key, lambda v: roads_body(an, v, side, segments), known_at, source)


__all__ = ["register", "contact_line_body", "corridors_body", "roads_body"]
