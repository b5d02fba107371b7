"""What makes a SQLite table a proper GeoPackage layer (OGC 12-128r17, GeoPackage 1.3).

A feature table needs its geometry column declared with its geometry type
(``GEOMETRY``, ``POINT``, ``MULTIPOLYGON``, ...), a ``gpkg_contents`` row
(``data_type='features'``), a ``gpkg_geometry_columns`` row and, so that
QGIS and GDAL do not scan the whole table on every pan, the
``gpkg_rtree_index`` extension: a ``rtree_<table>_<column>`` virtual table
kept up to date by the spec's triggers, registered in ``gpkg_extensions``.
Tables without geometry are registered as ``attributes`` so that readers list
them as tables rather than as broken layers.

The spec's triggers call ``ST_IsEmpty``/``ST_MinX``/... which plain SQLite
lacks (GDAL and SpatiaLite provide them): :func:`install_functions` adds them
to a connection; every connection that writes a feature table needs them.

Everything here runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence

import shapely

RTREE_EXTENSION = "gpkg_rtree_index"
RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"

_EXTENSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
    "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
    "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
)

# The spec's triggers (GeoPackage 1.3, annex F.3), with {t} table, {c} geometry column, {i} primary key.
_RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}"
  WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}"
  WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}"
  WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
END;
CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}"
  WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
  INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}",
    ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}"));
END;
CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}"
  WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN
  DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}");
END;
CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}"
  WHEN old."{c}" NOT NULL
BEGIN
  DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
END;
"""


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """``(minx, maxx, miny, maxy)`` of a GeoPackage geometry blob; None when null, empty or not one."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP" or blob[3] & 0b10000:
        return None
    code = (blob[3] >> 1) & 0b111
    if code:  # the header carries the envelope (min x, max x, min y, max y first, whatever its kind)
        return struct.unpack_from("<4d" if blob[3] & 1 else ">4d", blob, 8)
    try:  # points carry no envelope: their WKB says where they are
        geom = shapely.from_wkb(bytes(blob[8:]))
    except shapely.errors.GEOSException:  # not WKB: nothing an index could hold (GDAL skips it too)
        return None
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def _is_empty(blob: bytes | None) -> int | None:
    if blob is None:
        return None
    return int(_envelope(blob) is None)


def _part(k: int):
    def f(blob: bytes | None) -> float | None:
        env = _envelope(blob)
        return None if env is None else env[k]

    return f


def install_functions(db: sqlite3.Connection) -> None:
    """Give a connection the ``ST_*`` functions the R-tree triggers call (GDAL's names and meaning)."""
    db.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for k, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        db.create_function(name, 1, _part(k), deterministic=True)


def _declared_type(db: sqlite3.Connection, table: str, column: str) -> str | None:
    for row in db.execute(f'PRAGMA table_xinfo("{table}")'):
        if row[1] == column:
            return str(row[2])
    return None


def _primary_key(db: sqlite3.Connection, table: str) -> str:
    pks = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")') if row[5]]
    if len(pks) != 1:
        raise ValueError(f"GeoPackage feature table {table} needs one INTEGER PRIMARY KEY column (has {pks}).")
    return pks[0]


def set_declared_type(db: sqlite3.Connection, table: str, column: str, declared: str) -> None:
    """Change the declared type of a column in place (``GEOMETRY`` for a column made as ``BLOB``).

    Only the schema text changes: a BLOB value is stored the same under either
    type's affinity, so SQLite's documented ``writable_schema`` route for
    changes that leave the stored content alone applies (no table rebuild,
    which foreign keys to the table would forbid inside a transaction).
    """
    old = _declared_type(db, table, column)
    if old is None:
        raise ValueError(f"Table {table} has no column {column}.")
    if old.upper() == declared.upper():
        return
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
    new = None
    for quoted in (column, f'"{column}"'):
        needle = f"{quoted} {old}"
        if sql.count(needle) == 1:
            new = sql.replace(needle, f"{quoted} {declared}")
    if new is None:
        raise ValueError(f"Cannot change the type of {table}.{column}: its definition is not `{column} {old}`.")
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema=ON")
    try:
        db.execute("UPDATE sqlite_master SET sql=? WHERE type='table' AND name=?", (new, table))
        db.execute(f"PRAGMA schema_version={version + 1}")
    finally:
        db.execute("PRAGMA writable_schema=OFF")


def _contents(
    db: sqlite3.Connection, table: str, data_type: str, description: str, bounds: Sequence[float] | None, srs_id
) -> None:
    minx, miny, maxx, maxy = bounds if bounds is not None else (None, None, None, None)
    db.execute("DELETE FROM gpkg_contents WHERE table_name=?", (table,))
    db.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id, "
        "min_x, min_y, max_x, max_y) VALUES (?,?,?,?,?,?,?,?,?)",
        (table, data_type, table, description, srs_id, minx, miny, maxx, maxy),
    )


