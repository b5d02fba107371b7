"""Geolocated events linked to the map changes they support, and to roads.

An event *supports* a change of control when it lies within ``distance_km``
of ground that changed hands between the version valid ``days`` before the
event and the version valid ``days`` after it (the changed ground is the
difference of the two versions' partitions, built from stored pieces: each
side's ground taken from another side or from the grey zone, and back).
An event is *on a road* when it lies within ``distance_km`` of a road line
(losses along a route).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..borders import polygonal
from ..model import CONTESTED, iso
from ..store import GeoPackageStore

__all__ = ["changed_ground", "link_events", "events_on_roads"]

DAY = 86400


def changed_ground(a, b) -> dict[tuple[str, str], BaseGeometry]:
    """Ground that changed status between two :class:`~frontline.normalise.VersionControl`.

    Returns
    -------
    dict
        ``(from, to) → geometry`` for every pair of statuses (sides and
        ``contested``) with non-empty change; home complements are never built.
    """
    sides = a.sides
    whats = (*sides, CONTESTED)

    def status_geoms(vc):
        # in each home h: other sides' ground and contested are drawn; h's own ground is the rest
        out = {}
        for h in sides:
            for w in whats:
                if w != h:
                    out[(h, w)] = vc.part(h, w)
        return out

    ga, gb = status_geoms(a), status_geoms(b)
    out: dict[tuple[str, str], BaseGeometry] = {}
    for h in sides:
        drawn_a = [ga[(h, w)] for w in whats if w != h]
        drawn_b = [gb[(h, w)] for w in whats if w != h]
        ua = polygonal(shapely.union_all(drawn_a)) if drawn_a else shapely.Polygon()
        ub = polygonal(shapely.union_all(drawn_b)) if drawn_b else shapely.Polygon()
        for wf in whats:
            fa = ga.get((h, wf)) if wf != h else None
            for wt in whats:
                if wf == wt:
                    continue
                gt = gb.get((h, wt)) if wt != h else None
                if wf == h:  # from home side: drawn in b as wt, not drawn in a
                    g = shapely.difference(gt, ua) if gt is not None else None
                elif wt == h:  # to home side: drawn in a as wf, not drawn in b
                    g = shapely.difference(fa, ub) if fa is not None else None
                else:
                    g = shapely.intersection(fa, gt) if fa is not None and gt is not None else None
                if g is None:
                    continue
                g = polygonal(g)
                if not g.is_empty:
                    key = (wf, wt)
                    out[key] = polygonal(shapely.union(out[key], g)) if key in out else g
    return out


def _dist_m(lon: float, lat: float, geom: BaseGeometry) -> float:
    """Metres from a point to a geometry (local azimuthal projection at the point)."""
    proj = geodesy.LocalProjection(lon, lat)  # centre rounded to 0.1°: project the point too
    return float(shapely.distance(proj.to_metric(shapely.Point(lon, lat)), proj.to_metric(geom)))


def link_events(
    store: GeoPackageStore,
    events: Sequence[Any],
    *,
    days: float = 7,
    distance_km: float = 5.0,
    source: str | None = None,
) -> list[dict]:
    """Link each event to the change of control near it in time and space.

    Parameters
    ----------
    store
        An open store.
    events
        :class:`~frontline.sources.events.Event` objects.
    days
        Compare the versions valid ``days`` before and after the event.
    distance_km
        Changed ground within this distance counts.
    source
        Source name; the default source when None.

    Returns
    -------
    list of dict
        Per event: ``event_id``, ``time``, ``type``, ``side``, ``linked``
        (bool), ``distance_m`` to the nearest changed ground, ``change``
        (``from``/``to`` statuses of that ground), ``changed_km2`` (that
        change's area within ``distance_km``), ``from_version``/``to_version``.
    """
    from ..state import version_control

    if days < 0 or distance_km < 0:
        raise ValueError("days and distance_km must not be negative.")
    src = store.default_source(source)
    versions = store.versions(src)
    times = np.array([v.valid_time for v in versions], dtype=np.int64)
    by_pair: dict[tuple[int, int], list[int]] = {}
    out: list[dict | None] = [None] * len(events)
    for i, e in enumerate(events):
        ia = int(np.searchsorted(times, e.time - days * DAY, "right")) - 1
        ib = int(np.searchsorted(times, e.time + days * DAY, "right")) - 1
        ia = max(ia, 0)
        base = {
            "event_id": e.event_id,
            "time": iso(e.time),
            "type": e.type,
            "side": e.side,
            "lon": e.lon,
            "lat": e.lat,
            "source_url": e.source_url,
            "title": e.title,
            "linked": False,
            "distance_m": None,
            "change": None,
            "changed_km2": 0.0,
            "from_version": None,
            "to_version": None,
        }
        if ib < 0 or ib <= ia:
            base["reason"] = "no two versions around the event"
            out[i] = base
            continue
        out[i] = base
        by_pair.setdefault((ia, ib), []).append(i)
    vcs: dict[int, Any] = {}
    for (ia, ib), idx in by_pair.items():
        for j in (ia, ib):
            if j not in vcs:
                vcs[j] = version_control(store, versions[j])
        changes = changed_ground(vcs[ia], vcs[ib])
        for i in idx:
            e = events[i]
            r = out[i]
            assert r is not None  # every event got its base row above
            r["from_version"], r["to_version"] = versions[ia].version_id, versions[ib].version_id
            best = None
            for key, g in changes.items():
                # a cheap degree cut first: nothing farther than distance + 1° can be near
                x0, y0, x1, y1 = g.bounds
                pad = distance_km / 60.0 + 0.05
                if not (x0 - pad <= e.lon <= x1 + pad and y0 - pad <= e.lat <= y1 + pad):
                    continue
                d = _dist_m(e.lon, e.lat, g)
                if best is None or d < best[0]:
                    best = (d, key, g)
            if best is not None:
                d, key, g = best
                r["distance_m"] = round(d, 1)
                r["change"] = {"from": key[0], "to": key[1]}
                if d <= distance_km * 1000:
                    r["linked"] = True
                    proj = geodesy.LocalProjection(e.lon, e.lat)
                    near = proj.to_lonlat(
                        shapely.intersection(
                            proj.to_metric(g),
                            proj.to_metric(shapely.Point(e.lon, e.lat)).buffer(distance_km * 1000, quad_segs=32),
                        )
                    )
                    r["changed_km2"] = round(geodesy.area_km2(polygonal(near)), 3)
    return out  # type: ignore[return-value]


def events_on_roads(events: Sequence[Any], roads, *, distance_km: float = 1.0) -> list[dict]:
    """The nearest road to each event and whether it lies within ``distance_km`` of it.

    Parameters
    ----------
    events
        :class:`~frontline.sources.events.Event` objects.
    roads
        A :class:`frontline.sources.osm.Roads`.
    distance_km
        An event this close to a road is on it.

    Returns
    -------
    list of dict
        Per event: ``event_id``, ``on_road`` (bool), ``road`` (``id``,
        ``name``, ``ref``, ``class``) and ``distance_m`` of the nearest road.
    """
    if len(roads) == 0:
        return [{"event_id": e.event_id, "on_road": False, "road": None, "distance_m": None} for e in events]
    tree = shapely.STRtree(roads.geometry)
    pts = shapely.points([e.lon for e in events], [e.lat for e in events]) if events else np.array([])
    out = []
    for e, p in zip(events, pts):
        # candidates: roads whose bounds are within a padded degree box (a degree is ≥ 60 km here)
        pad = distance_km / 60.0 + 0.02
        cand = tree.query(shapely.box(e.lon - pad * 1.7, e.lat - pad, e.lon + pad * 1.7, e.lat + pad))
        if len(cand) == 0:
            cand = np.array([tree.nearest(p)])
        proj = geodesy.LocalProjection(e.lon, e.lat)
        d = shapely.distance(proj.to_metric(p), proj.to_metric(roads.geometry[cand]))
        k = int(np.argmin(d))
        j = int(cand[k])
        out.append(
            {
                "event_id": e.event_id,
                "time": iso(e.time),
                "type": e.type,
                "side": e.side,
                "on_road": bool(d[k] <= distance_km * 1000),
                "distance_m": round(float(d[k]), 1),
                "road": {
                    "id": str(roads.ids[j]),
                    "name": str(roads.names[j]),
                    "ref": str(roads.refs[j]),
                    "class": str(roads.classes[j]),
                },
            }
        )
    return out
