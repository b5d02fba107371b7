"""Copy everything one store keeps into another (GeoPackage ↔ PostGIS): ``frontline copy``.

Map versions go through the destination's own write path
(:meth:`Store.insert_feature_rows`, :meth:`Store.put_version`), one version
with all its revisions per transaction, features matched by their content
hash: the destination's spans and ids are its own, and a copy into a store
that already holds versions merges. What the write path stamps with the
time of the copy (``imported_at`` of versions and revisions) is set back to
the source's, so "as known at" reads agree.

Bookkeeping rows (claims ledger and events, alert and pull state, stored
results, the import log) are copied by their natural keys (a claim's or
event's ``uid``, a rule's name, ...), each table in one transaction;
version and claim ids are mapped to the destination's. A reference layer is
copied as it is (with its import stamp) when the destination has none, and
merged by the layer's own import rules otherwise.

So a second run adds nothing, and an interrupted run leaves every
transaction's work whole: a re-run completes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import StoreError
from ._sql import Sql, sql_of
from .base import Store, VersionInfo

__all__ = ["CopyReport", "copy_store", "open_or_create"]


@dataclass
class CopyReport:
    """Per table: rows in the source, copied, already in the destination (``rows``); and notes."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, table: str, in_source: int, copied: int) -> None:
        self.rows[table] = [in_source, copied, in_source - copied]

    def copied(self) -> int:
        """Rows copied in all."""
        return sum(r[1] for r in self.rows.values())

    def as_dict(self) -> dict:
        return {
            "tables": [
                {"table": t, "in_source": a, "copied": b, "already_there": c} for t, (a, b, c) in self.rows.items()
            ],
            "notes": self.notes,
        }


def open_or_create(dest: str, src: Store) -> tuple[Store, bool]:
    """The destination store, made (with the source's borders and sides) when it is not a store yet.

    Returns
    -------
    tuple
        ``(store, created)``.
    """
    from pathlib import Path

    from . import is_server_url, open_store
    from .gpkg import GeoPackageStore

    if is_server_url(dest):
        from .postgis import PostGISStore

        try:
            return open_store(dest), False
        except StoreError as exc:
            if "not a Frontline store" not in str(exc) or "schema '" in str(exc):
                raise
        return PostGISStore.create(dest, src.regions(), src.sides), True
    if Path(dest).exists():
        return open_store(dest), False
    return GeoPackageStore.create(dest, src.regions(), src.sides), True


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(int(t), tz=UTC)


