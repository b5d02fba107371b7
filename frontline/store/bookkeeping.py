"""The bookkeeping tables as store methods on either backend, delegating to their modules.

Claims ledger and events (:mod:`.ledger`), reference layers (:mod:`.reference`),
alert state (:mod:`.alert_state`), live-pull state (:mod:`.pull_state`) and
stored results (:mod:`.results`) each keep their tables in their own module as
functions taking the store first, whose SQL runs on SQLite and PostgreSQL
alike (:mod:`._sql`); this mixin makes them the methods of
:class:`~frontline.store.base.Store`. The modules are imported when a method
is first called (they import the backends' helpers).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: ``Store`` method → ``(module, function)`` for every bookkeeping method.
METHODS = {
    # claims ledger and events
    "add_claims": ("ledger", "add_claims"),
    "upsert_claims": ("ledger", "upsert_claims"),
    "delete_claims": ("ledger", "delete_claims"),
    "list_claims": ("ledger", "list_claims"),
    "get_claim": ("ledger", "get_claim"),
    "claim_statuses": ("ledger", "current_status"),
    "save_claim_statuses": ("ledger", "save_statuses"),
    "claim_status_history": ("ledger", "status_history"),
    "add_events": ("ledger", "add_events"),
    "list_events": ("ledger", "list_events"),
    # reference layers
    "reference_info": ("reference", "reference_info"),
    "put_settlements": ("reference", "put_settlements"),
    "load_settlements": ("reference", "load_settlements"),
    "put_roads": ("reference", "put_roads"),
    "load_roads": ("reference", "load_roads"),
    # alert and live-pull state
    "get_alert_state": ("alert_state", "get_state"),
    "set_alert_state": ("alert_state", "set_state"),
    "append_alert_log": ("alert_state", "append_log"),
    "mark_alert_delivered": ("alert_state", "mark_delivered"),
    "alert_log": ("alert_state", "read_log"),
    "pull_checked": ("pull_state", "checked"),
    "remember_pull": ("pull_state", "remember"),
    # stored analysis results
    "put_results": ("results", "put_results"),
    "get_result": ("results", "get_result"),
    "results_count": ("results", "stored_count"),
    "result_keys": ("results", "current_keys"),
}


def _delegate(name: str, module: str, function: str) -> Callable[..., Any]:
    """A method calling ``frontline.store.<module>.<function>(store, ...)``."""

    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"{__package__}.{module}"), function)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``{module}.{function}`` on this store (see :class:`~frontline.store.base.Store`)."
    return method


class BookkeepingTables:
    """Store methods for the bookkeeping tables (ledger, reference layers, alert/pull state, results)."""

    add_claims = _delegate("add_claims", "ledger", "add_claims")
    upsert_claims = _delegate("upsert_claims", "ledger", "upsert_claims")
    delete_claims = _delegate("delete_claims", "ledger", "delete_claims")
    list_claims = _delegate("list_claims", "ledger", "list_claims")
    get_claim = _delegate("get_claim", "ledger", "get_claim")
    claim_statuses = _delegate("claim_statuses", "ledger", "current_status")
    save_claim_statuses = _delegate("save_claim_statuses", "ledger", "save_statuses")
    claim_status_history = _delegate("claim_status_history", "ledger", "status_history")
    add_events = _delegate("add_events", "ledger", "add_events")
    list_events = _delegate("list_events", "ledger", "list_events")
    reference_info = _delegate("reference_info", "reference", "reference_info")
    put_settlements = _delegate("put_settlements", "reference", "put_settlements")
    load_settlements = _delegate("load_settlements", "reference", "load_settlements")
    put_roads = _delegate("put_roads", "reference", "put_roads")
    load_roads = _delegate("load_roads", "reference", "load_roads")
    get_alert_state = _delegate("get_alert_state", "alert_state", "get_state")
    set_alert_state = _delegate("set_alert_state", "alert_state", "set_state")
    append_alert_log = _delegate("append_alert_log", "alert_state", "append_log")
    mark_alert_delivered = _delegate("mark_alert_delivered", "alert_state", "mark_delivered")
    alert_log = _delegate("alert_log", "alert_state", "read_log")
    pull_checked = _delegate("pull_checked", "pull_state", "checked")
    remember_pull = _delegate("remember_pull", "pull_state", "remember")
    put_results = _delegate("put_results", "results", "put_results")
    get_result = _delegate("get_result", "results", "get_result")
    results_count = _delegate("results_count", "results", "stored_count")
    result_keys = _delegate("result_keys", "results", "current_keys")
