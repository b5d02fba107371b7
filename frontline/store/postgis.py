"""The server store: one PostgreSQL database with PostGIS, behind the same interface as the GeoPackage file.

Why PostGIS: several writers and many readers on other machines, one
database QGIS and any SQL client read directly. The schema is the
GeoPackage store's (``docs/architecture.md``) with PostGIS geometry columns
(SRID 4326, GiST-indexed) in place of GeoPackage blobs: ``features.geom``,
``regions.geom`` and ``pieces.geom`` (generated from the stored WKB, whose
exact bytes key the partition caches). ``feature_history`` is a view with
one row per validity interval, as in the GeoPackage.

Writers take turns on a transaction-scoped advisory lock
(``pg_advisory_xact_lock``), one version per transaction, so a second import
waits instead of colliding and reuses features stored meanwhile.
:meth:`PostGISStore.snapshot` is a REPEATABLE READ read-only transaction.
The bookkeeping tables (claims ledger and events, settlements and roads,
alert and pull state, stored results) are those of the GeoPackage store,
written by the same modules through :mod:`._sql`; they are created with the
store (or, for a store made before they were, when it is first opened for
writing), the reference layers on their first import.
"""

from __future__ import annotations

import copy
import hashlib
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, StoreError
from ..model import iso
from ..normalise import FeaturePieces, Piece, piece_key
from ._sql import Sql, sql_of
from .base import ReadCache, Store, StoredFeature, VersionInfo
from .bookkeeping import BookkeepingTables
from .gpkg import SCHEMA_VERSION, _tile_text, decode_gpkg, encode_gpkg, feature_rows

#: Key of the writer lock (``pg_advisory_xact_lock``): one per database, shared by every Frontline writer.
WRITER_LOCK = int.from_bytes(hashlib.blake2b(b"frontline writer", digest_size=8).digest(), "big", signed=True)

SCHEMA = """
CREATE TABLE meta (key text PRIMARY KEY, value text);
CREATE TABLE regions (
  fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE NOT NULL, kind text NOT NULL,
  geom geometry(MultiPolygon, 4326) NOT NULL);
CREATE INDEX regions_geom ON regions USING gist (geom);
CREATE TABLE versions (
  pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, source text NOT NULL, version_id text NOT NULL,
  valid_time bigint NOT NULL, published_at bigint, revised_at bigint, revision integer NOT NULL DEFAULT 1,
  content_hash text NOT NULL, origin text, imported_at bigint NOT NULL, n_features integer NOT NULL,
  UNIQUE (source, version_id), UNIQUE (source, valid_time));
CREATE TABLE revisions (
  source text NOT NULL, version_id text NOT NULL, revision integer NOT NULL, revised_at bigint,
  content_hash text NOT NULL, origin text, imported_at bigint NOT NULL, members integer[],
  PRIMARY KEY (source, version_id, revision));
CREATE TABLE features (
  fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, source text NOT NULL, fkey bytea NOT NULL,
  kind text NOT NULL, key text, role text NOT NULL, side text, name text, name_en text, at_label text,
  bearing double precision, props jsonb, repaired boolean NOT NULL DEFAULT false,
  counted boolean NOT NULL DEFAULT false, home_of text, drawn_km2 double precision,
  geom geometry(Geometry, 4326), UNIQUE (source, fkey));
CREATE INDEX features_geom ON features USING gist (geom);
CREATE TABLE spans (
  span_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, feature_fid bigint NOT NULL REFERENCES features(fid),
  source text NOT NULL, valid_from bigint NOT NULL, valid_to bigint);
CREATE INDEX spans_time ON spans (source, valid_from, valid_to);
CREATE INDEX spans_to ON spans (source, valid_to);
CREATE INDEX spans_feature ON spans (feature_fid, valid_from);
CREATE TABLE pieces (
  piece_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, feature_fid bigint NOT NULL REFERENCES features(fid),
  drawn boolean NOT NULL, home text NOT NULL,
  tile text NOT NULL, what text NOT NULL, area_km2 double precision NOT NULL, wkb bytea NOT NULL,
  geom geometry(Geometry, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromWKB(wkb), 4326)) STORED);
CREATE INDEX pieces_feature ON pieces (feature_fid);
CREATE INDEX pieces_tile ON pieces (home, tile) WHERE NOT drawn;
CREATE TABLE version_areas (
  version_pk bigint NOT NULL REFERENCES versions(pk) ON DELETE CASCADE, region text NOT NULL,
  convention text NOT NULL, side text NOT NULL, km2 double precision NOT NULL,
  PRIMARY KEY (version_pk, region, convention, side));
CREATE TABLE imports (
  import_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, started bigint NOT NULL, finished bigint,
  origin text, summary jsonb);
CREATE TABLE problems (import_id bigint, origin text NOT NULL, message text NOT NULL);
CREATE VIEW feature_history AS
  SELECT s.span_id AS fid, f.fid AS feature_fid, f.source, f.kind, f.key, f.role, f.side, f.name, f.name_en,
         f.at_label, f.bearing, f.counted, to_timestamp(s.valid_from) AS valid_from,
         to_timestamp(s.valid_to) AS valid_to, f.geom
  FROM spans s JOIN features f ON f.fid = s.feature_fid;
"""

