"""Reference layers kept in the store: settlements and roads.

The web map, claims and the CLI need the same gazetteer and road network as
the analyses; keeping them in the store means one file carries everything.
Both are GeoPackage feature tables registered in ``gpkg_contents`` and
``gpkg_geometry_columns``, so QGIS lists them next to ``features``:

* ``settlements(fid, place_id, name, alternates (JSON list), country,
  population, feature_code, admin1, lon, lat, geom POINT, id_kind)``
  (``id_kind`` "geonames" when ``place_id`` is a GeoNames id);
* ``roads(fid, road_id, name, name_en, ref, highway, geom LINESTRING)``.

An import *adds to* the layer by default: a place already stored (the same
GeoNames id, or the same normalised name within 1 km) is updated — the
richer record kept, alternate names merged — and a road already stored (the
same OSM way id, or an identical line) is updated in place; ``replace=True``
replaces the layer. Either way the layer is rewritten in one transaction
(drop, create, fill, register): readers see the old layer or the new one,
never half of either, and a crash midway leaves the old one. What was
imported, from where and when is kept in ``meta`` under
``reference:<layer>`` (``origins`` lists every import since the last
replace). Loads are cached per store file and import stamp, so
repeated calls are cheap and a re-import (from any connection) is seen.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import numpy as np
import shapely

from ..gazetteer import Gazetteer
from ..model import iso
from ..road_network import Roads
from .gpkg import decode_gpkg, encode_gpkg

__all__ = [
    "put_settlements",
    "load_settlements",
    "put_roads",
    "load_roads",
    "reference_info",
    "ImportSummary",
    "SETTLEMENTS",
    "ROADS",
]

SETTLEMENTS = "settlements"
ROADS = "roads"

_DDL = {
    SETTLEMENTS: """CREATE TABLE settlements (
        fid INTEGER PRIMARY KEY, place_id INTEGER, name TEXT NOT NULL, alternates TEXT, country TEXT,
        population INTEGER, feature_code TEXT, admin1 TEXT, lon REAL NOT NULL, lat REAL NOT NULL, geom BLOB,
        id_kind TEXT)""",
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


class ImportSummary(int):
    """What an import did; as an int, the number of records now in the layer (as before imports merged).

    Attributes
    ----------
    added
        Records new to the layer.
    updated
        Stored records changed by the import (fields filled, names merged).
    kept
        Imported records already stored with nothing new to add, or
        duplicates of another record of the same import (merged into it).
    replaced
        Records of the previous layer dropped (``replace=True`` only).
    total
        Records in the layer after the import.
    mode
        ``"add"`` or ``"replace"``.
    """

    added: int
    updated: int
    kept: int
    replaced: int
    total: int
    mode: str

    def __new__(cls, *, added: int, updated: int, kept: int, replaced: int, total: int, mode: str):
        obj = super().__new__(cls, total)
        obj.added, obj.updated, obj.kept, obj.replaced, obj.total, obj.mode = (
            added,
            updated,
            kept,
            replaced,
            total,
            mode,
        )
        return obj

    def __repr__(self) -> str:
        return (
            f"ImportSummary(mode={self.mode!r}, added={self.added}, updated={self.updated}, kept={self.kept}, "
            f"replaced={self.replaced}, total={self.total})"
        )

    def describe(self, what: str) -> str:
        """One line for users.

        E.g. "added 31,204, updated 5,102, 2,111 already stored or duplicates within the file
        (38,000 settlements stored)".
        """
        if self.mode == "replace":
            return f"replaced the stored {what} ({self.replaced:,} dropped) with {self.added:,} ({self.total:,} stored)"
        return (
            f"added {self.added:,}, updated {self.updated:,}, {self.kept:,} already stored or duplicates "
            f"within the file ({self.total:,} {what} stored)"
        )


def _replace_layer(
    store,
    layer: str,
    rows: list[tuple],
    insert_sql: str,
    bounds,
    origin: str,
    count: int,
    extra: dict[str, Any],
    gtype: str | None = None,
    expect_stamp: str | None = None,
) -> None:
    """Drop and recreate ``layer`` with ``rows`` in one transaction, registering it for GeoPackage readers.

    ``expect_stamp``: the import stamp the rows were merged with; if another writer imported in between,
    the transaction is abandoned rather than overwrite its work.
    """
    _check_writable(store)
    db = store.db
    store.begin()  # waits for other writers (the writer lock), not at commit
    try:
        if expect_stamp is not None:
            now = reference_info(store, layer)
            if now is not None and now.get("stamp") != expect_stamp:
                raise ValueError(
                    f"The {layer} layer of {store.path} was changed by another import meanwhile; "
                    "nothing was written: run the import again."
                )
        db.execute(f"DROP TABLE IF EXISTS {layer}")
        db.execute(_DDL[layer])
        if rows:
            db.executemany(insert_sql, rows)
        if layer == SETTLEMENTS:
            db.execute("CREATE INDEX settlements_name ON settlements (name)")
        minx, miny, maxx, maxy = bounds if bounds is not None else (None, None, None, None)
        db.execute("DELETE FROM gpkg_contents WHERE table_name=?", (layer,))
        db.execute("DELETE FROM gpkg_geometry_columns WHERE table_name=?", (layer,))
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id, "
            "min_x, min_y, max_x, max_y) VALUES (?,?,?,?,4326,?,?,?,?)",
            (layer, "features", layer, f"{_DESCRIPTION[layer]} (from {origin})", minx, miny, maxx, maxy),
        )
        db.execute("INSERT INTO gpkg_geometry_columns VALUES (?,?,?,4326,0,0)", (layer, "geom", gtype or _TYPES[layer]))
        stamp = uuid.uuid4().hex
        info = {"origin": str(origin), "count": int(count), "imported_at": iso(time.time()), "stamp": stamp} | extra
        db.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (f"reference:{layer}", json.dumps(info)))
        store.commit()
    except BaseException:
        store.rollback()
        raise
    _CACHE.pop((str(store.path), layer), None)


def reference_info(store, layer: str) -> dict[str, Any] | None:
    """What was imported into ``layer`` (``origin``, ``count``, ``imported_at``), or None."""
    raw = store.get_meta(f"reference:{layer}")
    return json.loads(raw) if raw else None


def _has_table(store, layer: str) -> bool:
    return (
        store.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (layer,)).fetchone() is not None
    )


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


# ---------------------------------------------------------------- settlements

_SAME_PLACE_KM = 1.0
_CELL_DEG = 0.02  # grid cell for the near-duplicate search (~2 km of latitude): the 1 km test looks at 3×3 cells


def _columns(store, layer: str) -> set[str]:
    return {r[1] for r in store.db.execute(f"PRAGMA table_info({layer})")}


def _stored_places(store) -> list[dict[str, Any]]:
    """The stored settlements as dicts (empty when there is no layer)."""
    if not _has_table(store, SETTLEMENTS):
        return []
    has_kind = "id_kind" in _columns(store, SETTLEMENTS)
    sql = (
        "SELECT place_id, name, alternates, country, population, feature_code, admin1, lon, lat"
        + (", id_kind" if has_kind else ", ''")
        + " FROM settlements ORDER BY fid"
    )
    out = []
    for r in store.db.execute(sql):
        out.append(
            {
                "id": r[0] if r[0] is not None else -1,
                "name": r[1],
                "alts": json.loads(r[2]) if r[2] else [],
                "country": r[3] or "",
                "population": int(r[4] or 0),
                "feature_code": r[5] or "",
                "admin1": r[6] or "",
                "lon": float(r[7]),
                "lat": float(r[8]),
                "id_kind": r[9] or "",
            }
        )
    return out


def _richness(p: dict[str, Any]) -> tuple:
    """Which of two records of one place is the better one to keep as the base (fields filled; the names
    do not count, as they are merged anyway)."""
    return (
        p["id_kind"] == "geonames",
        bool(p["population"]) + bool(p["feature_code"]) + bool(p["admin1"]) + bool(p["country"]),
    )


def _merge(old: dict[str, Any], new: dict[str, Any], same_id: bool) -> dict[str, Any]:
    """One record from two of the same place: the richer as base, gaps filled, names merged.

    A tie goes to the new record when both carry the same GeoNames id (a newer edition of one record), to
    the stored one otherwise, so that importing the same file twice changes nothing.
    """
    rn, ro = _richness(new), _richness(old)
    base, other = (new, old) if (rn > ro or (rn == ro and same_id)) else (old, new)
    out = dict(base)
    for k in ("country", "feature_code", "admin1", "id_kind"):
        if not out[k] and other[k]:
            out[k] = other[k]
    if not out["population"]:
        out["population"] = other["population"]
    if out["id_kind"] != "geonames" and other["id_kind"] == "geonames":
        out["id"] = other["id"]
    names = dict.fromkeys([*base["alts"], other["name"], *other["alts"]])
    names.pop(out["name"], None)
    out["alts"] = list(names)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        a[k] == b[k]
        for k in ("id", "name", "alts", "country", "population", "feature_code", "admin1", "lon", "lat", "id_kind")
    )


#: Id kinds that name one place everywhere (GeoNames ids, OSM node ids): a re-import matches by id.
_GLOBAL_IDS = ("geonames", "osm")


def _merge_places(stored: list[dict[str, Any]], incoming: list[dict[str, Any]]) -> tuple[list[dict], int, int, int]:
    """Add ``incoming`` to ``stored``; returns (places, added, updated, kept)."""
    from ..names import _haversine_km, _normalise_many

    places = [dict(p) for p in stored]
    by_gid: dict[tuple[str, int], int] = {}  # (id kind, id) → place: ids of one kind name one place
    grid: dict[tuple[int, int], list[int]] = {}
    names_of: list[set[str]] = []
    all_names = list({n for p in [*places, *incoming] for n in (p["name"], *p["alts"])})
    norm = dict(zip(all_names, _normalise_many(all_names)))

    def register(i: int) -> None:
        p = places[i]
        if p["id_kind"] in _GLOBAL_IDS:
            by_gid[(p["id_kind"], int(p["id"]))] = i
        grid.setdefault((int(p["lon"] // _CELL_DEG), int(p["lat"] // _CELL_DEG)), []).append(i)
        while len(names_of) <= i:
            names_of.append(set())
        names_of[i] = {norm[n] for n in (p["name"], *p["alts"])} - {""}

    for i in range(len(places)):
        register(i)
    touched: set[int] = set()
    added_idx: set[int] = set()
    kept = 0  # imported rows with nothing new, and rows merged into another row of the same import
    for p in incoming:
        hit = by_gid.get((p["id_kind"], int(p["id"]))) if p["id_kind"] in _GLOBAL_IDS else None
        if hit is None:
            # The same normalised name (primary or alternate on either side) within 1 km.
            mine = {norm[n] for n in (p["name"], *p["alts"])} - {""}
            cx, cy = int(p["lon"] // _CELL_DEG), int(p["lat"] // _CELL_DEG)
            near = [
                j
                for dx in (-1, 0, 1)
                for dy in (-1, 0, 1)
                for j in grid.get((cx + dx, cy + dy), ())
                if names_of[j] & mine
            ]
            if near:
                d = _haversine_km(
                    p["lon"],
                    p["lat"],
                    np.array([places[j]["lon"] for j in near]),
                    np.array([places[j]["lat"] for j in near]),
                )
                k = int(np.argmin(d))
                if d[k] <= _SAME_PLACE_KM:
                    hit = near[k]
        if hit is None:
            places.append(dict(p))
            added_idx.add(len(places) - 1)
            register(len(places) - 1)
            continue
        merged = _merge(
            places[hit],
            p,
            same_id=p["id_kind"] in _GLOBAL_IDS
            and p["id_kind"] == places[hit]["id_kind"]
            and int(p["id"]) == int(places[hit]["id"]),
        )
        if _same(merged, places[hit]) or hit in added_idx:
            kept += 1
            if hit in added_idx:
                places[hit] = merged
                register(hit)
            continue
        places[hit] = merged
        if hit not in added_idx:
            touched.add(hit)
        register(hit)
    return places, len(added_idx), len(touched), kept


def _summary(
    info: dict | None,
    replace: bool,
    origin,
    added: int,
    updated: int,
    kept: int,
    dropped: int,
    total: int,
    n_problems: int,
) -> tuple[ImportSummary, list[dict]]:
    """What an import did, and the layer's list of origins with this import appended (restarted by a replace)."""
    summary = ImportSummary(
        added=added, updated=updated, kept=kept, replaced=dropped, total=total, mode="replace" if replace else "add"
    )
    entry = {
        "origin": str(origin),
        "imported_at": iso(time.time()),
        "mode": summary.mode,
        "added": added,
        "updated": updated,
        "kept": kept,
        "problems": n_problems,
    }
    earlier = (
        []
        if replace or info is None
        else list(
            info.get("origins") or [{"origin": info.get("origin", ""), "imported_at": info.get("imported_at", "")}]
        )
    )
    return summary, earlier + [entry]


