"""The embedded default store: one GeoPackage (SQLite) file.

Why GeoPackage: it is one transactional file, needs no server, and QGIS opens
it as it is. The ``features`` layer holds every distinct feature once;
``feature_history`` is a view with one row per validity interval and
``valid_from``/``valid_to`` as date-times, ready for QGIS's Temporal Controller;
``regions`` holds the homes and basemap countries (see ``docs/architecture.md``
for the schema).

It is a standard GeoPackage 1.3 (GDAL's ``validate_gpkg.py`` passes): geometry
columns are declared ``GEOMETRY`` (features mix types), each feature table has
a ``gpkg_rtree_index`` R-tree kept up to date by the spec's triggers (this
module gives its connections the ``ST_MinX``/... functions they call, see
:mod:`.gpkg_layout`), ``feature_history`` takes ``DATETIME`` validity from
``spans``' generated columns (``valid_from_dt``/``valid_to_dt``, in the spec's
``YYYY-MM-DDTHH:MM:SS.SSSZ``; an open end stays NULL), and the tables with an
``INTEGER PRIMARY KEY`` (``versions``, ``spans``, ``imports``, ...) are
registered as attributes tables; the others (``meta``, ``pieces``, ...) may not
be (the spec wants that key) and stay unlisted. Stores made before this layout
(meta ``gpkg_layout`` absent) are upgraded in one transaction when opened for
writing; read-only opens leave them as they are. A program writing the feature
tables outside Frontline needs those functions too (GDAL, QGIS and SpatiaLite
have them; plain ``sqlite3`` does not).

Writes happen one version per transaction, so a crash mid-import leaves every
earlier version complete and the import can simply be re-run.

Writers (imports, pulls, ledger and results writes, in any process) take
turns on the store's writer lock (:mod:`frontline.store.locking`), a
version at a time, waiting as long as it takes; a feature another writer
stored meanwhile is reused. Readers asking several questions of one state
use :meth:`GeoPackageStore.snapshot` (a WAL read transaction).
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from ..model import iso
from ..normalise import FeaturePieces, Piece, piece_key
from . import gpkg_layout, locking
from .base import ReadCache, Store, StoredFeature, VersionInfo
from .gpkg_tables import GeoPackageTables

SCHEMA_VERSION = "1"
# The GeoPackage layout within schema 1 (meta key ``gpkg_layout``): "2" is the standard one (typed geometry
# columns, R-trees, DATETIME validity, attribute tables registered); stores without the key upgrade on a
# writable open. A separate key, not a schema bump: the data and every query are the same in both.
LAYOUT_VERSION = "2"
WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]'
)
GPKG_APPLICATION_ID = 0x47504B47
GPKG_USER_VERSION = 10300


def encode_gpkg(geom: BaseGeometry | None) -> bytes | None:
    """GeoPackage geometry blob (header with XY envelope + little-endian WKB)."""
    if geom is None:
        return None
    if geom.is_empty:
        return b"GP" + bytes([0, 0b00010001]) + struct.pack("<i", 4326) + shapely.to_wkb(geom)
    minx, miny, maxx, maxy = geom.bounds
    return (
        b"GP"
        + bytes([0, 0b00000011])
        + struct.pack("<i", 4326)
        + struct.pack("<4d", minx, maxx, miny, maxy)
        + shapely.to_wkb(geom, byte_order=1)
    )


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def decode_gpkg(blobs: Sequence[bytes]) -> np.ndarray:
    """Decode GeoPackage geometry blobs into an array of shapely geometries."""
    wkbs = []
    for b in blobs:
        if b is None:
            wkbs.append(None)
            continue
        env = _ENVELOPE_BYTES[(b[3] >> 1) & 0b111]
        wkbs.append(b[8 + env :])
    return shapely.from_wkb(np.array(wkbs, dtype=object))


# The view's columns that reference a table column directly take its declared type (SQLite), so GDAL and
# QGIS read valid_from/valid_to as DATETIME (from spans' generated columns) and geom as GEOMETRY.
HISTORY_VIEW = """CREATE VIEW IF NOT EXISTS feature_history AS
  SELECT s.span_id AS fid, f.fid AS feature_fid, f.source, f.kind, f.key, f.role, f.side, f.name, f.name_en,
         f.at_label, f.bearing, f.counted, s.valid_from_dt AS valid_from, s.valid_to_dt AS valid_to, f.geom
  FROM spans s JOIN features f ON f.fid = s.feature_fid;
