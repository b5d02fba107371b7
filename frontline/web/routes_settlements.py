"""Settlements on the web map: who holds each one at a time, and search by name.

``GET /api/settlements`` answers the settlements in a bounding box with their
status at a time (``ua``, ``ru``, ``contested``, or null outside the theatre),
decided by :func:`frontline.analysis.settlements.status_codes` on the control
map cut to the settlements' surroundings (exact there, and no home-sized
polygon is built). ``GET /api/settlements/search`` finds settlements by name
in any spelling (:class:`frontline.names.NameIndex`: "Lebedivka" finds
"Lebedevka"). Settlements come from the store (its reference layers), else
from the gazetteer given to the app; with neither, both answer an empty
result with a ``note``.
"""

from __future__ import annotations

import numpy as np
import orjson
from fastapi import Query, Request

from ..model import iso
from .app import ApiError, _cached, _parse_bbox

NO_SETTLEMENTS = ("The store holds no settlements: import a gazetteer into it (GeoNames dump or point layer), "
                  "or start the server with `frontline serve --gazetteer FILE`.")
MAX_LIMIT = 20000


def _selection(gaz, box, limit: int) -> tuple[np.ndarray, bool]:
    """Indices of the settlements in ``box`` (most populous first when over ``limit``), and whether cut."""
    lon, lat = np.asarray(gaz.lon, dtype=float), np.asarray(gaz.lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if box is not None:
        x0, y0, x1, y1 = box
        ok &= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    idx = np.flatnonzero(ok)
    if len(idx) <= limit:
        return idx, False
    pop = np.asarray(getattr(gaz, "population", np.zeros(len(lon))), dtype=float)[idx]
    keep = np.sort(idx[np.argsort(-pop, kind="stable")[:limit]])  # keep file order among the kept
    return keep, True


def settlements_body(svc, v, box, limit: int) -> bytes:
    """GeoJSON bytes of the settlements in ``box`` with their status in version ``v``."""
    from ..analysis.settlements import status_codes

    gaz = svc.reference("settlements")
    idx, truncated = _selection(gaz, box, limit)
    members = {"version": v.version_id, "time": iso(v.valid_time), "total": int(len(idx)),
               "truncated": truncated}
    if truncated:
        members["note"] = f"More than {limit} settlements in the box: the {limit} most populous are sent."
    if len(idx) == 0:
        return orjson.dumps({"type": "FeatureCollection", **members, "features": []})
    lon, lat = np.asarray(gaz.lon, dtype=float)[idx], np.asarray(gaz.lat, dtype=float)[idx]
    pad = 0.05  # the local map reaches past every point, so none sits on its cut edge
    cmap = svc.local_map(v, (float(lon.min()) - pad, float(lat.min()) - pad,
                             float(lon.max()) + pad, float(lat.max()) + pad))
    codes, labels = status_codes((lon, lat), cmap)
    status = np.array(labels, dtype=object)[codes]
    ids = np.asarray(gaz.ids)[idx].tolist()
    names = np.asarray(gaz.names, dtype=object)[idx].tolist()
    pop = np.asarray(getattr(gaz, "population", np.zeros(len(gaz.lon))))[idx].tolist()
    cc = np.asarray(getattr(gaz, "country", np.full(len(gaz.lon), "")), dtype=object)[idx].tolist()
    feats = [{"type": "Feature", "id": i,
              "properties": {"id": i, "name": n, "status": s, "population": int(p), "country": c},
              "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]}}
             for i, n, s, p, c, x, y in zip(ids, names, status.tolist(), pop, cc, lon.tolist(), lat.tolist())]
    counts = {str(k): int(n) for k, n in zip(*np.unique(status.astype(str), return_counts=True))}
    return orjson.dumps({"type": "FeatureCollection", **members, "counts": counts, "features": feats})


def register(app, svc) -> None:
    """Add ``/api/settlements`` and ``/api/settlements/search`` to ``app``."""

    @app.get("/api/settlements", summary="Settlements in a box and who holds each at a time")
    def settlements(request: Request,
                    at: str | None = Query(None, description="version id, ISO time or epoch seconds"),
                    bbox: str | None = Query(None, description="minx,miny,maxx,maxy (lon/lat)"),
                    limit: int = Query(5000, ge=1, le=MAX_LIMIT,
                                       description="at most this many (the most populous when more)")):
        box = _parse_bbox(bbox)
        v, exact = svc.resolve(at)
        if svc.reference("settlements") is None:
            return _cached(request, {"type": "FeatureCollection", "features": [], "note": NO_SETTLEMENTS})
        key = ("settlements", v.pk, v.revision, box, limit)
        body = svc.memo(key, lambda: settlements_body(svc, v, box, limit))
        return _cached(request, body, v, exact)

    @app.get("/api/settlements/search", summary="Find settlements by name in any spelling (transliteration)")
    def search(request: Request, q: str = Query(..., description="a name: Cyrillic or any Latin spelling"),
               limit: int = Query(10, ge=1, le=100)):
        text = q.strip()
        if not text:
            raise ApiError(400, "q", "q is empty: give a settlement name, e.g. q=Lebedivka.")
        if len(text) > 100:
            raise ApiError(400, "q", f"q is too long ({len(text)} characters; at most 100).")
        index = svc.name_index()
        if index is None:
            return _cached(request, {"query": text, "results": [], "note": NO_SETTLEMENTS})
        gaz = svc.reference("settlements")
        with svc.lock:
            matches = index.search(text, limit)
        out = []
        for m in matches:
            i = m.index
            out.append({"id": m.id, "name": str(gaz.names[i]), "matched": m.name, "score": round(float(m.score), 3),
                        "lon": round(float(gaz.lon[i]), 6), "lat": round(float(gaz.lat[i]), 6),
                        "country": str(gaz.country[i]) if hasattr(gaz, "country") else "",
                        "population": int(gaz.population[i]) if hasattr(gaz, "population") else 0})
        return _cached(request, {"query": text, "results": out})
