"""The store methods not yet on PostGIS: each raises a clear ``NotImplementedError``.

The first PostGIS slice keeps the map itself (versions, features, spans,
pieces, areas, the import log); the bookkeeping tables (claims ledger and
events, settlements and roads layers, alert and live-pull state, stored
analysis results) still live only in the GeoPackage backend, so every
method of theirs refuses, naming the tables it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``Store`` methods of the bookkeeping tables, by what they belong to (``docs/postgis.md`` lists them).
UNPORTED = {
    "claims ledger and events": (
        "add_claims",
        "upsert_claims",
        "delete_claims",
        "list_claims",
        "get_claim",
        "claim_statuses",
        "save_claim_statuses",
        "claim_status_history",
        "add_events",
        "list_events",
    ),
    "settlements and roads layers": (
        "reference_info",
        "put_settlements",
        "load_settlements",
        "put_roads",
        "load_roads",
    ),
    "alert state": ("get_alert_state", "set_alert_state", "append_alert_log", "mark_alert_delivered", "alert_log"),
    "live-pull state": ("pull_checked", "remember_pull"),
    "stored analysis results": ("put_results", "get_result", "results_count", "result_keys"),
}


def _refuse(name: str, what: str) -> Callable[..., Any]:
    """A method raising ``NotImplementedError`` that names what is missing."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{name}: the {what} are not yet on PostGIS; use a GeoPackage store for them (docs/postgis.md)."
        )

    method.__name__ = name
    method.__doc__ = f"Not yet on PostGIS ({what})."
    return method


class UnportedTables:
    """Store methods of the bookkeeping tables, refusing with ``NotImplementedError`` on PostGIS."""


for _what, _names in UNPORTED.items():
    for _name in _names:
        setattr(UnportedTables, _name, _refuse(_name, _what))