def _dt(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(int(t), tz=UTC)


@dataclass
class _Snap:
    """What :meth:`Store.put_version` reads of a snapshot."""

    source: str
    version_id: str
    valid_time: datetime
    published_at: datetime | None
    revised_at: datetime | None
    content_hash: str
    origin: str


def _feature_rows(src: Store, fids: list[int]) -> dict[int, tuple[bytes, tuple, list[tuple]]]:
    """``fid → (fkey, features row, pieces rows)`` as :func:`frontline.store.gpkg.feature_rows` makes them."""
    from .gpkg import _tile_text, encode_gpkg

    s = sql_of(src)
    out: dict[int, tuple[bytes, tuple, list[tuple]]] = {}
    for i in range(0, len(fids), 500):
        chunk = fids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows = s.fetchall(
            "SELECT fid, fkey, kind, key, role, side, name, name_en, at_label, bearing, props, repaired, counted, "
            f"home_of, drawn_km2, {s.geom_col()} FROM features WHERE fid IN ({marks})",
            chunk,
        )
        geoms = s.decode_geoms([r[15] for r in rows])
        pieces: dict[int, list[tuple]] = {}
        order = "piece_id" if s.pg else "rowid"
        for fid, drawn, home, tile, what, km2, wkb in s.fetchall(
            f"SELECT feature_fid, drawn, home, tile, what, area_km2, wkb FROM pieces WHERE feature_fid IN ({marks}) "
            f"ORDER BY {order}",
            chunk,
        ):
            pieces.setdefault(fid, []).append((int(drawn), home, _tile_text(tile), what, km2, bytes(wkb)))
        for r, g in zip(rows, geoms):
            props = r[10] if isinstance(r[10], str) else json.dumps(r[10] or {}, ensure_ascii=False)
            frow = (*r[2:10], props, int(r[11]), int(r[12]), r[13], r[14], encode_gpkg(g))
            out[r[0]] = (bytes(r[1]), frow, pieces.get(r[0], []))
    return out


def _copy_version(
    src: Store, dest: Store, v: VersionInfo, have: dict[int, int], report: CopyReport, revs: list[dict], done: dict
) -> int:
    """Copy one version with the revisions the destination lacks (one transaction); revisions copied.

    ``revs``: the source's revision rows of the version; ``done``: revision → content hash in the destination.
    """
    todo = []
    for r in revs:
        if r["revision"] in done:
            if done[r["revision"]] != r["content_hash"]:
                report.notes.append(
                    f"{v.source} {v.version_id} revision {r['revision']} differs in the destination; kept there."
                )
                return 0
            continue
        members = src.revision_members(v.source, v.version_id, r["revision"])
        if r["revision"] == v.revision:
            members = src.member_fids(v)
        elif not members:
            continue  # a past revision the source did not keep the members of: cannot be replayed
        todo.append((r, members))
    if not todo:
        return 0
    d = sql_of(dest)
    with dest.transaction():
        for r, members in todo:
            missing = sorted(f for f in set(members) if f not in have)
            for fid, (fkey, frow, prows) in _feature_rows(src, missing).items():
                have[fid] = dest.insert_feature_rows(v.source, fkey, frow, prows)
            current = r["revision"] == v.revision
            areas = _areas(src, v) if current else {}
            snap = _Snap(
                v.source, v.version_id, _utc(v.valid_time), _dt(v.published_at), _dt(r["revised_at"]),
                r["content_hash"], r["origin"] or "",
            )  # fmt: skip
            dest.put_version(snap, [have[f] for f in members], areas)
            d.execute(  # the write path stamps the time of the copy; keep the source's (known-at reads use it)
                "UPDATE revisions SET imported_at=? WHERE source=? AND version_id=? AND revision=("
                "SELECT MAX(revision) FROM revisions WHERE source=? AND version_id=?)",
                (r["imported_at"], v.source, v.version_id, v.source, v.version_id),
            )
            d.execute(
                "UPDATE versions SET imported_at=? WHERE source=? AND version_id=?",
                (_first_imported(revs), v.source, v.version_id),
            )
    return len(todo)


def _first_imported(revs: list[dict]) -> int:
    return min(int(r["imported_at"]) for r in revs)


def _areas(src: Store, v: VersionInfo) -> dict[tuple[str, str, str], float]:
    rows = sql_of(src).fetchall("SELECT region, convention, side, km2 FROM version_areas WHERE version_pk=?", (v.pk,))
    return {(r, s, c): float(k) for r, c, s, k in rows}


def _copy_versions(src: Store, dest: Store, report: CopyReport, advance: Callable[[int], Any]) -> None:
    """Every source's versions (with revisions and features)."""
    n_revs = copied_revs = 0
    for source in src.sources():
        have: dict[int, int] = {}  # source fid → destination fid
        dest_keys = dest.feature_keys(source) if source in dest.sources() else {}
        for fid, fkey in sql_of(src).fetchall("SELECT fid, fkey FROM features WHERE source=?", (source,)):
            if bytes(fkey) in dest_keys:
                have[fid] = dest_keys[bytes(fkey)]
        revs: dict[str, list[dict]] = {}
        for r in src.revision_rows(source):  # read once: per version they would cost a scan each
            revs.setdefault(r["version_id"], []).append(r)
        done: dict[str, dict[int, str]] = {}
        for r in dest.revision_rows(source) if source in dest.sources() else []:
            done.setdefault(r["version_id"], {})[r["revision"]] = r["content_hash"]
        for v in src.versions(source):
            mine = revs.get(v.version_id, [])
            n_revs += len(mine)
            copied_revs += _copy_version(src, dest, v, have, report, mine, done.get(v.version_id, {}))
            advance(1)
    report.count("revisions", n_revs, copied_revs)


def _version_map(src: Store, dest: Store) -> dict[int, int]:
    """Source version pk → destination version pk (by source and version id)."""
    out: dict[int, int] = {}
    for source in src.sources():
        theirs = {v.version_id: v.pk for v in dest.versions(source)} if source in dest.sources() else {}
        for v in src.versions(source):
            if v.version_id in theirs:
                out[v.pk] = theirs[v.version_id]
    return out


def _rows(s: Sql, table: str, cols: tuple[str, ...]) -> list[tuple]:
    """A table's rows in insertion order (empty without the table; a column it lacks reads NULL)."""
    if not s.has_table(table):
        return []
    have = s.columns(table)
    select = ", ".join(c if c in have else "NULL" for c in cols)
    order = s.order_col if (not s.pg or "row_id" in have) else cols[0]  # PostgreSQL tables without row_id: their key
    return s.fetchall(f"SELECT {select} FROM {table} ORDER BY {order}")


def _insert_absent(
    dest: Store, table: str, cols: tuple[str, ...], keys: tuple[str, ...], rows: list[tuple], report: CopyReport
) -> None:
    """Insert the rows whose ``keys`` the destination's table lacks (one transaction)."""
    d = sql_of(dest)
    idx = [cols.index(k) for k in keys]
    there = {tuple(r) for r in d.fetchall(f"SELECT {', '.join(keys)} FROM {table}")}
    new = [r for r in rows if tuple(r[i] for i in idx) not in there]
    if new:
        with dest.transaction():
            d.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", new)
    report.count(table, len(rows), len(new))


def _bump_identity(dest: Store, table: str, col: str) -> None:
    """After explicit ids on PostgreSQL, move the identity past them (SQLite needs nothing)."""
    d = sql_of(dest)
    if d.pg:
        d.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), GREATEST((SELECT MAX({col}) FROM {table}), 1))"
        )