"""
SPANS_DT_COLUMNS = (
    "valid_from_dt DATETIME GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%fZ', valid_from, 'unixepoch')) VIRTUAL",
    "valid_to_dt DATETIME GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%fZ', valid_to, 'unixepoch')) VIRTUAL",
)

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS regions (
  fid INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, geom GEOMETRY);
CREATE TABLE IF NOT EXISTS versions (
  pk INTEGER PRIMARY KEY, source TEXT NOT NULL, version_id TEXT NOT NULL, valid_time INTEGER NOT NULL,
  published_at INTEGER, revised_at INTEGER, revision INTEGER NOT NULL DEFAULT 1,
  content_hash TEXT NOT NULL, origin TEXT, imported_at INTEGER NOT NULL, n_features INTEGER NOT NULL,
  UNIQUE (source, version_id), UNIQUE (source, valid_time));
CREATE TABLE IF NOT EXISTS revisions (
  source TEXT NOT NULL, version_id TEXT NOT NULL, revision INTEGER NOT NULL, revised_at INTEGER,
  content_hash TEXT NOT NULL, origin TEXT, imported_at INTEGER NOT NULL, members BLOB,
  PRIMARY KEY (source, version_id, revision));
CREATE TABLE IF NOT EXISTS features (
  fid INTEGER PRIMARY KEY, source TEXT NOT NULL, fkey BLOB NOT NULL, kind TEXT NOT NULL, key TEXT,
  role TEXT NOT NULL, side TEXT, name TEXT, name_en TEXT, at_label TEXT, bearing REAL, props TEXT,
  repaired INTEGER NOT NULL DEFAULT 0, counted INTEGER NOT NULL DEFAULT 0, home_of TEXT,
  drawn_km2 REAL, geom GEOMETRY, UNIQUE (source, fkey));
CREATE TABLE IF NOT EXISTS spans (
  span_id INTEGER PRIMARY KEY, feature_fid INTEGER NOT NULL REFERENCES features(fid), source TEXT NOT NULL,
  valid_from INTEGER NOT NULL, valid_to INTEGER, {spans_dt});
CREATE INDEX IF NOT EXISTS spans_time ON spans (source, valid_from, valid_to);
CREATE INDEX IF NOT EXISTS spans_to ON spans (source, valid_to);
CREATE INDEX IF NOT EXISTS spans_feature ON spans (feature_fid, valid_from);
CREATE TABLE IF NOT EXISTS pieces (
  feature_fid INTEGER NOT NULL REFERENCES features(fid), drawn INTEGER NOT NULL, home TEXT NOT NULL,
  tile TEXT NOT NULL, what TEXT NOT NULL, area_km2 REAL NOT NULL, wkb BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS pieces_feature ON pieces (feature_fid);
CREATE TABLE IF NOT EXISTS version_areas (
  version_pk INTEGER NOT NULL REFERENCES versions(pk) ON DELETE CASCADE, region TEXT NOT NULL,
  convention TEXT NOT NULL, side TEXT NOT NULL, km2 REAL NOT NULL,
  PRIMARY KEY (version_pk, region, convention, side));
CREATE TABLE IF NOT EXISTS imports (
  import_id INTEGER PRIMARY KEY, started INTEGER NOT NULL, finished INTEGER, origin TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS problems (
  import_id INTEGER, origin TEXT NOT NULL, message TEXT NOT NULL);
""".replace("{spans_dt}", ", ".join(SPANS_DT_COLUMNS))
    + HISTORY_VIEW
)

THEATRE_BOUNDS = (19.0, 42.0, 46.0, 57.0)  # min x, min y, max x, max y: readers' first extent
LAYERS = (
    ("features", "GEOMETRY", "Every distinct source feature, stored once, with its classification"),
    (
        "feature_history",
        "GEOMETRY",
        "One row per validity interval: use valid_from/valid_to in QGIS's Temporal Controller",
    ),
    ("regions", "GEOMETRY", "Homes of the sides and basemap countries"),
)

ATTRIBUTE_TABLES = {  # registered as GeoPackage attributes tables (those with an INTEGER PRIMARY KEY)
    "versions": "One row per stored map version: its time, revision and content hash",
    "spans": "Validity intervals of features (unix seconds; valid_from_dt/valid_to_dt as date-times)",
    "imports": "One row per import or pull",
}


def _standardise(db: sqlite3.Connection) -> None:
    """Give a store the standard GeoPackage layout (new or schema-1 store; inside the caller's transaction).

    Feature tables get their declared geometry type, contents rows and R-tree
    indexes (:mod:`.gpkg_layout`); ``spans`` gets its DATETIME generated
    columns, which the ``feature_history`` view passes on; the other tables
    are registered as attributes.
    """
    have = {r[1] for r in db.execute("PRAGMA table_xinfo(spans)")}
    for col in SPANS_DT_COLUMNS:
        if col.split()[0] not in have:  # a virtual generated column: a schema change, no rewrite
            db.execute(f"ALTER TABLE spans ADD COLUMN {col}")
    db.execute("DROP VIEW IF EXISTS feature_history")
    db.execute(HISTORY_VIEW)
    for name, gtype, desc in LAYERS:
        if name == "feature_history":  # a view: no R-tree of its own
            gpkg_layout.register_layer(db, name, gtype, desc, bounds=THEATRE_BOUNDS)
        else:
            gpkg_layout.make_feature_table(db, name, gtype, desc, bounds=THEATRE_BOUNDS)
    gpkg_layout.register_attributes(db, ATTRIBUTE_TABLES)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('gpkg_layout', ?)", (LAYOUT_VERSION,))


