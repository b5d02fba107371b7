"""Settlements on the web map: who holds each one at a time, thinned by zoom, and search by name.

``GET /api/settlements`` answers the settlements in a bounding box with their
status at a time (``ua``, ``ru``, ``contested``, or null outside the theatre).
The status of the whole gazetteer at a version is worked out once, on the
version's tile parts (:func:`frontline.analysis.settlements.status_on_control`:
tens of milliseconds for tens of thousands of places, the same answer as on
the map cut to the places' box), and kept per version; each answer is then a
selection from it. When ``frontline recompute`` has kept a version's codes in
the store (for its current revision and this gazetteer's import stamp), they
are read from there instead of worked out.

Labels are thinned by zoom: each place has a ``minzoom``, the first zoom at
which its label has room (:func:`label_zooms`: larger places first, no two
labels closer than ``LABEL_PX`` screen pixels), so the map labels towns at
low zoom and villages only when zoomed in. With ``zoom`` the answer holds
only the places with ``minzoom <= zoom``, and always those that changed
hands in this version (``changed``, with the ``previous`` status), whatever
their size. Without ``zoom`` every place in the box is sent (the most
populous when over ``limit``).

``GET /api/settlements/search`` finds settlements by name in any spelling
(:class:`frontline.names.NameIndex`: "Lebedivka" finds "Lebedevka").
Settlements come from the store (its reference layers), else from the
gazetteer given to the app; with neither, both answer an empty result with a
``note``. Both run on the app's analysis service (:meth:`~frontline.web.service.Service.offload`).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import orjson
from fastapi import Query, Request

from ..model import iso
from .errors import ApiError
from .params import At, Bbox, KnownAt, parse_known_at
from .params import parse_bbox as _parse_bbox
from .params import parse_zoom as _parse_zoom
from .responses import cached as _cached
from .service import resolve_known

NO_SETTLEMENTS = (
    "The store holds no settlements: import a gazetteer into it (GeoNames dump or point layer), "
    "or start the server with `frontline serve --gazetteer FILE`."
)
MAX_LIMIT = 20000
LABEL_PX = 56  # room a label needs: two labels closer than this (screen pixels) are not both shown at a zoom
ZMIN, ZMAX = 3, 12  # minzoom runs from ZMIN (the largest cities) to ZMAX (every place is labelled from there)
TILE_PX = 512  # MapLibre's world is 512 px wide at zoom 0
KEEP_CODES = 512  # versions whose whole-gazetteer status is kept (one byte per place each)
# A tie in population (many gazetteers have none) goes to the higher administrative rank.
FCODE_RANK = {"PPLC": 0, "PPLA": 1, "PPLA2": 2, "PPLA3": 3, "PPLA4": 4, "PPL": 6}


def label_zooms(
    lon, lat, population=None, feature_code=None, *, px: float = LABEL_PX, zmin: int = ZMIN, zmax: int = ZMAX
) -> np.ndarray:
    """First zoom at which each place's label has room, larger places first.

    At each zoom from ``zmin`` on, the places not shown yet are taken in rank
    order (population, then administrative rank, then file order); a place is
    shown unless a place shown at an earlier zoom lies in its cell of a
    ``px`` grid, or any place shown so far lies within ``px`` screen pixels
    of it (web Mercator at that zoom). A place shown at a zoom stays shown at
    every higher one. Places not placed by ``zmax - 1`` get ``zmax``. Worked
    out once per gazetteer (a few hundred ms for 30,000 places).

    Parameters
    ----------
    lon, lat
        Degrees.
    population
        Per place, 0 or missing when unknown.
    feature_code
        GeoNames feature codes (``PPLA2`` …), to rank places of equal population.
    px
        Room a label needs, in screen pixels.
    zmin, zmax
        The range of zooms handed out.

    Returns
    -------
    numpy.ndarray of int8
        ``minzoom`` per place (``zmax`` for a place with no position, too).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    out = np.full(n, zmax, dtype=np.int8)
    ok = np.isfinite(lon) & np.isfinite(lat)
    pop = np.zeros(n) if population is None else np.nan_to_num(np.asarray(population, dtype=float))
    fcr = (
        np.full(n, 9)
        if feature_code is None
        else np.array([FCODE_RANK.get(str(c), 9) for c in feature_code], dtype=np.int16)
    )
    order = np.lexsort((np.arange(n), fcr, -pop))  # the last key sorts first: population, largest first
    order = order[ok[order]]
    x = np.where(ok, lon, 0.0)
    y = np.degrees(np.log(np.tan(np.pi / 4 + np.radians(np.clip(np.where(ok, lat, 0.0), -85, 85)) / 2)))
    xs, ys = x.tolist(), y.tolist()
    placed = np.zeros(n, dtype=bool)
    shift = 1 << 32
    for z in range(zmin, zmax):
        cell = px * 360.0 / (TILE_PX * 2.0**z)  # px screen pixels at zoom z, in Mercator degrees
        cx = np.floor(x / cell).astype(np.int64)
        cy = np.floor(y / cell).astype(np.int64)
        keys = cx * shift + cy
        grid: dict[int, list[int]] = {}
        for k, i in zip(keys[placed].tolist(), np.flatnonzero(placed).tolist()):
            grid.setdefault(k, []).append(i)
        cand = order[~placed[order]]
        # a place whose own cell already holds a shown place is within √2·px of it: out, without a loop
        cand = cand[~np.isin(keys[cand], keys[placed])]
        cxs, cys = cx.tolist(), cy.tolist()
        c2 = cell * cell
        for i in cand.tolist():
            xi, yi, ci, di = xs[i], ys[i], cxs[i], cys[i]
            clash = False
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for j in grid.get((ci + dx) * shift + di + dy, ()):
                        if (xs[j] - xi) ** 2 + (ys[j] - yi) ** 2 < c2:
                            clash = True
                            break
                    if clash:
                        break
                if clash:
                    break
            if not clash:
                grid.setdefault(ci * shift + di, []).append(i)
                placed[i] = True
                out[i] = z
    return out


