"""Alert rules: tell people at once when the map crosses a line.

Rules live in a TOML file. Each ``[[rule]]`` has a unique ``name``, a
``kind`` and that kind's settings; an optional ``[webhook]`` says where
alerts are POSTed (they always go to the log, logger ``frontline.alerts``)::

    # how many new versions each rule looks at per run, oldest first (default 10)
    catch_up = 10

    [webhook]
    url = "https://hooks.example.org/frontline"   # JSON POST per alert
    timeout_s = 10          # per attempt
    retries = 3             # further attempts, exponential backoff with jitter
    backoff_s = 1.0
    headers = { Authorization = "Bearer …" }

    [[rule]]
    name = "kursk-neck"
    kind = "corridor_width"     # a salient's narrowest neck below a width
    side = "ua"
    below_m = 1000
    include_contested = false   # analyse held + grey ground instead of held only
    scope = "abroad"            # "abroad": the side's ground outside its home (salients);
                                # "all": all its ground (slow: a whole country)
    # bbox = [34.5, 50.9, 35.8, 51.6]   # optional: only ground in this lon/lat box

    [[rule]]
    name = "ua-loses-50km2-in-3-days"
    kind = "area_loss"          # loses more than km2 within days
    side = "ua"
    km2 = 50
    days = 3
    region = "russia"           # theatre, ukraine, russia, home:<side>, outside:<side>, a polygon file
    convention = "clipped"      # or "as_drawn"

    [[rule]]
    name = "sudzha"
    kind = "settlement"         # a named settlement changes hands
    settlement = "Sudzha"       # any spelling (Суджа, Sudža)
    near = [35.27, 51.19, 20]   # optional: lon, lat, radius km, to pick among namesakes
    # gazetteer = "RU.txt"      # optional; default: the store's settlements, else the built-in cities

    [[rule]]
    name = "r200-exposed"
    kind = "road_exposure"      # share of a road within a fire range of enemy/grey ground
    road = "R-200"              # ref, name or id of the road(s)
    side = "ua"                 # whose road
    above_pct = 50
    range = "fpv"               # a range name (default the nearest); ranges_km = {fpv = 10} to redefine
    # roads = "roads.geojson"   # optional; default: the store's roads (frontline.store.reference)

    [[rule]]
    name = "claims"
    kind = "claim_status"       # a claim in the ledger becomes confirmed or contradicted
    statuses = ["confirmed", "contradicted"]
    window_days = 14

Firing
------
Threshold rules (``corridor_width``, ``area_loss``, ``road_exposure``) fire
*once per crossing*: when their condition becomes true, and not again until
it has been false (re-armed) and becomes true again. Event rules fire per
event: ``settlement`` each time the place's status (``ua``, ``ru``,
``contested``) differs from the one last seen (the first look only records
it); ``claim_status`` for each status change :func:`frontline.analysis.claims.verify_all`
reports, once. Each run evaluates, per rule, the versions newer than the one
it last evaluated (the latest ``catch_up`` of them, oldest first), and the
last one again when it was revised.

State
-----
Persisted in the store (so it survives restarts): ``alert_state(rule,
fingerprint, active, last_time, last_revision, data, updated_at)`` and a log
``alert_log(rule, kind, version_id, valid_time, fired_at, message, payload,
delivered)``. A rule whose settings change (its fingerprint) starts afresh.
A webhook that keeps failing is logged and the alert counts as fired
(``delivered`` 0 in the log): a broken receiver never makes alerts repeat.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import random
import threading
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from .model import iso
from .store import GeoPackageStore, VersionInfo
from .store import alert_state

log = logging.getLogger("frontline.alerts")

KINDS = ("corridor_width", "area_loss", "settlement", "road_exposure", "claim_status")


# --------------------------------------------------------------------------- configuration

@dataclass
class WebhookConfig:
    """Where and how alerts are POSTed."""

    url: str
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Rule:
    """One alert rule: ``name``, ``kind`` and the kind's settings in ``params``."""

    name: str
    kind: str
    params: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """A hash of the rule's settings: state is reset when they change."""
        text = json.dumps({"kind": self.kind, **self.params}, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class AlertConfig:
    """Rules, webhook and catch-up depth read from a TOML file."""

    rules: list[Rule]
    webhook: WebhookConfig | None = None
    catch_up: int = 10
    origin: str = "<rules>"


_NUM = (int, float)
# kind → {setting: (type(s), required, default)}
_SCHEMA: dict[str, dict[str, tuple]] = {
    "corridor_width": {
        "side": (str, True, None), "below_m": (_NUM, True, None), "include_contested": (bool, False, False),
        "scope": (str, False, "abroad"), "bbox": (list, False, None), "min_part_km2": (_NUM, False, None),
        "min_part_share": (_NUM, False, 0.05), "max_width_m": (_NUM, False, None),
    },
    "area_loss": {
        "side": (str, True, None), "km2": (_NUM, True, None), "days": (_NUM, True, None),
        "region": (str, False, "theatre"), "convention": (str, False, "clipped"),
    },
    "settlement": {
        "settlement": (str, True, None), "near": (list, False, None), "gazetteer": (str, False, None),
        "countries": (list, False, None),
    },
    "road_exposure": {
        "road": (str, True, None), "side": (str, True, None), "above_pct": (_NUM, True, None),
        "range": (str, False, None), "ranges_km": (dict, False, None), "roads": (str, False, None),
    },
    "claim_status": {
        "statuses": (list, False, ["confirmed", "contradicted"]), "window_days": (_NUM, False, 14),
    },
}
_HELP = {
    "side": "a side, e.g. 'ua'", "below_m": "a width in metres", "km2": "an area in km²",
    "days": "a number of days", "settlement": "a settlement name", "road": "a road ref, name or id",
    "above_pct": "a percentage (0-100)",
}


def _type_name(t) -> str:
    if t is _NUM:
        return "a number"
    return {str: "a string", bool: "true or false", list: "a list", dict: "a table"}[t]


def parse_rules(text: str, origin: str = "<rules>") -> AlertConfig:
    """Read alert rules from TOML text.

    Parameters
    ----------
    text
        The TOML document (see the module docstring for the format).
    origin
        File name used in messages.

    Returns
    -------
    AlertConfig

    Raises
    ------
    ValueError
        A sentence naming the file, the rule (by position and name) and what
        is wrong: bad TOML (with its line and column), an unknown kind, a
        missing or mistyped setting, an unknown setting, a duplicate name.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin}: not valid TOML: {exc}.") from None
    unknown_top = set(doc) - {"rule", "webhook", "catch_up"}
    if unknown_top:
        raise ValueError(f"{origin}: unknown top-level key(s) {', '.join(sorted(unknown_top))}; "
                         "expected [[rule]] tables, an optional [webhook] and catch_up.")
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise ValueError(f"{origin}: rules must be [[rule]] tables.")
    catch_up = doc.get("catch_up", 10)
    if not isinstance(catch_up, int) or isinstance(catch_up, bool) or catch_up < 1:
        raise ValueError(f"{origin}: catch_up must be a whole number ≥ 1, not {catch_up!r}.")
    rules: list[Rule] = []
    names: set[str] = set()
    for i, r in enumerate(raw_rules, 1):
        name = r.get("name")
        where = f"{origin}: rule {i}" + (f" ({name!r})" if isinstance(name, str) else "")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: needs a 'name' (a non-empty string).")
        if name in names:
            raise ValueError(f"{where}: the name {name!r} is used by another rule; names must be unique.")
        names.add(name)
        kind = r.get("kind")
        if kind not in _SCHEMA:
            raise ValueError(f"{where}: unknown kind {kind!r}; choose from {', '.join(KINDS)}.")
        schema = _SCHEMA[kind]
        extra = set(r) - set(schema) - {"name", "kind"}
        if extra:
            raise ValueError(f"{where}: unknown setting(s) {', '.join(sorted(extra))} for kind {kind!r}; "
                             f"known: {', '.join(schema)}.")
        params: dict[str, Any] = {}
        for key, (typ, required, default) in schema.items():
            if key not in r:
                if required:
                    raise ValueError(f"{where}: kind {kind!r} needs {key!r} ({_HELP.get(key, _type_name(typ))}).")
                params[key] = default
                continue
            val = r[key]
            ok = isinstance(val, typ) and not (typ is _NUM and isinstance(val, bool))
            if not ok:
                raise ValueError(f"{where}: {key!r} must be {_type_name(typ)}, not {val!r}.")
            params[key] = val
        _check_params(where, kind, params)
        rules.append(Rule(name=name, kind=kind, params=params))
    webhook = None
    if "webhook" in doc:
        w = doc["webhook"]
        if not isinstance(w, dict) or not isinstance(w.get("url"), str) or not w["url"].startswith(("http://", "https://")):
            raise ValueError(f"{origin}: [webhook] needs url = \"http(s)://…\".")
        extra = set(w) - {"url", "timeout_s", "retries", "backoff_s", "headers"}
        if extra:
            raise ValueError(f"{origin}: [webhook] has unknown setting(s) {', '.join(sorted(extra))}.")
        try:
            webhook = WebhookConfig(url=w["url"], timeout_s=float(w.get("timeout_s", 10.0)),
                                    retries=int(w.get("retries", 3)), backoff_s=float(w.get("backoff_s", 1.0)),
                                    headers={str(k): str(v) for k, v in dict(w.get("headers", {})).items()})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{origin}: [webhook]: {exc}.") from None
        if webhook.retries < 0 or webhook.timeout_s <= 0 or webhook.backoff_s < 0:
            raise ValueError(f"{origin}: [webhook]: retries ≥ 0, timeout_s > 0 and backoff_s ≥ 0 are needed.")
    return AlertConfig(rules=rules, webhook=webhook, catch_up=catch_up, origin=origin)


def _check_params(where: str, kind: str, p: dict) -> None:
    """Value checks beyond types."""
    for key in ("below_m", "km2", "days", "window_days", "max_width_m", "min_part_km2"):
        if p.get(key) is not None and p[key] <= 0:
            raise ValueError(f"{where}: {key!r} must be positive, not {p[key]!r}.")
    if kind == "corridor_width":
        if p["scope"] not in ("abroad", "all"):
            raise ValueError(f"{where}: 'scope' must be 'abroad' or 'all', not {p['scope']!r}.")
        b = p.get("bbox")
        if b is not None and (len(b) != 4 or not all(isinstance(x, _NUM) for x in b) or not (b[0] < b[2] and b[1] < b[3])):
            raise ValueError(f"{where}: 'bbox' must be [min lon, min lat, max lon, max lat], not {b!r}.")
    if kind == "area_loss" and p["convention"] not in ("clipped", "as_drawn"):
        raise ValueError(f"{where}: 'convention' must be 'clipped' or 'as_drawn', not {p['convention']!r}.")
    if kind == "settlement" and p.get("near") is not None:
        n = p["near"]
        if len(n) != 3 or not all(isinstance(x, _NUM) for x in n):
            raise ValueError(f"{where}: 'near' must be [lon, lat, radius_km], not {n!r}.")
    if kind == "road_exposure":
        if not 0 <= p["above_pct"] <= 100:
            raise ValueError(f"{where}: 'above_pct' must be a percentage from 0 to 100, not {p['above_pct']!r}.")
        rk = p.get("ranges_km")
        if rk is not None and not all(isinstance(v, _NUM) and v > 0 for v in rk.values()):
            raise ValueError(f"{where}: 'ranges_km' must map range names to positive km, not {rk!r}.")
    if kind == "claim_status":
        allowed = {"confirmed", "contradicted", "unverified", "pending", "partly_confirmed"}
        bad = [s for s in p["statuses"] if not isinstance(s, str)]
        if bad or not p["statuses"]:
            raise ValueError(f"{where}: 'statuses' must be a non-empty list of status names "
                             f"(e.g. {', '.join(sorted(allowed))}).")


def load_rules(path: str | Path) -> AlertConfig:
    """Read an alert-rules TOML file (see the module docstring).

    Raises
    ------
    ValueError
        When the file cannot be read or a rule is wrong (message names the file and rule).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the alert rules ({exc}).") from None
    return parse_rules(text, str(path))


# --------------------------------------------------------------------------- alerts and delivery

@dataclass
class Alert:
    """One fired alert."""

    rule: str
    kind: str
    message: str
    values: dict[str, Any]
    version: str | None
    time: str | None
    source: str | None = None
    fired_at: str = field(default_factory=lambda: iso(time.time()))

    def payload(self) -> dict[str, Any]:
        """The JSON body POSTed to the webhook (stable field names)."""
        return {"rule": self.rule, "kind": self.kind, "message": self.message, "values": _plain(self.values),
                "version": self.version, "time": self.time, "source": self.source, "fired_at": self.fired_at}


def _plain(obj):
    """JSON-safe copy (numpy numbers, tuples)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


class Notifier:
    """Sends alerts to the log and, when configured, to a webhook (JSON POST, retried).

    Parameters
    ----------
    webhook
        Where to POST; None for the log only.
    sleep
        Wait function between attempts (tests may pass a fast one).
    stop_event
        Abandon waits between attempts when set.
    """

    def __init__(self, webhook: WebhookConfig | None = None, *, sleep=time.sleep,
                 stop_event: threading.Event | None = None):
        self.webhook = webhook
        self.sleep = sleep
        self.stop_event = stop_event
        self.rng = random.Random()

    def send(self, alert: Alert) -> bool:
        """Log the alert and POST it; True when the webhook took it (or there is none).

        Failures are logged, never raised.
        """
        log.warning("ALERT [%s] %s (version %s, %s)", alert.rule, alert.message, alert.version, alert.time)
        if self.webhook is None:
            return True
        w = self.webhook
        body = json.dumps(alert.payload(), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": _user_agent(), **w.headers}
        last = ""
        for attempt in range(w.retries + 1):
            req = urllib.request.Request(w.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=w.timeout_s) as resp:
                    resp.read()
                    if 200 <= resp.status < 300:
                        return True
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code in (400, 401, 403, 404, 405, 410, 413, 422):
                    break  # the receiver refuses it: retrying will not help
            except Exception as exc:  # network errors of every kind: logged, never fatal
                last = f"{type(exc).__name__}: {exc}"
            if attempt < w.retries:
                wait = w.backoff_s * (2 ** attempt) * (0.5 + 0.5 * self.rng.random())
                if self.stop_event is not None:
                    if self.stop_event.wait(wait):
                        break
                else:
                    self.sleep(wait)
        log.error("webhook %s did not take alert [%s] after %d attempt(s): %s", w.url, alert.rule,
                  attempt + 1, last)
        return False


def _user_agent() -> str:
    from .sources.live import user_agent

    return user_agent()


# --------------------------------------------------------------------------- evaluation

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
        from .analysis.corridors import corridor_inputs, find_necks
        from .state import version_control

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
        kw = {"min_part_share": p["min_part_share"], "alert_width_m": p["below_m"],
              "max_width_m": p["max_width_m"] or max(5000.0, 2.0 * p["below_m"])}
        if p.get("min_part_km2") is not None:
            kw["min_part_km2"] = p["min_part_km2"]
        try:
            rep = find_necks(ground, home=self.home, contested=contested, enemy=inputs["enemy"],
                             include_contested=bool(p["include_contested"]), **kw)
        except ValueError as exc:
            if "holds no ground" in str(exc):
                return Evaluation(False, {"width_m": None, "n_necks": 0}, str(exc))
            raise
        if not rep.necks:
            return Evaluation(False, {"width_m": None, "n_necks": 0}, "no neck")
        n = min(rep.necks, key=lambda x: x.width_m)
        vals = {"width_m": round(float(n.width_m), 1), "threshold_m": p["below_m"], "neck_type": n.type,
                "location": [round(float(n.location.x), 5), round(float(n.location.y), 5)],
                "cut_off_km2": round(float(n.parts[0].area_km2), 3), "n_necks": len(rep.necks),
                "mode": rep.mode}
        msg = (f"narrowest neck of {side}'s ground {'abroad ' if p['scope'] == 'abroad' else ''}is "
               f"{n.width_m:,.0f} m wide (threshold {p['below_m']:,.0f} m) at {vals['location'][1]:.4f}N "
               f"{vals['location'][0]:.4f}E; {vals['cut_off_km2']:,.1f} km² beyond it")
        return Evaluation(bool(n.width_m < p["below_m"]), vals, msg)


class _AreaLoss(_Evaluator):
    def prepare(self, store):
        from .analysis.area import area_series

        _check_side(store, self.p["side"], f"rule {self.rule.name!r}")
        self.rows = area_series(store, region=self.p["region"], convention=self.p["convention"], source=None)

    def evaluate(self, store, v, data):
        from .analysis.area import parse_time

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
        vals = {"loss_km2": round(loss, 3), "threshold_km2": p["km2"], "days": p["days"], "region": p["region"],
                "from_version": peak[1], "from_time": iso(peak[0]), "from_km2": peak[2], "now_km2": now[0][2]}
        msg = (f"{side} lost {loss:,.1f} km² in {p['region']} since {iso(peak[0])[:16]} "
               f"(window {p['days']:g} days; threshold {p['km2']:,.1f} km²)")
        return Evaluation(bool(loss > p["km2"]), vals, msg)


def _window_map(store: GeoPackageStore, v: VersionInfo, bounds: tuple[float, float, float, float]):
    """The version's :class:`~frontline.model.ControlMap` cut to a lon/lat window.

    A side's held ground is its home minus what others hold or contest there,
    plus what it holds abroad: built in the window only, it costs a few tile
    unions instead of a whole country's complement. Every boundary inside the
    window is the full map's, so a point or road well inside gets the same answer.
    """
    from .model import ControlMap, utc
    from .state import version_control

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
    return ControlMap(source=v.source, version_id=v.version_id, valid_time=utc(v.valid_time), held=held,
                      contested=shapely.clip_by_rect(vc.contested, x0, y0, x1, y1), theatre=theatre, control=vc)


def _optional(module: str, attr: str):
    """``module.attr`` when the module exists (parts written by others may be absent)."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


class _Settlement(_Evaluator):
    event = True

    def prepare(self, store):
        from .sources.geonames import load_gazetteer

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
        from .analysis.settlements import settlement_status

        lon, lat = self.lonlat
        cmap = _window_map(store, v, (lon - 0.25, lat - 0.25, lon + 0.25, lat + 0.25))
        status = settlement_status((np.array([self.lonlat[0]]), np.array([self.lonlat[1]])), cmap,
                                   outside="outside")[0]
        status = None if status is None else str(status)
        prev = data.get("status")
        vals = {"settlement": self.name, "lon": self.lonlat[0], "lat": self.lonlat[1], "from": prev, "to": status}
        ev = Evaluation(None, vals, f"{self.name}: {status}", data={"status": status})
        if prev is not None and status != prev:
            ev.events.append((f"{self.name} changed hands: {prev} → {status}", vals))
        return ev


class _Road(_Evaluator):
    def prepare(self, store):
        from .sources.osm import read_roads

        p = self.p
        _check_side(store, p["side"], f"rule {self.rule.name!r}")
        roads = None
        if p.get("roads"):
            roads = read_roads(p["roads"], classes=None)
        else:
            loader = _optional("frontline.store.reference", "load_roads")
            roads = loader(store) if loader is not None else None
            if roads is None or len(roads) == 0:
                raise ValueError(f"rule {self.rule.name!r}: no roads: give roads = \"<file>\" or load roads "
                                 "into the store")
        q = p["road"].strip().casefold()
        match = np.array([q in (str(r).casefold(), str(n).casefold(), str(ne).casefold(), str(i).casefold())
                          for r, n, ne, i in zip(roads.refs, roads.names, roads.names_en, roads.ids)], dtype=bool)
        if not match.any():
            some = ", ".join(sorted({str(x) for x in roads.refs if x})[:10])
            raise ValueError(f"rule {self.rule.name!r}: no road with ref, name or id {p['road']!r} "
                             f"in {roads.source or 'the roads'} (refs include: {some or 'none'})")
        self.roads = roads[match]
        from .analysis.roads import DEFAULT_RANGES_KM

        self.ranges = dict(p["ranges_km"]) if p.get("ranges_km") else dict(DEFAULT_RANGES_KM)
        self.range = p.get("range") or min(self.ranges, key=self.ranges.get)
        if self.range not in self.ranges:
            raise ValueError(f"rule {self.rule.name!r}: range {self.range!r} is not one of {', '.join(self.ranges)}")

    def evaluate(self, store, v, data):
        from .analysis.roads import road_exposure

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
        vals = {"road": p["road"], "exposed_pct": round(pct, 2), "threshold_pct": p["above_pct"],
                "exposed_km": round(exposed, 3), "length_km": round(length, 3), "range": self.range,
                "range_km": self.ranges[self.range]}
        msg = (f"{pct:.1f}% of road {p['road']} ({exposed:,.1f} of {length:,.1f} km) lies within "
               f"{self.ranges[self.range]:g} km ({self.range}) of enemy or contested ground "
               f"(threshold {p['above_pct']:g}%)")
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
            vals = {"claim_id": cid, "old_status": getattr(c, "old_status", None), "new_status": new,
                    "claim": getattr(c, "label", ""), "claim_version": getattr(c, "version", None),
                    "claim_time": getattr(c, "time", None)}
            ev.events.append((f"claim {cid} is now {new}" + (f": {vals['claim']}" if vals["claim"] else ""), vals))
        ev.data = {"seen": sorted(seen)[-5000:]}
        return ev


_EVALUATORS = {"corridor_width": _Corridor, "area_loss": _AreaLoss, "settlement": _Settlement,
               "road_exposure": _Road, "claim_status": _Claims}


# --------------------------------------------------------------------------- engine

@dataclass
class RuleRun:
    """What one rule did in one run."""

    rule: str
    evaluated: list[str] = field(default_factory=list)  # version ids
    fired: int = 0
    active: bool = False
    error: str | None = None
    last: dict[str, Any] = field(default_factory=dict)  # values at the last version evaluated


class AlertEngine:
    """Evaluates rules against a store's new versions and fires alerts once per crossing.

    Parameters
    ----------
    config
        Rules and webhook (:func:`load_rules`).
    store
        A writable store (the state tables are created in it).
    notifier
        Delivery; by default the log plus ``config.webhook``.
    """

    def __init__(self, config: AlertConfig, store: GeoPackageStore, notifier: Notifier | None = None):
        self.config = config
        self.store = store
        self.notifier = notifier or Notifier(config.webhook)
        alert_state.ensure_tables(store)

    # -- state --------------------------------------------------------------
    def state(self, rule: Rule) -> dict[str, Any]:
        """The rule's persisted state (fresh when its settings changed)."""
        st = alert_state.get_state(self.store, rule.name, rule.fingerprint)
        if st is None:
            return {"active": False, "last_time": None, "last_revision": None, "data": {}}
        return st

    def _save(self, rule: Rule, st: dict) -> None:
        alert_state.set_state(self.store, rule.name, rule.fingerprint, st["active"], st["last_time"],
                              st["last_revision"], _plain(st["data"]))

    def _log(self, alert: Alert, valid_time: int, delivered: bool) -> None:
        alert_state.append_log(self.store, alert.rule, alert.kind, alert.version, valid_time, alert.message,
                               alert.payload(), delivered)

    def history(self) -> list[dict]:
        """Every alert fired so far, oldest first."""
        return alert_state.read_log(self.store)

    # -- running ------------------------------------------------------------
    def _todo(self, rule: Rule, st: dict, versions: list[VersionInfo]) -> list[VersionInfo]:
        if rule.kind == "claim_status":  # verify_all covers every claim at once: the latest version only
            versions = versions[-1:]
        lt, lr = st["last_time"], st["last_revision"]
        todo = [v for v in versions if lt is None or v.valid_time > lt or (v.valid_time == lt and v.revision != lr)]
        return todo[-self.config.catch_up:]

    def run(self, stop_event: threading.Event | None = None) -> tuple[list[Alert], list[RuleRun]]:
        """Evaluate every rule on the versions it has not seen; fire and persist.

        Returns
        -------
        tuple
            ``(alerts fired, per-rule summaries)``. A rule that fails (bad
            settlement name, analysis error) is logged and reported in its
            summary; the other rules go on.
        """
        store = self.store
        fired: list[Alert] = []
        runs: list[RuleRun] = []
        if not store.sources():
            return fired, runs
        versions = store.versions()
        for rule in self.config.rules:
            if stop_event is not None and stop_event.is_set():
                break
            rr = RuleRun(rule.name)
            runs.append(rr)
            st = self.state(rule)
            rr.active = st["active"]
            todo = self._todo(rule, st, versions)
            if not todo:
                continue
            ev_cls = _EVALUATORS[rule.kind](rule)
            try:
                ev_cls.prepare(store)
            except Exception as exc:  # a rule that cannot run must not stop the others
                rr.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
                log.error("rule %r cannot run: %s", rule.name, rr.error)
                continue
            for v in todo:
                if stop_event is not None and stop_event.is_set():
                    break
                try:
                    ev = ev_cls.evaluate(store, v, st["data"])
                except Exception as exc:
                    rr.error = f"version {v.version_id}: {type(exc).__name__}: {exc}"
                    log.error("rule %r failed on version %s: %s", rule.name, v.version_id, exc, exc_info=True)
                    break
                rr.evaluated.append(v.version_id)
                rr.last = ev.values
                alerts: list[Alert] = []
                if ev_cls.event:
                    for msg, vals in ev.events:
                        alerts.append(Alert(rule.name, rule.kind, msg, vals, v.version_id, iso(v.valid_time), v.source))
                    if ev.data is not None:
                        st["data"] = ev.data
                elif ev.condition is True and not st["active"]:
                    alerts.append(Alert(rule.name, rule.kind, ev.message, ev.values, v.version_id,
                                        iso(v.valid_time), v.source))
                    st["active"] = True
                elif ev.condition is False and st["active"]:
                    st["active"] = False
                    log.info("rule %r re-armed at version %s: %s", rule.name, v.version_id, ev.message)
                st["last_time"], st["last_revision"] = v.valid_time, v.revision
                # State first, then delivery: a crash between them loses a notification
                # rather than repeating one on every restart.
                with alert_state.write_transaction(store):
                    self._save(rule, st)
                    for a in alerts:
                        self._log(a, v.valid_time, False)
                for a in alerts:
                    ok = self.notifier.send(a)
                    if ok:
                        alert_state.mark_delivered(store, a.rule, a.version, a.message)
                    fired.append(a)
                    rr.fired += 1
            rr.active = st["active"]
        return fired, runs