_CLAIM_COLS = ("claim_id", "uid", "kind", "claimant", "published_at", "lon", "lat", "data", "added_at", "ref")
_STATUS_COLS = ("claim_id", "status", "detail", "version_pk", "version_id", "version_time", "computed_at")
_HIST_COLS = (
    "claim_id", "old_status", "new_status", "version_pk", "version_id", "version_time", "changed_at", "detail",
)  # fmt: skip
_EVENT_COLS = (
    "event_id", "uid", "time", "lon", "lat", "precision_m", "side", "type", "source_url", "confidence", "title",
    "data", "added_at",
)  # fmt: skip


def _copy_ledger(src: Store, dest: Store, vmap: dict[int, int], report: CopyReport) -> None:
    """Claims (with statuses and history) and events, ids kept where free, mapped otherwise."""
    from . import ledger

    s, d = sql_of(src), sql_of(dest)
    if not (s.has_table("claims") or s.has_table("events")):
        return
    ledger.ensure_tables(dest)
    claims = _rows(s, "claims", _CLAIM_COLS)
    by_uid = dict(d.fetchall("SELECT uid, claim_id FROM claims"))
    used = set(by_uid.values())
    cmap: dict[int, int] = {}
    new = []
    with dest.transaction():
        for r in claims:
            if r[1] in by_uid:
                cmap[r[0]] = by_uid[r[1]]
                continue
            if r[0] not in used:
                d.execute(f"INSERT INTO claims ({', '.join(_CLAIM_COLS)}) VALUES ({','.join('?' * 10)})", r)
                cid = r[0]
            else:
                cid = d.insert_id(
                    f"INSERT INTO claims ({', '.join(_CLAIM_COLS[1:])}) VALUES ({','.join('?' * 9)})", r[1:], "claim_id"
                )
            used.add(cid)
            cmap[r[0]] = cid
            new.append(r)
    _bump_identity(dest, "claims", "claim_id")
    report.count("claims", len(claims), len(new))

    def mapped(rows: list[tuple]) -> list[tuple]:
        return [(cmap[r[0]], *r[1:3], vmap.get(r[3], r[3]), *r[4:]) for r in rows if r[0] in cmap]

    _insert_absent(
        dest, "claim_status", _STATUS_COLS, ("claim_id",), mapped(_rows(s, "claim_status", _STATUS_COLS)), report
    )
    _insert_absent(
        dest, "claim_status_history", _HIST_COLS, ("claim_id", "new_status", "changed_at"),
        mapped(_rows(s, "claim_status_history", _HIST_COLS)), report,
    )  # fmt: skip
    events = _rows(s, "events", _EVENT_COLS)
    there = dict(d.fetchall("SELECT uid, event_id FROM events"))
    taken = set(there.values())
    fresh = [r for r in events if r[1] not in there]
    with dest.transaction():
        for r in fresh:
            if r[0] not in taken:
                d.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES ({','.join('?' * 13)})", r)
            else:
                d.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS[1:])}) VALUES ({','.join('?' * 12)})", r[1:])
            taken.add(r[0])
    _bump_identity(dest, "events", "event_id")
    report.count("events", len(events), len(fresh))


_ALERT_COLS = ("rule", "fingerprint", "active", "last_time", "last_revision", "data", "updated_at")
_LOG_COLS = ("rule", "kind", "version_id", "valid_time", "fired_at", "message", "payload", "delivered")
_PULL_COLS = ("source", "version_id", "updated_at", "content_hash", "checked_at")
_RESULT_COLS = ("what", "params_key", "source", "version_id", "revision", "rule", "codec", "body", "computed_at")


