"""The claims and evidence ledger, kept in the store's own SQLite/GeoPackage file.

Tables (created on the first write, ``CREATE TABLE IF NOT EXISTS``):

``claims(claim_id, uid UNIQUE, kind, claimant, published_at, lon, lat, data json, added_at)``
    One row per distinct claim; ``data`` is :meth:`Claim.to_dict` plus the
    name resolution (``resolution``: status, point used, candidates).
``claim_status(claim_id PK, status, detail json, version_pk, version_id, version_time, computed_at)``
    The current verification result of each claim.
``claim_status_history(claim_id, old_status, new_status, version_pk, version_id, version_time, changed_at, detail)``
    Every change of status, with the latest version when it was computed
    (the version whose arrival caused it).
``events(event_id, uid UNIQUE, time, lon, lat, precision_m, side, type, source_url, confidence, title, data json)``
    Geolocated evidence.

Every write is one transaction. Reading works on a read-only store that has
no ledger tables yet (the web server's): it answers empty.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .gpkg import GeoPackageStore

__all__ = ["LEDGER_SCHEMA", "ensure_tables", "has_table", "add_claims", "list_claims", "get_claim",
           "current_status", "save_statuses", "status_history", "add_events", "list_events", "delete_claims"]

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
  claim_id INTEGER PRIMARY KEY, uid TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, claimant TEXT NOT NULL,
  published_at INTEGER NOT NULL, lon REAL, lat REAL, data TEXT NOT NULL, added_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS claims_time ON claims (published_at);
CREATE TABLE IF NOT EXISTS claim_status (
  claim_id INTEGER PRIMARY KEY REFERENCES claims(claim_id) ON DELETE CASCADE, status TEXT NOT NULL,
  detail TEXT, version_pk INTEGER, version_id TEXT, version_time INTEGER, computed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS claim_status_history (
  claim_id INTEGER NOT NULL REFERENCES claims(claim_id) ON DELETE CASCADE, old_status TEXT, new_status TEXT NOT NULL,
  version_pk INTEGER, version_id TEXT, version_time INTEGER, changed_at INTEGER NOT NULL, detail TEXT);
CREATE INDEX IF NOT EXISTS claim_history_claim ON claim_status_history (claim_id, changed_at);
CREATE TABLE IF NOT EXISTS events (
  event_id INTEGER PRIMARY KEY, uid TEXT UNIQUE NOT NULL, time INTEGER NOT NULL, lon REAL NOT NULL,
  lat REAL NOT NULL, precision_m REAL, side TEXT, type TEXT NOT NULL, source_url TEXT, confidence REAL,
  title TEXT, data TEXT, added_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_lonlat ON events (lon, lat);
"""


def has_table(store: GeoPackageStore, name: str) -> bool:
    """Whether the store's file has table ``name`` (false on a store never written by the ledger)."""
    return store.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def ensure_tables(store: GeoPackageStore) -> None:
    """Create the ledger tables if missing (needs a writable store)."""
    if getattr(store, "readonly", False):
        raise ValueError(f"{store.path} is open read-only: the ledger cannot be written.")
    if has_table(store, "claims") and has_table(store, "events") and has_table(store, "claim_status_history"):
        return
    store.db.executescript(LEDGER_SCHEMA)


