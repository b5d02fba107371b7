"""Alert rule state and the alert log, kept in the store (GeoPackage or PostGIS, through :mod:`._sql`).

Tables (created by :func:`ensure_tables`, ``CREATE TABLE IF NOT EXISTS``):

``alert_state(rule PK, fingerprint, active, last_time, last_revision, data json, updated_at)``
    Per rule: whether its condition is active, the last version it evaluated
    and its own data (e.g. a settlement's last status). A row whose
    ``fingerprint`` differs from the rule's settings counts as absent.
``alert_log(rule, kind, version_id, valid_time, fired_at, message, payload json, delivered)``
    Every alert fired, in firing order (``rowid``; on PostGIS an identity column ``row_id``).

:mod:`frontline.alerts` reaches these tables only through the functions here,
so that another backend can keep them elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._sql import sql_of

__all__ = [
    "ALERT_SCHEMA",
    "ensure_tables",
    "get_state",
    "set_state",
    "append_log",
    "mark_delivered",
    "read_log",
    "write_transaction",
]

_STATE_COLS = (
    "rule TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0, "
    "last_time {int}, last_revision INTEGER, data TEXT, updated_at {int} NOT NULL"
)
_LOG_COLS = (
    "rule TEXT NOT NULL, kind TEXT NOT NULL, version_id TEXT, valid_time {int}, fired_at {int} NOT NULL, "
    "message TEXT NOT NULL, payload TEXT NOT NULL, delivered INTEGER NOT NULL"
)

#: The tables' DDL per dialect; on PostgreSQL the log's order is an identity column (last, so that
#: ``INSERT … VALUES`` without a column list fills the same columns on both).
ALERT_SCHEMA = {
    "sqlite": f"""
CREATE TABLE IF NOT EXISTS alert_state ({_STATE_COLS.format(int="INTEGER")});
CREATE TABLE IF NOT EXISTS alert_log ({_LOG_COLS.format(int="INTEGER")});
""",
    "postgres": f"""
CREATE TABLE IF NOT EXISTS alert_state ({_STATE_COLS.format(int="bigint")});
CREATE TABLE IF NOT EXISTS alert_log ({_LOG_COLS.format(int="bigint")},
  row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
""",
}

_LOG_KEYS = ("rule", "kind", "version", "valid_time", "fired_at", "message", "delivered")


def ensure_tables(store: Any) -> None:
    """Create the alert state and log tables if missing.

    Parameters
    ----------
    store
        A writable store.
    """
    sql = sql_of(store)
    if not (sql.has_table("alert_state") and sql.has_table("alert_log")):
        sql.script(ALERT_SCHEMA)


def get_state(store: Any, rule: str, fingerprint: str) -> dict[str, Any] | None:
    """The persisted state of a rule, if it was saved with these settings.

    Parameters
    ----------
    store
        The store holding the state.
    rule
        The rule's name.
    fingerprint
        The rule's settings fingerprint; a row saved under another one is ignored.

    Returns
    -------
    dict or None
        ``{"active": bool, "last_time": int | None, "last_revision": int | None,
        "data": dict}``, or None when there is no row for the rule or its
        settings changed since.
    """
    sql = sql_of(store)
    if not sql.has_table("alert_state"):  # a store no rule ever ran on (a read-only one stays so)
        return None
    row = sql.fetchone(
        "SELECT fingerprint, active, last_time, last_revision, data FROM alert_state WHERE rule=?", (rule,)
    )
    if row is None or row[0] != fingerprint:
        return None
    return {"active": bool(row[1]), "last_time": row[2], "last_revision": row[3], "data": json.loads(row[4] or "{}")}


def set_state(
    store: Any,
    rule: str,
    fingerprint: str,
    active: bool,
    last_time: int | None,
    last_revision: int | None,
    data: dict[str, Any],
) -> None:
    """Save (replace) a rule's state.

    Parameters
    ----------
    store
        A writable store (the tables are created if missing).
    rule
        The rule's name.
    fingerprint
        The rule's settings fingerprint.
    active
        Whether its condition is currently true (fired, not yet re-armed).
    last_time, last_revision
        Valid time and revision of the last version it evaluated.
    data
        The rule's own data; must be JSON-serialisable.
    """
    ensure_tables(store)  # cheap once they exist (the check is cached per handle)
    sql_of(store).upsert(
        "alert_state",
        ("rule", "fingerprint", "active", "last_time", "last_revision", "data", "updated_at"),
        ("rule",),
        [
            (
                rule,
                fingerprint,
                int(active),
                last_time,
                last_revision,
                json.dumps(data, ensure_ascii=False),
                int(time.time()),
            )
        ],
    )


def append_log(
    store: Any,
    rule: str,
    kind: str,
    version_id: str | None,
    valid_time: int | None,
    message: str,
    payload: dict[str, Any],
    delivered: bool,
) -> None:
    """Append one fired alert to the log (``fired_at`` is now).

    Parameters
    ----------
    store
        A writable store (the tables are created if missing).
    rule, kind
        The rule's name and kind.
    version_id, valid_time
        The version the alert fired on.
    message
        The alert's text.
    payload
        The alert as delivered; must be JSON-serialisable.
    delivered
        Whether delivery has succeeded (see :func:`mark_delivered`).
    """
    ensure_tables(store)
    sql_of(store).execute(
        "INSERT INTO alert_log VALUES (?,?,?,?,?,?,?,?)",
        (
            rule,
            kind,
            version_id,
            valid_time,
            int(time.time()),
            message,
            json.dumps(payload, ensure_ascii=False),
            int(delivered),
        ),
    )


def mark_delivered(store: Any, rule: str, version_id: str | None, message: str) -> None:
    """Mark a logged alert as delivered.

    Parameters
    ----------
    store
        A writable store.
    rule, version_id, message
        Identify the alert (a rule fires one message per version at most once).
    """
    sql_of(store).execute(
        "UPDATE alert_log SET delivered=1 WHERE rule=? AND version_id=? AND message=?", (rule, version_id, message)
    )


def read_log(store: Any) -> list[dict[str, Any]]:
    """Every alert fired so far, oldest first.

    Parameters
    ----------
    store
        The store holding the log (:func:`ensure_tables` called).

    Returns
    -------
    list of dict
        ``rule``, ``kind``, ``version``, ``valid_time``, ``fired_at``,
        ``message``, ``delivered`` (0 or 1) per alert.
    """
    sql = sql_of(store)
    if not sql.has_table("alert_log"):  # nothing ever fired
        return []
    rows = sql.execute(
        "SELECT rule, kind, version_id, valid_time, fired_at, message, delivered FROM alert_log "
        f"ORDER BY {sql.order_col}"
    )
    return [dict(zip(_LOG_KEYS, r)) for r in rows]


@contextmanager
def write_transaction(store: Any) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises.

    Taken with :meth:`Any.begin` so that a concurrent writer waits
    at the start (the writer lock) rather than failing at commit.

    Parameters
    ----------
    store
        A writable store.
    """
    store.begin()
    try:
        yield
        store.commit()
    except Exception:
        store.rollback()
        raise
