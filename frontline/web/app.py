"""HTTP API and offline web map over a store (read-only).

``create_app(store_path)`` builds a FastAPI app; ``serve(store_path)`` runs it
with uvicorn. Every geometry is GeoJSON in lon/lat. Responses addressed by a
version (``at`` equal to a version's id or valid time) are cached as
immutable with an ETag of ``<version id>.<revision>``; listings are
``no-cache``. Parameters that cannot be used answer 4xx with
``{"detail": ..., "parameter": ...}``; the app never answers 500 for bad input.
A query parameter a route does not declare is one of them (400 naming it).

Times (:mod:`frontline.times`): ``at`` and ``to`` read a bare date as its end
(23:59:59 UTC), ``from`` as its start (00:00:00 UTC). A time on a later day
than the last version, or more than the max age (7 days, ``$FRONTLINE_MAX_AGE``)
after the version that answers it, is answered with a warning: in
``warnings`` (a list of sentences) at the top of a JSON object and in the
``X-Frontline-Warning`` header; a strict app (``frontline serve --strict``)
answers 404 instead. A range with no version in it answers 404 saying so.

A version's content is read in one sqlite read transaction (a WAL snapshot)
that first checks the version's revision; when a revision of that version
commits between resolving ``at`` and reading (:class:`~frontline.web.errors.StaleVersion`), the
request is answered again, so an answer and its ETag always come from the
same revision (503 with ``Retry-After`` if it keeps changing).

The API is read-only by default. With a ``write_token`` the routes that
write (see :func:`~frontline.web.responses.require_write`) accept requests carrying it as
``Authorization: Bearer <token>``; without one they answer 403.

Feature areas live in ``routes_<name>.py`` modules (each with
``register(app, svc)``), auto-registered: versions, state, points, areas,
change and borders (``routes_state``), settlements and search
(``routes_settlements``), contact line, corridors and road exposure
(``routes_analysis``), claims and events (``routes_claims``), series
(``routes_series``). The rest of the package: ``service`` (the store behind
the app), ``params`` (query parameters), ``errors`` (error types → status
codes), ``responses`` (caching headers, warnings, the write check),
``routing`` (the route class), ``geojson``, ``openapi`` (the schema).

Errors answer ``{"detail": ..., "parameter": ...}`` by type: bad input 400
(422 from FastAPI's own validation), no version 404, the store unusable 503,
anything else 500 (a bug, logged). A GET whose client has gone (an aborted
prefetch) is not worked on.

No analysis delays the state path: analyses (settlements, contact line,
corridors, roads, changes, areas, series) run on a second service with its
own store handle, lock, partition cache and threads (``svc.analyses``,
:meth:`~frontline.web.service.Service.offload`); ``/api/state``, ``/api/points`` and
``/api/versions`` only ever take the app's own lock, held for reads and
partition builds, never for an analysis. Both share the response cache,
whose lock is held only to look up and store (an answer being made for one
request is waited for by another instead of being made twice).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from . import errors, openapi
from .errors import ApiError, StaleVersion
from .geojson import _geojson, _plain, feature_collection_bytes, geometry_json
from .params import MAX_BBOX_DEG2, REGIONS_FIXED, check_parameters, parse_bbox, parse_zoom
from .responses import IMMUTABLE, NO_CACHE, WARNING_HEADER, _cached, add_warning, require_write
from .routing import STALE_RETRIES, RetryRoute
from .service import ANALYSIS_THREADS, CACHE_BYTES, Service, _Service

STATIC = Path(__file__).parent / "static"
_parse_bbox, _parse_zoom, _RetryRoute = parse_bbox, parse_zoom, RetryRoute  # names the route modules used

__all__ = [
    "create_app",
    "serve",
    "maplibre_dir",
    "ApiError",
    "StaleVersion",
    "require_write",
    "add_warning",
    "Service",
    "_Service",
    "_cached",
    "_geojson",
    "_plain",
    "_parse_bbox",
    "_parse_zoom",
    "check_parameters",
    "geometry_json",
    "feature_collection_bytes",
    "IMMUTABLE",
    "NO_CACHE",
    "WARNING_HEADER",
    "STALE_RETRIES",
    "ANALYSIS_THREADS",
    "CACHE_BYTES",
    "MAX_BBOX_DEG2",
    "REGIONS_FIXED",
]


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


def create_app(
    store_path,
    *,
    write_token: str | None = None,
    gazetteer=None,
    roads=None,
    warm: bool = False,
    max_age_s: int | None | str = "default",
    strict: bool = False,
) -> FastAPI:
    """The web app over the store at ``store_path`` (opened read-only).

    Parameters
    ----------
    store_path
        A Frontline GeoPackage store.
    write_token
        Enables the write routes (see :func:`~frontline.web.responses.require_write`);
        None keeps the API read-only.
    gazetteer, roads
        Settlements and roads to use when the store holds none: a path
        (GeoNames dump / point layer; line layer) or a loaded
        ``Gazetteer`` / ``Roads``.
    warm
        Compute in the background, at start, what the first page load asks
        for (basemap borders, the latest version's state at the opening zoom),
        so the first visitor does not wait for it.
    max_age_s
        A time more than this many seconds after the version that answers it
        gets a warning (``warnings`` in the JSON, ``X-Frontline-Warning``
        header); None: no limit; default ``$FRONTLINE_MAX_AGE`` or 7 days. A
        time on a later day than the last version always does.
    strict
        Answer 404 instead of warning.

    Returns
    -------
    fastapi.FastAPI
    """
    from dataclasses import replace

    from ..state import time_policy

    policy = time_policy()
    age = policy.max_age_s if isinstance(max_age_s, str) else max_age_s  # "default": $FRONTLINE_MAX_AGE or 7 days
    policy = replace(policy, strict=bool(strict), report=None, max_age_s=age)
    svc = Service(store_path, gazetteer=gazetteer, roads=roads, policy=policy)
    app = FastAPI(title="Frontline", version="1", description=__doc__, responses=errors.READ_ERRORS)
    app.router.route_class = RetryRoute  # every route is answered again if its version was revised meanwhile
    app.state.service = svc
    app.state.write_token = write_token
    errors.install(app)
    # Feature areas of the API live in their own modules (``routes_*.py``, each with
    # ``register(app, svc)``), so a new area is a new file and this module stays the assembly.
    for mod in _route_modules():
        mod.register(app, svc)
    _mount_ui(app)
    openapi.install(app, svc.store.sides)
    if warm:
        threading.Thread(target=svc.warm, name="frontline-warm", daemon=True).start()
    return app


def _mount_ui(app: FastAPI) -> None:
    """The page, its static files and MapLibre (outside the API schema)."""

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})

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
            return JSONResponse(
                {
                    "detail": "MapLibre is not installed: run `npm install` at the repository root "
                    "(node_modules/maplibre-gl/dist)."
                },
                status_code=404,
            )


def _route_modules() -> list:
    import importlib
    import pkgutil

    from . import __path__ as web_path

    return [
        importlib.import_module(f"{__package__}.{i.name}")
        for i in sorted(pkgutil.iter_modules(web_path), key=lambda i: i.name)
        if i.name.startswith("routes_")
    ]


def serve(store_path, host: str = "127.0.0.1", port: int = 8765, **app_kwargs) -> None:
    """Run the web map and API with uvicorn (blocks); ``app_kwargs`` go to :func:`create_app`."""
    import uvicorn

    uvicorn.run(create_app(store_path, **app_kwargs), host=host, port=port)
