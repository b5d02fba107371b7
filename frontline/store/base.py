"""The store interface: what analysis code may ask of any backend.

A store keeps, per source, the versions it has seen (with their revisions),
each distinct feature once with the time intervals it was valid for, the
pieces that say how a feature enters the partition, and per-version areas.
The embedded GeoPackage backend (:mod:`frontline.store.gpkg`) is the default;
a server backend (PostGIS) implements the same methods.

Besides the map versions a store keeps bookkeeping: the import log, the
claims ledger and events, the settlements and roads layers, alert and
live-pull state, and stored analysis results. Writers take turns through
:meth:`Store.begin` (one version per transaction); readers that ask several
questions of one state use :meth:`Store.snapshot`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry


@dataclass
class VersionInfo:
    """One version of one source as stored."""

    pk: int
    source: str
    version_id: str
    valid_time: int  # epoch seconds: when the situation refers to
    published_at: int | None
    revised_at: int | None
    revision: int
    content_hash: str
    origin: str
    n_features: int = 0
    known_at: int | None = None  # set: this is the revision current at that time, read from its own members


@dataclass
class StoredFeature:
    """A distinct feature with its classification and geometry (lon/lat)."""

    fid: int
    fkey: bytes
    kind: str
    key: str
    role: str
    side: str | None
    name: str
    name_en: str
    at: str | None
    bearing: float | None
    props: dict[str, Any]
    geometry: BaseGeometry
    repaired: bool = False


@dataclass
class ImportReport:
    """What an import did, with every problem named by file."""

    added: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0
    new_features: int = 0
    repaired: int = 0
    skipped_features: int = 0
    unclassified: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (origin, message)

    def as_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "added",
                "revised",
                "unchanged",
                "failed",
                "new_features",
                "repaired",
                "skipped_features",
                "unclassified",
            )
        } | {"problems": [{"origin": o, "message": m} for o, m in self.problems]}


class ReadCache:
    """What one store handle has read, kept while the store does not change.

    Versions, sources and each feature's decoded row and pieces are asked for
    again and again (every ``state_at`` resolves a time against all versions,
    neighbouring versions share most features). A backend keeps one of these
    per handle and hands it out only with its *change mark*: a value that
    differs whenever anything the handle could read has changed (SQLite's
    ``data_version`` and the connection's own change count; PostgreSQL's
    transaction snapshot). A new mark empties the cache, so nothing read
    from it is older than what a query would return. Inside a write
    transaction backends do not use it at all (their own uncommitted rows
    would otherwise outlive a rollback).

    Parameters
    ----------
    max_rows
        Features (rows and pieces alike) kept; the least recently used go.
    """

    def __init__(self, max_rows: int = 8192):
        self.mark: Hashable = None
        self.values: dict[Hashable, Any] = {}
        self.rows: OrderedDict[int, Any] = OrderedDict()
        self.pieces: OrderedDict[int, Any] = OrderedDict()
        self.max_rows = max_rows

    def at(self, mark: Hashable) -> ReadCache:
        """This cache, emptied first when the store's change mark is not the one it was filled at."""
        if mark != self.mark:
            self.clear()
            self.mark = mark
        return self

    def clear(self) -> None:
        """Forget everything (a commit, a rollback, a new state)."""
        self.values.clear()
        self.rows.clear()
        self.pieces.clear()
        self.mark = None

    def value(self, key: Hashable, read: Callable[[], Any]) -> Any:
        """The value kept under ``key``, read (and kept) when absent."""
        if key not in self.values:
            self.values[key] = read()
        return self.values[key]

    def by_fid(self, table: OrderedDict[int, Any], fids: Sequence[int], read: Callable[[list[int]], dict]) -> dict:
        """``fid → value`` for ``fids`` from ``table`` (:attr:`rows` or :attr:`pieces`), reading the missing ones."""
        out, missing = {}, []
        for f in fids:
            hit = table.get(f)
            if hit is None:
                missing.append(f)
            else:
                table.move_to_end(f)
                out[f] = hit
        if missing:
            got = read(missing)
            out.update(got)
            table.update(got)
            while len(table) > self.max_rows:
                table.popitem(last=False)
        return out