def _gazetteer_zooms(an, gaz) -> np.ndarray:
    """``minzoom`` of every place of the service's gazetteer (worked out once)."""
    with an.lock:
        hit = an._ref.get("label_zooms")
        if hit is None or hit[0] is not gaz:
            hit = (
                gaz,
                label_zooms(gaz.lon, gaz.lat, getattr(gaz, "population", None), getattr(gaz, "feature_code", None)),
            )
            an._ref["label_zooms"] = hit
        return hit[1]


def _store_stamp(an, gaz) -> str | None:
    """Import stamp of the store's gazetteer when it is the one the service uses (else None).

    The service reads its gazetteer once; stored codes are used only when they
    were computed on that very gazetteer (the store's, same import stamp), not
    on one given with ``--gazetteer`` or imported after the server started.
    """
    hit = an._ref.get("settlements_stamp")
    if hit is not None and hit[0] is gaz:
        return hit[1]
    from ..store.reference import SETTLEMENTS, load_settlements, reference_info

    with an.lock:
        stamp = None
        if load_settlements(an.store) is gaz:
            stamp = (reference_info(an.store, SETTLEMENTS) or {}).get("stamp")
        an._ref["settlements_stamp"] = (gaz, stamp)
    return stamp


def _stored_codes(an, v, gaz) -> tuple[np.ndarray, tuple] | None:
    """The gazetteer's status codes at ``v`` as kept by ``frontline recompute``, if current."""
    from ..analysis.materialise import codes_from_body, settlements_params
    from .routes_analysis import _stored

    stamp = _store_stamp(an, gaz)
    if not stamp:
        return None
    body = _stored(an, "settlements", settlements_params(stamp), v)
    if body is None:
        return None
    try:
        codes, labels = codes_from_body(body)
    except ValueError:  # an unreadable row is computed again, not served
        return None
    return (codes, labels) if len(codes) == len(gaz.lon) else None