#: Ends the spans of features absent from a version at ``t`` and resumes those present again at ``n``.
_SPANS_END = """
WITH cov AS (
  SELECT span_id, feature_fid, valid_to FROM spans
  WHERE source = %(s)s AND valid_from < %(t)s AND (valid_to IS NULL OR valid_to > %(t)s)
    AND feature_fid <> ALL(%(m)s::bigint[])),
ended AS (UPDATE spans SET valid_to = %(t)s WHERE span_id IN (SELECT span_id FROM cov))
INSERT INTO spans (feature_fid, source, valid_from, valid_to)
SELECT feature_fid, %(s)s, %(n)s, valid_to FROM cov
WHERE %(n)s::bigint IS NOT NULL AND (valid_to IS NULL OR valid_to > %(n)s::bigint)
"""

#: Makes the members not yet valid at ``t`` valid from ``t``: an interval starting at ``n`` starts earlier.
_SPANS_START = """
WITH new AS (
  SELECT f FROM unnest(%(m)s::bigint[]) AS f
  WHERE NOT EXISTS (SELECT 1 FROM spans WHERE source = %(s)s AND feature_fid = f AND valid_from < %(t)s
                    AND (valid_to IS NULL OR valid_to > %(t)s))),
moved AS (UPDATE spans SET valid_from = %(t)s
          WHERE source = %(s)s AND valid_from = %(n)s::bigint AND feature_fid IN (SELECT f FROM new)
          RETURNING feature_fid)
INSERT INTO spans (feature_fid, source, valid_from, valid_to)
SELECT f, %(s)s, %(t)s, %(n)s::bigint FROM new WHERE f NOT IN (SELECT feature_fid FROM moved)
"""

#: Takes the version at ``t`` out of intervals ending at it: they reach ``n``, or join the one starting there.
_SPANS_UNEND = """
WITH nxt AS (SELECT span_id, feature_fid, valid_to FROM spans WHERE source = %(s)s AND valid_from = %(n)s::bigint),
ending AS (
  SELECT e.span_id, nx.span_id AS next_id, nx.valid_to AS next_to FROM spans e
  LEFT JOIN nxt nx ON nx.feature_fid = e.feature_fid WHERE e.source = %(s)s AND e.valid_to = %(t)s),
gone AS (DELETE FROM spans WHERE span_id IN (SELECT next_id FROM ending WHERE next_id IS NOT NULL))
UPDATE spans s SET valid_to = CASE WHEN e.next_id IS NULL THEN %(n)s::bigint ELSE e.next_to END
FROM ending e WHERE s.span_id = e.span_id
"""

_VCOLS = "pk, source, version_id, valid_time, published_at, revised_at, revision, content_hash, origin, n_features"
_FCOLS = (
    "f.fid, f.fkey, f.kind, f.key, f.role, f.side, f.name, f.name_en, f.at_label, f.bearing, f.props, "
    "ST_AsBinary(f.geom), f.repaired"
)


def _connect(url: str, readonly: bool) -> Any:
    try:
        import psycopg
    except ImportError:  # an optional dependency: only PostGIS stores need it
        raise StoreError('A PostGIS store needs psycopg: pip install "psycopg[binary]".') from None
    opts = "-c default_transaction_read_only=on" if readonly else None
    try:
        return psycopg.connect(url, autocommit=True, options=opts) if opts else psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreError(f"Cannot connect to the PostGIS store {_safe(url)}: {str(exc).strip()}") from None