def feature_rows(rf, fp: FeaturePieces) -> tuple[tuple, list[tuple]]:
    """The ``features`` row (after source and fkey) and ``pieces`` rows (after fid) of a classified feature."""
    frow = (
        rf.kind,
        rf.key,
        rf.role,
        rf.side,
        rf.name,
        rf.name_en,
        rf.at,
        rf.bearing,
        json.dumps(rf.props, ensure_ascii=False),
        int(rf.repaired),
        int(fp.counted),
        fp.home_of,
        fp.drawn_km2,
        encode_gpkg(rf.geometry),
    )
    pieces = [(0, p) for p in fp.pieces] + [(1, p) for p in fp.drawn]
    if not pieces:
        return frow, []
    wkbs = shapely.to_wkb(np.array([p.geom for _, p in pieces], dtype=object))
    return frow, [(d, p.home, _tile_text(p.tile), p.what, p.area_km2, w) for (d, p), w in zip(pieces, wkbs)]


def _feature(r: tuple, g: BaseGeometry) -> StoredFeature:
    """A :class:`StoredFeature` from a row of :attr:`GeoPackageStore._FCOLS` and its geometry (props parsed anew)."""
    return StoredFeature(
        fid=r[0],
        fkey=r[1],
        kind=r[2],
        key=r[3],
        role=r[4],
        side=r[5],
        name=r[6] or "",
        name_en=r[7] or "",
        at=r[8],
        bearing=r[9],
        props=orjson.loads(r[10] or b"{}"),
        geometry=g,
        repaired=bool(r[12]),
    )


def _copy_pieces(fp: FeaturePieces) -> FeaturePieces:
    """A caller's own copy of cached pieces (the lists are new; pieces and geometries are immutable)."""
    return FeaturePieces(list(fp.pieces), list(fp.drawn), fp.counted, fp.home_of, fp.drawn_km2, fp.note)


def _tile_text(tile) -> str:
    return f"[{tile[0]}, {tile[1]}]" if isinstance(tile, tuple) else str(tile)  # as json.dumps writes it


def default_store_path() -> Path:
    env = os.environ.get("FRONTLINE_STORE")
    return Path(env) if env else Path.cwd() / "frontline.gpkg"