def register_layer(
    db: sqlite3.Connection,
    table: str,
    geometry_type: str,
    description: str,
    *,
    column: str = "geom",
    bounds: Sequence[float] | None = None,
    srs_id: int = 4326,
) -> None:
    """Register a table or view as a feature layer: contents and geometry-columns rows only."""
    _contents(db, table, "features", description, bounds, srs_id)
    db.execute("DELETE FROM gpkg_geometry_columns WHERE table_name=?", (table,))
    db.execute("INSERT INTO gpkg_geometry_columns VALUES (?,?,?,?,0,0)", (table, column, geometry_type.upper(), srs_id))


def add_rtree(db: sqlite3.Connection, table: str, column: str = "geom") -> None:
    """(Re)build the ``gpkg_rtree_index`` extension of one feature table: index, triggers, extension row.

    The connection needs :func:`install_functions` (the triggers and the fill use them).
    """
    pk = _primary_key(db, table)
    rtree = f"rtree_{table}_{column}"
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=? AND name LIKE ?", (table, rtree + "_%")
    ).fetchall():
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute(f'DROP TABLE IF EXISTS "{rtree}"')
    db.execute(f'CREATE VIRTUAL TABLE "{rtree}" USING rtree(id, minx, maxx, miny, maxy)')
    db.execute(
        f'INSERT INTO "{rtree}" SELECT "{pk}", ST_MinX("{column}"), ST_MaxX("{column}"), ST_MinY("{column}"), '
        f'ST_MaxY("{column}") FROM "{table}" WHERE "{column}" NOT NULL AND NOT ST_IsEmpty("{column}")'
    )
    for stmt in _RTREE_TRIGGERS.format(t=table, c=column, i=pk).split("END;"):
        if stmt.strip():
            db.execute(stmt + "END;")
    db.execute(_EXTENSIONS_DDL)
    db.execute(
        "INSERT OR REPLACE INTO gpkg_extensions VALUES (?,?,?,?,?)",
        (table, column, RTREE_EXTENSION, RTREE_DEFINITION, "write-only"),
    )


def make_feature_table(
    db: sqlite3.Connection,
    table: str,
    geometry_type: str,
    description: str,
    *,
    column: str = "geom",
    bounds: Sequence[float] | None = None,
    srs_id: int = 4326,
) -> None:
    """Make an existing table a proper GeoPackage feature table.

    Declares its geometry column with ``geometry_type``, writes its
    ``gpkg_contents`` and ``gpkg_geometry_columns`` rows, and builds its R-tree
    index with the spec's triggers (registered in ``gpkg_extensions``).
    Idempotent: calling it again (after rows were added) rebuilds the index.

    Parameters
    ----------
    db
        A connection with :func:`install_functions`, inside the caller's transaction.
    table
        The table; it needs one ``INTEGER PRIMARY KEY`` column.
    geometry_type
        GeoPackage geometry type name (``GEOMETRY``, ``POINT``, ``LINESTRING``, ``MULTIPOLYGON``, ...).
    description
        The ``gpkg_contents`` description readers show.
    column
        The geometry column.
    bounds
        ``(min_x, min_y, max_x, max_y)`` for ``gpkg_contents`` (readers' first extent), or None.
    srs_id
        The spatial reference system id (registered in ``gpkg_spatial_ref_sys``).
    """
    set_declared_type(db, table, column, geometry_type.upper())
    register_layer(db, table, geometry_type, description, column=column, bounds=bounds, srs_id=srs_id)
    add_rtree(db, table, column)


def register_attributes(db: sqlite3.Connection, descriptions: dict[str, str] | None = None) -> list[str]:
    """Register the plain tables that qualify as GeoPackage ``attributes`` tables.

    A table qualifies when it is in no GeoPackage metadata table yet (a
    feature layer stays a feature layer), is not GeoPackage's, an R-tree's or
    SQLite's own, and has the one ``INTEGER PRIMARY KEY`` the spec asks of an
    attributes table (requirement 119). The others stay unregistered: once
    any attributes table is registered GDAL and QGIS list only registered
    tables, so they no longer show as geometry-less layers (GDAL's
    ``LIST_ALL_TABLES=YES`` open option still lists them).

    Returns
    -------
    list of str
        The tables registered now.
    """
    descriptions = descriptions or {}
    known = {r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")}
    todo = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        if name not in known
        and not name.startswith(("gpkg_", "gpkgext_", "sqlite_", "rtree_"))
        and _has_integer_key(db, name)
    ]
    for name in todo:
        _contents(db, name, "attributes", descriptions.get(name, ""), None, None)
    return todo


def _has_integer_key(db: sqlite3.Connection, table: str) -> bool:
    keys = [row[2] for row in db.execute(f'PRAGMA table_info("{table}")') if row[5]]
    return keys == ["INTEGER"]
