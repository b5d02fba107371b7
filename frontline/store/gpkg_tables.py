"""The GeoPackage backend's bookkeeping tables as store methods, delegating to their modules.

Claims ledger and events (:mod:`.ledger`), reference layers (:mod:`.reference`),
alert state (:mod:`.alert_state`), live-pull state (:mod:`.pull_state`) and
stored results (:mod:`.results`) each keep their tables in their own module as
functions taking the store first; this mixin makes them the methods of
:class:`~frontline.store.base.Store` (whose signatures and documentation they
follow) on :class:`~frontline.store.gpkg.GeoPackageStore`. The modules import
the backend, so each is imported when a method is first called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def _delegate(module: str, function: str) -> Callable[..., Any]:
    """A method calling ``frontline.store.<module>.<function>(store, ...)``."""

    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"{__package__}.{module}"), function)(self, *args, **kwargs)

    method.__name__ = function
    method.__doc__ = f"``{module}.{function}`` on this store (see :class:`~frontline.store.base.Store`)."
    return method


def _alert_log(self) -> list[dict[str, Any]]:
    """Every fired alert, oldest first (none from a store that never logged one)."""
    from . import alert_state, ledger

    return alert_state.read_log(self) if ledger.has_table(self, "alert_log") else []


class GeoPackageTables:
    """Store methods for the bookkeeping tables of one GeoPackage store."""

    # claims ledger and events
    add_claims = _delegate("ledger", "add_claims")
    upsert_claims = _delegate("ledger", "upsert_claims")
    delete_claims = _delegate("ledger", "delete_claims")
    list_claims = _delegate("ledger", "list_claims")
    get_claim = _delegate("ledger", "get_claim")
    claim_statuses = _delegate("ledger", "current_status")
    save_claim_statuses = _delegate("ledger", "save_statuses")
    claim_status_history = _delegate("ledger", "status_history")
    add_events = _delegate("ledger", "add_events")
    list_events = _delegate("ledger", "list_events")
    # reference layers
    reference_info = _delegate("reference", "reference_info")
    put_settlements = _delegate("reference", "put_settlements")
    load_settlements = _delegate("reference", "load_settlements")
    put_roads = _delegate("reference", "put_roads")
    load_roads = _delegate("reference", "load_roads")
    # alert and live-pull state
    get_alert_state = _delegate("alert_state", "get_state")
    set_alert_state = _delegate("alert_state", "set_state")
    append_alert_log = _delegate("alert_state", "append_log")
    mark_alert_delivered = _delegate("alert_state", "mark_delivered")
    alert_log = _alert_log
    pull_checked = _delegate("pull_state", "checked")
    remember_pull = _delegate("pull_state", "remember")
    # stored analysis results
    put_results = _delegate("results", "put_results")
    get_result = _delegate("results", "get_result")
    results_count = _delegate("results", "stored_count")
    result_keys = _delegate("results", "current_keys")