class Store(ABC):
    """Interface every backend implements. All times are epoch seconds (UTC)."""

    # -- lifecycle ----------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def get_meta(self, key: str, default: str | None = None) -> str | None: ...

    @property
    def sides(self) -> tuple[str, ...]:
        """The two sides (their homes are the ``home:<side>`` regions), as saved at init."""
        return tuple(str(self.get_meta("sides") or "ua,ru").split(","))

    # -- regions ------------------------------------------------------------
    @abstractmethod
    def regions(self) -> dict[str, tuple[str, BaseGeometry]]:
        """``name → (kind, geometry)`` of the stored regions (homes, countries)."""

    # -- versions -----------------------------------------------------------
    @abstractmethod
    def sources(self) -> list[str]: ...

    @abstractmethod
    def versions(self, source: str | None = None) -> list[VersionInfo]:
        """Versions ordered by valid time."""

    @abstractmethod
    def version_at(self, t: int, source: str | None = None) -> VersionInfo | None:
        """The latest version valid at time ``t`` (None if before the first)."""

    @abstractmethod
    def revisions(self, source: str, version_id: str) -> list[dict]: ...

    @abstractmethod
    def revision_rows(self, source: str) -> list[dict]:
        """Every revision of every version of a source (``version_id``, ``revision``, ``revised_at``,
        ``content_hash``, ``origin``, ``imported_at``, ``n_features``), by version and revision."""

    @abstractmethod
    def revision_members(self, source: str, version_id: str, revision: int) -> list[int]:
        """The feature ids of one revision of a version (empty when the store did not keep them)."""

    # -- features -----------------------------------------------------------
    @abstractmethod
    def features_at(self, version: VersionInfo, kinds: Sequence[str] | None = None) -> list[StoredFeature]:
        """Features present in a version (from their validity intervals)."""

    @abstractmethod
    def feature_history(self, fid: int) -> list[tuple[int, int | None]]:
        """Validity intervals ``[from, to)`` of one feature (to=None: still valid)."""

    def changed_features(self, a: VersionInfo, b: VersionInfo) -> tuple[list[int], list[int]]:
        """Feature ids ``(removed, added)`` going from version a to version b (sorted).

        Set differences of the two versions' members, read in one snapshot;
        a backend may answer it in one query instead.
        """
        with self.snapshot():
            ma, mb = set(self.member_fids(a)), set(self.member_fids(b))
        return sorted(ma - mb), sorted(mb - ma)

    @abstractmethod
    def version_members(self, source: str) -> Iterator[tuple[VersionInfo, list[int]]]:
        """Every version with the ids of its features, in time order."""

    @abstractmethod
    def pieces(self, fids: Sequence[int]) -> dict[int, Any]:
        """The partition pieces of features (see :mod:`frontline.normalise`)."""

    @abstractmethod
    def spans_of(self, source: str, fids: Sequence[int]) -> list[tuple[int, int, int | None]]:
        """Validity intervals of many features at once.

        Parameters
        ----------
        source
            Source name in the store.
        fids
            Feature ids.

        Returns
        -------
        list of tuple
            ``(fid, valid_from, valid_to)`` per interval ``[from, to)``, epoch
            seconds, ``valid_to`` None while still valid; in no particular order.
        """

    @abstractmethod
    def counted_pieces_in_tiles(self, source: str, tiles: dict[str, Sequence]) -> list[tuple[int, str, str, bytes]]:
        """Partition pieces of counted features in given tiles of the homes, as raw WKB rows.

        Parameters
        ----------
        source
            Source name in the store.
        tiles
            ``home name → tile ids`` (the theatre's tiling of that home).

        Returns
        -------
        list of tuple
            ``(fid, home, what, wkb)`` per piece (drawn pieces and features
            that do not count left out); a feature's piece comes once per tile.
        """

    # -- areas --------------------------------------------------------------
    @abstractmethod
    def area_rows(self, source: str, region: str, convention: str) -> list[tuple[int, str, float]]:
        """``(version pk, side, km²)`` rows precomputed at import."""

    # -- versions and features, more reads ------------------------------------
    @abstractmethod
    def default_source(self, source: str | None = None) -> str:
        """The given source, or the one to use when none is given (``deepstate`` when stored)."""

    @abstractmethod
    def version(self, source: str, version_id: str) -> VersionInfo | None:
        """One version by id (None when not stored)."""

    @abstractmethod
    def member_fids(self, version: VersionInfo) -> list[int]:
        """Ids of the features present in a version."""

    @abstractmethod
    def features_by_fid(self, fids: Sequence[int]) -> list[StoredFeature]:
        """Stored features by id."""

    # -- transactions -------------------------------------------------------
    @abstractmethod
    def begin(self) -> None:
        """Start a write transaction, waiting (as long as it takes, saying so) for other writers."""

    @abstractmethod
    def commit(self) -> None:
        """Commit the write transaction and let the next writer in."""

    @abstractmethod
    def rollback(self) -> None:
        """Abandon the write transaction, if one is open."""

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction as a ``with`` block: committed at its end, rolled back if it raises.

        Yields the backend's connection (``store.db``), for callers that run their own statements.
        """
        self.begin()
        try:
            yield getattr(self, "db", None)
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @abstractmethod
    def snapshot(self) -> AbstractContextManager:
        """A ``with`` block whose reads all see one state of the store (writers go on meanwhile)."""

    # -- the write path (used by frontline.ingest) --------------------------
    @abstractmethod
    def feature_keys(self, source: str, after_fid: int = 0) -> dict[bytes, int]:
        """``content hash → fid`` of a source's stored features (those with fid above ``after_fid``)."""

    @abstractmethod
    def feature_fid(self, source: str, fkey: bytes) -> int | None:
        """The id of a stored feature by its content hash (None when not stored)."""

    @abstractmethod
    def insert_feature(self, source: str, fkey: bytes, rf: Any, fp: Any) -> int:
        """Store a classified feature with its pieces (inside a transaction); its id."""

    @abstractmethod
    def insert_feature_rows(self, source: str, fkey: bytes, frow: tuple, prows: list[tuple]) -> int:
        """Store a feature from prepared rows; one stored meanwhile by another writer is reused. Its id."""

    @abstractmethod
    def put_version(self, snap: Any, members: Sequence[int], areas: dict[tuple[str, str, str], float]) -> str:
        """Store one version (inside the caller's transaction): ``added``, ``revised`` or ``unchanged``."""

    @abstractmethod
    def log_import(self, origin: str, report: Any) -> None:
        """Record an import and every problem it met."""

    # -- claims ledger and events -------------------------------------------
    @abstractmethod
    def add_claims(
        self, claims: Sequence[Any], resolutions: Sequence[dict | None] | None = None
    ) -> list[tuple[int, bool]]:
        """Store claims, an identical one once: ``(claim_id, added)`` each."""

    @abstractmethod
    def upsert_claims(
        self, claims: Sequence[Any], resolutions: Sequence[dict | None] | None = None
    ) -> list[tuple[int, str]]:
        """Store or update claims by the user's ``ref``: ``(claim_id, what happened)`` each."""

    @abstractmethod
    def delete_claims(self, claim_ids: Iterable[int]) -> int:
        """Delete claims (with their statuses); how many were deleted."""

    @abstractmethod
    def list_claims(self, ids: Sequence[int] | None = None) -> list[dict]:
        """Stored claims (all, or these ids)."""

    @abstractmethod
    def get_claim(self, claim_id: int) -> dict | None:
        """One claim (None when not stored)."""

    @abstractmethod
    def claim_statuses(self) -> dict[int, dict]:
        """The current status of every claim that has one."""

    @abstractmethod
    def save_claim_statuses(
        self, results: Sequence[tuple[int, str, dict]], version: Any | None
    ) -> list[tuple[int, str | None, str]]:
        """Save claim statuses read against a version; the changes ``(claim_id, old, new)``."""

    @abstractmethod
    def claim_status_history(self, claim_id: int) -> list[dict]:
        """Every status change of one claim, oldest first."""

    @abstractmethod
    def add_events(self, events: Sequence[Any]) -> Any:
        """Store events, an identical one once (an :class:`~frontline.store.ledger.EventImport`)."""

    @abstractmethod
    def list_events(
        self,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = None,
    ) -> list:
        """Stored events, by place and time."""

    # -- reference layers ---------------------------------------------------
    @abstractmethod
    def reference_info(self, layer: str) -> dict[str, Any] | None:
        """What was imported into a reference layer (``settlements``, ``roads``), or None."""

    @abstractmethod
    def put_settlements(self, gazetteer: Any, *, origin: str, replace: bool = False) -> Any:
        """Add (or with ``replace`` replace) the settlements layer (an import summary)."""

    @abstractmethod
    def load_settlements(self) -> Any:
        """The stored settlements as a :class:`~frontline.gazetteer.Gazetteer`, or None."""

    @abstractmethod
    def put_roads(self, roads: Any, *, origin: str, replace: bool = False) -> Any:
        """Add (or with ``replace`` replace) the roads layer (an import summary)."""

    @abstractmethod
    def load_roads(self) -> Any:
        """The stored roads as :class:`~frontline.road_network.Roads`, or None."""

    # -- alert and pull state -----------------------------------------------
    @abstractmethod
    def get_alert_state(self, rule: str, fingerprint: str) -> dict[str, Any] | None:
        """A rule's saved state (None when none, or saved for another definition of the rule)."""

    @abstractmethod
    def set_alert_state(
        self,
        rule: str,
        fingerprint: str,
        active: bool,
        last_time: int | None,
        last_revision: int | None,
        data: dict[str, Any],
    ) -> None:
        """Save (replace) a rule's state."""

    @abstractmethod
    def append_alert_log(
        self,
        rule: str,
        kind: str,
        version_id: str | None,
        valid_time: int | None,
        message: str,
        payload: dict[str, Any],
        delivered: bool,
    ) -> None:
        """Append one fired alert to the log."""

    @abstractmethod
    def mark_alert_delivered(self, rule: str, version_id: str | None, message: str) -> None:
        """Mark a logged alert as delivered."""

    @abstractmethod
    def alert_log(self) -> list[dict[str, Any]]:
        """Every fired alert, oldest first."""

    @abstractmethod
    def pull_checked(self, source: str) -> dict[str, int]:
        """``version id → updatedAt`` of re-published versions found unchanged by a live pull."""

    @abstractmethod
    def remember_pull(self, source: str, version_id: str, updated_at: int | None, content_hash: str) -> None:
        """Remember a re-published version found unchanged (so it is not fetched again)."""

    # -- stored analysis results --------------------------------------------
    @abstractmethod
    def put_results(self, rows: Iterable[Any]) -> int:
        """Store per-version analysis results (one transaction); how many rows."""

    @abstractmethod
    def get_result(self, what: str, params_key: str, version: VersionInfo, *, rule: str) -> bytes | None:
        """A stored result of an analysis for a version, while its revision and rule are current."""

    @abstractmethod
    def results_count(
        self,
        what: str | None = None,
        params_key: str | None = None,
        *,
        rule: str | None = None,
        source: str | None = None,
    ) -> int:
        """How many current results the store holds."""

    @abstractmethod
    def result_keys(self, what: str, params_key: str, rule: str, source: str) -> dict[str, int]:
        """``version id → revision`` of the current results of one analysis."""
