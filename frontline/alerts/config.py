"""Alert rules from TOML: the webhook, the TAK sink, the rules and each kind's settings, checked by rule and setting."""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontline.errors import InputError

log = logging.getLogger("frontline.alerts")


KINDS = ("corridor_width", "area_loss", "settlement", "road_exposure", "claim_status")


@dataclass
class WebhookConfig:
    """Where and how alerts are POSTed."""

    url: str
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class TakConfig:
    """Where alerts go as CoT markers: a TAK server or receiver, ``tcp://host:port`` or ``udp://host:port``."""

    url: str
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 1.0
    stale_hours: float = 24.0


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
    tak: TakConfig | None = None
    origin: str = "<rules>"


_NUM = (int, float)
# kind → {setting: (type(s), required, default)}
_SCHEMA: dict[str, dict[str, tuple]] = {
    "corridor_width": {
        "side": (str, True, None),
        "below_m": (_NUM, True, None),
        "include_contested": (bool, False, False),
        "scope": (str, False, "abroad"),
        "bbox": (list, False, None),
        "min_part_km2": (_NUM, False, None),
        "min_part_share": (_NUM, False, 0.05),
        "max_width_m": (_NUM, False, None),
    },
    "area_loss": {
        "side": (str, True, None),
        "km2": (_NUM, True, None),
        "days": (_NUM, True, None),
        "region": (str, False, "theatre"),
        "convention": (str, False, "clipped"),
    },
    "settlement": {
        "settlement": (str, True, None),
        "near": (list, False, None),
        "gazetteer": (str, False, None),
        "countries": (list, False, None),
    },
    "road_exposure": {
        "road": (str, True, None),
        "side": (str, True, None),
        "above_pct": (_NUM, True, None),
        "range": (str, False, None),
        "ranges_km": (dict, False, None),
        "roads": (str, False, None),
    },
    "claim_status": {
        "statuses": (list, False, ["confirmed", "contradicted"]),
        "window_days": (_NUM, False, 14),
    },
}
_HELP = {
    "side": "a side, e.g. 'ua'",
    "below_m": "a width in metres",
    "km2": "an area in km²",
    "days": "a number of days",
    "settlement": "a settlement name",
    "road": "a road ref, name or id",
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
    InputError
        A sentence naming the file, the rule (by position and name) and what
        is wrong: bad TOML (with its line and column), an unknown kind, a
        missing or mistyped setting, an unknown setting, a duplicate name.
    """
    doc, raw_rules, catch_up = _document(text, origin)
    rules: list[Rule] = []
    names: set[str] = set()
    for i, r in enumerate(raw_rules, 1):
        rules.append(_rule(r, f"{origin}: rule {i}", names))
    webhook = _webhook(doc["webhook"], origin) if "webhook" in doc else None
    tak = _tak(doc["tak"], origin) if "tak" in doc else None
    return AlertConfig(rules=rules, webhook=webhook, catch_up=catch_up, origin=origin, tak=tak)


def _document(text: str, origin: str) -> tuple[dict, list[dict], int]:
    """The TOML document, its ``[[rule]]`` tables and ``catch_up``, with the top level checked."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: not valid TOML: {exc}.") from None
    unknown_top = set(doc) - {"rule", "webhook", "catch_up", "tak"}
    if unknown_top:
        raise InputError(
            f"{origin}: unknown top-level key(s) {', '.join(sorted(unknown_top))}; "
            "expected [[rule]] tables, an optional [webhook], tak and catch_up."
        )
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise InputError(f"{origin}: rules must be [[rule]] tables.")
    catch_up = doc.get("catch_up", 10)
    if not isinstance(catch_up, int) or isinstance(catch_up, bool) or catch_up < 1:
        raise InputError(f"{origin}: catch_up must be a whole number ≥ 1, not {catch_up!r}.")
    return doc, raw_rules, catch_up


def _rule(r: dict, at: str, names: set[str]) -> Rule:
    """One ``[[rule]]`` table checked against its kind's settings (``at``: ``"<file>: rule N"``); adds its name."""
    name = r.get("name")
    where = at + (f" ({name!r})" if isinstance(name, str) else "")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: needs a 'name' (a non-empty string).")
    if name in names:
        raise InputError(f"{where}: the name {name!r} is used by another rule; names must be unique.")
    names.add(name)
    kind = r.get("kind")
    if kind not in _SCHEMA:
        raise InputError(f"{where}: unknown kind {kind!r}; choose from {', '.join(KINDS)}.")
    schema = _SCHEMA[kind]
    extra = set(r) - set(schema) - {"name", "kind"}
    if extra:
        raise InputError(
            f"{where}: unknown setting(s) {', '.join(sorted(extra))} for kind {kind!r}; known: {', '.join(schema)}."
        )
    params: dict[str, Any] = {}
    for key, (typ, required, default) in schema.items():
        if key not in r:
            if required:
                raise InputError(f"{where}: kind {kind!r} needs {key!r} ({_HELP.get(key, _type_name(typ))}).")
            params[key] = default
            continue
        val = r[key]
        ok = isinstance(val, typ) and not (typ is _NUM and isinstance(val, bool))
        if not ok:
            raise InputError(f"{where}: {key!r} must be {_type_name(typ)}, not {val!r}.")
        params[key] = val
    _check_params(where, kind, params)
    return Rule(name=name, kind=kind, params=params)