def _copy_state(src: Store, dest: Store, report: CopyReport) -> None:
    """Alert state and log, live-pull state and stored results, by their keys."""
    from . import alert_state, pull_state, results

    s = sql_of(src)
    if s.has_table("alert_state") or s.has_table("alert_log"):
        alert_state.ensure_tables(dest)
        _insert_absent(dest, "alert_state", _ALERT_COLS, ("rule",), _rows(s, "alert_state", _ALERT_COLS), report)
        _insert_absent(
            dest, "alert_log", _LOG_COLS, ("rule", "version_id", "message", "fired_at"),
            _rows(s, "alert_log", _LOG_COLS), report,
        )  # fmt: skip
    if s.has_table("pull_state"):
        pull_state.ensure_table(dest)
        _insert_absent(
            dest, "pull_state", _PULL_COLS, ("source", "version_id"), _rows(s, "pull_state", _PULL_COLS), report
        )
    if s.has_table("analysis_results"):
        results.ensure_table(dest)
        rows = [(*r[:7], bytes(r[7]), r[8]) for r in _rows(s, "analysis_results", _RESULT_COLS)]
        _insert_absent(dest, "analysis_results", _RESULT_COLS, _RESULT_COLS[:4], rows, report)


def _copy_imports(src: Store, dest: Store, report: CopyReport) -> None:
    """The import log (``imports`` with their ``problems``), by start time and origin."""
    s, d = sql_of(src), sql_of(dest)
    rows = s.fetchall("SELECT import_id, started, finished, origin, summary FROM imports ORDER BY import_id")
    there = set(d.fetchall("SELECT started, origin FROM imports"))
    problems: dict[int, list[tuple]] = {}
    for iid, origin, message in s.fetchall("SELECT import_id, origin, message FROM problems"):
        problems.setdefault(iid, []).append((origin, message))
    fresh = [r for r in rows if (r[1], r[3]) not in there]
    cast = "?::jsonb" if d.pg else "?"
    with dest.transaction():
        for iid, started, finished, origin, summary in fresh:
            text = summary if isinstance(summary, str) or summary is None else json.dumps(summary)
            new = d.insert_id(
                f"INSERT INTO imports (started, finished, origin, summary) VALUES (?, ?, ?, {cast})",
                (started, finished, origin, text),
                "import_id",
            )
            d.executemany("INSERT INTO problems VALUES (?, ?, ?)", [(new, o, m) for o, m in problems.get(iid, [])])
    report.count("imports", len(rows), len(fresh))


def _copy_reference(src: Store, dest: Store, report: CopyReport) -> None:
    """Settlements and roads: as they are (with their import stamp) into an empty layer, else merged."""
    from . import reference

    layers: list[tuple[str, Callable[[Any], Any], Callable[..., Any]]] = [
        (reference.SETTLEMENTS, reference.load_settlements, reference.put_settlements),
        (reference.ROADS, reference.load_roads, reference.put_roads),
    ]
    for layer, load, put in layers:
        info = reference.reference_info(src, layer)
        if info is None:
            continue
        obj = load(src)
        n = len(obj) if obj is not None else 0
        mine = reference.reference_info(dest, layer)
        if mine is not None and mine.get("stamp") == info.get("stamp"):
            report.count(layer, n, 0)
            continue
        if mine is None:
            reference.copy_layer(src, dest, layer, info)
            report.count(layer, n, n)
            continue
        before = mine.get("count", 0)
        summary = put(dest, obj, origin=f"copy of {info.get('origin', layer)}")
        report.count(layer, n, summary.added + summary.updated)
        report.notes.append(f"{layer}: merged into the destination's ({before:,} → {summary.total:,}).")


def _n(st: Store, table: str) -> int:
    found = sql_of(st).fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(found[0]) if found else 0


def copy_store(src: Store, dest: Store, *, progress: bool = False) -> CopyReport:
    """Copy everything ``src`` keeps into ``dest`` (see the module docstring); re-runnable.

    Parameters
    ----------
    src, dest
        Open stores (``dest`` writable), of either backend.
    progress
        Draw a progress bar over the versions (stderr).

    Returns
    -------
    CopyReport
        Per table: rows in the source, copied, already there.
    """
    from .._progress import progress_bar

    if tuple(src.sides) != tuple(dest.sides):
        raise StoreError(
            f"The stores' sides differ ({','.join(src.sides)} vs {','.join(dest.sides)}); nothing was copied."
        )
    if set(src.regions()) != set(dest.regions()):
        raise StoreError("The stores hold different regions (borders); nothing was copied.")
    report = CopyReport()
    total = sum(len(src.versions(s)) for s in src.sources())
    before = _version_map(src, dest)
    map_tables = ("features", "spans", "pieces", "version_areas")
    rows_before = {t: _n(dest, t) for t in map_tables}
    report.count("versions", total, 0)
    with progress_bar(total, "Copying versions", enabled=progress) as advance:
        _copy_versions(src, dest, report, advance)
    vmap = _version_map(src, dest)
    report.count("versions", total, len(vmap) - len(before))
    for t in map_tables:  # made by the destination's write path: how many rows it added
        report.count(t, _n(src, t), _n(dest, t) - rows_before[t])
    _copy_imports(src, dest, report)
    _copy_ledger(src, dest, vmap, report)
    _copy_reference(src, dest, report)
    _copy_state(src, dest, report)
    return report
