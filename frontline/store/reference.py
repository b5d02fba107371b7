"""Reference layers kept in the store: settlements and roads.

The web map, claims and the CLI need the same gazetteer and road network as
the analyses; keeping them in the store means one file carries everything.
Both are GeoPackage feature tables registered in ``gpkg_contents`` and
``gpkg_geometry_columns``, so QGIS lists them next to ``features``:

* ``settlements(fid, place_id, name, alternates (JSON list), country,
  population, feature_code, admin1, lon, lat, geom POINT)``;
* ``roads(fid, road_id, name, name_en, ref, highway, geom LINESTRING)``.

An import replaces the layer in one transaction (drop, create, fill,
register): readers see the old layer or the new one, never half of either.
What was imported, from where and when is kept in ``meta`` under
``reference:<layer>``. Loads are cached per store file and import stamp, so
repeated calls are cheap and a re-import (from any connection) is seen.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import numpy as np
import shapely

from ..model import iso
from ..sources.geonames import Gazetteer
from ..sources.osm import Roads
from .gpkg import decode_gpkg, encode_gpkg

__all__ = ["put_settlements", "load_settlements", "put_roads", "load_roads", "reference_info",
           "SETTLEMENTS", "ROADS"]

SETTLEMENTS = "settlements"
ROADS = "roads"

_DDL = {
    SETTLEMENTS: """CREATE TABLE settlements (
        fid INTEGER PRIMARY KEY, place_id INTEGER, name TEXT NOT NULL, alternates TEXT, country TEXT,
        population INTEGER, feature_code TEXT, admin1 TEXT, lon REAL NOT NULL, lat REAL NOT NULL, geom BLOB)""",
    ROADS: """CREATE TABLE roads (
        fid INTEGER PRIMARY KEY, road_id TEXT, name TEXT, name_en TEXT, ref TEXT, highway TEXT, geom BLOB)""",
}
_TYPES = {SETTLEMENTS: "POINT", ROADS: "LINESTRING"}
_DESCRIPTION = {
    SETTLEMENTS: "Settlements (gazetteer) used for control status and name search",
    ROADS: "Road network used for supply-road exposure and the last road out",
}

_CACHE: dict[tuple[str, str], tuple[str, Any]] = {}


def _check_writable(store) -> None:
    if getattr(store, "readonly", False):
        raise ValueError(f"The store {store.path} is open read-only; reference layers cannot be imported.")


def _replace_layer(store, layer: str, rows: list[tuple], insert_sql: str, bounds, origin: str, count: int,
                   extra: dict[str, Any], gtype: str | None = None) -> None:
    """Drop and recreate ``layer`` with ``rows`` in one transaction, registering it for GeoPackage readers."""
    _check_writable(store)
    db = store.db
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"DROP TABLE IF EXISTS {layer}")
        db.execute(_DDL[layer])
        if rows:
            db.executemany(insert_sql, rows)
        if layer == SETTLEMENTS:
            db.execute("CREATE INDEX settlements_name ON settlements (name)")
        minx, miny, maxx, maxy = bounds if bounds is not None else (None, None, None, None)
        db.execute("DELETE FROM gpkg_contents WHERE table_name=?", (layer,))
        db.execute("DELETE FROM gpkg_geometry_columns WHERE table_name=?", (layer,))
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id, "
                   "min_x, min_y, max_x, max_y) VALUES (?,?,?,?,4326,?,?,?,?)",
                   (layer, "features", layer, f"{_DESCRIPTION[layer]} (from {origin})", minx, miny, maxx, maxy))
        db.execute("INSERT INTO gpkg_geometry_columns VALUES (?,?,?,4326,0,0)", (layer, "geom", gtype or _TYPES[layer]))
        stamp = uuid.uuid4().hex
        info = {"origin": str(origin), "count": int(count), "imported_at": iso(time.time()), "stamp": stamp} | extra
        db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (f"reference:{layer}", json.dumps(info)))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    _CACHE.pop((str(store.path), layer), None)


def reference_info(store, layer: str) -> dict[str, Any] | None:
    """What was imported into ``layer`` (``origin``, ``count``, ``imported_at``), or None."""
    raw = store.get_meta(f"reference:{layer}")
    return json.loads(raw) if raw else None


def _has_table(store, layer: str) -> bool:
    return store.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (layer,)).fetchone() is not None


def _cached(store, layer: str, make):
    info = reference_info(store, layer)
    if info is None or not _has_table(store, layer):
        return None
    key = (str(store.path), layer)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == info["stamp"]:
        return hit[1]
    obj = make()
    _CACHE[key] = (info["stamp"], obj)
    return obj


def put_settlements(store, gazetteer: Gazetteer, *, origin: str) -> int:
    """Store a gazetteer as the ``settlements`` layer, replacing any earlier one.

    Parameters
    ----------
    store
        An open, writable store.
    gazetteer
        The settlements (e.g. from :func:`frontline.sources.geonames.load_gazetteer`).
    origin
        Where they came from (a file name), kept with the layer.

    Returns
    -------
    int
        Settlements stored.

    Raises
    ------
    ValueError
        When the store is read-only or the gazetteer holds no places.
    """
    n = len(gazetteer)
    if n == 0:
        raise ValueError(f"The gazetteer from {origin} holds no places; nothing was imported.")
    pts = shapely.points(gazetteer.lon, gazetteer.lat)
    rows = [
        (int(gazetteer.ids[i]), str(gazetteer.names[i]),
         json.dumps([str(a) for a in gazetteer.alternates[i]], ensure_ascii=False),
         str(gazetteer.country[i] or ""), int(gazetteer.population[i]), str(gazetteer.feature_code[i] or ""),
         str(gazetteer.admin1[i] or ""), float(gazetteer.lon[i]), float(gazetteer.lat[i]), encode_gpkg(pts[i]))
        for i in range(n)
    ]
    bounds = (float(np.nanmin(gazetteer.lon)), float(np.nanmin(gazetteer.lat)),
              float(np.nanmax(gazetteer.lon)), float(np.nanmax(gazetteer.lat)))
    _replace_layer(store, SETTLEMENTS, rows,
                   "INSERT INTO settlements (place_id, name, alternates, country, population, feature_code, admin1, "
                   "lon, lat, geom) VALUES (?,?,?,?,?,?,?,?,?,?)", bounds, origin, n,
                   {"source": gazetteer.source, "problems": len(gazetteer.problems)})
    return n


def load_settlements(store) -> Gazetteer | None:
    """The stored gazetteer, or None when none was imported (cached per store and import)."""

    def make() -> Gazetteer:
        rows = store.db.execute("SELECT place_id, name, alternates, country, population, feature_code, admin1, "
                                "lon, lat FROM settlements ORDER BY fid").fetchall()
        n = len(rows)

        def obj(j):
            arr = np.empty(n, dtype=object)
            arr[:] = [r[j] or "" for r in rows]
            return arr

        info = reference_info(store, SETTLEMENTS) or {}
        return Gazetteer(
            ids=np.array([r[0] if r[0] is not None else -1 for r in rows], dtype=np.int64),
            names=obj(1), lon=np.array([r[7] for r in rows], dtype=np.float64),
            lat=np.array([r[8] for r in rows], dtype=np.float64), country=obj(3),
            population=np.array([r[4] or 0 for r in rows], dtype=np.int64),
            alternates=[json.loads(r[2]) if r[2] else [] for r in rows], feature_code=obj(5), admin1=obj(6),
            source=f"store {store.path.name}: {info.get('origin', '')}",
        )

    return _cached(store, SETTLEMENTS, make)


def put_roads(store, roads: Roads, *, origin: str) -> int:
    """Store a road network as the ``roads`` layer, replacing any earlier one.

    Parameters
    ----------
    store
        An open, writable store.
    roads
        Roads in lon/lat (e.g. from :func:`frontline.sources.osm.read_roads`).
    origin
        Where they came from (a file name), kept with the layer.

    Returns
    -------
    int
        Roads stored.

    Raises
    ------
    ValueError
        When the store is read-only or there are no roads.
    """
    n = len(roads)
    if n == 0:
        raise ValueError(f"No roads from {origin}; nothing was imported.")
    kinds = set(shapely.get_type_id(roads.geometry).tolist())
    gtype = {frozenset({1}): "LINESTRING", frozenset({5}): "MULTILINESTRING"}.get(frozenset(kinds), "GEOMETRY")
    rows = [(str(roads.ids[i]), str(roads.names[i]), str(roads.names_en[i]), str(roads.refs[i]),
             str(roads.classes[i]), encode_gpkg(roads.geometry[i])) for i in range(n)]
    _replace_layer(store, ROADS, rows,
                   "INSERT INTO roads (road_id, name, name_en, ref, highway, geom) VALUES (?,?,?,?,?,?)",
                   tuple(float(b) for b in roads.bounds), origin, n,
                   {"source": roads.source, "problems": len(roads.problems)}, gtype=gtype)
    return n


def load_roads(store) -> Roads | None:
    """The stored road network, or None when none was imported (cached per store and import)."""

    def make() -> Roads:
        rows = store.db.execute("SELECT road_id, name, name_en, ref, highway, geom FROM roads ORDER BY fid").fetchall()
        geoms = decode_gpkg([r[5] for r in rows]) if rows else np.zeros(0, dtype=object)
        info = reference_info(store, ROADS) or {}
        return Roads(geometry=geoms, ids=[r[0] for r in rows], names=[r[1] for r in rows],
                     names_en=[r[2] for r in rows], refs=[r[3] for r in rows], classes=[r[4] for r in rows],
                     source=f"store {store.path.name}: {info.get('origin', '')}")

    return _cached(store, ROADS, make)
