"""What the live pull has fetched, kept in the store's own SQLite/GeoPackage file.

Table (created by :func:`ensure_table`, ``CREATE TABLE IF NOT EXISTS``):

``pull_state(source, version_id, updated_at, content_hash, checked_at, PRIMARY KEY (source, version_id))``
    Per version fetched: the feed's ``updatedAt`` it was fetched at, the
    content hash found and when. A version whose ``updatedAt`` moved but whose
    content is unchanged is then not fetched again on every run.

:mod:`frontline.live_pull` reaches this table only through the functions
here, so that another backend can keep it elsewhere.
"""

from __future__ import annotations

import time

from .gpkg import GeoPackageStore

__all__ = ["PULL_STATE_SCHEMA", "ensure_table", "checked", "remember"]

PULL_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pull_state (
  source TEXT NOT NULL, version_id TEXT NOT NULL, updated_at INTEGER, content_hash TEXT,
  checked_at INTEGER NOT NULL, PRIMARY KEY (source, version_id))
"""


def ensure_table(store: GeoPackageStore) -> None:
    """Create the ``pull_state`` table if missing.

    Parameters
    ----------
    store
        A writable store.
    """
    store.db.execute(PULL_STATE_SCHEMA)


def checked(store: GeoPackageStore, source: str) -> dict[str, int]:
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
    if store.readonly:
        try:
            rows = store.db.execute("SELECT version_id, updated_at FROM pull_state WHERE source=?", (source,))
            return {r[0]: r[1] for r in rows if r[1] is not None}
        except Exception:  # no table yet in a store never pulled into
            return {}
    ensure_table(store)
    return {
        r[0]: r[1]
        for r in store.db.execute("SELECT version_id, updated_at FROM pull_state WHERE source=?", (source,))
        if r[1] is not None
    }


def remember(store: GeoPackageStore, source: str, version_id: str, updated_at: int | None, content_hash: str) -> None:
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
    store.db.execute(
        "INSERT OR REPLACE INTO pull_state VALUES (?,?,?,?,?)",
        (source, version_id, updated_at, content_hash, int(time.time())),
    )