def _webhook(w, origin: str) -> WebhookConfig:
    """The ``[webhook]`` table checked: an http(s) URL, known settings, sane retry numbers."""
    if not isinstance(w, dict) or not isinstance(w.get("url"), str) or not w["url"].startswith(("http://", "https://")):
        raise InputError(f'{origin}: [webhook] needs url = "http(s)://…".')
    return _sink(WebhookConfig, w, "webhook", origin, {"headers": _headers})


def _headers(h) -> dict[str, str]:
    """A webhook's ``headers`` table as text names and values."""
    return {str(k): str(v) for k, v in dict(h).items()}


def _tak(t, origin: str) -> TakConfig:
    """The TAK sink: ``tak = "tcp://host:port"`` (or ``udp://``), or a ``[tak]`` table with ``url`` and settings."""
    from frontline.tak import parse_tak_url

    if isinstance(t, str):
        t = {"url": t}
    if not isinstance(t, dict) or not isinstance(t.get("url"), str):
        raise InputError(f'{origin}: tak needs a url, "tcp://host:port" or "udp://host:port".')
    tak = _sink(TakConfig, t, "tak", origin, {"stale_hours": float})
    parse_tak_url(tak.url, where=f"{origin}: tak")
    if tak.stale_hours <= 0:
        raise InputError(f"{origin}: [tak]: stale_hours > 0 is needed.")
    return tak


def _sink(cls, table: dict, name: str, origin: str, more: dict):
    """A delivery table (``[webhook]``, ``[tak]``) as ``cls``: known settings only, converted, sane retry numbers.

    ``more``: the table's own settings beyond ``url``, ``timeout_s``, ``retries`` and ``backoff_s``, with their
    converters; a setting not given keeps ``cls``'s default.
    """
    conv = {"timeout_s": float, "retries": int, "backoff_s": float, **more}
    extra = set(table) - {"url", *conv}
    if extra:
        raise InputError(f"{origin}: [{name}] has unknown setting(s) {', '.join(sorted(extra))}.")
    try:
        cfg = cls(url=table["url"], **{k: f(table[k]) for k, f in conv.items() if k in table})
    except (TypeError, ValueError) as exc:
        raise InputError(f"{origin}: [{name}]: {exc}.") from None
    if cfg.retries < 0 or cfg.timeout_s <= 0 or cfg.backoff_s < 0:
        raise InputError(f"{origin}: [{name}]: retries ≥ 0, timeout_s > 0 and backoff_s ≥ 0 are needed.")
    return cfg


def _check_params(where: str, kind: str, p: dict) -> None:
    """Value checks beyond types."""
    for key in ("below_m", "km2", "days", "window_days", "max_width_m", "min_part_km2"):
        if p.get(key) is not None and p[key] <= 0:
            raise InputError(f"{where}: {key!r} must be positive, not {p[key]!r}.")
    if kind == "corridor_width":
        if p["scope"] not in ("abroad", "all"):
            raise InputError(f"{where}: 'scope' must be 'abroad' or 'all', not {p['scope']!r}.")
        b = p.get("bbox")
        if b is not None and (
            len(b) != 4 or not all(isinstance(x, _NUM) for x in b) or not (b[0] < b[2] and b[1] < b[3])
        ):
            raise InputError(f"{where}: 'bbox' must be [min lon, min lat, max lon, max lat], not {b!r}.")
    if kind == "area_loss" and p["convention"] not in ("clipped", "as_drawn"):
        raise InputError(f"{where}: 'convention' must be 'clipped' or 'as_drawn', not {p['convention']!r}.")
    if kind == "settlement" and p.get("near") is not None:
        n = p["near"]
        if len(n) != 3 or not all(isinstance(x, _NUM) for x in n):
            raise InputError(f"{where}: 'near' must be [lon, lat, radius_km], not {n!r}.")
    if kind == "road_exposure":
        if not 0 <= p["above_pct"] <= 100:
            raise InputError(f"{where}: 'above_pct' must be a percentage from 0 to 100, not {p['above_pct']!r}.")
        rk = p.get("ranges_km")
        if rk is not None and not all(isinstance(v, _NUM) and v > 0 for v in rk.values()):
            raise InputError(f"{where}: 'ranges_km' must map range names to positive km, not {rk!r}.")
    if kind == "claim_status":
        allowed = {"confirmed", "contradicted", "unverified", "pending", "partly_confirmed"}
        bad = [s for s in p["statuses"] if not isinstance(s, str)]
        if bad or not p["statuses"]:
            raise InputError(
                f"{where}: 'statuses' must be a non-empty list of status names (e.g. {', '.join(sorted(allowed))})."
            )


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
        raise InputError(f"{path}: cannot read the alert rules ({exc}).") from None
    return parse_rules(text, str(path))