def put_settlements(store, gazetteer: Gazetteer, *, origin: str, replace: bool = False) -> ImportSummary:
    """Add a gazetteer to the ``settlements`` layer (or replace the layer with it).

    Parameters
    ----------
    store
        An open, writable store.
    gazetteer
        The settlements (e.g. from :func:`frontline.sources.geonames.load_gazetteer`).
    origin
        Where they came from (a file name), kept with the layer.
    replace
        Drop the stored settlements first. By default the import adds: a
        place already stored — the same GeoNames id (when both records carry
        GeoNames ids), or the same normalised name (primary or alternate)
        within 1 km — is updated instead, keeping the richer record as the
        base (GeoNames id, population, feature code, admin1, more names; a
        tie goes to the new one), filling its empty fields from the other and
        merging their names (the other's primary name becomes an alternate).
        Nothing stored is dropped.

    Returns
    -------
    ImportSummary
        Counts of places added, updated, kept; as an int, the places stored.

    Raises
    ------
    ValueError
        When the store is read-only or the gazetteer holds no places.
    """
    n = len(gazetteer)
    if n == 0:
        raise ValueError(f"The gazetteer from {origin} holds no places; nothing was imported.")
    _check_writable(store)
    kind = getattr(gazetteer, "id_kind", "") or ""
    incoming: list[dict[str, Any]] = [
        {
            "id": int(gazetteer.ids[i]),
            "name": str(gazetteer.names[i]),
            "alts": [str(a) for a in gazetteer.alternates[i]],
            "country": str(gazetteer.country[i] or ""),
            "population": int(gazetteer.population[i]),
            "feature_code": str(gazetteer.feature_code[i] or ""),
            "admin1": str(gazetteer.admin1[i] or ""),
            "lon": float(gazetteer.lon[i]),
            "lat": float(gazetteer.lat[i]),
            "id_kind": kind,
        }
        for i in range(n)
    ]
    # Read and merge inside the write transaction's lock window would be ideal; the layer is rewritten
    # from what was read here, so the stamp check below refuses to overwrite a concurrent import.
    info = reference_info(store, SETTLEMENTS) if not replace else None
    stored = [] if replace else _stored_places(store)
    if replace:
        places, added, updated, kept = incoming, n, 0, 0
        dropped = (
            store.db.execute("SELECT COUNT(*) FROM settlements").fetchone()[0] if _has_table(store, SETTLEMENTS) else 0
        )
    else:
        places, added, updated, kept = _merge_places(stored, incoming)
        dropped = 0
    lon = np.array([p["lon"] for p in places])
    lat = np.array([p["lat"] for p in places])
    pts = shapely.points(lon, lat)
    rows = [
        (
            int(p["id"]),
            p["name"],
            json.dumps(p["alts"], ensure_ascii=False),
            p["country"],
            int(p["population"]),
            p["feature_code"],
            p["admin1"],
            p["lon"],
            p["lat"],
            encode_gpkg(pts[i]),
            p["id_kind"],
        )
        for i, p in enumerate(places)
    ]
    bounds = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
    summary, origins = _summary(
        info, replace, origin, added, updated, kept, dropped, len(places), len(gazetteer.problems)
    )
    _replace_layer(
        store,
        SETTLEMENTS,
        rows,
        "INSERT INTO settlements (place_id, name, alternates, country, population, feature_code, admin1, "
        "lon, lat, geom, id_kind) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        bounds,
        " + ".join(o["origin"] for o in origins),
        len(places),
        {"source": gazetteer.source, "problems": len(gazetteer.problems), "origins": origins},
        expect_stamp=(info or {}).get("stamp") if not replace else None,
    )
    return summary


