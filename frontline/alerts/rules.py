"""One evaluator per rule kind: what a rule looks at on a version and whether its condition holds."""

from __future__ import annotations

import importlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from frontline.model import iso
from frontline.store import GeoPackageStore, VersionInfo

from .config import Rule

log = logging.getLogger("frontline.alerts")


@dataclass
class Evaluation:
    """What a rule saw at one version.

    ``condition`` True/False for threshold rules (None: cannot say);
    ``events`` for event rules: ``(message, values)`` pairs to fire.
    """

    condition: bool | None
    values: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    events: list[tuple[str, dict]] = field(default_factory=list)
    data: dict[str, Any] | None = None  # state to keep (event rules)


class _Evaluator:
    """Base: ``prepare`` once per engine run, ``evaluate`` per version."""

    event = False

    def __init__(self, rule: Rule):
        self.rule = rule
        self.p = rule.params

    def prepare(self, store: GeoPackageStore) -> None:
        pass

    def evaluate(self, store: GeoPackageStore, v: VersionInfo, data: dict) -> Evaluation:
        raise NotImplementedError


def _check_side(store: GeoPackageStore, side: str, where: str) -> None:
    if side not in store.sides:
        raise ValueError(f"{where}: unknown side {side!r}; the store's sides are {', '.join(store.sides)}.")


class _Corridor(_Evaluator):
    def prepare(self, store):
        _check_side(store, self.p["side"], f"rule {self.rule.name!r}")
        self.home = store.regions()[f"home:{self.p['side']}"][1]

    def evaluate(self, store, v, data):
        from ..analysis.corridors import corridor_inputs, find_necks
        from ..state import version_control

        p = self.p
        side = p["side"]
        vc = version_control(store, v)
        inputs = corridor_inputs(vc, side, p["scope"], bool(p["include_contested"]))
        ground = inputs["held"]
        contested = inputs["contested"] if p["include_contested"] else None
        if p.get("bbox"):
            ground = shapely.clip_by_rect(ground, *p["bbox"])
        if ground is None or ground.is_empty or ground.area == 0:
            return Evaluation(False, {"width_m": None, "n_necks": 0}, f"{side} holds no ground to analyse")
        if contested is not None and not contested.is_empty:
            x0, y0, x1, y1 = ground.bounds
            contested = shapely.clip_by_rect(contested, x0 - 0.2, y0 - 0.2, x1 + 0.2, y1 + 0.2)
        kw = {
            "min_part_share": p["min_part_share"],
            "alert_width_m": p["below_m"],
            "max_width_m": p["max_width_m"] or max(5000.0, 2.0 * p["below_m"]),
        }
        if p.get("min_part_km2") is not None:
            kw["min_part_km2"] = p["min_part_km2"]
        try:
            rep = find_necks(
                ground,
                home=self.home,
                contested=contested,
                enemy=inputs["enemy"],
                include_contested=bool(p["include_contested"]),
                **kw,
            )
        except ValueError as exc:
            if "holds no ground" in str(exc):
                return Evaluation(False, {"width_m": None, "n_necks": 0}, str(exc))
            raise
        if not rep.necks:
            return Evaluation(False, {"width_m": None, "n_necks": 0}, "no neck")
        n = min(rep.necks, key=lambda x: x.width_m)
        vals = {
            "width_m": round(float(n.width_m), 1),
            "threshold_m": p["below_m"],
            "neck_type": n.type,
            "location": [round(float(n.location.x), 5), round(float(n.location.y), 5)],
            "cut_off_km2": round(float(n.parts[0].area_km2), 3),
            "n_necks": len(rep.necks),
            "mode": rep.mode,
        }
        msg = (
            f"narrowest neck of {side}'s ground {'abroad ' if p['scope'] == 'abroad' else ''}is "
            f"{n.width_m:,.0f} m wide (threshold {p['below_m']:,.0f} m) at {vals['location'][1]:.4f}N "
            f"{vals['location'][0]:.4f}E; {vals['cut_off_km2']:,.1f} km² beyond it"
        )
        return Evaluation(bool(n.width_m < p["below_m"]), vals, msg)


