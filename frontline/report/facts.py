"""Gather a situation report's numbers and shapes from the public analysis functions the CLI uses.

Each step calls what the matching command calls (``frontline area``, ``change``, ``contact-line``,
``corridors``, ``roads last-out``, ``settlements changed``, ``claims list``) with the same defaults, so a
report and the CLI agree on every number for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..model import iso

CONVENTIONS = ("clipped", "as_drawn")
Box = tuple[float, float, float, float]  # W, S, E, N degrees
ADVANCES_TOP = 10  # as `frontline change --top`
ADVANCE_MIN_KM2 = 0.05  # smaller pieces are redrawing noise, not advances
NECK_THRESHOLD_M = 1000.0  # as `frontline corridors --threshold-m`
ROAD_WINDOW_KM = (
    200.0  # map kept around a salient for its last road out: search (60 km) + longest range (40 km) + margin
)


@dataclass
class ReportFacts:
    """Everything a report shows: inputs, versions read, numbers, tables and map shapes (lon/lat)."""

    store_path: str
    source: str
    region: str = "outside:ua"
    side: str = "ua"
    at: dict[str, Any] = field(default_factory=dict)  # version_id, time (ISO), t (epoch s)
    since: dict[str, Any] = field(default_factory=dict)  # the same, and the time asked for
    extent: Box = (0.0, 0.0, 0.0, 0.0)
    areas: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)
    change: dict[str, Any] = field(default_factory=dict)
    advances: list[dict[str, Any]] = field(default_factory=list)
    front: dict[str, Any] = field(default_factory=dict)
    necks: dict[str, Any] = field(default_factory=dict)
    road: dict[str, Any] = field(default_factory=dict)
    settlements: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    shapes: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)


def default_side(store, region: str, side: str | None) -> str:
    """The side a report is about: the one given, else the side a ``home:``/``outside:`` region names."""
    sides = list(store.sides)
    if side is None and ":" in region and region.split(":", 1)[0] in ("home", "outside"):
        side = region.split(":", 1)[1]
    side = side or sides[0]
    if side not in sides:
        raise InputError(f"unknown side {side!r}; the store's sides are {', '.join(sides)}", field="--side")
    return side


def parse_bbox(text: str | None) -> Box | None:
    """``W,S,E,N`` degrees → a tuple (None when not given)."""
    if not text:
        return None
    try:
        w, s, e, n = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"{text!r} is not W,S,E,N in degrees (e.g. 34.8,50.9,35.8,51.5)", field="--bbox") from None
    if not (w < e and s < n and -180 <= w and e <= 180 and -90 <= s and n <= 90):
        raise InputError(f"{text!r} is not a box W<E, S<N in degrees", field="--bbox")
    return w, s, e, n


# fmt: off
def gather(store, at, since=None, *, region: str = "outside:ua", side: str | None = None, bbox: Box | None = None,
           source: str | None = None) -> ReportFacts:
    # fmt: on
    """Read every number and shape of a report on ``region`` at ``at`` (changes since ``since``).

    Parameters
    ----------
    store
        An open store.
    at, since
        Times (ISO text or epoch seconds); ``since`` defaults to seven days before ``at``.
    region
        A region as ``frontline area --region`` takes it.
    side
        Whose ground the report follows (necks, last road out, gains and losses).
    bbox
        Map extent ``(W, S, E, N)``; default: the side's ground in the region, then and now, with a margin.
    source
        Source name (the store's default when None).

    Returns
    -------
    ReportFacts
    """
    from ..analysis.area import resolve_region
    from ..state import resolve_version, state_at
    from ..times import parse_time

    resolve_region(store, region)  # an unknown region fails here, before any work
    side = default_side(store, region, side)
    v1 = resolve_version(store, at, source)
    t0 = parse_time(since, role="start") if since is not None else v1.valid_time - 7 * 86400
    v0 = resolve_version(store, t0, v1.source, role="start") if since is not None else store.version_at(t0, v1.source)
    if v0 is None:
        v0 = store.versions(v1.source)[0]
    if v0.valid_time > v1.valid_time:
        raise InputError(f"--since {iso(v0.valid_time)} is after --at {iso(v1.valid_time)}", field="--since")
    cmap, _ = state_at(store, v1.valid_time, v1.source)
    facts = ReportFacts(
        store_path=str(store.path),
        source=v1.source,
        region=region,
        side=side,
        at=_version(v1),
        since=_version(v0) | {"asked": iso(t0)},
    )
    _areas(facts, store, v0, v1)
    rep = _change(facts, store, v0, v1)
    facts.extent = bbox or _extent(cmap, side, region, rep)
    window = box(*facts.extent)
    local = cmap.clipped(window)
    facts.shapes.update(
        held=local.held,
        contested=local.contested,
        window=window,
        gained=_clip(_changed(rep, side, "gained", region), window),
        lost=_clip(_changed(rep, side, "lost", region), window),
    )
    facts.shapes["abroad"] = _clip(cmap.control.abroad(side), window)
    facts.shapes["border"] = _outline(cmap.control.theatre.homes[side], window)
    w, s, e, n = facts.extent
    # Advances on the map (the whole map's list is `frontline change`'s): same ranking and km².
    facts.advances = [
        a
        for a in rep.advances(ADVANCES_TOP * 5)
        if w <= a["lon"] <= e and s <= a["lat"] <= n and a["km2"] >= ADVANCE_MIN_KM2
    ]
    facts.advances = facts.advances[:ADVANCES_TOP]
    _front(facts, store, v0, v1, window)
    _necks(facts, store, v1, cmap)
    _road(facts, store, cmap)
    _settlements(facts, store, v0, v1, local, window)
    _claims(facts, store, v0, v1)
    return facts


def _version(v) -> dict[str, Any]:
    return {"version_id": v.version_id, "time": iso(v.valid_time), "t": int(v.valid_time)}


def _clip(g: BaseGeometry, window: BaseGeometry) -> BaseGeometry:
    from ..borders import polygonal

    return polygonal(shapely.intersection(g, window)) if g is not None and not g.is_empty else g


def _changed(rep, side: str, change: str, region: str) -> BaseGeometry:
    """Ground ``side`` gained or lost (``change``) in the homes ``region`` covers (all for a file or the theatre)."""
    from ..analysis.change import region_name

    kind, _, who = region.partition(":")
    homes = {"home": {region_name(who)}, "outside": {region_name(h) for h in rep.sides if h not in (who, "contested")}}
    keep = homes.get(kind) or {"ukraine": {"ukraine"}, "russia": {"russia"}}.get(region)
    parts = [
        g
        for (s, ch, r), g in rep.parts.items()
        if s == side and ch == change and not g.is_empty and (keep is None or r in keep)
    ]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _areas(facts: ReportFacts, store, v0, v1) -> None:
    """Area per side under both conventions at T and T0, share of peak (series start → T), as ``frontline area``."""
    from ..analysis.area import area_series, convention_meaning

    for conv in CONVENTIONS:
        rows = area_series(store, region=facts.region, convention=conv, end=v1.valid_time, source=v1.source)
        by_id = {r["version_id"]: r for r in rows}
        now, then = by_id.get(v1.version_id, {}), by_id.get(v0.version_id, {})
        facts.areas[conv] = {
            "at": now,
            "since": then,
            "meaning": convention_meaning(facts.region, conv),
            "net": {w: _diff(now.get(f"{w}_km2"), then.get(f"{w}_km2")) for w in (*store.sides, "contested")},
        }
        if conv == "clipped":
            facts.series = [{k: r.get(k) for k in r if k == "time" or k.endswith("_km2")} for r in rows]


def _diff(a, b):
    return None if a is None or b is None else round(a - b, 3)


def _change(facts: ReportFacts, store, v0, v1):
    """Gains and losses T0 → T as ``frontline change`` computes them."""
    from ..analysis.change import change_between

    rep = change_between(store, v0.valid_time, v1.valid_time, source=v1.source)
    facts.change = rep.to_dict()
    return rep


def _extent(cmap, side: str, region: str, rep) -> Box:
    """The side's ground in the region now and the ground it lost since, with a 25% (≥ 0.1°) margin."""
    geoms: list[BaseGeometry] = []
    if region.startswith("outside:"):
        geoms = [cmap.control.abroad(side), _changed(rep, side, "lost", region)]
    elif region.startswith("home:") or region in ("ukraine", "russia"):
        home = {"ukraine": "ua", "russia": "ru"}.get(region, region.split(":", 1)[-1])
        geoms = [cmap.control.theatre.homes[home]]
    else:
        geoms = [cmap.theatre]
    g = shapely.union_all([x for x in geoms if x is not None and not x.is_empty])
    if g.is_empty:
        raise InputError(
            f"side {side!r} holds nothing in {region!r} at {cmap.version_id}; give --bbox for the map", field="--region"
        )
    w, s, e, n = g.bounds
    pad = max(0.1, 0.25 * max(e - w, n - s))
    return w - pad, s - pad, e + pad, n + pad


def _front(facts: ReportFacts, store, v0, v1, window: BaseGeometry) -> None:
    """Front length at T and T0 (whole theatre and per state), as ``frontline contact-line --at``."""
    from ..analysis.contact_line import contact_line
    from ..state import version_control

    out: dict[str, Any] = {}
    for key, v in (("at", v1), ("since", v0)):
        cl = contact_line(version_control(store, v))
        out[key] = {
            "total_km": cl.total_km,
            "by_state": {s: sum(d.values()) for s, d in cl.by_state.items()},
            "length_km": dict(cl.length_km),
        }
        if key == "at":
            facts.shapes["front"] = _clip_lines([cl.lines[p] for p in cl.pairs], window)
            out["rule"] = cl.rule
    out["change_km"] = round(out["at"]["total_km"] - out["since"]["total_km"], 3)
    facts.front = out


def _outline(home: BaseGeometry, window: BaseGeometry) -> BaseGeometry:
    """A home's outer border and coast in the window: no lake outlines, no islets (under 5 km²)."""
    from ..geodesy import areas_km2

    parts = shapely.get_parts(home)
    big = parts[areas_km2(parts) >= 5.0] if len(parts) else parts
    rings = shapely.get_exterior_ring(big)
    return shapely.intersection(shapely.union_all(rings), window) if len(rings) else shapely.MultiLineString()


def _clip_lines(lines: list[BaseGeometry], window: BaseGeometry) -> BaseGeometry:
    if not lines:
        return shapely.MultiLineString()
    return shapely.intersection(shapely.union_all(lines), window)


def _necks(facts: ReportFacts, store, v1, cmap) -> None:
    """Necks of the side's ground abroad, as ``frontline corridors --side S`` (scope abroad, held only)."""
    from ..analysis.corridors import corridor_inputs, find_necks
    from ..state import version_control

    kw = corridor_inputs(version_control(store, v1), facts.side, "abroad", False)
    if kw["held"].is_empty:
        facts.necks = {"note": f"{facts.side} holds no ground outside its home: no salient, no neck."}
        return
    try:
        rep = find_necks(**kw, alert_width_m=NECK_THRESHOLD_M)
    except shapely.errors.GEOSException as exc:
        facts.necks = {"note": f"necks not measured: geometry error ({exc})"}
        return
    necks: list[dict[str, Any]] = [
        {
            "rank": n.rank,
            "type": n.type,
            "width_m": float(n.width_m),
            "length_m": float(n.length_m),
            "lon": float(n.location.x),
            "lat": float(n.location.y),
            "cut_off_km2": float(n.cut_off_km2),
            "cut_off_share": float(n.cut_off_share),
            "banks": list(n.banks),
            "below_threshold": bool(n.below_threshold),
        }
        for n in rep.necks
    ]
    # The report speaks of the necks on its map; the rest of the side's ground abroad is counted, not shown.
    w, s, e, n_ = facts.extent
    on_map = [i for i, d in enumerate(necks) if w <= d["lon"] <= e and s <= d["lat"] <= n_]
    facts.shapes["necks"] = [(rep.necks[i].segment, necks[i]["width_m"]) for i in on_map]
    necks_on_map = [necks[i] for i in on_map]
    narrow = min(necks_on_map, key=lambda d: d["width_m"]) if necks_on_map else None
    facts.necks = {
        "necks": necks_on_map,
        "off_map": len(necks) - len(on_map),
        "narrowest": narrow,
        "ground_km2": float(rep.ground_km2),
        "pockets": [{"area_km2": p.area_km2, "front_km": p.front_km} for p in rep.pockets],
        "rule": rep.rule,
        "mode": rep.mode,
    }


def _road(facts: ReportFacts, store, cmap) -> None:
    """The last road out of the side's largest salient, as ``frontline roads last-out --side S``."""
    from ..analysis.roads import last_road_out
    from ..geodesy import areas_km2
    from ..store.reference import load_roads

    roads = load_roads(store)
    if roads is None:
        facts.road = {"note": "the store holds no roads (`frontline roads import FILE`)."}
        return
    parts = shapely.get_parts(cmap.control.abroad(facts.side))
    if len(parts) == 0:
        facts.road = {"note": f"{facts.side} holds no ground outside its home: no salient."}
        return
    salient = parts[int(np.argmax(areas_km2(parts)))]
    try:
        # The map cut around the salient answers the same: last_road_out reads roads within 60 km of the
        # salient's box and fire ranges up to 40 km, far inside this window; the whole map costs seconds.
        window = _around(salient, ROAD_WINDOW_KM)
        home = shapely.intersection(cmap.control.theatre.homes[facts.side], window)
        out = last_road_out(roads, cmap.clipped(window), facts.side, salient, home)
    except (ValueError, shapely.errors.GEOSException) as exc:
        facts.road = {"note": f"last road out not found: {exc}"}
        return
    best = out.best
    if best is None:
        facts.road = {"note": f"no road out: {out.note}"}
        return
    facts.road = {
        "roads": list(best.roads),
        "length_km": best.length_km,
        "inside_km": best.inside_km,
        "exposed_km": dict(best.exposed_km),
        "exposed_share": dict(best.exposed_share),
        "ranges_km": dict(out.ranges_km),
        "alternatives": len(out.alternatives),
    }
    facts.shapes["road"] = best.geometry
    facts.shapes["road_pieces"] = dict(best.pieces)


def _around(g: BaseGeometry, km: float) -> BaseGeometry:
    """The bounding box of ``g`` grown by ``km`` on every side (degrees at its latitude)."""
    w, s, e, n = g.bounds
    dlat = km / 111.0
    dlon = km / (111.0 * max(0.1, float(np.cos(np.radians(min(abs(s), abs(n)) if s * n > 0 else 0.0)))))
    return box(w - dlon, max(-90.0, s - dlat), e + dlon, min(90.0, n + dlat))


def _settlements(facts: ReportFacts, store, v0, v1, local, window: BaseGeometry) -> None:
    """Status at T of the stored settlements in the map, and those that changed hands, as ``settlements changed``."""
    from ..analysis.settlements import settlement_status, status_matrix
    from ..store.reference import load_settlements, reference_info

    gz = load_settlements(store)
    if gz is None:
        facts.settlements = {"note": "the store holds no settlements (`frontline settlements import --default`)."}
        return
    w, s, e, n = window.bounds
    lon, lat = np.asarray(gz.lon, dtype=float), np.asarray(gz.lat, dtype=float)
    idx = np.flatnonzero((lon >= w) & (lon <= e) & (lat >= s) & (lat <= n))
    status = settlement_status(gz.subset(idx), local) if len(idx) else np.array([], dtype=object)
    versions = [v0] + [v for v in store.versions(v1.source) if v0.valid_time < v.valid_time <= v1.valid_time]
    mat, labels = status_matrix(store, versions, lon[idx], lat[idx])
    rows = []
    for c in np.flatnonzero(mat[0] != mat[-1]):
        steps = np.flatnonzero(mat[1:, c] != mat[:-1, c])
        first = versions[int(steps[0]) + 1]
        rows.append(
            {
                "id": int(gz.ids[idx[c]]),
                "name": str(gz.names[idx[c]]),
                "lon": float(lon[idx[c]]),
                "lat": float(lat[idx[c]]),
                "from": labels[mat[0, c]],
                "to": labels[mat[-1, c]],
                "first_version_id": first.version_id,
                "first_time": iso(first.valid_time),
                "changes": len(steps),
            }
        )
    rows.sort(key=lambda r: (r["first_time"], r["id"]))
    pop = np.asarray(gz.population, dtype=float)[idx] if len(idx) else np.zeros(0)
    facts.settlements = {
        "changed": rows,
        "versions_compared": len(versions),
        "origin": (reference_info(store, "settlements") or {}).get("origin"),
    }
    facts.shapes["changed_names"] = [r["name"] for r in rows]
    facts.shapes["places"] = [
        (str(gz.names[i]), float(lon[i]), float(lat[i]), st, float(p))
        for i, st, p in zip(idx.tolist(), status.tolist(), pop.tolist())
    ]


def _claims(facts: ReportFacts, store, v0, v1) -> None:
    """Claims of the ledger published from T0 to T with their stored verdicts, as ``frontline claims list``."""
    from ..store.ledger import current_status, has_table, list_claims
    from ..times import parse_time

    if not has_table(store, "claims"):
        facts.claims = {"rows": [], "note": "the store's claims ledger is empty."}
        return
    cur = current_status(store)
    rows = []
    for d in list_claims(store):
        t = d.get("time") or ""
        try:  # compared as instants: a claim's time is kept as its claimant wrote it (any offset)
            when = parse_time(t) if t else None
        except ValueError:
            when = None
        if when is None or not (v0.valid_time <= when <= v1.valid_time):
            continue
        s = cur.get(d["claim_id"], {})
        detail = s.get("detail") or {}
        rows.append(
            {
                "claim_id": d["claim_id"],
                "time": t,
                "claimant": d.get("claimant"),
                "what": d.get("settlement") or d.get("metric") or d.get("kind"),
                "side": d.get("side"),
                "change": d.get("change"),
                "status": s.get("status"),
                "lag_days": detail.get("lag_days"),
            }
        )
    facts.claims = {"rows": rows}
