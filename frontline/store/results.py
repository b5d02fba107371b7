"""Per-version analysis results kept in the store, so that readers never recompute them.

Table (created by :func:`ensure_table`, ``CREATE TABLE IF NOT EXISTS``):

``analysis_results(what, params_key, source, version_id, revision, rule, codec, body, computed_at,
PRIMARY KEY (what, params_key, source, version_id))``
    One result per analysis (``what``: ``contact-line``, ``corridors``,
    ``settlements``), parameter set (``params_key``, e.g. ``side=ua``) and
    version: the revision of the version it was computed from, the rule
    version of the code that computed it, and the result as compact JSON
    (``codec`` ``json``, or ``json+zstd`` when compressed).

A stored result is served only while it is *current*: its revision is the
version's revision in ``versions`` now, and its rule is the one the reader
asks for (the code's rule version). A revised version or a changed rule
therefore never serves a stale answer; recomputing replaces the stale row
(a result is derived data: the row it replaces was no longer served).

The table lives in either backend (GeoPackage or PostGIS, through :mod:`._sql`).
Readers of a store without the table (nothing materialised yet, or a
read-only store) see nothing, never an error. :mod:`frontline.analysis.materialise`
writes the table; the web map reads it (:class:`ResultReader`, its own
read-only connection, so a lookup never waits behind an analysis).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._sql import Sql, sql_of

__all__ = [
    "RESULTS_SCHEMA",
    "ResultRow",
    "ensure_table",
    "put_results",
    "get_result",
    "get_results",
    "stored_series_members",
    "stored_count",
    "current_keys",
    "encode_body",
    "decode_body",
    "ResultReader",
    "params_key",
]

_COLS = (
    "what TEXT NOT NULL, params_key TEXT NOT NULL, source TEXT NOT NULL, version_id TEXT NOT NULL, "
    "revision INTEGER NOT NULL, rule TEXT NOT NULL, codec TEXT NOT NULL, body {blob} NOT NULL, "
    "computed_at {int} NOT NULL, PRIMARY KEY (what, params_key, source, version_id)"
)

#: The table's DDL per dialect (``sqlite``, ``postgres``).
RESULTS_SCHEMA = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS analysis_results ({_COLS.format(blob='BLOB', int='INTEGER')});",
    "postgres": f"CREATE TABLE IF NOT EXISTS analysis_results ({_COLS.format(blob='bytea', int='bigint')});",
}
_RESULT_COLS = ("what", "params_key", "source", "version_id", "revision", "rule", "codec", "body", "computed_at")

#: Bodies at least this long are zstd-compressed (a contact line is hundreds of kB of coordinates).
COMPRESS_FROM = 512
_ZSTD_LEVEL = 6

# Current = the stored revision is the version's revision now (a join: one indexed lookup each).
_CURRENT = (
    "FROM analysis_results r JOIN versions v ON v.source = r.source AND v.version_id = r.version_id "
    "AND v.revision = r.revision"
)


@dataclass(frozen=True)
class ResultRow:
    """One analysis result of one version, ready to store.

    Attributes
    ----------
    what
        The analysis (``contact-line``, ``corridors``, ``settlements``).
    params_key
        Its parameters as a stable text (``""`` for none, ``side=ua``).
    source, version_id, revision
        The version and the revision the result was computed from.
    rule
        The code's rule version for this analysis.
    body
        The result as JSON bytes (uncompressed; :func:`put_results` compresses).
    """

    what: str
    params_key: str
    source: str
    version_id: str
    revision: int
    rule: str
    body: bytes


def encode_body(body: bytes) -> tuple[str, bytes]:
    """``(codec, stored bytes)`` of a JSON body: zstd-compressed when long enough."""
    if len(body) < COMPRESS_FROM:
        return "json", body
    import zstandard

    return "json+zstd", zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(body)


def decode_body(codec: str, data: bytes) -> bytes:
    """The JSON bytes of a stored body.

    Raises
    ------
    ValueError
        On a codec this code does not know (a newer writer's row).
    """
    if codec == "json":
        return bytes(data)
    if codec == "json+zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data)
    raise ValueError(f"analysis_results: unknown codec {codec!r} (written by a newer Frontline?).")


def ensure_table(store) -> None:
    """Create the ``analysis_results`` table if missing.

    Parameters
    ----------
    store
        A writable store.
    """
    sql = sql_of(store)
    if not sql.has_table("analysis_results"):
        sql.script(RESULTS_SCHEMA)


def put_results(store, rows: Iterable[ResultRow]) -> int:
    """Store a batch of results in one transaction (all of them or, on a crash, none).

    A row replaces the stored result of the same analysis, parameters and
    version (one computed from an older revision or rule: no longer served).

    Parameters
    ----------
    store
        A writable store.
    rows
        The results.

    Returns
    -------
    int
        Rows written.
    """
    from .known_at import KnownAtView

    if isinstance(store, KnownAtView):  # a past revision's result must not replace the current revision's
        rows = [r for r in rows if store.is_current(r.source, r.version_id, r.revision)]
    now = int(time.time())
    data = []
    for r in rows:
        codec, blob = encode_body(r.body)
        data.append((r.what, r.params_key, r.source, r.version_id, int(r.revision), r.rule, codec, blob, now))
    if not data:
        return 0
    ensure_table(store)
    sql = sql_of(store)
    store.begin()  # a concurrent writer waits here (the writer lock), not at commit
    try:
        sql.upsert("analysis_results", _RESULT_COLS, _RESULT_COLS[:4], data)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return len(data)


def get_result(store, what: str, params_key: str, version, *, rule: str) -> bytes | None:
    """The stored result of an analysis for a version, if current.

    Parameters
    ----------
    store
        An open store (read-only is fine), or anything with a sqlite ``db``.
    what, params_key
        The analysis and its parameters.
    version
        The version (``source``, ``version_id``, ``revision``): the answer is
        for this revision only.
    rule
        The code's rule version for ``what``.

    Returns
    -------
    bytes or None
        The result's JSON bytes; None when absent, computed from another
        revision (or the version was revised since ``version`` was read), or
        by another rule, or when the store has no results table.
    """
    return _get(sql_of(store), what, params_key, version, rule)


def _get(sql: Sql, what: str, params_key: str, version, rule: str) -> bytes | None:
    if not sql.has_table("analysis_results"):
        return None
    row = sql.fetchone(
        f"SELECT r.codec, r.body {_CURRENT} WHERE r.what=? AND r.params_key=? AND r.source=? "
        "AND r.version_id=? AND r.revision=? AND r.rule=?",
        (what, params_key, version.source, str(version.version_id), int(version.revision), rule),
    )
    return None if row is None else decode_body(row[0], row[1])


def get_results(store, what: str, params_key: str, versions: Iterable[Any], *, rule: str) -> dict[str, bytes]:
    """The stored results of an analysis for many versions at once (one query per source), where current.

    The same answers as :func:`get_result` for each version, read in one
    pass: a series over every version reads its rows in milliseconds, not a
    query per version.

    Parameters
    ----------
    store
        An open store (read-only is fine), or anything with a sqlite ``db``.
    what, params_key, rule
        As for :func:`get_result`.
    versions
        The versions wanted (``source``, ``version_id``, ``revision``).

    Returns
    -------
    dict
        ``{version id: JSON bytes}`` of the versions with a current result (none without the table).
    """
    return _get_many(sql_of(store), what, params_key, versions, rule)


#: Up to this many versions, :func:`get_results` names them in its query; more read the analysis's rows whole.
_FEW = 200


def _get_many(sql: Sql, what: str, params_key: str, versions: Iterable[Any], rule: str) -> dict[str, bytes]:
    if not sql.has_table("analysis_results"):
        return {}
    wanted: dict[str, dict[str, int]] = {}
    for v in versions:
        wanted.setdefault(v.source, {})[str(v.version_id)] = int(v.revision)
    out: dict[str, bytes] = {}
    for source, revs in wanted.items():
        query = (
            f"SELECT r.version_id, r.revision, r.codec, r.body {_CURRENT} "
            "WHERE r.what=? AND r.params_key=? AND r.source=? AND r.rule=?"
        )
        args: list[Any] = [what, params_key, source, rule]
        if len(revs) <= _FEW:  # a few versions: their rows only (bodies may be large), not every stored row
            query += f" AND r.version_id IN ({', '.join('?' * len(revs))})"
            args += list(revs)
        rows = sql.fetchall(query, args)
        for vid, rev, codec, body in rows:
            if revs.get(vid) == rev:  # the revision the caller read (a version revised since is not answered)
                out[vid] = decode_body(codec, body)
    return out


def stored_series_members(
    store, what: str, params_key: str, versions: Iterable[Any], *, rule: str, nulls: bool = False
) -> dict[str, dict[str, Any] | None]:
    """``{version id: series row}`` of the versions whose stored result of ``what`` is current.

    A result whose body has a ``series`` member is also kept as a compact
    row ``<what>.series`` (that member only; ``analysis/materialise.py``):
    those are read first, the whole bodies only for versions without one. A
    null member (a side holding no ground: the body is a note) is left out,
    for the caller to compute, or kept as None with ``nulls``.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    what, params_key, rule
        The analysis, its parameters and the code's rule version.
    versions
        The versions wanted.
    nulls
        Keep the versions whose stored member is null, as None.

    Returns
    -------
    dict
        The series rows found (none without the table), read in a query or two.
    """
    import orjson

    versions = list(versions)
    sql = sql_of(store)
    out: dict[str, dict[str, Any] | None] = {}
    compact = _get_many(sql, what + ".series", params_key, versions, rule)
    for vid, body in compact.items():
        row = orjson.loads(body)
        if row is not None or nulls:
            out[vid] = row
    rest = [v for v in versions if str(v.version_id) not in compact]
    if rest:  # results stored before the compact rows: the series member of the whole body
        for vid, body in _get_many(sql, what, params_key, rest, rule).items():
            row = orjson.loads(body).get("series")
            if row is not None or nulls:
                out[vid] = row
    return out


def stored_count(
    store, what: str | None = None, params_key: str | None = None, *, rule: str | None = None, source: str | None = None
) -> int:
    """How many current results the store holds (of an analysis, parameters, rule, source when given).

    Parameters
    ----------
    store
        An open store.
    what, params_key, rule, source
        Filters; None: any.

    Returns
    -------
    int
        Results whose revision is their version's current one (0 without the table).
    """
    conds, args = [], []
    for col, val in (("what", what), ("params_key", params_key), ("rule", rule), ("source", source)):
        if val is not None:
            conds.append(f"r.{col}=?")
            args.append(val)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    sql = sql_of(store)
    if not sql.has_table("analysis_results"):
        return 0
    found = sql.fetchone(f"SELECT COUNT(*) {_CURRENT}{where}", args)
    return int(found[0]) if found else 0


def current_keys(store, what: str, params_key: str, rule: str, source: str) -> dict[str, int]:
    """``{version id: revision}`` of the current results of an analysis, parameters and rule.

    Parameters
    ----------
    store
        An open store.
    what, params_key, rule
        Which results.
    source
        The versions' source.

    Returns
    -------
    dict
        Empty without the table.
    """
    sql = sql_of(store)
    if not sql.has_table("analysis_results"):
        return {}
    rows = sql.fetchall(
        f"SELECT r.version_id, r.revision {_CURRENT} WHERE r.what=? AND r.params_key=? AND r.rule=? AND r.source=?",
        (what, params_key, rule, source),
    )
    return {r[0]: r[1] for r in rows}


class ResultReader:
    """Stored results read through a read-only connection of its own (thread-safe).

    The web map keeps one: a lookup takes only this reader's lock for a few
    milliseconds, never the lock an analysis holds while it computes.

    Parameters
    ----------
    path
        The store file, or a PostGIS store's ``postgresql://`` URL.
    """

    def __init__(self, path: Path | str):
        from . import is_server_url

        self._db: Any
        if is_server_url(path):
            from .postgis import _connect

            self.path: Path | str = str(path)
            self._db = _connect(str(path), readonly=True)
        else:
            self.path = Path(path)
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA busy_timeout=30000")
        self._sql = Sql(self._db)
        self._lock = threading.Lock()

    def get(self, what: str, params_key: str, version, rule: str) -> bytes | None:
        """As :func:`get_result`: the current stored result, or None."""
        with self._lock:
            return _get(self._sql, what, params_key, version, rule)

    def get_many(self, what: str, params_key: str, versions: Iterable[Any], rule: str) -> dict[str, bytes]:
        """As :func:`get_results`: ``{version id: JSON bytes}`` of the current stored results, one query."""
        with self._lock:
            return _get_many(self._sql, what, params_key, versions, rule)

    def stamp(self, layer: str) -> str | None:
        """The import stamp of a reference layer (``meta['reference:<layer>']``), or None."""
        import json

        with self._lock:
            row = self._sql.fetchone("SELECT value FROM meta WHERE key=?", (f"reference:{layer}",))
        if not row or not row[0]:
            return None
        return json.loads(row[0]).get("stamp")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def params_key(**params) -> str:
    """A stable text for a parameter set: ``k=v`` pairs sorted by name, joined by ``&`` (``""`` for none)."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params))