def load_settlements(store) -> Gazetteer | None:
    """The stored gazetteer, or None when none was imported (cached per store and import)."""

    def make() -> Gazetteer:
        has_kind = "id_kind" in _columns(store, SETTLEMENTS)
        rows = store.db.execute(
            "SELECT place_id, name, alternates, country, population, feature_code, admin1, "
            "lon, lat" + (", id_kind" if has_kind else ", ''") + " FROM settlements ORDER BY fid"
        ).fetchall()
        n = len(rows)

        def obj(j):
            arr = np.empty(n, dtype=object)
            arr[:] = [r[j] or "" for r in rows]
            return arr

        info = reference_info(store, SETTLEMENTS) or {}
        kinds = {r[9] or "" for r in rows}
        return Gazetteer(
            ids=np.array([r[0] if r[0] is not None else -1 for r in rows], dtype=np.int64),
            names=obj(1),
            lon=np.array([r[7] for r in rows], dtype=np.float64),
            lat=np.array([r[8] for r in rows], dtype=np.float64),
            country=obj(3),
            population=np.array([r[4] or 0 for r in rows], dtype=np.int64),
            alternates=[json.loads(r[2]) if r[2] else [] for r in rows],
            feature_code=obj(5),
            admin1=obj(6),
            source=f"store {store.path.name}: {info.get('origin', '')}",
            id_kind=kinds.pop() if len(kinds) == 1 else "",
        )

    return _cached(store, SETTLEMENTS, make)


