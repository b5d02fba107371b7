"""The claims and evidence ledger, kept in the store's own SQLite/GeoPackage file.

Tables (created on the first write, ``CREATE TABLE IF NOT EXISTS``):

``claims(claim_id, uid UNIQUE, kind, claimant, published_at, lon, lat, data json, added_at, ref UNIQUE)``
    One row per distinct claim; ``data`` is :meth:`Claim.to_dict` plus the
    name resolution (``resolution``: status, point used, candidates);
    ``ref`` is the user's own id (``claim_id``/``id`` column of a file):
    a claim with a known ref updates the stored one (:func:`upsert_claims`).
``claim_status(claim_id PK, status, detail json, version_pk, version_id, version_time, computed_at)``
    The current verification result of each claim.
``claim_status_history(claim_id, old_status, new_status, version_pk, version_id, version_time, changed_at, detail)``
    Every change of status, with the latest version when it was computed
    (the version whose arrival caused it). An edit of the claim itself is a
    row with ``new_status = 'edited'`` and ``detail.edited`` = the changed
    fields ``{field: [old, new]}`` (the old values stay readable there).
``events(event_id, uid UNIQUE, time, lon, lat, precision_m, side, type, source_url, confidence, title, data json)``
    Geolocated evidence. The same event read from two formats (or two
    exports) is stored once: same time within :data:`EVENT_MERGE_S`, place
    within :data:`EVENT_MERGE_M` and the same title (or, untitled, the
    same type) → merged into the stored one, whose ``data.merged`` lists
    where the others came from and what they said differently.

Every write is one transaction. Reading works on a read-only store that has
no ledger tables yet (the web server's): it answers empty.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .gpkg import GeoPackageStore

__all__ = [
    "LEDGER_SCHEMA",
    "ensure_tables",
    "has_table",
    "add_claims",
    "upsert_claims",
    "list_claims",
    "get_claim",
    "current_status",
    "save_statuses",
    "status_history",
    "add_events",
    "list_events",
    "delete_claims",
    "EVENT_MERGE_S",
    "EVENT_MERGE_M",
    "EventImport",
]

EVENT_MERGE_S = 60  # seconds: exports of one event differ by rounding of the time, not more
EVENT_MERGE_M = 50.0  # metres: coordinates rounded differently by exporters (5 decimals ≈ 1 m, 3 ≈ 100 m)

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


def _has_ref(store: GeoPackageStore) -> bool:
    return any(r[1] == "ref" for r in store.db.execute("PRAGMA table_info(claims)"))


def ensure_tables(store: GeoPackageStore) -> None:
    """Create the ledger tables if missing, and add the ``ref`` column to an older ledger (needs a writable store)."""
    if getattr(store, "readonly", False):
        raise ValueError(f"{store.path} is open read-only: the ledger cannot be written.")
    if not (has_table(store, "claims") and has_table(store, "events") and has_table(store, "claim_status_history")):
        store.db.executescript(LEDGER_SCHEMA)
    if not _has_ref(store):
        store.db.execute("ALTER TABLE claims ADD COLUMN ref TEXT")
        store.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS claims_ref ON claims (ref) WHERE ref IS NOT NULL")


class _Tx:
    """One write transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""

    def __init__(self, store: GeoPackageStore):
        self.store, self.db = store, store.db

    def __enter__(self):
        self.store.begin()  # waits for other writers (the writer lock)
        return self.db

    def __exit__(self, et, ev, tb):
        if et is None:
            self.store.commit()
        else:
            self.store.rollback()
        return False


# ---------------------------------------------------------------- claims