def version_codes(an, v) -> tuple[np.ndarray, tuple]:
    """Status codes of the whole gazetteer at version ``v`` and their labels, kept per version.

    Read from the store when ``frontline recompute`` kept them for the
    version's current revision and this gazetteer; else worked out on the
    version's tile parts on the analysis service ``an`` (its own lock and
    snapshot: a revision committed meanwhile raises
    :class:`~frontline.web.errors.StaleVersion` and the request is answered
    again).
    """
    from ..analysis.settlements import status_on_control

    key = (v.pk, v.revision)
    with an.lock:
        hit = an._codes.get(key)
        if hit is not None:
            an._codes.move_to_end(key)
            return hit
        gaz = an.reference("settlements")
    stored = _stored_codes(an, v, gaz)  # outside the lock: its own connection, never behind an analysis
    with an.lock:
        if stored is not None:
            codes, labels = stored
        else:
            vc, _ = an.state(v)  # checks the revision in a fresh snapshot
            codes, labels = status_on_control(vc, (np.asarray(gaz.lon, dtype=float), np.asarray(gaz.lat, dtype=float)))
        an._codes[key] = (codes, labels)
        while len(an._codes) > KEEP_CODES:
            an._codes.popitem(last=False)
        return codes, labels


def _previous(an, v, known_at: int | None = None):
    """The version before ``v`` (same source; as known at ``known_at`` when given), or None for the first."""
    vs = an.versions(known_at if known_at is not None else getattr(v, "known_at", None))
    i = next((k for k, x in enumerate(vs) if x.version_id == v.version_id), None)
    return vs[i - 1] if i else None