def _safe(url: str) -> str:
    """The URL without its password (for messages)."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user = head.rpartition("//")
    return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"


def _bookkeeping_ddl() -> str:
    """The DDL of the bookkeeping tables on PostgreSQL (``CREATE … IF NOT EXISTS``)."""
    from .alert_state import ALERT_SCHEMA
    from .ledger import LEDGER_SCHEMA
    from .pull_state import PULL_STATE_SCHEMA
    from .results import RESULTS_SCHEMA

    return "\n".join(d["postgres"] for d in (LEDGER_SCHEMA, ALERT_SCHEMA, PULL_STATE_SCHEMA, RESULTS_SCHEMA))


class PostGISStore(BookkeepingTables, Store):
    """A Frontline store in a PostgreSQL database with PostGIS.

    Parameters
    ----------
    url
        ``postgresql://user[:password]@host[:port]/database``; the database is
        made a store by :meth:`create`.
    readonly
        Open without write access (every transaction read-only).
    """

    _writing = False  # inside a write transaction begun by begin(): the read cache is not used
    _rcache: ReadCache | None = None

    def _cache(self) -> ReadCache | None:
        """The handle's read cache for what this connection sees now (None inside a write transaction).

        The mark is the transaction snapshot (``pg_current_snapshot()``): two equal snapshots see the
        same committed transactions, and any write since (here or elsewhere) takes a new transaction id,
        which changes it. Inside :meth:`snapshot` it is the read transaction's own, constant one.
        """
        if self._writing:
            return None
        if self._rcache is None:
            self._rcache = ReadCache()
        return self._rcache.at(self.db.execute("SELECT pg_current_snapshot()::text").fetchone()[0])

    def __init__(self, url: str, readonly: bool = False):
        self.url = self.path = url  # path: what worker processes reopen (frontline.ingest)
        self.readonly = readonly
        self.db = _connect(url, readonly)
        try:
            ver = self.get_meta("schema_version")
        except Exception as exc:  # no meta table: an empty or foreign database
            self.db.close()
            raise StoreError(f"{_safe(url)} is not a Frontline store ({str(exc).strip().splitlines()[0]}).") from None
        if ver != SCHEMA_VERSION:
            self.db.close()
            raise StoreError(f"{_safe(url)} is not a Frontline store (schema {ver!r}, expected {SCHEMA_VERSION}).")
        self._theatre_key = self._regions_key()
        if not readonly and self.db.execute("SELECT to_regclass('analysis_results')").fetchone()[0] is None:
            with self.transaction():  # a store made before the bookkeeping tables were on PostGIS
                self.db.execute(_bookkeeping_ddl())

    @property
    def sql(self) -> Sql:
        """The ``?``-placeholder SQL layer the bookkeeping modules use (:mod:`frontline.store._sql`)."""
        return sql_of(self)

    # -- lifecycle ----------------------------------------------------------
    @classmethod
    def create(
        cls, url: str, regions: dict[str, tuple[str, BaseGeometry]], sides: Sequence[str] = ("ua", "ru")
    ) -> PostGISStore:
        """Make a database (with the PostGIS extension) a new store with its regions, in one transaction."""
        db = _connect(url, readonly=False)
        try:
            if db.execute("SELECT to_regclass('meta')").fetchone()[0] is not None:
                raise StoreError(f"{_safe(url)} already holds a store; use another database.")
            with db.transaction():
                db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                db.execute(SCHEMA)
                db.execute(_bookkeeping_ddl())
                with db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO meta VALUES (%s, %s)",
                        [("schema_version", SCHEMA_VERSION), ("sides", ",".join(sides)), ("created", iso(time.time()))],
                    )
                    cur.executemany(
                        "INSERT INTO regions (name, kind, geom) VALUES (%s, %s, ST_Multi(ST_GeomFromWKB(%s, 4326)))",
                        [(n, k, shapely.to_wkb(g)) for n, (k, g) in regions.items()],
                    )
        finally:
            db.close()
        return cls(url)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        found = [v for (v,) in self.db.execute("SELECT value FROM meta WHERE key = %s", (key,))]
        return found[0] if found else default

    def close(self) -> None:
        self.db.close()

    # -- regions ------------------------------------------------------------
    def regions(self) -> dict[str, tuple[str, BaseGeometry]]:
        rows = self.db.execute("SELECT name, kind, ST_AsBinary(geom) FROM regions ORDER BY fid").fetchall()
        geoms = shapely.from_wkb([r[2] for r in rows])
        return {r[0]: (r[1], g) for r, g in zip(rows, geoms)}

    def _regions_key(self) -> str:
        """The key :func:`frontline.store.theatre_of` caches the theatre by: the GeoPackage's for the same borders."""
        h = hashlib.blake2b(digest_size=16)
        for _, g in self.regions().values():
            blob = encode_gpkg(g)
            assert blob is not None
            h.update(blob)
        return h.hexdigest()

    # -- versions -----------------------------------------------------------
    def sources(self) -> list[str]:
        return self._sources_versions(None)[0]

    def _sources_versions(self, source: str | None) -> tuple[list[str], list[VersionInfo] | None]:
        """The sources, and the versions of ``source`` (None: not asked), from the cache when it holds them."""

        def read_sources() -> list[str]:
            return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM versions ORDER BY source")]

        def read_versions() -> list[VersionInfo]:
            return self._versions("source = %s ORDER BY valid_time", (source,))

        cache = self._cache()  # every time lookup reads all versions: kept while the store is unchanged
        if cache is None:
            return read_sources(), (None if source is None else read_versions())
        srcs = list(cache.value("sources", read_sources))
        if source is None or source not in srcs:
            return srcs, None
        return srcs, list(cache.value(("versions", source), read_versions))

    def default_source(self, source: str | None = None) -> str:
        """The given source, or the one to use when none is given (``deepstate`` when stored)."""
        srcs = self.sources()
        if source and source not in srcs:
            raise InputError(f"no source {source!r} in the store (have: {', '.join(srcs) or 'none'})", field="source")
        if not srcs:
            raise InputError("the store holds no versions yet: run `frontline import` first")
        return source or ("deepstate" if "deepstate" in srcs else srcs[0])

    def _versions(self, where: str, args: tuple) -> list[VersionInfo]:
        """Versions by a ``WHERE`` clause (with its order and limit)."""
        return [VersionInfo(*r) for r in self.db.execute(f"SELECT {_VCOLS} FROM versions WHERE {where}", args)]

    def versions(self, source: str | None = None) -> list[VersionInfo]:
        source = self.default_source(source)
        found = self._sources_versions(source)[1]
        return found if found is not None else self._versions("source = %s ORDER BY valid_time", (source,))

    def version_at(self, t: int, source: str | None = None) -> VersionInfo | None:
        found = self._versions(
            "source = %s AND valid_time <= %s ORDER BY valid_time DESC LIMIT 1", (self.default_source(source), int(t))
        )
        return found[0] if found else None

    def version(self, source: str, version_id: str) -> VersionInfo | None:
        found = self._versions("source = %s AND version_id = %s", (source, str(version_id)))
        return found[0] if found else None

    def revisions(self, source: str, version_id: str) -> list[dict]:
        cols = ("revision", "revised_at", "content_hash", "origin", "imported_at")
        rows = self.db.execute(
            f"SELECT {', '.join(cols)} FROM revisions WHERE source = %s AND version_id = %s ORDER BY revision",
            (source, str(version_id)),
        )
        return [dict(zip(cols, r)) for r in rows]

    def revision_rows(self, source: str) -> list[dict]:
        cols = ("version_id", "revision", "revised_at", "content_hash", "origin", "imported_at", "n_features")
        rows = self.db.execute(
            "SELECT version_id, revision, revised_at, content_hash, origin, imported_at, "
            "COALESCE(cardinality(members), 0) FROM revisions WHERE source = %s ORDER BY version_id, revision",
            (source,),
        )
        return [dict(zip(cols, r)) for r in rows]

    def revision_members(self, source: str, version_id: str, revision: int) -> list[int]:
        found = self._stored_members(source, version_id, revision)
        return [] if found is None else found

    def _stored_members(self, source: str, version_id: str, revision: int) -> list[int] | None:
        """The member list written with a revision (None: no such row, or none written)."""
        r = self.db.execute(
            "SELECT members FROM revisions WHERE source = %s AND version_id = %s AND revision = %s",
            (source, str(version_id), int(revision)),
        ).fetchone()
        return None if r is None or r[0] is None else list(r[0])

    # -- features -----------------------------------------------------------
    @staticmethod
    def _decoded(rows: list) -> dict[int, tuple[tuple, BaseGeometry]]:
        """``fid → (row, geometry)``: rows of :data:`_FCOLS` with their geometry decoded (one array call)."""
        geoms = shapely.from_wkb([r[11] for r in rows]) if rows else []
        return {r[0]: (tuple(r), g) for r, g in zip(rows, geoms)}

    @staticmethod
    def _features(rows: list) -> list[StoredFeature]:
        """Features from rows of :data:`_FCOLS` (the fields of :class:`StoredFeature` in order)."""
        return [_feature(r, g) for r, g in PostGISStore._decoded(rows).values()]

    def member_fids(self, version: VersionInfo) -> list[int]:
        # The members written with the version are its features (the spans are made from them): one row,
        # where the spans query scans every interval that started before the version.
        found = self._stored_members(version.source, version.version_id, version.revision)
        if found is not None:
            return found
        t = version.valid_time
        rows = self.db.execute(
            "SELECT feature_fid FROM spans WHERE source = %s AND valid_from <= %s "
            "AND (valid_to IS NULL OR valid_to > %s)",
            (version.source, t, t),
        )
        return [r[0] for r in rows]

    def features_at(self, version: VersionInfo, kinds: Sequence[str] | None = None) -> list[StoredFeature]:
        with self.snapshot():  # the members and their rows from one state
            feats = sorted(self.features_by_fid(self.member_fids(version)), key=lambda f: f.fid)
        return [f for f in feats if not kinds or f.kind in kinds]

    def features_by_fid(self, fids: Sequence[int]) -> list[StoredFeature]:
        def read(ids: list[int]) -> dict[int, tuple[tuple, BaseGeometry]]:
            rows = self.db.execute(f"SELECT {_FCOLS} FROM features f WHERE f.fid = ANY(%s::bigint[])", (ids,))
            return self._decoded(rows.fetchall())

        fids = list(fids)
        cache = self._cache()  # a fid's row never changes; versions share most of theirs
        got = read(fids) if cache is None else cache.by_fid(cache.rows, fids, read)
        return [_feature(*got[f]) for f in fids if f in got]

    def feature_history(self, fid: int) -> list[tuple[int, int | None]]:
        rows = self.db.execute(
            "SELECT valid_from, valid_to FROM spans WHERE feature_fid = %s ORDER BY valid_from", (fid,)
        )
        return [(a, b) for a, b in rows]

    def changed_features(self, a: VersionInfo, b: VersionInfo) -> tuple[list[int], list[int]]:
        """Feature ids ``(removed, added)`` from version a to b, as the server's set differences."""
        members = (
            "SELECT feature_fid FROM spans WHERE source = %s AND valid_from <= %s "
            "AND (valid_to IS NULL OR valid_to > %s)"
        )
        args = (a.source, a.valid_time, a.valid_time, b.source, b.valid_time, b.valid_time)
        sql = f"({members}) EXCEPT ({members}) ORDER BY 1"
        with self.snapshot():
            removed = [f for (f,) in self.db.execute(sql, args)]
            added = [f for (f,) in self.db.execute(sql, args[3:] + args[:3])]
        return removed, added

    def version_members(self, source: str | None = None) -> Iterator[tuple[VersionInfo, list[int]]]:
        """Every version with its features, gathered by the server (one query)."""
        with self.snapshot():
            versions = {v.pk: v for v in self.versions(source)}
            if not versions:
                return
            rows = self.db.execute(
                "SELECT v.pk, COALESCE(array_agg(s.feature_fid ORDER BY s.feature_fid) "
                "FILTER (WHERE s.feature_fid IS NOT NULL), '{}') FROM versions v LEFT JOIN spans s "
                "ON s.source = v.source AND s.valid_from <= v.valid_time "
                "AND (s.valid_to IS NULL OR s.valid_to > v.valid_time) "
                "WHERE v.source = %s GROUP BY v.pk, v.valid_time ORDER BY v.valid_time",
                (next(iter(versions.values())).source,),
            ).fetchall()
        for pk, fids in rows:
            yield versions[pk], list(fids)

    def pieces(self, fids: Sequence[int]) -> dict[int, FeaturePieces]:
        ids = list(fids)
        cache = self._cache()  # a feature's pieces never change once written
        got = self._read_pieces(ids) if cache is None else cache.by_fid(cache.pieces, ids, self._read_pieces)
        return {f: _copy_pieces(got[f]) for f in sorted(set(ids)) if f in got}  # in fid order, as read before

    def _read_pieces(self, ids: list[int]) -> dict[int, FeaturePieces]:
        out: dict[int, FeaturePieces] = {}
        for fid, counted, home_of, drawn_km2 in self.db.execute(
            "SELECT fid, counted, home_of, drawn_km2 FROM features WHERE fid = ANY(%s::bigint[])", (ids,)
        ):
            out[fid] = FeaturePieces(counted=bool(counted), home_of=home_of, drawn_km2=drawn_km2 or 0.0)
        rows = self.db.execute(
            "SELECT feature_fid, drawn, home, tile, what, area_km2, wkb FROM pieces "
            "WHERE feature_fid = ANY(%s::bigint[]) ORDER BY piece_id",  # as written: the order the union saw
            (ids,),
        ).fetchall()
        geoms = shapely.from_wkb([r[6] for r in rows]) if rows else []
        for r, g in zip(rows, geoms):
            tile = orjson.loads(r[3])
            wkb = bytes(r[6])
            piece = Piece(piece_key(wkb), r[2], tuple(tile) if isinstance(tile, list) else tile, r[4], g, r[5])
            (out[r[0]].drawn if r[1] else out[r[0]].pieces).append(piece)
        return out

    def spans_of(self, source: str, fids: Sequence[int]) -> list[tuple[int, int, int | None]]:
        rows = self.db.execute(
            "SELECT feature_fid, valid_from, valid_to FROM spans WHERE source = %s AND feature_fid = ANY(%s::bigint[])",
            (source, list(fids)),
        )
        return [(f, a, b) for f, a, b in rows]

    def counted_pieces_in_tiles(self, source: str, tiles: dict[str, Sequence]) -> list[tuple[int, str, str, bytes]]:
        """Partition pieces of counted features in given tiles of the homes, as raw WKB rows (see :class:`Store`)."""
        rows: list[tuple[int, str, str, bytes]] = []
        for home, ts in tiles.items():
            rows += [
                (f, h, w, bytes(b))
                for f, h, w, b in self.db.execute(
                    "SELECT p.feature_fid, p.home, p.what, p.wkb FROM pieces p "
                    "JOIN features f ON f.fid = p.feature_fid "
                    "WHERE NOT p.drawn AND f.counted AND f.source = %s AND p.home = %s AND p.tile = ANY(%s::text[])",
                    (source, home, [_tile_text(t) for t in ts]),
                )
            ]
        return rows

    # -- areas --------------------------------------------------------------
    def area_rows(self, source: str, region: str, convention: str) -> list[tuple[int, str, float]]:
        rows = self.db.execute(
            "SELECT a.version_pk, a.side, a.km2 FROM version_areas a JOIN versions v ON v.pk = a.version_pk "
            "WHERE v.source = %s AND a.region = %s AND a.convention = %s ORDER BY v.valid_time",
            (source, region, convention),
        )
        return [(pk, side, km2) for pk, side, km2 in rows]

    # -- transactions -------------------------------------------------------
    def _in_transaction(self) -> bool:
        import psycopg

        return self.db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def begin(self) -> None:
        """Start a write transaction, waiting (saying so on stderr) while another writer holds the lock."""
        if self._in_transaction():
            raise StoreError("cannot start a transaction within a transaction")
        self.db.execute("BEGIN")
        try:
            if not self.db.execute("SELECT pg_try_advisory_xact_lock(%s)", (WRITER_LOCK,)).fetchone()[0]:
                print("Waiting for another writer to finish with the store…", file=sys.stderr, flush=True)
                self.db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._writing = True

    def commit(self) -> None:
        """Commit the write transaction (its end releases the writer lock)."""
        self.db.execute("COMMIT")
        self._writing = False

    def rollback(self) -> None:
        """Abandon the write transaction, if one is open."""
        self._writing = False
        if self._rcache is not None:  # rows read inside the abandoned transaction are gone
            self._rcache.clear()
        if self._in_transaction():
            self.db.execute("ROLLBACK")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read everything inside from one state of the store (a REPEATABLE READ read-only transaction).

        Nested uses (and use inside a write transaction) join the open one.
        """
        own = not self._in_transaction()
        if own:
            self.db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if own and self._in_transaction():
                self.db.execute("COMMIT")

    # -- the write path (used by frontline.ingest) --------------------------
    def feature_keys(self, source: str, after_fid: int = 0) -> dict[bytes, int]:
        rows = self.db.execute("SELECT fid, fkey FROM features WHERE source = %s AND fid > %s", (source, after_fid))
        return {bytes(k): fid for fid, k in rows}

    def feature_fid(self, source: str, fkey: bytes) -> int | None:
        row = self.db.execute("SELECT fid FROM features WHERE source = %s AND fkey = %s", (source, fkey)).fetchone()
        return row[0] if row else None

    def insert_feature(self, source: str, fkey: bytes, rf: Any, fp: FeaturePieces) -> int:
        frow, prows = feature_rows(rf, fp)
        return self._insert(
            source, fkey, frow[:-1], shapely.to_wkb(rf.geometry) if rf.geometry is not None else None, prows
        )

    def insert_feature_rows(self, source: str, fkey: bytes, frow: tuple, prows: list[tuple]) -> int:
        """Insert a feature from :func:`frontline.store.gpkg.feature_rows` (its geometry as a GeoPackage blob)."""
        blob = frow[-1]
        wkb = shapely.to_wkb(decode_gpkg([blob])[0]) if blob is not None else None
        return self._insert(source, fkey, frow[:-1], wkb, prows)

    def _insert(self, source: str, fkey: bytes, attrs: tuple, wkb: bytes | None, prows: list[tuple]) -> int:
        """One feature row (an identical one stored meanwhile by another writer is reused) and its pieces."""
        kind, key, role, side, name, name_en, at, bearing, props, repaired, counted, home_of, drawn_km2 = attrs
        row = self.db.execute(
            "INSERT INTO features (source, fkey, kind, key, role, side, name, name_en, at_label, bearing, props, "
            "repaired, counted, home_of, drawn_km2, geom) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, "
            "%s, %s, %s, %s, ST_GeomFromWKB(%s, 4326)) ON CONFLICT (source, fkey) DO NOTHING RETURNING fid",
            (
                source,
                fkey,
                kind,
                key,
                role,
                side,
                name,
                name_en,
                at,
                bearing,
                props,
                bool(repaired),
                bool(counted),
                home_of,
                drawn_km2,
                wkb,
            ),
        ).fetchone()
        if row is None:
            fid = self.feature_fid(source, fkey)
            assert fid is not None
            return fid
        fid = row[0]
        if prows:
            with (
                self.db.cursor() as cur,
                cur.copy("COPY pieces (feature_fid, drawn, home, tile, what, area_km2, wkb) FROM STDIN") as copy,
            ):
                for drawn, home, tile, what, km2, pwkb in prows:
                    copy.write_row((fid, bool(drawn), home, tile, what, km2, pwkb))
        return fid

    def _spans_insert(self, source: str, t: int, members: Sequence[int]) -> None:
        """Make the features of a new version at ``t`` valid at ``t`` (splitting and merging intervals)."""
        args = {"s": source, "t": t, "n": self._next_time(source, t), "m": list(members)}
        self.db.execute(_SPANS_END, args)
        self.db.execute(_SPANS_START, args)

    def _spans_remove(self, source: str, t: int) -> None:
        """Take the version at ``t`` out of the intervals (before its row is deleted)."""
        args = {"s": source, "t": t, "n": self._next_time(source, t)}
        self.db.execute(_SPANS_UNEND, args)
        self.db.execute(
            "DELETE FROM spans WHERE source = %(s)s AND valid_from = %(t)s "
            "AND valid_to IS NOT DISTINCT FROM %(n)s::bigint",
            args,
        )
        self.db.execute("UPDATE spans SET valid_from = %(n)s::bigint WHERE source = %(s)s AND valid_from = %(t)s", args)

    def _next_time(self, source: str, t: int) -> int | None:
        return self.db.execute(
            "SELECT MIN(valid_time) FROM versions WHERE source = %s AND valid_time > %s", (source, t)
        ).fetchone()[0]

    def put_version(self, snap: Any, members: Sequence[int], areas: dict[tuple[str, str, str], float]) -> str:
        """Store one version (inside the caller's transaction): ``added``, ``revised`` or ``unchanged``."""
        source, vid, t = snap.source, snap.version_id, int(snap.valid_time.timestamp())
        existing = self.version(source, vid)
        if existing is not None and existing.content_hash == snap.content_hash:
            return "unchanged"
        if existing is not None:
            revision, status = existing.revision + 1, "revised"
            self._spans_remove(source, existing.valid_time)
            self.db.execute("DELETE FROM versions WHERE pk = %s", (existing.pk,))
        else:
            clash = self.db.execute(
                "SELECT version_id FROM versions WHERE source = %s AND valid_time = %s", (source, t)
            ).fetchone()
            if clash:
                raise InputError(f"version {vid} has the same time as stored version {clash[0]}", where=snap.origin)
            revision, status = 1, "added"
        self._spans_insert(source, t, sorted(set(members)))

        def ts(d: Any) -> int | None:
            return int(d.timestamp()) if d else None

        row = {
            "source": source,
            "version_id": vid,
            "valid_time": t,
            "published_at": ts(snap.published_at),
            "revised_at": ts(snap.revised_at),
            "revision": revision,
            "content_hash": snap.content_hash,
            "origin": snap.origin,
            "imported_at": int(time.time()),
            "n_features": len(members),
            "members": sorted(set(members)),
        }
        cols = [c for c in row if c != "members"]
        pk = self.db.execute(
            f"INSERT INTO versions ({', '.join(cols)}) VALUES ({', '.join(f'%({c})s' for c in cols)}) RETURNING pk",
            row,
        ).fetchone()[0]
        rcols = ("source", "version_id", "revision", "revised_at", "content_hash", "origin", "imported_at", "members")
        self.db.execute(  # replaces a row of the same number, as the GeoPackage store does
            f"INSERT INTO revisions ({', '.join(rcols)}) VALUES ({', '.join(f'%({c})s' for c in rcols)}) "
            "ON CONFLICT (source, version_id, revision) DO UPDATE SET revised_at = EXCLUDED.revised_at, "
            "content_hash = EXCLUDED.content_hash, origin = EXCLUDED.origin, imported_at = EXCLUDED.imported_at, "
            "members = EXCLUDED.members",
            row,
        )
        with self.db.cursor() as cur:
            cur.executemany(
                "INSERT INTO version_areas VALUES (%s, %s, %s, %s, %s)",
                [(pk, r, c, s, float(v)) for (r, s, c), v in areas.items()],
            )
        return status

    def log_import(self, origin: str, report: Any) -> None:
        """Record an import and every problem it met (``imports``, ``problems``).

        Parameters
        ----------
        origin
            What was imported (a path, ``pull <url>``).
        report
            An :class:`ImportReport`, or a result holding one as ``.report``.
        """
        rep = getattr(report, "report", report)
        if not hasattr(rep, "problems"):
            raise TypeError(f"log_import needs an ImportReport, not {type(report).__name__}.")
        summary = orjson.dumps({k: v for k, v in rep.as_dict().items() if k != "problems"}).decode()
        # inside the caller's write transaction when there is one, else in one of its own
        with nullcontext() if self._in_transaction() else self.transaction():
            now = int(time.time())
            import_id = self.db.execute(
                "INSERT INTO imports (started, finished, origin, summary) VALUES (%s, %s, %s, %s::jsonb) "
                "RETURNING import_id",
                (now, now, origin, summary),
            ).fetchone()[0]
            with self.db.cursor() as cur:
                cur.executemany(
                    "INSERT INTO problems VALUES (%s, %s, %s)", [(import_id, o, m) for o, m in rep.problems]
                )


def _feature(r: tuple, g: BaseGeometry) -> StoredFeature:
    """A :class:`StoredFeature` from a row of :data:`_FCOLS` and its geometry (props copied anew)."""
    fid, fk, kind, key, role, side, name, name_en, at, br, props, _, rep = r
    return StoredFeature(
        fid, bytes(fk), kind, key, role, side, name or "", name_en or "", at, br, copy.deepcopy(props or {}), g, rep
    )


def _copy_pieces(fp: FeaturePieces) -> FeaturePieces:
    """A caller's own copy of cached pieces (the lists are new; pieces and geometries are immutable)."""
    return FeaturePieces(list(fp.pieces), list(fp.drawn), fp.counted, fp.home_of, fp.drawn_km2, fp.note)
