"""HTTP API and offline web map over a store (read-only).

``create_app(store_path)`` builds a FastAPI app; ``serve(store_path)`` runs it
with uvicorn. Every geometry is GeoJSON in lon/lat. Responses addressed by a
version (``at`` equal to a version's id or valid time) are cached as
immutable with an ETag of ``<version id>.<revision>``; listings are
``no-cache``. Parameters that cannot be used answer 4xx with
``{"detail": ..., "parameter": ...}``; the app never answers 500 for bad input.

The API is read-only: ``write_token`` is accepted for forward compatibility
but no write endpoint exists yet.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path

import shapely
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..model import CONTESTED, iso

STATIC = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
MAX_BBOX_DEG2 = 40.0 * 30.0  # a bbox larger than this (in square degrees) is refused
REGIONS_FIXED = ("theatre", "ukraine", "russia")


class ApiError(Exception):
    """A request the API cannot answer: status, parameter name and a sentence."""

    def __init__(self, status: int, parameter: str | None, message: str):
        super().__init__(message)
        self.status, self.parameter, self.message = status, parameter, message


def maplibre_dir() -> Path | None:
    """``node_modules/maplibre-gl/dist`` at the repository root (or ``$FRONTLINE_MAPLIBRE_DIR``)."""
    env = os.environ.get("FRONTLINE_MAPLIBRE_DIR")
    cands = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[2]
    cands += [root / "node_modules" / "maplibre-gl" / "dist", Path.cwd() / "node_modules" / "maplibre-gl" / "dist"]
    for c in cands:
        if (c / "maplibre-gl.js").is_file():
            return c
    return None


def _geojson(geom: BaseGeometry, digits: int = 6) -> dict:
    """GeoJSON geometry with coordinates rounded to ``digits`` decimals (6 ≈ 0.1 m)."""
    g = json.loads(shapely.to_geojson(geom))

    def rnd(c):
        return [rnd(x) for x in c] if isinstance(c[0], list) else [round(v, digits) for v in c]

    if g.get("coordinates"):
        g["coordinates"] = rnd(g["coordinates"])
    return g


def _tolerance(zoom: float | None) -> float:
    """Simplification tolerance in degrees: about half a screen pixel at ``zoom``."""
    if zoom is None:
        return 0.0
    return 0.5 * 360.0 / (512.0 * 2.0 ** zoom)


def _parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None or text == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ApiError(400, "bbox", f"bbox must be minx,miny,maxx,maxy (four numbers), not {text!r}.")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise ApiError(400, "bbox", f"bbox has a part that is not a number: {text!r}.") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ApiError(400, "bbox", "bbox must be finite numbers.")
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ApiError(400, "bbox", "bbox must have minx<maxx, miny<maxy within lon ±180, lat ±90.")
    if (x1 - x0) * (y1 - y0) > MAX_BBOX_DEG2:
        raise ApiError(400, "bbox", f"bbox is too large ({(x1 - x0) * (y1 - y0):.0f} square degrees; "
                                    f"at most {MAX_BBOX_DEG2:.0f}). Omit it for the whole theatre.")
    return x0, y0, x1, y1


def _parse_zoom(z: str | None) -> float | None:
    if z is None or z == "":
        return None
    try:
        v = float(z)
    except ValueError:
        raise ApiError(400, "zoom", f"zoom must be a number from 0 to 24, not {z!r}.") from None
    if not (0 <= v <= 24):
        raise ApiError(400, "zoom", f"zoom must be from 0 to 24, not {z!r}.")
    return v


class _Service:
    """The store and caches behind the app (one lock: sqlite and the builders are shared)."""

    def __init__(self, store_path):
        from ..store import open_store

        self.store = open_store(store_path, readonly=True)
        self.lock = threading.RLock()
        self._states: OrderedDict[int, tuple] = OrderedDict()
        self._borders: tuple[bytes, str] | None = None

    # -- versions -----------------------------------------------------------
    def versions(self):
        with self.lock:
            if not self.store.sources():
                return []
            return self.store.versions()

    def resolve(self, at: str | None, parameter: str = "at"):
        """``(version, exact)``: exact when ``at`` names the version itself (id or valid time)."""
        from ..analysis.area import parse_time

        versions = self.versions()
        if not versions:
            raise ApiError(404, parameter, "The store holds no versions.")
        if at is None or at == "" or at == "latest":
            return versions[-1], False
        for v in versions:
            if v.version_id == at:
                return v, True
        try:
            t = parse_time(at)
        except (ValueError, OverflowError) as exc:
            raise ApiError(400, parameter, f"{parameter}: {exc}") from None
        if t is None:
            return versions[-1], False
        if not -(2 ** 53) < t < 2 ** 53:
            raise ApiError(400, parameter, f"{parameter}={at!r} is out of range.")
        if t < versions[0].valid_time:
            raise ApiError(404, parameter, f"{parameter}={at!r} is before the first version "
                                           f"({iso(versions[0].valid_time)}).")
        with self.lock:
            v = self.store.version_at(t)
        if v is None:  # pragma: no cover - guarded above
            raise ApiError(404, parameter, f"No version at {at!r}.")
        return v, v.valid_time == t

    # -- state --------------------------------------------------------------
    def state(self, v):
        """``(VersionControl, features)`` of a version, cached (small LRU)."""
        from ..state import version_control

        with self.lock:
            hit = self._states.get(v.pk)
            if hit is not None and hit[0] == v.revision:
                self._states.move_to_end(v.pk)
                return hit[1], hit[2]
            vc = version_control(self.store, v)
            feats = self.store.features_at(v)
            self._states[v.pk] = (v.revision, vc, feats)
            while len(self._states) > 32:
                self._states.popitem(last=False)
            return vc, feats

    def borders(self) -> tuple[bytes, str]:
        with self.lock:
            if self._borders is None:
                feats = []
                for name, (kind, g) in sorted(self.store.regions().items()):
                    if kind != "country":
                        continue
                    # outlines only: holes (lakes, tiling slivers) and islets are dropped for the basemap
                    parts = [shapely.simplify(shapely.Polygon(p.exterior), 0.01) for p in shapely.get_parts(g)
                             if p.geom_type == "Polygon" and shapely.area(p) > 1e-3]
                    parts = [p for p in parts if not p.is_empty and p.geom_type == "Polygon"]
                    g = shapely.multipolygons(parts) if parts else shapely.Polygon()
                    if g.is_empty:
                        continue
                    feats.append({"type": "Feature", "properties": {"name": name.split(":", 1)[1], "kind": kind},
                                  "geometry": _geojson(g, 3)})
                body = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":")).encode()
                self._borders = (body, '"' + hashlib.sha1(body).hexdigest()[:20] + '"')
            return self._borders


def _cached(request: Request, payload, v=None, exact: bool = False) -> Response:
    """JSON with caching headers: immutable + ETag when addressed by a version, else no-cache."""
    headers = {}
    if v is not None:
        etag = f'"{v.version_id}.{v.revision}"'
        headers["ETag"] = etag
        headers["Cache-Control"] = IMMUTABLE if exact else NO_CACHE
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
    else:
        headers["Cache-Control"] = NO_CACHE
    return JSONResponse(payload, headers=headers)


def create_app(store_path, *, write_token: str | None = None) -> FastAPI:
    """The web app over the store at ``store_path`` (opened read-only).

    Parameters
    ----------
    store_path
        A Frontline GeoPackage store.
    write_token
        Reserved: there are no write endpoints, the API is read-only.
    """
    svc = _Service(store_path)
    app = FastAPI(title="Frontline", version="1", description=__doc__)
    app.state.service = svc
    app.state.write_token = write_token

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse({"detail": exc.message, "parameter": exc.parameter}, status_code=exc.status,
                            headers={"Cache-Control": NO_CACHE})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        param = str(errs[0]["loc"][-1]) if errs and errs[0].get("loc") else None
        msg = errs[0].get("msg", "invalid parameter") if errs else "invalid parameter"
        return JSONResponse({"detail": f"{param}: {msg}", "parameter": param}, status_code=422)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError):
        return JSONResponse({"detail": f"A parameter is out of range ({exc}).", "parameter": None}, status_code=400)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc), "parameter": None}, status_code=400)

    # -- API ------------------------------------------------------------------
    @app.get("/api/versions", summary="All versions of the default source")
    def versions(request: Request):
        rows = [{"id": v.version_id, "time": iso(v.valid_time), "revision": v.revision,
                 "published_at": iso(v.published_at), "revised_at": iso(v.revised_at)}
                for v in svc.versions()]
        return _cached(request, {"sides": list(svc.store.sides), "versions": rows})

    @app.get("/api/state", summary="Control polygons at a time (held abroad and contested)")
    def state(request: Request, at: str | None = Query(None, description="version id, ISO time or epoch seconds"),
              zoom: str | None = Query(None, description="map zoom 0-24: polygons are simplified for it"),
              bbox: str | None = Query(None, description="minx,miny,maxx,maxy (lon/lat)")):
        z = _parse_zoom(zoom)
        box = _parse_bbox(bbox)
        v, exact = svc.resolve(at)
        vc, _ = svc.state(v)
        tol = _tolerance(z)
        feats = []
        with svc.lock:
            layers = [("held", side, vc.abroad(side)) for side in vc.sides] + [("contested", None, vc.contested)]
        for status, side, g in layers:
            if g is None or g.is_empty:
                continue
            if box is not None:
                g = shapely.clip_by_rect(g, *box)
            if tol:
                g = shapely.simplify(g, tol, preserve_topology=True)
            if g.is_empty:
                continue
            feats.append({"type": "Feature", "properties": {"status": status, "side": side},
                          "geometry": _geojson(g)})
        return _cached(request, {"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                                 "revision": v.revision, "features": feats}, v, exact)

    @app.get("/api/points", summary="Directions of attack, units, HQs and markers at a time")
    def points(request: Request, at: str | None = Query(None, description="version id, ISO time or epoch seconds")):
        v, exact = svc.resolve(at)
        _, stored = svc.state(v)
        feats = []
        for f in stored:
            if f.kind == "area" or f.geometry is None or f.geometry.is_empty:
                continue
            g = f.geometry if f.geometry.geom_type == "Point" else f.geometry.representative_point()
            feats.append({"type": "Feature", "id": f.fid,
                          "properties": {"kind": f.kind, "key": f.key, "bearing": f.bearing, "name": f.name,
                                         "name_en": f.name_en, "side": f.side},
                          "geometry": _geojson(g)})
        return _cached(request, {"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                                 "features": feats}, v, exact)

    @app.get("/api/areas", summary="Area per side and contested over time in a region")
    def areas(request: Request, region: str = Query("home:ua", description="theatre, ukraine, russia, "
                                                                           "home:<side> or outside:<side>"),
              convention: str = Query("clipped", description="clipped or as_drawn"),
              from_: str | None = Query(None, alias="from"), to: str | None = None,
              every: str | None = Query(None, description="day, week or month")):
        from ..analysis.area import PERIODS, area_series, parse_time
        from ..normalise import CONVENTIONS

        sides = svc.store.sides
        allowed = set(REGIONS_FIXED) | {f"{k}:{s}" for k in ("home", "outside") for s in sides}
        if region not in allowed:  # no polygon files over HTTP: they would read the server's disk
            raise ApiError(400, "region", f"region must be one of {', '.join(sorted(allowed))}, not {region!r}.")
        if convention not in CONVENTIONS:
            raise ApiError(400, "convention", f"convention must be one of {', '.join(CONVENTIONS)}.")
        if every not in (None, "") and every not in PERIODS:
            raise ApiError(400, "every", f"every must be one of {', '.join(PERIODS)}.")
        ts = {}
        for name, val in (("from", from_), ("to", to)):
            try:
                ts[name] = parse_time(val)
            except (ValueError, OverflowError) as exc:
                raise ApiError(400, name, f"{name}: {exc}") from None
            if ts[name] is not None and not -(2 ** 53) < ts[name] < 2 ** 53:
                raise ApiError(400, name, f"{name}={val!r} is out of range.")
        if ts["from"] is not None and ts["to"] is not None and ts["from"] > ts["to"]:
            raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
        if not svc.versions():
            return _cached(request, {"rows": []})
        with svc.lock:
            try:
                rows = area_series(svc.store, region=region, convention=convention, start=ts["from"],
                                   end=ts["to"], every=every or None)
            except OverflowError as exc:
                raise ApiError(400, None, str(exc)) from None
        return _cached(request, {"region": region, "convention": convention, "sides": list(sides), "rows": rows})

    @app.get("/api/change", summary="Ground gained and lost by each side between two times")
    def change(request: Request, from_: str = Query(..., alias="from"), to: str = Query(...),
               zoom: str | None = None):
        z = _parse_zoom(zoom)
        va, ea = svc.resolve(from_, "from")
        vb, eb = svc.resolve(to, "to")
        from ..analysis.area import parse_time

        ta = va.valid_time if from_ == va.version_id else parse_time(from_)
        tb = vb.valid_time if to == vb.version_id else parse_time(to)
        if ta is not None and tb is not None and ta > tb:
            raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
        a, _ = svc.state(va)
        b, _ = svc.state(vb)
        tol = _tolerance(z)
        feats, totals = [], {}
        with svc.lock:
            for side in a.sides:
                # side's held ground = home − (others' ground and contested in home) + abroad: only
                # the small parts change, so no home complement is ever built.
                cut_a = shapely.union_all([a.part(side, w) for w in (*a.sides, CONTESTED) if w != side])
                cut_b = shapely.union_all([b.part(side, w) for w in (*b.sides, CONTESTED) if w != side])
                ab_a, ab_b = a.abroad(side), b.abroad(side)
                gained = shapely.union(shapely.difference(cut_a, cut_b), shapely.difference(ab_b, ab_a))
                lost = shapely.union(shapely.difference(cut_b, cut_a), shapely.difference(ab_a, ab_b))
                for what, g in (("gained", gained), ("lost", lost)):
                    g = _polygonal(g)
                    km2 = round(geodesy.area_km2(g), 3) if not g.is_empty else 0.0
                    totals[f"{side}_{what}_km2"] = km2
                    if g.is_empty:
                        continue
                    if tol:
                        g = shapely.simplify(g, tol, preserve_topology=True)
                    feats.append({"type": "Feature", "properties": {"side": side, "change": what, "km2": km2},
                                  "geometry": _geojson(g)})
            for side in a.sides:
                totals[f"{side}_net_km2"] = round(totals[f"{side}_gained_km2"] - totals[f"{side}_lost_km2"], 3)
        payload = {"type": "FeatureCollection", "from": va.version_id, "to": vb.version_id,
                   "from_time": iso(va.valid_time), "to_time": iso(vb.valid_time), "totals": totals,
                   "features": feats}
        resp = _cached(request, payload)
        if ea and eb:
            etag = f'"{va.version_id}.{va.revision}-{vb.version_id}.{vb.revision}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
            resp.headers["ETag"] = etag
            resp.headers["Cache-Control"] = IMMUTABLE
        return resp

    @app.get("/api/borders", summary="Country outlines (simplified) for the offline basemap")
    def borders(request: Request):
        body, etag = svc.borders()
        headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    # Feature areas of the API live in their own modules (``routes_*.py``, each with
    # ``register(app, svc)``), so a new area is a new file and app.py stays the core.
    for mod in _route_modules():
        mod.register(app, svc)

    # -- UI -------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": NO_CACHE})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    ml = maplibre_dir()
    if ml is not None:
        app.mount("/vendor/maplibre", StaticFiles(directory=ml), name="maplibre")
    else:
        @app.get("/vendor/maplibre/{rest:path}", include_in_schema=False)
        def no_maplibre(rest: str):
            return JSONResponse({"detail": "MapLibre is not installed: run `npm install` at the repository root "
                                           "(node_modules/maplibre-gl/dist)."}, status_code=404)
    return app


def _route_modules() -> list:
    import importlib
    import pkgutil

    from . import __path__ as web_path

    return [importlib.import_module(f"{__package__}.{i.name}")
            for i in sorted(pkgutil.iter_modules(web_path), key=lambda i: i.name) if i.name.startswith("routes_")]


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    from ..borders import polygonal

    return polygonal(g)


def serve(store_path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the web map and API with uvicorn (blocks)."""
    import uvicorn

    uvicorn.run(create_app(store_path), host=host, port=port)