class GeoPackageStore(GeoPackageTables, Store):
    """A Frontline store in one GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created by :meth:`create`.
    readonly
        Open without write access (the web server does).
    """

    _theatre_key: str | None = None  # set by frontline.store.theatre_of, once per handle
    _writing = False  # inside a write transaction begun by begin(): the read cache is not used
    _rcache: ReadCache | None = None

    def _cache(self) -> ReadCache | None:
        """The handle's read cache for the store's present state (None inside a write transaction).

        ``data_version`` changes when another connection commits; ``total_changes`` counts this
        connection's own writes (see :class:`~frontline.store.base.ReadCache`).
        """
        if self._writing:
            return None
        if self._rcache is None:
            self._rcache = ReadCache()
        mark = (self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes)
        return self._rcache.at(mark)

    def __init__(self, path: Path | str, readonly: bool = False):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"No store at {self.path}: create one with `frontline init --store {self.path}`.")
        uri = f"file:{self.path}?mode={'ro' if readonly else 'rw'}"
        self.db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            ver = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a Frontline store ({exc}).") from None
        if ver != SCHEMA_VERSION:
            raise ValueError(f"{self.path} is not a Frontline store (schema {ver!r}, expected {SCHEMA_VERSION}).")
        self.readonly = readonly
        gpkg_layout.install_functions(self.db)  # the R-tree triggers call ST_MinX & co. on every feature write
        if not readonly and self.get_meta("gpkg_layout") != LAYOUT_VERSION:
            self._upgrade_layout()

    def _upgrade_layout(self) -> None:
        """Bring a store made before the standard GeoPackage layout up to it, in one transaction.

        Declared geometry types, R-tree indexes, DATETIME validity columns in
        ``feature_history`` and attribute-table registration (see
        :func:`_standardise`); a read-only open leaves the store as it is.
        """
        try:
            self.begin()
            try:
                if self.get_meta("gpkg_layout") != LAYOUT_VERSION:  # another writer may have done it meanwhile
                    _standardise(self.db)
            except BaseException:
                self.rollback()
                raise
            self.commit()
        except sqlite3.Error as exc:
            self.db.close()
            raise ValueError(
                f"{self.path} was made by an older Frontline: opening it for writing upgrades it to the standard "
                f"GeoPackage layout (R-tree indexes, typed columns), which failed ({exc}); nothing was changed. "
                "Make the file writable and run any writing command again, or open it read-only."
            ) from None

    # -- lifecycle ----------------------------------------------------------
    @classmethod
    def create(
        cls, path: Path | str, regions: dict[str, tuple[str, BaseGeometry]], sides: Sequence[str] = ("ua", "ru")
    ) -> GeoPackageStore:
        """Create a new store file with its regions (homes and basemap countries)."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists; remove it or choose another --store.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp, isolation_level=None)
        db.execute(f"PRAGMA application_id={GPKG_APPLICATION_ID}")
        db.execute(f"PRAGMA user_version={GPKG_USER_VERSION}")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR REPLACE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
            [
                (
                    "Undefined cartesian SRS",
                    -1,
                    "NONE",
                    -1,
                    "undefined",
                    "undefined cartesian coordinate reference system",
                ),
                (
                    "Undefined geographic SRS",
                    0,
                    "NONE",
                    0,
                    "undefined",
                    "undefined geographic coordinate reference system",
                ),
                (
                    "WGS 84 geodetic",
                    4326,
                    "EPSG",
                    4326,
                    WGS84_WKT,
                    "longitude/latitude on WGS 84",
                ),
            ],
        )
        db.executemany(
            "INSERT INTO meta VALUES (?,?)",
            [
                ("schema_version", SCHEMA_VERSION),
                ("sides", ",".join(sides)),
                ("created", iso(time.time())),
            ],
        )
        db.executemany(
            "INSERT INTO regions (name, kind, geom) VALUES (?,?,?)",
            [(n, k, encode_gpkg(g)) for n, (k, g) in regions.items()],
        )
        gpkg_layout.install_functions(db)
        _standardise(db)
        db.execute("COMMIT")
        db.close()
        tmp.replace(path)  # appears complete or not at all
        return cls(path)

    def close(self) -> None:
        self.db.close()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple((self.get_meta("sides") or "ua,ru").split(","))

    # -- regions ------------------------------------------------------------
    def regions(self) -> dict[str, tuple[str, BaseGeometry]]:
        rows = self.db.execute("SELECT name, kind, geom FROM regions ORDER BY fid").fetchall()
        geoms = decode_gpkg([r[2] for r in rows])
        return {r[0]: (r[1], g) for r, g in zip(rows, geoms)}

    # -- versions -----------------------------------------------------------
    _VCOLS = "pk, source, version_id, valid_time, published_at, revised_at, revision, content_hash, origin, n_features"

    def sources(self) -> list[str]:
        def read() -> list[str]:
            return [r[0] for r in self.db.execute("SELECT DISTINCT source FROM versions ORDER BY source")]

        cache = self._cache()
        return list(read() if cache is None else cache.value("sources", read))

    def default_source(self, source: str | None = None) -> str:
        """The given source, or the only/first one stored."""
        srcs = self.sources()
        if source:
            if source not in srcs:
                raise ValueError(f"No source {source!r} in the store (have: {', '.join(srcs) or 'none'}).")
            return source
        if not srcs:
            raise ValueError("The store holds no versions yet: run `frontline import` first.")
        return "deepstate" if "deepstate" in srcs else srcs[0]

    def versions(self, source: str | None = None) -> list[VersionInfo]:
        source = self.default_source(source)

        def read() -> list[VersionInfo]:
            rows = self.db.execute(f"SELECT {self._VCOLS} FROM versions WHERE source=? ORDER BY valid_time", (source,))
            return [VersionInfo(*r) for r in rows]

        cache = self._cache()  # every time lookup reads all versions: kept while the store is unchanged
        return list(read() if cache is None else cache.value(("versions", source), read))

    def version_at(self, t: int, source: str | None = None) -> VersionInfo | None:
        source = self.default_source(source)
        r = self.db.execute(
            f"SELECT {self._VCOLS} FROM versions WHERE source=? AND valid_time<=? ORDER BY valid_time DESC LIMIT 1",
            (source, int(t)),
        ).fetchone()
        return VersionInfo(*r) if r else None

    def version(self, source: str, version_id: str) -> VersionInfo | None:
        r = self.db.execute(
            f"SELECT {self._VCOLS} FROM versions WHERE source=? AND version_id=?", (source, str(version_id))
        ).fetchone()
        return VersionInfo(*r) if r else None

    def revisions(self, source: str, version_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT revision, revised_at, content_hash, origin, imported_at FROM revisions "
            "WHERE source=? AND version_id=? ORDER BY revision",
            (source, str(version_id)),
        )
        return [dict(zip(("revision", "revised_at", "content_hash", "origin", "imported_at"), r)) for r in rows]

    _RCOLS = ("version_id", "revision", "revised_at", "content_hash", "origin", "imported_at", "n_features")

    def revision_rows(self, source: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT version_id, revision, revised_at, content_hash, origin, imported_at, "
            "COALESCE(length(members), 0) / 4 FROM revisions WHERE source=? ORDER BY version_id, revision",
            (source,),
        )
        return [dict(zip(self._RCOLS, r)) for r in rows]

    def revision_members(self, source: str, version_id: str, revision: int) -> list[int]:
        found = self._stored_members(source, version_id, revision)
        return [] if found is None else found

    def _stored_members(self, source: str, version_id: str, revision: int) -> list[int] | None:
        """The member list written with a revision (None: no such row, or a store made before members were kept)."""
        r = self.db.execute(
            "SELECT members FROM revisions WHERE source=? AND version_id=? AND revision=?",
            (source, str(version_id), int(revision)),
        ).fetchone()
        return None if r is None or r[0] is None else np.frombuffer(r[0], dtype="<i4").astype(int).tolist()

    # -- features -----------------------------------------------------------
    _FCOLS = "fid, fkey, kind, key, role, side, name, name_en, at_label, bearing, props, geom, repaired"

    def _features(self, rows) -> list[StoredFeature]:
        return [_feature(r, g) for r, g in self._decoded(rows).values()]

    @staticmethod
    def _decoded(rows) -> dict[int, tuple[tuple, BaseGeometry]]:
        """``fid → (row, geometry)``: rows of :attr:`_FCOLS` with their geometry decoded (one array call)."""
        geoms = decode_gpkg([r[11] for r in rows])
        return {r[0]: (tuple(r), g) for r, g in zip(rows, geoms)}

    def member_fids(self, version: VersionInfo) -> list[int]:
        if version.known_at is not None:  # a revision as known at a time: its own members, not the spans
            return self.revision_members(version.source, version.version_id, version.revision)
        # The members written with the version are its features (the spans are made from them): one row,
        # where the spans query scans every interval that started before the version.
        found = self._stored_members(version.source, version.version_id, version.revision)
        if found is not None:
            return found
        t = version.valid_time
        return [
            r[0]
            for r in self.db.execute(
                "SELECT feature_fid FROM spans WHERE source=? AND valid_from<=? AND (valid_to IS NULL OR valid_to>?)",
                (version.source, t, t),
            )
        ]

    def features_at(self, version: VersionInfo, kinds: Sequence[str] | None = None) -> list[StoredFeature]:
        with self.snapshot():  # the members and their rows from one state
            feats = sorted(self.features_by_fid(self.member_fids(version)), key=lambda f: f.fid)
        return [f for f in feats if not kinds or f.kind in kinds]

    def features_by_fid(self, fids: Sequence[int]) -> list[StoredFeature]:
        def read(ids: list[int]) -> dict[int, tuple[tuple, BaseGeometry]]:
            out: dict[int, tuple[tuple, BaseGeometry]] = {}
            for i in range(0, len(ids), 900):
                chunk = ids[i : i + 900]
                sql = f"SELECT {self._FCOLS} FROM features WHERE fid IN ({','.join('?' * len(chunk))})"
                out.update(self._decoded(self.db.execute(sql, chunk).fetchall()))
            return out

        fids = list(fids)
        cache = self._cache()  # a fid's row never changes; versions share most of theirs
        got = read(fids) if cache is None else cache.by_fid(cache.rows, fids, read)
        return [_feature(*got[f]) for f in fids if f in got]

    def feature_history(self, fid: int) -> list[tuple[int, int | None]]:
        return [
            tuple(r)
            for r in self.db.execute(
                "SELECT valid_from, valid_to FROM spans WHERE feature_fid=? ORDER BY valid_from", (fid,)
            )
        ]

    def changed_features(self, a: VersionInfo, b: VersionInfo) -> tuple[list[int], list[int]]:
        with self.snapshot():
            sa, sb = set(self.member_fids(a)), set(self.member_fids(b))
        return sorted(sa - sb), sorted(sb - sa)

    def version_members(self, source: str | None = None) -> Iterator[tuple[VersionInfo, list[int]]]:
        """Sweep the spans once in time order: no query per version."""
        starts: dict[int, list[int]] = {}
        ends: dict[int, list[int]] = {}
        with self.snapshot():  # the versions and the spans of one state: a version added between would tear it
            versions = self.versions(source)
            if not versions:
                return
            for fid, a, b in self.db.execute(
                "SELECT feature_fid, valid_from, valid_to FROM spans WHERE source=?", (versions[0].source,)
            ):
                starts.setdefault(a, []).append(fid)
                if b is not None:
                    ends.setdefault(b, []).append(fid)
        current: set[int] = set()
        for v in versions:
            current.difference_update(ends.get(v.valid_time, ()))
            current.update(starts.get(v.valid_time, ()))
            yield v, sorted(current)

    def pieces(self, fids: Sequence[int]) -> dict[int, FeaturePieces]:
        fids = list(fids)
        cache = self._cache()  # a feature's pieces never change once written
        got = self._read_pieces(fids) if cache is None else cache.by_fid(cache.pieces, fids, self._read_pieces)
        return {f: _copy_pieces(got[f]) for f in sorted(set(fids)) if f in got}  # in fid order, as read before

    def _read_pieces(self, fids: list[int]) -> dict[int, FeaturePieces]:
        out: dict[int, FeaturePieces] = {}
        for i in range(0, len(fids), 900):
            chunk = fids[i : i + 900]
            q = ",".join("?" * len(chunk))
            for fid, counted, home_of, drawn_km2 in self.db.execute(
                f"SELECT fid, counted, home_of, drawn_km2 FROM features WHERE fid IN ({q})", chunk
            ):
                out[fid] = FeaturePieces(counted=bool(counted), home_of=home_of, drawn_km2=drawn_km2 or 0.0)
            rows = self.db.execute(
                f"SELECT feature_fid, drawn, home, tile, what, area_km2, wkb FROM pieces WHERE feature_fid IN ({q})",
                chunk,
            ).fetchall()
            geoms = shapely.from_wkb(np.array([r[6] for r in rows], dtype=object)) if rows else []
            for r, g in zip(rows, geoms):
                fp = out[r[0]]
                tile = json.loads(r[3])
                p = Piece(piece_key(r[6]), r[2], tuple(tile) if isinstance(tile, list) else tile, r[4], g, r[5])
                (fp.drawn if r[1] else fp.pieces).append(p)
        return out

    def spans_of(self, source: str, fids: Sequence[int]) -> list[tuple[int, int, int | None]]:
        """Validity intervals of many features at once (see :class:`Store`), read in chunks."""
        rows: list[tuple[int, int, int | None]] = []
        fids = list(fids)
        for k in range(0, len(fids), 900):  # under SQLite's bound-parameter limit
            chunk = fids[k : k + 900]
            rows += self.db.execute(
                f"SELECT feature_fid, valid_from, valid_to FROM spans WHERE source=? AND feature_fid IN "
                f"({','.join('?' * len(chunk))})",
                [source, *chunk],
            ).fetchall()
        return rows

    def counted_pieces_in_tiles(self, source: str, tiles: dict[str, Sequence]) -> list[tuple[int, str, str, bytes]]:
        """Partition pieces of counted features in given tiles of the homes, as raw WKB rows.

        Only the pieces that enter the partition (not the as-drawn ones) of
        features that count towards control. Geometry stays WKB so that the
        caller decodes it once, vectorised (and can skip duplicate pieces).

        Parameters
        ----------
        source
            Source name in the store.
        tiles
            ``home name → tile ids`` (the theatre's tiling of that home), in
            the order to read them.

        Returns
        -------
        list of tuple
            ``(fid, home, what, wkb)`` per piece: ``what`` is the side holding
            the piece or ``"contested"``; pieces of one feature in several
            tiles come once per tile.
        """
        rows: list[tuple[int, str, str, bytes]] = []
        for home, ts in tiles.items():
            tl = [_tile_text(t) for t in ts]
            for k in range(0, len(tl), 500):
                chunk = tl[k : k + 500]
                rows += self.db.execute(
                    "SELECT p.feature_fid, p.home, p.what, p.wkb FROM pieces p JOIN features f ON f.fid=p.feature_fid "
                    f"WHERE p.drawn=0 AND f.counted=1 AND f.source=? AND p.home=? AND p.tile IN "
                    f"({','.join('?' * len(chunk))})",
                    [source, home, *chunk],
                ).fetchall()
        return rows

    # -- areas --------------------------------------------------------------
    def area_rows(self, source: str, region: str, convention: str) -> list[tuple[int, str, float]]:
        return [
            tuple(r)
            for r in self.db.execute(
                "SELECT a.version_pk, a.side, a.km2 FROM version_areas a JOIN versions v ON v.pk=a.version_pk "
                "WHERE v.source=? AND a.region=? AND a.convention=? ORDER BY v.valid_time",
                (source, region, convention),
            )
        ]

    # -- writing (used by frontline.ingest) ---------------------------------
    def feature_keys(self, source: str, after_fid: int = 0) -> dict[bytes, int]:
        """``content hash → fid`` of a source's stored features (those with fid above ``after_fid``)."""
        if not after_fid:  # all of them: the (source, fkey) index covers the query
            sql = "SELECT fid, fkey FROM features WHERE source=?"
            args: tuple = (source,)
        else:  # "+source": a range of fids, not the whole index, so a catch-up reads only the new rows
            sql, args = "SELECT fid, fkey FROM features WHERE +source=? AND fid>?", (source, after_fid)
        return {bytes(k): fid for fid, k in self.db.execute(sql, args)}

    def feature_fid(self, source: str, fkey: bytes) -> int | None:
        """The id of a stored feature by its content hash (None when not stored)."""
        row = self.db.execute("SELECT fid FROM features WHERE source=? AND fkey=?", (source, fkey)).fetchone()
        return row[0] if row else None

    # -- transactions -------------------------------------------------------
    def begin(self) -> None:
        """Start a write transaction, waiting for other writers (see :mod:`frontline.store.locking`)."""
        if self.db.in_transaction:  # as SQLite says it, before touching the lock the open one holds
            raise sqlite3.OperationalError("cannot start a transaction within a transaction")
        if not self.readonly:
            locking.acquire(self.path)
            self._locked = True
        try:
            # Other frontline writers queue on the writer lock; one that does not take it (QGIS, sqlite3)
            # is waited for by SQLite's busy time-out, as before.
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._unlock()
            raise
        self._writing = True

    def _unlock(self) -> None:
        if getattr(self, "_locked", False):
            self._locked = False
            locking.release(self.path)

    def commit(self) -> None:
        """Commit the write transaction started by :meth:`begin` and let the next writer in."""
        try:
            self.db.execute("COMMIT")
        finally:
            if not self.db.in_transaction:  # a failed COMMIT leaves it open: rollback() ends it
                self._writing = False
                self._unlock()

    def rollback(self) -> None:
        """Abandon the write transaction started by :meth:`begin` (if one is open)."""
        try:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        finally:
            self._writing = False
            if self._rcache is not None:  # rows read inside the abandoned transaction are gone
                self._rcache.clear()
            self._unlock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        self.begin()
        try:
            yield self.db
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read everything inside from one consistent state of the store (a WAL read transaction).

        Writers go on meanwhile; none of their later commits is seen inside.
        Nested uses (and use inside a write transaction) join the open one.
        """
        own = not self.db.in_transaction
        if own:
            self.db.execute("BEGIN")
            self.db.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # the snapshot starts at the first read
        try:
            yield
        finally:
            if own and self.db.in_transaction:
                self.db.execute("COMMIT")

    def insert_feature(self, source: str, fkey: bytes, rf, fp: FeaturePieces) -> int:
        return self.insert_feature_rows(source, fkey, *feature_rows(rf, fp))

    def insert_feature_rows(self, source: str, fkey: bytes, frow: tuple, prows: list[tuple]) -> int:
        """Insert a feature from :func:`feature_rows` (workers prepare them; the writer only executes)."""
        cur = self.db.execute(
            "INSERT INTO features (source, fkey, kind, key, role, side, name, name_en, at_label, bearing, props, "
            "repaired, counted, home_of, drawn_km2, geom) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (source, fkey) DO NOTHING",
            (source, fkey, *frow),
        )
        if cur.rowcount == 0:  # another writer stored the same content meanwhile: reuse it (pieces and all)
            fid = self.feature_fid(source, fkey)
            assert fid is not None
            return fid
        fid = cur.lastrowid
        assert fid is not None  # a row was inserted
        if prows:
            self.db.executemany("INSERT INTO pieces VALUES (?,?,?,?,?,?,?)", [(fid, *r) for r in prows])
        return fid

    def _neighbours(self, source: str, t: int) -> tuple[int | None, int | None]:
        p = self.db.execute(
            "SELECT MAX(valid_time) FROM versions WHERE source=? AND valid_time<?", (source, t)
        ).fetchone()[0]
        n = self.db.execute(
            "SELECT MIN(valid_time) FROM versions WHERE source=? AND valid_time>?", (source, t)
        ).fetchone()[0]
        return p, n

    def _starting_at(self, source: str, n: int | None) -> dict[int, int]:
        """``fid → span_id`` of the spans starting at time ``n`` (none when there is no next version)."""
        if n is None:
            return {}
        return dict(
            self.db.execute("SELECT feature_fid, span_id FROM spans WHERE source=? AND valid_from=?", (source, n))
        )

    def _spans_insert(self, source: str, t: int, members: set[int]) -> None:
        """Make the features of a new version at time t valid at t (splitting and merging spans)."""
        _, n = self._neighbours(source, t)
        covering = self.db.execute(
            "SELECT span_id, feature_fid, valid_to FROM spans WHERE source=? AND valid_from<? "
            "AND (valid_to IS NULL OR valid_to>?)",
            (source, t, t),
        ).fetchall()
        covered = set()
        ended, resumed = [], []
        for span_id, fid, to in covering:
            if fid in members:
                covered.add(fid)
                continue
            ended.append((t, span_id))
            if n is not None and (to is None or to > n):  # it is in the next version too
                resumed.append((fid, source, n, to))
        self.db.executemany("UPDATE spans SET valid_to=? WHERE span_id=?", ended)
        self.db.executemany("INSERT INTO spans (feature_fid, source, valid_from, valid_to) VALUES (?,?,?,?)", resumed)
        starting_at_n = self._starting_at(source, n)
        new_rows = []
        for fid in members - covered:
            if fid in starting_at_n:
                self.db.execute("UPDATE spans SET valid_from=? WHERE span_id=?", (t, starting_at_n[fid]))
            else:
                new_rows.append((fid, source, t, n))
        self.db.executemany("INSERT INTO spans (feature_fid, source, valid_from, valid_to) VALUES (?,?,?,?)", new_rows)

    def _spans_remove(self, source: str, t: int) -> None:
        """Remove the version at time t from the spans (before its row is deleted)."""
        _, n = self._neighbours(source, t)
        starting_at_n = self._starting_at(source, n)
        for span_id, fid in self.db.execute(
            "SELECT span_id, feature_fid FROM spans WHERE source=? AND valid_to=?", (source, t)
        ).fetchall():
            if fid in starting_at_n:  # present before and after: merge the two spans
                nxt = starting_at_n[fid]
                to = self.db.execute("SELECT valid_to FROM spans WHERE span_id=?", (nxt,)).fetchone()[0]
                self.db.execute("DELETE FROM spans WHERE span_id=?", (nxt,))
                self.db.execute("UPDATE spans SET valid_to=? WHERE span_id=?", (to, span_id))
            else:
                self.db.execute("UPDATE spans SET valid_to=? WHERE span_id=?", (n, span_id))
        for span_id, to in self.db.execute(
            "SELECT span_id, valid_to FROM spans WHERE source=? AND valid_from=?", (source, t)
        ).fetchall():
            if to == n:
                self.db.execute("DELETE FROM spans WHERE span_id=?", (span_id,))
            else:
                self.db.execute("UPDATE spans SET valid_from=? WHERE span_id=?", (n, span_id))

    def put_version(self, snap, members: Sequence[int], areas: dict[tuple[str, str, str], float]) -> str:
        """Store one version (inside the caller's transaction): 'added', 'revised' or 'unchanged'."""
        source, vid, t = snap.source, snap.version_id, int(snap.valid_time.timestamp())
        existing = self.version(source, vid)
        now = int(time.time())
        ts = lambda d: int(d.timestamp()) if d else None
        member_blob = np.array(sorted(members), dtype="<i4").tobytes()
        if existing is not None:
            if existing.content_hash == snap.content_hash:
                return "unchanged"
            revision = existing.revision + 1
            self._spans_remove(source, existing.valid_time)
            self.db.execute("DELETE FROM versions WHERE pk=?", (existing.pk,))
            status = "revised"
        else:
            clash = self.db.execute(
                "SELECT version_id FROM versions WHERE source=? AND valid_time=?", (source, t)
            ).fetchone()
            if clash:
                raise ValueError(f"version {vid} has the same time as stored version {clash[0]}")
            revision, status = 1, "added"
        self._spans_insert(source, t, set(members))
        cur = self.db.execute(
            "INSERT INTO versions (source, version_id, valid_time, published_at, revised_at, revision, content_hash, "
            "origin, imported_at, n_features) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                source,
                vid,
                t,
                ts(snap.published_at),
                ts(snap.revised_at),
                revision,
                snap.content_hash,
                snap.origin,
                now,
                len(members),
            ),
        )
        pk = cur.lastrowid
        self.db.execute(
            "INSERT OR REPLACE INTO revisions VALUES (?,?,?,?,?,?,?,?)",
            (source, vid, revision, ts(snap.revised_at), snap.content_hash, snap.origin, now, member_blob),
        )
        self.db.executemany(
            "INSERT INTO version_areas VALUES (?,?,?,?,?)", [(pk, r, c, s, float(v)) for (r, s, c), v in areas.items()]
        )
        return status

    def log_import(self, origin: str, report) -> None:
        """Record an import and every problem it met (``imports``, ``problems``).

        Parameters
        ----------
        origin
            What was imported (a path, ``pull <url>``).
        report
            An :class:`ImportReport`, or a result holding one as ``.report``
            (a :class:`frontline.live_pull.PullResult`).
        """
        rep = report if hasattr(report, "problems") else getattr(report, "report", None)
        if rep is None or not hasattr(rep, "problems"):
            raise TypeError(f"log_import needs an ImportReport, not {type(report).__name__}.")
        summary = json.dumps({k: v for k, v in rep.as_dict().items() if k != "problems"})
        own = not self.db.in_transaction
        if own:
            self.begin()
        try:
            cur = self.db.execute(
                "INSERT INTO imports (started, finished, origin, summary) VALUES (?,?,?,?)",
                (int(time.time()), int(time.time()), origin, summary),
            )
            self.db.executemany("INSERT INTO problems VALUES (?,?,?)", [(cur.lastrowid, o, m) for o, m in rep.problems])
            gpkg_layout.register_attributes(self.db, ATTRIBUTE_TABLES)  # tables other modules made since
        except BaseException:
            if own:
                self.rollback()
            raise
        if own:
            self.commit()
