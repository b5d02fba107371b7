"""Alert rules: tell people at once when the map crosses a line.

Rules live in a TOML file. Each ``[[rule]]`` has a unique ``name``, a
``kind`` and that kind's settings; an optional ``[webhook]`` says where
alerts are POSTed and an optional ``tak`` where they are sent as Cursor-on-Target markers
(``tak = "tcp://host:8087"`` or ``udp://``; ``docs/tak.md``). They always go to the log,
logger ``frontline.alerts``::

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

Modules: ``config`` (the TOML rules, checked), ``rules`` (one evaluator per kind), ``notify`` (log and webhook),
``engine`` (runs the rules over new versions, once per crossing, state in the store).
"""

from .config import KINDS, AlertConfig, Rule, TakConfig, WebhookConfig, load_rules, parse_rules
from .engine import AlertEngine, RuleRun
from .notify import Alert, Notifier
from .rules import Evaluation

__all__ = [
    "KINDS",
    "AlertConfig",
    "Rule",
    "WebhookConfig",
    "TakConfig",
    "load_rules",
    "parse_rules",
    "AlertEngine",
    "RuleRun",
    "Alert",
    "Notifier",
    "Evaluation",
]