class _Tx:
    """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""

    def __init__(self, store: GeoPackageStore):
        self.db = store.db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, et, ev, tb):
        self.db.execute("COMMIT" if et is None else "ROLLBACK")
        return False


# ---------------------------------------------------------------- claims

def add_claims(store: GeoPackageStore, claims: Sequence[Any], resolutions: Sequence[dict | None] | None = None
               ) -> list[tuple[int, bool]]:
    """Store claims (one transaction); an identical claim already stored is not added again.

    Parameters
    ----------
    store
        A writable store.
    claims
        :class:`frontline.sources.claims.Claim` objects; their ``claim_id``
        is set.
    resolutions
        Per claim, the name resolution to keep with it (or None).

    Returns
    -------
    list of (claim_id, added)
        ``added`` is False for a claim that was already in the ledger.
    """
    ensure_tables(store)
    now = int(time.time())
    out = []
    with _Tx(store) as db:
        for i, c in enumerate(claims):
            uid = c.uid()
            row = db.execute("SELECT claim_id FROM claims WHERE uid=?", (uid,)).fetchone()
            if row:
                c.claim_id = row[0]
                out.append((row[0], False))
                continue
            data = c.to_dict()
            if resolutions is not None and resolutions[i] is not None:
                data["resolution"] = resolutions[i]
            cur = db.execute("INSERT INTO claims (uid, kind, claimant, published_at, lon, lat, data, added_at) "
                             "VALUES (?,?,?,?,?,?,?,?)",
                             (uid, c.kind, c.claimant, c.published_at, c.lon, c.lat,
                              json.dumps(data, ensure_ascii=False), now))
            c.claim_id = cur.lastrowid
            out.append((cur.lastrowid, True))
    return out


def delete_claims(store: GeoPackageStore, claim_ids: Iterable[int]) -> int:
    """Remove claims with their status and history; returns how many were removed."""
    ensure_tables(store)
    ids = list(claim_ids)
    with _Tx(store) as db:
        n = 0
        for cid in ids:
            db.execute("DELETE FROM claim_status WHERE claim_id=?", (cid,))
            db.execute("DELETE FROM claim_status_history WHERE claim_id=?", (cid,))
            n += db.execute("DELETE FROM claims WHERE claim_id=?", (cid,)).rowcount
    return n


def list_claims(store: GeoPackageStore, ids: Sequence[int] | None = None) -> list[dict]:
    """Stored claims as dicts (``Claim.to_dict`` + ``claim_id``), oldest first; empty when none."""
    if not has_table(store, "claims"):
        return []
    sql = "SELECT claim_id, data FROM claims"
    args: list = []
    if ids is not None:
        ids = list(ids)
        if not ids:
            return []
        sql += f" WHERE claim_id IN ({','.join('?' * len(ids))})"
        args = ids
    out = []
    for cid, data in store.db.execute(sql + " ORDER BY published_at, claim_id", args):
        d = json.loads(data)
        d["claim_id"] = cid
        out.append(d)
    return out


def get_claim(store: GeoPackageStore, claim_id: int) -> dict | None:
    """One stored claim, or None."""
    rows = list_claims(store, [claim_id])
    return rows[0] if rows else None


def current_status(store: GeoPackageStore) -> dict[int, dict]:
    """``claim_id → {status, detail, version_id, version_time, computed_at}``."""
    if not has_table(store, "claim_status"):
        return {}
    out = {}
    for cid, status, detail, vpk, vid, vt, at in store.db.execute(
            "SELECT claim_id, status, detail, version_pk, version_id, version_time, computed_at FROM claim_status"):
        out[cid] = {"status": status, "detail": json.loads(detail) if detail else {}, "version_pk": vpk,
                    "version_id": vid, "version_time": vt, "computed_at": at}
    return out


def save_statuses(store: GeoPackageStore, results: Sequence[tuple[int, str, dict]], version: Any | None
                  ) -> list[tuple[int, str | None, str]]:
    """Write current statuses and record every change in the history (one transaction).

    Parameters
    ----------
    store
        A writable store.
    results
        ``(claim_id, status, detail)`` per claim.
    version
        The latest version the results were computed against (``VersionInfo``) or None.

    Returns
    -------
    list of (claim_id, old_status, new_status)
        The claims whose status changed (old is None for a first status).
    """
    ensure_tables(store)
    now = int(time.time())
    vpk = getattr(version, "pk", None)
    vid = getattr(version, "version_id", None)
    vt = getattr(version, "valid_time", None)
    old = {cid: st for cid, st in store.db.execute("SELECT claim_id, status FROM claim_status")}
    changes = []
    with _Tx(store) as db:
        rows, hist = [], []
        for cid, status, detail in results:
            dj = json.dumps(detail, ensure_ascii=False, default=str)
            rows.append((cid, status, dj, vpk, vid, vt, now))
            if old.get(cid) != status:
                hist.append((cid, old.get(cid), status, vpk, vid, vt, now, dj))
                changes.append((cid, old.get(cid), status))
        db.executemany("INSERT OR REPLACE INTO claim_status VALUES (?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO claim_status_history VALUES (?,?,?,?,?,?,?,?)", hist)
    return changes


def status_history(store: GeoPackageStore, claim_id: int) -> list[dict]:
    """Every change of status of one claim, oldest first."""
    if not has_table(store, "claim_status_history"):
        return []
    cols = ("old_status", "new_status", "version_pk", "version_id", "version_time", "changed_at", "detail")
    out = []
    for r in store.db.execute(f"SELECT {', '.join(cols)} FROM claim_status_history WHERE claim_id=? "
                              "ORDER BY changed_at, rowid", (int(claim_id),)):
        d = dict(zip(cols, r))
        d["detail"] = json.loads(d["detail"]) if d["detail"] else {}
        out.append(d)
    return out


# ---------------------------------------------------------------- events

def add_events(store: GeoPackageStore, events: Sequence[Any]) -> tuple[int, int]:
    """Store events (one transaction); returns ``(added, already present)``."""
    ensure_tables(store)
    now = int(time.time())
    added = dup = 0
    with _Tx(store) as db:
        for e in events:
            uid = e.uid()
            try:
                cur = db.execute(
                    "INSERT INTO events (uid, time, lon, lat, precision_m, side, type, source_url, confidence, title, "
                    "data, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (uid, e.time, e.lon, e.lat, e.precision_m, e.side, e.type, e.source_url, e.confidence, e.title,
                     json.dumps({"props": e.props, "origin": e.origin, "source_id": e.source_id},
                                ensure_ascii=False, default=str), now))
                e.event_id = cur.lastrowid
                added += 1
            except sqlite3.IntegrityError:
                e.event_id = db.execute("SELECT event_id FROM events WHERE uid=?", (uid,)).fetchone()[0]
                dup += 1
    return added, dup


def list_events(store: GeoPackageStore, *, bbox: tuple[float, float, float, float] | None = None,
                start: int | None = None, end: int | None = None, limit: int | None = None) -> list:
    """Stored events as :class:`frontline.sources.events.Event`, in time order; empty when none."""
    from ..sources.events import Event

    if not has_table(store, "events"):
        return []
    sql = ("SELECT event_id, time, lon, lat, precision_m, side, type, source_url, confidence, title, data "
           "FROM events WHERE 1=1")
    args: list = []
    if bbox is not None:
        sql += " AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?"
        args += [bbox[0], bbox[2], bbox[1], bbox[3]]
    if start is not None:
        sql += " AND time >= ?"
        args.append(int(start))
    if end is not None:
        sql += " AND time <= ?"
        args.append(int(end))
    sql += " ORDER BY time, event_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out = []
    for eid, t, lon, lat, prec, side, typ, url, conf, title, data in store.db.execute(sql, args):
        d = json.loads(data or "{}")
        out.append(Event(time=t, lon=lon, lat=lat, precision_m=prec, side=side, type=typ, source_url=url or "",
                         confidence=conf, title=title or "", source_id=d.get("source_id", ""),
                         origin=d.get("origin", ""), props=d.get("props", {}), event_id=eid))
    return out
