"""What the live pull has fetched, kept in the store (GeoPackage or PostGIS).

Table (created by :func:`ensure_table`, ``CREATE TABLE IF NOT EXISTS``):

``pull_state(source, version_id, updated_at, content_hash, checked_at, PRIMARY KEY (source, version_id))``
    Per version fetched: the feed's ``updatedAt`` it was fetched at, the
    content hash found and when. A version whose ``updatedAt`` moved but whose
    content is unchanged is then not fetched again on every run.

:mod:`frontline.live_pull` reaches this table only through the store's
``pull_checked``/``remember_pull``, which run the functions here on either
backend (:mod:`._sql`).
"""

from __future__ import annotations

import time
from typing import Any

from ._sql import sql_of

__all__ = ["PULL_STATE_SCHEMA", "ensure_table", "checked", "remember"]

_COLS = "source TEXT NOT NULL, version_id TEXT NOT NULL, updated_at {int}, content_hash TEXT, checked_at {int} NOT NULL"

#: The table's DDL per dialect (``sqlite``, ``postgres``).
_DDL = "CREATE TABLE IF NOT EXISTS pull_state ({cols}, PRIMARY KEY (source, version_id));"
PULL_STATE_SCHEMA = {
    "sqlite": _DDL.format(cols=_COLS.format(int="INTEGER")),
    "postgres": _DDL.format(cols=_COLS.format(int="bigint")),
}


def ensure_table(store: Any) -> None:
    """Create the ``pull_state`` table if missing.

    Parameters
    ----------
    store
        A writable store.
    """
    sql = sql_of(store)
    if not sql.has_table("pull_state"):
        sql.script(PULL_STATE_SCHEMA)


def checked(store: Any, source: str) -> dict[str, int]:
    """The ``updatedAt`` each version of a source was last fetched at.

    Parameters
    ----------
    store
        The store pulled into; on a read-only store without the table (never
        pulled into) the answer is empty.
    source
        Source name in the store.

    Returns
    -------
    dict
        ``{version id: updatedAt (epoch seconds)}``, versions recorded without
        an ``updatedAt`` left out.
    """
    sql = sql_of(store)
    if store.readonly:
        if not sql.has_table("pull_state"):  # a store never pulled into
            return {}
    else:
        ensure_table(store)
    rows = sql.execute("SELECT version_id, updated_at FROM pull_state WHERE source=?", (source,))
    return {r[0]: r[1] for r in rows if r[1] is not None}


def remember(store: Any, source: str, version_id: str, updated_at: int | None, content_hash: str) -> None:
    """Record that a version was fetched at this ``updatedAt`` (replacing an earlier record).

    Parameters
    ----------
    store
        A writable store.
    source
        Source name in the store.
    version_id
        The feed's version id.
    updated_at
        The listing's ``updatedAt`` for it (epoch seconds), None if absent.
    content_hash
        Hash of the content fetched.
    """
    ensure_table(store)
    sql_of(store).upsert(
        "pull_state",
        ("source", "version_id", "updated_at", "content_hash", "checked_at"),
        ("source", "version_id"),
        [(source, version_id, updated_at, content_hash, int(time.time()))],
    )