class _AreaLoss(_Evaluator):
    def prepare(self, store):
        from ..analysis.area import area_series

        _check_side(store, self.p["side"], f"rule {self.rule.name!r}")
        self.rows = area_series(store, region=self.p["region"], convention=self.p["convention"], source=None)

    def evaluate(self, store, v, data):
        from ..times import parse_time

        p = self.p
        side, key = p["side"], f"{p['side']}_km2"
        rows = [(parse_time(r["time"]), r["version_id"], r.get(key)) for r in self.rows]
        rows = [r for r in rows if r[2] is not None]
        t = v.valid_time
        now = [r for r in rows if r[1] == v.version_id]
        if not now:
            return Evaluation(None, {}, f"no area for version {v.version_id}")
        t0 = t - p["days"] * 86400
        # the map as it stood at t0 (the version valid then) and every version since
        before = [r for r in rows if r[0] <= t0]
        window = ([before[-1]] if before else []) + [r for r in rows if t0 < r[0] < t]
        if not window:
            return Evaluation(False, {"loss_km2": 0.0}, "no earlier version in the window")
        peak = max(window, key=lambda r: r[2])
        loss = peak[2] - now[0][2]
        vals = {
            "loss_km2": round(loss, 3),
            "threshold_km2": p["km2"],
            "days": p["days"],
            "region": p["region"],
            "from_version": peak[1],
            "from_time": iso(peak[0]),
            "from_km2": peak[2],
            "now_km2": now[0][2],
        }
        msg = (
            f"{side} lost {loss:,.1f} km² in {p['region']} since {iso(peak[0])[:16]} "
            f"(window {p['days']:g} days; threshold {p['km2']:,.1f} km²)"
        )
        return Evaluation(bool(loss > p["km2"]), vals, msg)


def _window_map(store: GeoPackageStore, v: VersionInfo, bounds: tuple[float, float, float, float]):
    """The version's :class:`~frontline.model.ControlMap` cut to a lon/lat window.

    A side's held ground is its home minus what others hold or contest there,
    plus what it holds abroad: built in the window only, it costs a few tile
    unions instead of a whole country's complement. Every boundary inside the
    window is the full map's, so a point or road well inside gets the same answer.
    """
    from ..model import ControlMap, utc
    from ..state import version_control

    vc = version_control(store, v)
    x0, y0, x1, y1 = bounds
    others = (*vc.sides, "contested")
    held = {}
    for s in vc.sides:
        home = shapely.clip_by_rect(vc.theatre.homes[s], x0, y0, x1, y1)
        cut = [shapely.clip_by_rect(vc.part(s, w), x0, y0, x1, y1) for w in others if w != s]
        own = shapely.difference(home, shapely.union_all(cut)) if cut else home
        held[s] = shapely.union(own, shapely.clip_by_rect(vc.abroad(s), x0, y0, x1, y1))
    th = vc.theatre
    theatre = shapely.union_all([shapely.clip_by_rect(h, x0, y0, x1, y1) for h in th.homes.values()])
    return ControlMap(
        source=v.source,
        version_id=v.version_id,
        valid_time=utc(v.valid_time),
        held=held,
        contested=shapely.clip_by_rect(vc.contested, x0, y0, x1, y1),
        theatre=theatre,
        control=vc,
    )


