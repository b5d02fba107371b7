"""One small SQL layer under the bookkeeping tables, so one module's logic serves both backends.

The bookkeeping modules (:mod:`.ledger`, :mod:`.reference`, :mod:`.alert_state`,
:mod:`.pull_state`, :mod:`.results`) write their SQL once, with ``?``
placeholders, and run it through :func:`sql_of` (``store.sql`` on PostGIS):

* on SQLite (the GeoPackage) statements go to the ``sqlite3`` connection
  unchanged, so the default backend pays one attribute look-up per call;
* on PostgreSQL each statement is translated once (``?`` → ``%s``, a literal
  ``%`` doubled) and cached.

What differs between the dialects beyond placeholders is named here rather
than in every module: the DDL (each module keeps a ``{dialect: ddl}`` dict),
``INSERT OR REPLACE`` (:meth:`Sql.upsert`), the id of an inserted row
(:meth:`Sql.insert_id`), the insertion order (:attr:`Sql.order_col`),
whether a table or column exists, and geometry in and out
(:meth:`Sql.geom_param`, :meth:`Sql.encode_geom`, :meth:`Sql.geom_col`,
:meth:`Sql.decode_geoms`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["Sql", "sql_of", "SQLITE", "POSTGRES"]

SQLITE = "sqlite"
POSTGRES = "postgres"


@lru_cache(maxsize=1024)
def _to_pg(sql: str) -> str:
    """A ``?``-placeholder statement in psycopg's ``%s`` style (the statements here quote no ``?``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Sql:
    """Statements with ``?`` placeholders on a SQLite or a PostgreSQL (psycopg 3) connection.

    Parameters
    ----------
    db
        A ``sqlite3.Connection`` or a ``psycopg.Connection`` (autocommit; the
        store's ``begin``/``commit`` delimit transactions on both).
    """

    def __init__(self, db: Any):
        self.db = db
        self.dialect = SQLITE if isinstance(db, sqlite3.Connection) else POSTGRES
        self.pg = self.dialect == POSTGRES
        #: Column giving insertion order: SQLite's ``rowid``, an identity column ``row_id`` on PostgreSQL.
        self.order_col = "row_id" if self.pg else "rowid"
        self._tables: set[str] = set()  # tables seen to exist (they are never dropped by the bookkeeping)

    # -- statements ---------------------------------------------------------
    def execute(self, sql: str, args: Sequence[Any] | dict = ()) -> Any:
        """Run one statement; the cursor (iterate it, ``fetchone``, ``fetchall``, ``rowcount``)."""
        if self.pg:  # without arguments psycopg reads no placeholders: the text goes as it is
            return self.db.execute(_to_pg(sql), args) if args else self.db.execute(sql)
        return self.db.execute(sql, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row."""
        if self.pg:
            rows = list(rows)
            if rows:
                with self.db.cursor() as cur:
                    cur.executemany(_to_pg(sql), rows)
            return
        self.db.executemany(sql, rows)

    def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """All rows of a query."""
        return [tuple(r) for r in self.execute(sql, args).fetchall()]

    def fetchone(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        """The first row of a query (None when none)."""
        row = self.execute(sql, args).fetchone()
        return None if row is None else tuple(row)

    def script(self, ddl: dict[str, str]) -> None:
        """Run this dialect's DDL (several statements; ``CREATE … IF NOT EXISTS`` so a re-run is harmless)."""
        text = ddl[self.dialect]
        if self.pg:
            self.db.execute(text)
        else:
            self.db.executescript(text)

    # -- what differs between the dialects -------------------------------------
    def insert_id(self, sql: str, args: Sequence[Any], key: str) -> int:
        """Run an ``INSERT`` and return the new row's ``key`` (``lastrowid`` / ``RETURNING``)."""
        if self.pg:
            return int(self.db.execute(_to_pg(sql) + f" RETURNING {key}", args).fetchone()[0])
        return int(self.db.execute(sql, args).lastrowid)

    def upsert(self, table: str, cols: Sequence[str], keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows, replacing a stored row with the same ``keys`` (SQLite's ``INSERT OR REPLACE``)."""
        marks = ",".join("?" * len(cols))
        if not self.pg:
            self.db.executemany(f"INSERT OR REPLACE INTO {table} ({','.join(cols)}) VALUES ({marks})", rows)
            return
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in keys)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        self.executemany(
            f"INSERT INTO {table} ({','.join(cols)}) VALUES ({marks}) ON CONFLICT ({','.join(keys)}) {action}", rows
        )

    def has_table(self, name: str) -> bool:
        """Whether the database has table ``name``."""
        if name in self._tables:
            return True
        if self.pg:
            found = self.db.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
        else:
            found = (
                self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
                is not None
            )
        if found:
            self._tables.add(name)
        return bool(found)

    def forget(self, name: str) -> None:
        """Forget that ``name`` exists (after dropping it)."""
        self._tables.discard(name)

    def columns(self, table: str) -> set[str]:
        """The column names of a table (empty when it does not exist)."""
        if self.pg:
            rows = self.db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s",
                (table,),
            )
            return {r[0] for r in rows}
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    # -- geometry -----------------------------------------------------------
    def geom_param(self) -> str:
        """The placeholder of a geometry value: a GeoPackage blob, or WKB made a PostGIS geometry."""
        return "ST_GeomFromWKB(?, 4326)" if self.pg else "?"

    def encode_geom(self, geom: BaseGeometry | None) -> bytes | None:
        """A geometry as the value for :meth:`geom_param`."""
        if geom is None:
            return None
        if self.pg:
            return shapely.to_wkb(geom)
        from .gpkg import encode_gpkg

        return encode_gpkg(geom)

    def geom_col(self, col: str = "geom") -> str:
        """The select expression of a geometry column (its GeoPackage blob, or its WKB)."""
        return f"ST_AsBinary({col})" if self.pg else col

    def decode_geoms(self, values: Sequence[Any]) -> np.ndarray:
        """Shapely geometries from values of :meth:`geom_col`."""
        if self.pg:
            return shapely.from_wkb(np.array([None if v is None else bytes(v) for v in values], dtype=object))
        from .gpkg import decode_gpkg

        return decode_gpkg(values)


def sql_of(store: Any) -> Sql:
    """The :class:`Sql` of a store (made once per store handle, kept on it)."""
    store = getattr(store, "wrapped", store)  # a known-at view shares its store's connection
    s = store.__dict__.get("_sql")
    if s is None or s.db is not store.db:  # a handle whose connection was replaced gets a new layer
        s = Sql(store.db)
        store.__dict__["_sql"] = s
    return s