def add_claims(
    store: GeoPackageStore, claims: Sequence[Any], resolutions: Sequence[dict | None] | None = None
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
        ``added`` is False for a claim that was already in the ledger (or
        that updated one by its ``ref``; :func:`upsert_claims` tells which).
    """
    return [(cid, outcome == "added") for cid, outcome in upsert_claims(store, claims, resolutions)]


_EDIT_SKIP = {"claim_id", "origin", "extra", "resolution", "published_at"}


def _edited(old: dict, new: dict) -> dict:
    """``{field: [old, new]}`` of what a re-imported row changed (where it came from is not a change)."""
    keys = (set(old) | set(new)) - _EDIT_SKIP
    out = {k: [old.get(k), new.get(k)] for k in sorted(keys) if old.get(k) != new.get(k)}
    if (old.get("extra") or {}) != (new.get("extra") or {}):
        out["extra"] = [old.get("extra"), new.get("extra")]
    return out


def upsert_claims(
    store: GeoPackageStore, claims: Sequence[Any], resolutions: Sequence[dict | None] | None = None
) -> list[tuple[int, str]]:
    """Store claims (one transaction): add new ones, update those whose ``ref`` is known and whose content changed.

    Parameters
    ----------
    store
        A writable store.
    claims
        :class:`frontline.sources.claims.Claim` objects; their ``claim_id`` is set.
    resolutions
        Per claim, the name resolution to keep with it (or None).

    Returns
    -------
    list of (claim_id, outcome)
        ``outcome``: ``added``, ``updated`` (same ref, new content: the
        history gets an ``edited`` row naming the fields and their old
        values) or ``unchanged`` (already stored as it is).

    Raises
    ------
    ValueError
        When an updated claim would become identical to another stored
        claim (nothing is written then).
    """
    ensure_tables(store)
    now = int(time.time())
    out: list[tuple[int, str]] = []
    status = {cid: st for cid, st in store.db.execute("SELECT claim_id, status FROM claim_status")}
    with _Tx(store) as db:
        for i, c in enumerate(claims):
            uid = c.uid()
            data = c.to_dict()
            if resolutions is not None and resolutions[i] is not None:
                data["resolution"] = resolutions[i]
            ref = getattr(c, "ref", None)
            by_ref = (
                db.execute("SELECT claim_id, uid, data FROM claims WHERE ref=?", (ref,)).fetchone() if ref else None
            )
            by_uid = db.execute("SELECT claim_id, ref FROM claims WHERE uid=?", (uid,)).fetchone()
            if by_ref is not None:
                cid, old_uid, old_data = by_ref
                c.claim_id = cid
                if old_uid == uid:
                    out.append((cid, "unchanged"))
                    continue
                if by_uid is not None and by_uid[0] != cid:
                    raise ValueError(
                        f"{c.origin or 'claim'}: claim_id {ref!r} would become identical to stored "
                        f"claim {by_uid[0]}; nothing was written."
                    )
                old = json.loads(old_data)
                db.execute(
                    "UPDATE claims SET uid=?, kind=?, claimant=?, published_at=?, lon=?, lat=?, data=? "
                    "WHERE claim_id=?",
                    (uid, c.kind, c.claimant, c.published_at, c.lon, c.lat, json.dumps(data, ensure_ascii=False), cid),
                )
                db.execute(
                    "INSERT INTO claim_status_history VALUES (?,?,?,?,?,?,?,?)",
                    (
                        cid,
                        status.get(cid),
                        "edited",
                        None,
                        None,
                        None,
                        now,
                        json.dumps(
                            {"edited": _edited(old, data), "ref": ref, "origin": c.origin},
                            ensure_ascii=False,
                            default=str,
                        ),
                    ),
                )
                out.append((cid, "updated"))
                continue
            if by_uid is not None:
                c.claim_id = by_uid[0]
                if ref and by_uid[1] is None:  # the same claim stored before without an id: it gets this one
                    db.execute("UPDATE claims SET ref=? WHERE claim_id=?", (ref, by_uid[0]))
                out.append((by_uid[0], "unchanged"))
                continue
            cur = db.execute(
                "INSERT INTO claims (uid, kind, claimant, published_at, lon, lat, data, added_at, ref) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (uid, c.kind, c.claimant, c.published_at, c.lon, c.lat, json.dumps(data, ensure_ascii=False), now, ref),
            )
            c.claim_id = cur.lastrowid
            out.append((cur.lastrowid, "added"))
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
        "SELECT claim_id, status, detail, version_pk, version_id, version_time, computed_at FROM claim_status"
    ):
        out[cid] = {
            "status": status,
            "detail": json.loads(detail) if detail else {},
            "version_pk": vpk,
            "version_id": vid,
            "version_time": vt,
            "computed_at": at,
        }
    return out


def save_statuses(
    store: GeoPackageStore, results: Sequence[tuple[int, str, dict]], version: Any | None
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
    for r in store.db.execute(
        f"SELECT {', '.join(cols)} FROM claim_status_history WHERE claim_id=? ORDER BY changed_at, rowid",
        (int(claim_id),),
    ):
        d = dict(zip(cols, r))
        d["detail"] = json.loads(d["detail"]) if d["detail"] else {}
        out.append(d)
    return out


# ---------------------------------------------------------------- events


class EventImport(tuple):
    """``(added, already_stored, merged)`` of :func:`add_events`; unpacks as the first two for old callers."""

    added: int
    already_stored: int
    merged: int
    merges: list

    def __new__(cls, added: int, dup: int, merged: int, merges: list | None = None):
        obj = super().__new__(cls, (added, dup))
        obj.added, obj.already_stored, obj.merged, obj.merges = added, dup, merged, merges or []
        return obj


def _norm_title(t: str | None) -> str:
    return " ".join((t or "").casefold().split())


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (spherical, R = 6371 km): at 50 m the ellipsoid's difference is millimetres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


def _same_event(db, e) -> int | None:
    """The stored event that is ``e`` read from another format: time ±EVENT_MERGE_S, place within EVENT_MERGE_M,
    same title (or, when either has none, same type)."""
    dlat = EVENT_MERGE_M / 111_000.0 * 1.5
    dlon = dlat / max(math.cos(math.radians(e.lat)), 0.01)
    rows = db.execute(
        "SELECT event_id, lon, lat, type, title FROM events WHERE time BETWEEN ? AND ? "
        "AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ? ORDER BY event_id",
        (e.time - EVENT_MERGE_S, e.time + EVENT_MERGE_S, e.lon - dlon, e.lon + dlon, e.lat - dlat, e.lat + dlat),
    ).fetchall()
    mine = _norm_title(e.title)
    for eid, lon, lat, typ, title in rows:
        if _metres(e.lon, e.lat, lon, lat) > EVENT_MERGE_M:
            continue
        other = _norm_title(title)
        if (mine and other and mine == other) or ((not mine or not other) and typ == e.type):
            return eid
    return None


def add_events(store: GeoPackageStore, events: Sequence[Any]) -> EventImport:
    """Store events (one transaction), once each even when read from several formats.

    An event identical to a stored one (same content hash) is counted as
    already stored; one that is the same event by content (see the module
    docstring) is *merged*: not stored again, its origin and the fields it
    gave differently are added to the stored event's ``data.merged`` — the
    stored values are kept, nothing is replaced.

    Returns
    -------
    EventImport
        ``(added, already_stored)`` with ``.merged`` and ``.merges``
        (``[(origin, stored event_id)]``).
    """
    ensure_tables(store)
    now = int(time.time())
    added = dup = merged = 0
    merges: list[tuple[str, int]] = []
    with _Tx(store) as db:
        for e in events:
            uid = e.uid()
            row = db.execute("SELECT event_id FROM events WHERE uid=?", (uid,)).fetchone()
            if row:
                e.event_id = row[0]
                dup += 1
                continue
            same = _same_event(db, e)
            if same is not None:
                srow = db.execute(
                    "SELECT side, type, source_url, confidence, precision_m, title, data FROM events WHERE event_id=?",
                    (same,),
                ).fetchone()
                data = json.loads(srow[6] or "{}")
                mine = {
                    "side": e.side,
                    "type": e.type,
                    "source_url": e.source_url,
                    "confidence": e.confidence,
                    "precision_m": e.precision_m,
                    "title": e.title,
                }
                differs = {k: v for (k, v), old in zip(mine.items(), srow[:6]) if v not in (None, "") and v != old}
                data.setdefault("merged", []).append(
                    {"origin": e.origin, "source_id": e.source_id, "uid": uid, "differs": differs}
                )
                db.execute(
                    "UPDATE events SET data=? WHERE event_id=?",
                    (json.dumps(data, ensure_ascii=False, default=str), same),
                )
                e.event_id = same
                merged += 1
                merges.append((e.origin, same))
                continue
            cur = db.execute(
                "INSERT INTO events (uid, time, lon, lat, precision_m, side, type, source_url, confidence, title, "
                "data, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    uid,
                    e.time,
                    e.lon,
                    e.lat,
                    e.precision_m,
                    e.side,
                    e.type,
                    e.source_url,
                    e.confidence,
                    e.title,
                    json.dumps(
                        {"props": e.props, "origin": e.origin, "source_id": e.source_id},
                        ensure_ascii=False,
                        default=str,
                    ),
                    now,
                ),
            )
            e.event_id = cur.lastrowid
            added += 1
    return EventImport(added, dup, merged, merges)


def list_events(
    store: GeoPackageStore,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    start: int | None = None,
    end: int | None = None,
    limit: int | None = None,
) -> list:
    """Stored events as :class:`frontline.sources.events.Event`, in time order; empty when none."""
    from ..model import Event

    if not has_table(store, "events"):
        return []
    sql = (
        "SELECT event_id, time, lon, lat, precision_m, side, type, source_url, confidence, title, data "
        "FROM events WHERE 1=1"
    )
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
        out.append(
            Event(
                time=t,
                lon=lon,
                lat=lat,
                precision_m=prec,
                side=side,
                type=typ,
                source_url=url or "",
                confidence=conf,
                title=title or "",
                source_id=d.get("source_id", ""),
                origin=d.get("origin", ""),
                props=d.get("props", {}),
                event_id=eid,
            )
        )
    return out