# ---------------------------------------------------------------------- roads

_RE_OSM_WAY = re.compile(r"^w\d+$")


def _road_key(geom) -> bytes:
    """Identity of a line regardless of vertex order direction: the WKB of its normalised form."""
    return shapely.to_wkb(shapely.normalize(geom))


def put_roads(store, roads: Roads, *, origin: str, replace: bool = False) -> ImportSummary:
    """Add a road network to the ``roads`` layer (or replace the layer with it).

    Parameters
    ----------
    store
        An open, writable store.
    roads
        Roads in lon/lat (e.g. from :func:`frontline.sources.osm.read_roads`).
    origin
        Where they came from (a file name), kept with the layer.
    replace
        Drop the stored roads first. By default the import adds: a road
        already stored — the same OSM way id (``w123``), or an identical
        line (same vertices, either direction) — takes the new attributes and
        geometry instead of being stored twice. Nothing stored is dropped.

    Returns
    -------
    ImportSummary
        Counts of roads added, updated, kept; as an int, the roads stored.

    Raises
    ------
    ValueError
        When the store is read-only or there are no roads.
    """
    n = len(roads)
    if n == 0:
        raise ValueError(f"No roads from {origin}; nothing was imported.")
    _check_writable(store)
    info = reference_info(store, ROADS) if not replace else None
    have = _has_table(store, ROADS)
    stored: list[list] = []
    if have and not replace:
        for r in store.db.execute("SELECT road_id, name, name_en, ref, highway, geom FROM roads ORDER BY fid"):
            stored.append(list(r))
    dropped = store.db.execute("SELECT COUNT(*) FROM roads").fetchone()[0] if (have and replace) else 0
    incoming: list[list] = [
        [
            str(roads.ids[i]),
            str(roads.names[i]),
            str(roads.names_en[i]),
            str(roads.refs[i]),
            str(roads.classes[i]),
            encode_gpkg(roads.geometry[i]),
        ]
        for i in range(n)
    ]
    added = updated = kept = 0
    if replace:
        rows = incoming
        added = n
    else:
        rows = stored
        by_id: dict[str, int] = {}
        by_geom: dict[bytes, int] = {}
        old_geoms = decode_gpkg([r[5] for r in stored])
        for i, (r, g) in enumerate(zip(stored, old_geoms)):
            if _RE_OSM_WAY.match(r[0]):
                by_id[r[0]] = i
            by_geom[_road_key(g)] = i
        fresh: set[int] = set()
        changed: set[int] = set()
        for r, g in zip(incoming, roads.geometry):
            gk = _road_key(g)
            hit = by_id.get(r[0]) if _RE_OSM_WAY.match(r[0]) else None
            if hit is None:
                hit = by_geom.get(gk)
            if hit is None:
                rows.append(r)
                hit = len(rows) - 1
                fresh.add(hit)
            elif rows[hit] == r:
                kept += 1
            else:
                rows[hit] = r
                if hit not in fresh:
                    changed.add(hit)
            if _RE_OSM_WAY.match(r[0]):
                by_id[r[0]] = hit
            by_geom[gk] = hit
        added, updated = len(fresh), len(changed)
    geoms = decode_gpkg([r[5] for r in rows])
    kinds = set(shapely.get_type_id(geoms).tolist())
    gtype = {frozenset({1}): "LINESTRING", frozenset({5}): "MULTILINESTRING"}.get(frozenset(kinds), "GEOMETRY")
    bounds = tuple(float(b) for b in shapely.total_bounds(geoms))
    summary, origins = _summary(info, replace, origin, added, updated, kept, dropped, len(rows), len(roads.problems))
    _replace_layer(
        store,
        ROADS,
        [tuple(r) for r in rows],
        "INSERT INTO roads (road_id, name, name_en, ref, highway, geom) VALUES (?,?,?,?,?,?)",
        bounds,
        " + ".join(o["origin"] for o in origins),
        len(rows),
        {"source": roads.source, "problems": len(roads.problems), "origins": origins},
        gtype=gtype,
        expect_stamp=(info or {}).get("stamp") if not replace else None,
    )
    return summary


def load_roads(store) -> Roads | None:
    """The stored road network, or None when none was imported (cached per store and import)."""

    def make() -> Roads:
        rows = store.db.execute("SELECT road_id, name, name_en, ref, highway, geom FROM roads ORDER BY fid").fetchall()
        geoms = decode_gpkg([r[5] for r in rows]) if rows else np.zeros(0, dtype=object)
        info = reference_info(store, ROADS) or {}
        return Roads(
            geometry=geoms,
            ids=np.array([r[0] for r in rows], dtype=object),
            names=np.array([r[1] for r in rows], dtype=object),
            names_en=np.array([r[2] for r in rows], dtype=object),
            refs=np.array([r[3] for r in rows], dtype=object),
            classes=np.array([r[4] for r in rows], dtype=object),
            source=f"store {store.path.name}: {info.get('origin', '')}",
        )

    return _cached(store, ROADS, make)