def _optional(module: str, attr: str):
    """``module.attr`` when the module exists (parts written by others may be absent)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


class _Settlement(_Evaluator):
    event = True

    def prepare(self, store):
        from ..sources.geonames import load_gazetteer

        p = self.p
        gaz = None
        if p.get("gazetteer"):
            gaz = load_gazetteer(p["gazetteer"])
        else:
            loader = _optional("frontline.store.reference", "load_settlements")
            if loader is not None:
                gaz = loader(store)
            if gaz is None or len(gaz) == 0:
                gaz = load_gazetteer(countries=p["countries"] or ["UA", "RU"])
        near = tuple(p["near"]) if p.get("near") else None
        res = gaz.name_index().resolve(p["settlement"], near=near)
        if not res.resolved:
            raise ValueError(f"rule {self.rule.name!r}: settlement {p['settlement']!r} is {res.status}: {res.reason}")
        i = res.best.index
        self.name = str(gaz.names[i])
        self.lonlat = (float(gaz.lon[i]), float(gaz.lat[i]))

    def evaluate(self, store, v, data):
        from ..analysis.settlements import settlement_status

        lon, lat = self.lonlat
        cmap = _window_map(store, v, (lon - 0.25, lat - 0.25, lon + 0.25, lat + 0.25))
        status = settlement_status((np.array([self.lonlat[0]]), np.array([self.lonlat[1]])), cmap, outside="outside")[0]
        status = None if status is None else str(status)
        prev = data.get("status")
        vals = {"settlement": self.name, "lon": self.lonlat[0], "lat": self.lonlat[1], "from": prev, "to": status}
        ev = Evaluation(None, vals, f"{self.name}: {status}", data={"status": status})
        if prev is not None and status != prev:
            ev.events.append((f"{self.name} changed hands: {prev} → {status}", vals))
        return ev


class _Road(_Evaluator):
    def prepare(self, store):
        from ..sources.osm import read_roads

        p = self.p
        _check_side(store, p["side"], f"rule {self.rule.name!r}")
        roads = None
        if p.get("roads"):
            roads = read_roads(p["roads"], classes=None)
        else:
            loader = _optional("frontline.store.reference", "load_roads")
            roads = loader(store) if loader is not None else None
            if roads is None or len(roads) == 0:
                raise ValueError(
                    f'rule {self.rule.name!r}: no roads: give roads = "<file>" or load roads into the store'
                )
        q = p["road"].strip().casefold()
        match = np.array(
            [
                q in (str(r).casefold(), str(n).casefold(), str(ne).casefold(), str(i).casefold())
                for r, n, ne, i in zip(roads.refs, roads.names, roads.names_en, roads.ids)
            ],
            dtype=bool,
        )
        if not match.any():
            some = ", ".join(sorted({str(x) for x in roads.refs if x})[:10])
            raise ValueError(
                f"rule {self.rule.name!r}: no road with ref, name or id {p['road']!r} "
                f"in {roads.source or 'the roads'} (refs include: {some or 'none'})"
            )
        self.roads = roads[match]
        from ..analysis.roads import DEFAULT_RANGES_KM

        self.ranges = dict(p["ranges_km"]) if p.get("ranges_km") else dict(DEFAULT_RANGES_KM)
        self.range = p.get("range") or min(self.ranges, key=self.ranges.get)
        if self.range not in self.ranges:
            raise ValueError(f"rule {self.rule.name!r}: range {self.range!r} is not one of {', '.join(self.ranges)}")

    def evaluate(self, store, v, data):
        from ..analysis.roads import road_exposure

        p = self.p
        # enemy ground further than the longest range (plus a margin) cannot reach the road
        x0, y0, x1, y1 = self.roads.bounds
        pad = (max(self.ranges.values()) + 10.0) / 100.0  # km → degrees of latitude (1° ≈ 111 km), with margin
        padx = pad / max(0.2, math.cos(math.radians(max(abs(y0), abs(y1)))))
        cmap = _window_map(store, v, (x0 - padx, y0 - pad, x1 + padx, y1 + pad))
        rows = road_exposure(self.roads, cmap, p["side"], self.ranges, roads_of_interest="all")
        length = sum(r["length_km"] for r in rows)
        exposed = sum(r["exposed_km"][self.range] for r in rows)
        pct = 100.0 * exposed / length if length else 0.0
        vals = {
            "road": p["road"],
            "exposed_pct": round(pct, 2),
            "threshold_pct": p["above_pct"],
            "exposed_km": round(exposed, 3),
            "length_km": round(length, 3),
            "range": self.range,
            "range_km": self.ranges[self.range],
        }
        msg = (
            f"{pct:.1f}% of road {p['road']} ({exposed:,.1f} of {length:,.1f} km) lies within "
            f"{self.ranges[self.range]:g} km ({self.range}) of enemy or contested ground "
            f"(threshold {p['above_pct']:g}%)"
        )
        return Evaluation(bool(pct > p["above_pct"]), vals, msg)


class _Claims(_Evaluator):
    event = True

    def prepare(self, store):
        self.verify = _optional("frontline.analysis.claims", "verify_all")
        if self.verify is None:
            log.warning("rule %r: frontline.analysis.claims is not available; rule skipped", self.rule.name)

    def evaluate(self, store, v, data):
        if self.verify is None:
            return Evaluation(None, {}, "claims module absent", data=data)
        changes = self.verify(store, window_days=self.p["window_days"], now=v.valid_time)
        seen = set(data.get("seen", []))
        ev = Evaluation(None, {"changes": len(changes)}, f"{len(changes)} claim status change(s)")
        for c in changes:
            cid = getattr(c, "claim_id", None)
            new = getattr(c, "new_status", None)
            key = f"{cid}:{new}:{getattr(c, 'version', None)}"
            if new not in self.p["statuses"] or key in seen:
                continue
            seen.add(key)
            vals = {
                "claim_id": cid,
                "old_status": getattr(c, "old_status", None),
                "new_status": new,
                "claim": getattr(c, "label", ""),
                "claim_version": getattr(c, "version", None),
                "claim_time": getattr(c, "time", None),
            }
            ev.events.append((f"claim {cid} is now {new}" + (f": {vals['claim']}" if vals["claim"] else ""), vals))
        ev.data = {"seen": sorted(seen)[-5000:]}
        return ev


_EVALUATORS = {
    "corridor_width": _Corridor,
    "area_loss": _AreaLoss,
    "settlement": _Settlement,
    "road_exposure": _Road,
    "claim_status": _Claims,
}