def _selection(gaz, box, limit: int, keep: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Indices of the settlements in ``box`` (and in ``keep``), most populous first when over ``limit``."""
    lon, lat = np.asarray(gaz.lon, dtype=float), np.asarray(gaz.lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if keep is not None:
        ok &= keep
    if box is not None:
        x0, y0, x1, y1 = box
        ok &= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    idx = np.flatnonzero(ok)
    if len(idx) <= limit:
        return idx, False
    pop = np.asarray(getattr(gaz, "population", np.zeros(len(lon))), dtype=float)[idx]
    keep_idx = np.sort(idx[np.argsort(-pop, kind="stable")[:limit]])  # keep file order among the kept
    return keep_idx, True


def settlements_body(an, v, box, limit: int, zoom: float | None = None, known_at: int | None = None) -> bytes:
    """GeoJSON bytes of the settlements in ``box`` with their status in version ``v``.

    ``an`` is the analysis service. With ``zoom``, only the places whose
    label has room at it (``minzoom <= zoom``) and those that changed hands
    since the previous version (as known at ``known_at`` when given).
    """
    gaz = an.reference("settlements")
    codes, labels = version_codes(an, v)
    prev = _previous(an, v, known_at)
    if prev is not None:
        pcodes, plabels = version_codes(an, prev)
        if tuple(plabels) != tuple(labels):  # another set of sides: compare by label, not code
            pc = np.array([labels.index(lab) if lab in labels else -1 for lab in plabels], dtype=np.int16)[pcodes]
        else:
            pc = pcodes
        changed = pc != codes
    else:
        pc, changed = codes, np.zeros(len(codes), dtype=bool)
    minzoom = _gazetteer_zooms(an, gaz)
    keep = None if zoom is None else ((minzoom <= zoom) | changed)
    idx, truncated = _selection(gaz, box, limit, keep)
    members = {"version": v.version_id, "time": iso(v.valid_time), "total": int(len(idx)), "truncated": truncated}
    if zoom is not None:
        members["zoom"] = zoom
    if prev is not None:
        members["previous_version"] = prev.version_id
    if truncated:
        members["note"] = f"More than {limit} settlements in the box: the {limit} most populous are sent."
    if len(idx) == 0:
        return orjson.dumps({"type": "FeatureCollection", **members, "counts": {}, "features": []})
    table = np.array(labels, dtype=object)
    status = table[codes[idx]].tolist()
    lon, lat = np.asarray(gaz.lon, dtype=float)[idx], np.asarray(gaz.lat, dtype=float)[idx]
    ids = np.asarray(gaz.ids)[idx].tolist()
    names = np.asarray(gaz.names, dtype=object)[idx].tolist()
    pop = np.asarray(getattr(gaz, "population", np.zeros(len(gaz.lon))))[idx].tolist()
    cc = np.asarray(getattr(gaz, "country", np.full(len(gaz.lon), "")), dtype=object)[idx].tolist()
    mz = minzoom[idx].tolist()
    ch = changed[idx].tolist()
    was = table[pc[idx].clip(0)].tolist()
    feats = []
    for i, n, s, p, c, z, k, w, x, y in zip(ids, names, status, pop, cc, mz, ch, was, lon.tolist(), lat.tolist()):
        props = {"id": i, "name": n, "status": s, "population": int(p), "country": c, "minzoom": z, "changed": k}
        if k:
            props["previous"] = w
        feats.append(
            {
                "type": "Feature",
                "id": i,
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
            }
        )
    counts: dict[str, int] = {}
    for s in status:
        counts[str(s)] = counts.get(str(s), 0) + 1
    members["n_changed"] = int(sum(ch))
    body = orjson.dumps(feats)
    # the same places and statuses as another version → the same digest: the page keeps what it drew
    # (laying out hundreds of labels again costs the browser more than the request)
    members["digest"] = hashlib.blake2b(body, digest_size=8).hexdigest()
    return (
        orjson.dumps({"type": "FeatureCollection", **members, "counts": dict(sorted(counts.items()))})[:-1]
        + b',"features":'
        + body
        + b"}"
    )


def register(app, svc) -> None:
    """Add ``/api/settlements`` and ``/api/settlements/search`` to ``app``."""
    an = svc.analyses

    def warm(v):  # what the page opens with: the whole theatre at its opening zoom (5.5 → asks for 7)
        if an.reference("settlements") is not None:
            svc.memo(
                ("settlements", v.pk, v.revision, None, 5000, 7.0), lambda: settlements_body(an, v, None, 5000, 7.0)
            )

    svc.warmers.append(warm)

    @app.get("/api/settlements", summary="Settlements in a box and who holds each at a time")
    @svc.offload
    def settlements(
        request: Request,
        at: At = None,
        bbox: Bbox = None,
        limit: int = Query(5000, ge=1, le=MAX_LIMIT, description="at most this many (the most populous when more)"),
        zoom: str | None = Query(
            None, description="map zoom 0-24: only the places whose label has room at it, and those that changed hands"
        ),
        known_at: KnownAt = None,
    ):
        box = _parse_bbox(bbox)
        z = _parse_zoom(zoom)
        if z is not None:
            z = float(math.floor(z))  # labels are handed out per whole zoom: one cached answer per zoom
        known = parse_known_at(known_at)
        v, exact = resolve_known(svc, at, known)
        if an.reference("settlements") is None:
            return _cached(request, {"type": "FeatureCollection", "features": [], "note": NO_SETTLEMENTS})
        key: tuple = ("settlements", v.pk, v.revision, box, limit, z)
        if known is not None:  # "changed hands" compares with the previous version as known then: key on it
            prev = _previous(an, v, known)
            key += (None if prev is None else (prev.pk, prev.revision),)
        body = svc.memo(key, lambda: settlements_body(an, v, box, limit, z, known))
        return _cached(request, body, v, exact)

    @app.get("/api/settlements/search", summary="Find settlements by name in any spelling (transliteration)")
    @svc.offload
    def search(
        request: Request,
        q: str = Query(..., description="a name: Cyrillic or any Latin spelling"),
        limit: int = Query(10, ge=1, le=100),
    ):
        text = q.strip()
        if not text:
            raise ApiError(400, "q", "q is empty: give a settlement name, e.g. q=Lebedivka.")
        if len(text) > 100:
            raise ApiError(400, "q", f"q is too long ({len(text)} characters; at most 100).")
        index = an.name_index()
        if index is None:
            return _cached(request, {"query": text, "results": [], "note": NO_SETTLEMENTS})
        gaz = an.reference("settlements")
        with an.lock:
            matches = index.search(text, limit)
        out = []
        for m in matches:
            i = m.index
            out.append(
                {
                    "id": m.id,
                    "name": str(gaz.names[i]),
                    "matched": m.name,
                    "score": round(float(m.score), 3),
                    "lon": round(float(gaz.lon[i]), 6),
                    "lat": round(float(gaz.lat[i]), 6),
                    "country": str(gaz.country[i]) if hasattr(gaz, "country") else "",
                    "population": int(gaz.population[i]) if hasattr(gaz, "population") else 0,
                }
            )
        return _cached(request, {"query": text, "results": out})
