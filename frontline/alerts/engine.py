"""The alert engine: each rule over the versions it has not seen, fired once per crossing, state kept in the store."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from frontline._json import plain
from frontline.model import iso
from frontline.store import GeoPackageStore, VersionInfo, alert_state

from .config import AlertConfig, Rule
from .notify import Alert, Notifier
from .rules import _EVALUATORS

log = logging.getLogger("frontline.alerts")


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
        self.notifier = notifier or Notifier(config.webhook, tak=config.tak)
        alert_state.ensure_tables(store)

    # -- state --------------------------------------------------------------
    def state(self, rule: Rule) -> dict[str, Any]:
        """The rule's persisted state (fresh when its settings changed)."""
        st = alert_state.get_state(self.store, rule.name, rule.fingerprint)
        if st is None:
            return {"active": False, "last_time": None, "last_revision": None, "data": {}}
        return st

    def _save(self, rule: Rule, st: dict) -> None:
        alert_state.set_state(
            self.store,
            rule.name,
            rule.fingerprint,
            st["active"],
            st["last_time"],
            st["last_revision"],
            plain(st["data"]),
        )

    def _log(self, alert: Alert, valid_time: int, delivered: bool) -> None:
        alert_state.append_log(
            self.store, alert.rule, alert.kind, alert.version, valid_time, alert.message, alert.payload(), delivered
        )

    def history(self) -> list[dict]:
        """Every alert fired so far, oldest first."""
        return alert_state.read_log(self.store)

    # -- running ------------------------------------------------------------
    def _todo(self, rule: Rule, st: dict, versions: list[VersionInfo]) -> list[VersionInfo]:
        if rule.kind == "claim_status":  # verify_all covers every claim at once: the latest version only
            versions = versions[-1:]
        lt, lr = st["last_time"], st["last_revision"]
        todo = [v for v in versions if lt is None or v.valid_time > lt or (v.valid_time == lt and v.revision != lr)]
        return todo[-self.config.catch_up :]

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
                    alerts.append(
                        Alert(rule.name, rule.kind, ev.message, ev.values, v.version_id, iso(v.valid_time), v.source)
                    )
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
