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
commits between resolving ``at`` and reading (:class:`StaleVersion`), the
request is answered again, so an answer and its ETag always come from the
same revision (503 with ``Retry-After`` if it keeps changing).

The API is read-only by default. With a ``write_token`` the routes that
write (see :func:`require_write`) accept requests carrying it as
``Authorization: Bearer <token>``; without one they answer 403.

Feature areas live in ``routes_<name>.py`` modules (each with
``register(app, svc)``), auto-registered: settlements and search
(``routes_settlements``), contact line, corridors and road exposure
(``routes_analysis``).

No analysis delays the state path: analyses (settlements, contact line,
corridors, roads, changes, areas, series) run on a second service with its
own store handle, lock, partition cache and threads (``svc.analyses``,
:meth:`_Service.offload`); ``/api/state``, ``/api/points`` and
``/api/versions`` only ever take the app's own lock, held for reads and
partition builds, never for an analysis. Both share the response cache,
whose lock is held only to look up and store (an answer being made for one
request is waited for by another instead of being made twice).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson
import shapely
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..model import CONTESTED, iso

STATIC = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
MAX_BBOX_DEG2 = 40.0 * 30.0  # a bbox larger than this (in square degrees) is refused
MAX_ZOOM_BUCKET = 13  # from this zoom on, polygons are sent at full detail
# Response bodies kept in memory (bytes), least recently used dropped first.
CACHE_BYTES = int(float(os.environ.get("FRONTLINE_WEB_CACHE_MB", "384")) * 2 ** 20)
REGIONS_FIXED = ("theatre", "ukraine", "russia")


class ApiError(Exception):
    """A request the API cannot answer: status, parameter name and a sentence."""

    def __init__(self, status: int, parameter: str | None, message: str):
        super().__init__(message)
        self.status, self.parameter, self.message = status, parameter, message


class StaleVersion(Exception):
    """A version was revised between resolving it and reading its content: the request is answered again."""


STALE_RETRIES = 3


# Warnings of the request being answered (stale times): the route wrapper collects them, ``_cached`` and
# the wrapper put them in the answer (``warnings`` in a JSON object body, ``X-Frontline-Warning`` header).
_NOTES: ContextVar[list[str] | None] = ContextVar("frontline_web_notes", default=None)
WARNING_HEADER = "X-Frontline-Warning"


def add_warning(message: str) -> None:
    """Attach a warning to the answer of the request being handled (no-op outside a request)."""
    notes = _NOTES.get()
    if notes is not None and message not in notes:
        notes.append(message)


def _query_names(dependant) -> set[str]:
    """Query parameter names a route declares (its own and its dependencies')."""
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def check_parameters(request: Request, allowed: set[str], path: str) -> None:
    """Refuse query parameters the route does not declare (a typo would otherwise be ignored silently).

    Raises
    ------
    ApiError
        400 naming the unknown parameter(s), the nearest declared name and what the route takes.
    """
    unknown = sorted({k for k in request.query_params.keys() if k not in allowed})
    if not unknown:
        return
    import difflib

    hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, allowed, n=1)) else repr(u)
             for u in unknown]
    takes = ", ".join(sorted(allowed)) if allowed else "no parameters"
    word = "parameter" if len(unknown) == 1 else "parameters"
    raise ApiError(400, unknown[0], f"Unknown {word} {', '.join(hints)} for {path}; it takes {takes}.")


class _RetryRoute(APIRoute):
    """A route that checks its query parameters, collects warnings, and is answered again on a revision.

    * A query parameter the route does not declare answers 400 naming it
      (:func:`check_parameters`; routes outside the API schema, such as the
      page itself, whose URL state the browser reads, are not checked).
    * Warnings added while answering (:func:`add_warning`) come back in the
      ``X-Frontline-Warning`` header (and ``warnings`` in JSON bodies).
    * Up to ``STALE_RETRIES`` times: content is read in one sqlite read
      transaction that first checks the version's revision
      (:meth:`_Service.state`); a revision committed after ``resolve`` makes
      that check fail, and the whole request runs again, so the answer and
      its ETag always come from the same revision.
    """

    def get_route_handler(self):
        handler = super().get_route_handler()
        allowed = _query_names(self.dependant) if self.include_in_schema else None
        path = self.path

        async def retrying(request: Request) -> Response:
            if allowed is not None:
                check_parameters(request, allowed, path)
            notes: list[str] = []
            token = _NOTES.set(notes)
            try:
                for attempt in range(STALE_RETRIES):
                    notes.clear()
                    try:
                        resp = await handler(request)
                        break
                    except StaleVersion:
                        if attempt == STALE_RETRIES - 1:
                            raise
                else:  # pragma: no cover
                    raise AssertionError("unreachable")
            finally:
                _NOTES.reset(token)
            if notes:
                resp.headers[WARNING_HEADER] = " | ".join(notes).encode("ascii", "replace").decode()
            return resp

        return retrying


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


def _round(geom: BaseGeometry, digits: int) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.round(c, digits))


def geometry_json(geom: BaseGeometry, digits: int = 6) -> bytes:
    """GeoJSON geometry as bytes, coordinates rounded to ``digits`` decimals (6 ≈ 0.1 m).

    The GEOS writer on rounded coordinates: no Python walk over the vertices,
    which is what keeps a front-wide state response fast.
    """
    return shapely.to_geojson(_round(geom, digits)).encode()


def _geojson(geom: BaseGeometry, digits: int = 6) -> dict:
    """GeoJSON geometry (a dict) with coordinates rounded to ``digits`` decimals."""
    return orjson.loads(geometry_json(geom, digits))


def feature_collection_bytes(features: list[tuple[dict, bytes]], **members) -> bytes:
    """A FeatureCollection serialised from ``(properties, geometry JSON bytes)`` pairs."""
    head = orjson.dumps({"type": "FeatureCollection", **members})[:-1]
    parts = [b'{"type":"Feature","properties":' + orjson.dumps(props) + b',"geometry":' + g + b"}"
             for props, g in features]
    return head + b',"features":[' + b",".join(parts) + b"]}"


def _zoom_bucket(zoom: float | None) -> int | None:
    """Integer zoom a response is simplified for (None or ≥ 13: full detail)."""
    if zoom is None:
        return None
    b = int(math.ceil(zoom))
    return None if b >= MAX_ZOOM_BUCKET else b


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


ANALYSIS_THREADS = 4  # analysis requests answered at once (they take turns on the analysis service's lock)


class _Service:
    """The store and caches behind the app.

    Two services, each with its own store handle, lock and state cache, so
    that no analysis ever holds the lock the state path needs:

    * the app's service answers versions, ``/api/state`` and ``/api/points``,
      with a partition builder of its own (its geometry is never touched by
      an analysis thread);
    * ``analyses`` (a second service, made by the first) answers every
      analysis (settlements, contact line, corridors, roads, changes, series)
      in threads of its own (:meth:`offload`), one at a time on its lock.

    Response bodies are kept in one cache (:meth:`memo`) with a lock of its
    own, held only to look up and store.
    """

    def __init__(self, store_path, *, gazetteer=None, roads=None, policy=None, analyses: bool = True,
                 keep_states: int = 32):
        from ..state import time_policy
        from ..store import open_store

        self.store = open_store(store_path, readonly=True)
        self.policy = policy or time_policy()  # stale times: max age and strictness
        self.lock = threading.RLock()
        self._states: OrderedDict[int, tuple] = OrderedDict()
        self._keep_states = keep_states
        self._borders: tuple[bytes, str] | None = None
        self._bodies: OrderedDict[tuple, bytes] = OrderedDict()
        self._body_bytes = 0
        self._memo_lock = threading.Lock()
        self._inflight: dict[tuple, threading.Event] = {}
        self._extra = {"settlements": gazetteer, "roads": roads}
        self.warmers: list[Callable] = []  # route modules add ``f(version)`` computing their default answer
        self._ref: dict[str, Any] = {}
        self._codes: OrderedDict[tuple, np.ndarray] = OrderedDict()
        # The state path builds partitions with a builder of its own: the shared one
        # (frontline.state.version_control) belongs to the analyses, under their lock.
        self._builder = None
        self._limiter = None
        self.analyses: _Service = (_Service(store_path, gazetteer=gazetteer, roads=roads, policy=self.policy,
                                            analyses=False, keep_states=8) if analyses else self)
        if analyses:
            self.analyses._shared = True

    _shared = False  # True on the analysis service: it uses frontline.state's shared partition builder

    def offload(self, fn: Callable) -> Callable:
        """A route handler run in the analysis threads, never in the threads the state path uses.

        FastAPI runs plain ``def`` routes in one thread pool (40 threads);
        analysis requests piling up there could make ``/api/state`` wait for
        a thread. The returned ``async`` handler has ``fn``'s signature and
        runs it in a pool of ``ANALYSIS_THREADS`` of its own (the warnings
        context travels with it).
        """
        import contextvars
        import functools
        import typing

        import anyio

        # FastAPI reads the signature of the wrapper (inspect follows __wrapped__) and evaluates string
        # annotations in the wrapper's module: give it the resolved types of fn's own module.
        fn.__annotations__ = typing.get_type_hints(fn, include_extras=True)

        @functools.wraps(fn)
        async def run(*args, **kwargs):
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(ANALYSIS_THREADS)
            ctx = contextvars.copy_context()
            return await anyio.to_thread.run_sync(lambda: ctx.run(fn, *args, **kwargs), limiter=self._limiter)

        return run

    # -- consistent reads -----------------------------------------------------
    @contextmanager
    def read(self):
        """Hold the lock and one sqlite read transaction (a WAL snapshot) for everything read inside.

        Nested uses join the outer transaction. Writers (imports, revisions) go
        on meanwhile; what is read here sees none of their later commits.
        """
        with self.lock:
            db = self.store.db
            own = not db.in_transaction
            if own:
                db.execute("BEGIN")
            try:
                yield
            finally:
                if own:
                    db.execute("COMMIT")

    def check(self, v) -> None:
        """Raise :class:`StaleVersion` unless ``v`` is still the stored revision (call inside :meth:`read`)."""
        cur = self.store.version(v.source, v.version_id)
        if cur is None or cur.pk != v.pk or cur.revision != v.revision:
            raise StaleVersion(f"{v.version_id} revision {v.revision} was replaced")

    # -- versions -----------------------------------------------------------
    def versions(self):
        with self.lock:
            if not self.store.sources():
                return []
            return self.store.versions()

    def resolve(self, at: str | None, parameter: str = "at", role: str = "at"):
        """``(version, exact)``: exact when ``at`` names the version itself (id or valid time).

        ``role`` reads a bare date as its end (``at``, ``end``) or start
        (``start``). A stale time (:func:`frontline.state.staleness`) adds a
        warning to the answer, or answers 404 when the app is strict.
        """
        from ..state import staleness
        from ..times import parse_time

        versions = self.versions()
        if not versions:
            raise ApiError(404, parameter, "The store holds no versions.")
        if at is None or at == "" or at == "latest":
            return versions[-1], False
        for v in versions:
            if v.version_id == at:
                return v, True
        try:
            t = parse_time(at, role=role, name=parameter)  # type: ignore[arg-type]
        except (ValueError, OverflowError) as exc:
            raise ApiError(400, parameter, str(exc)) from None
        if t is None:
            return versions[-1], False
        if t < versions[0].valid_time:
            raise ApiError(404, parameter, f"{parameter}={at!r} is before the first version "
                                           f"({iso(versions[0].valid_time)}).")
        with self.lock:
            v = self.store.version_at(t)
        if v is None:  # pragma: no cover - guarded above
            raise ApiError(404, parameter, f"No version at {at!r}.")
        note = staleness(v, t, versions[-1], max_age_s=self.policy.max_age_s)
        if note is not None:
            if self.policy.strict:
                raise ApiError(404, parameter, f"{parameter}: {note.fact}; refused (the server is strict).")
            add_warning(f"{parameter}: {note.message}")
        return v, v.valid_time == t

    # -- state --------------------------------------------------------------
    def state(self, v):
        """``(VersionControl, features)`` of a version, cached (small LRU).

        Read in one transaction that first checks ``v`` is still the stored
        revision: a revision committed after ``v`` was resolved raises
        :class:`StaleVersion` (the request is answered again) instead of
        putting the new revision's content under the old revision's key.
        """
        from ..state import version_control

        with self.lock:
            hit = self._states.get(v.pk)
            if hit is not None and hit[0] == v.revision:
                self._states.move_to_end(v.pk)
                return hit[1], hit[2]
        with self.read():
            self.check(v)
            if self._shared:
                vc = version_control(self.store, v)
            else:
                if self._builder is None:
                    from ..normalise import PartitionBuilder
                    from ..store import theatre_of

                    self._builder = PartitionBuilder(theatre_of(self.store))
                # what frontline.state.version_control does, on this service's own builder
                vc = self._builder.build(self.store.pieces(self.store.member_fids(v)).values())
            feats = self.store.features_at(v)
            self._states[v.pk] = (v.revision, vc, feats)
            while len(self._states) > self._keep_states:
                self._states.popitem(last=False)
            return vc, feats

    def layers(self, v) -> list[tuple[str, str | None, BaseGeometry]]:
        """``(status, side, geometry)`` of held-abroad ground per side and contested, cached with the state."""
        vc, _ = self.state(v)
        with self.lock:
            hit = self._states.get(v.pk)
            if hit is not None and len(hit) > 3:
                return hit[3]
            parts = (vc.tile_parts() if hasattr(vc, "tile_parts") else None)
            if parts is None:  # another partition type: its own unions
                layers = [("held", side, vc.abroad(side)) for side in vc.sides] + [("contested", None, vc.contested)]
            else:
                # The parts are per-tile pieces that never overlap: a coverage union (edges
                # matched, no overlay) builds them 5-8x faster than a general union.
                layers = [("held", side, _coverage_union([g for h in vc.sides if h != side
                                                          for g in parts.get((h, side), [])]))
                          for side in vc.sides]
                layers.append(("contested", None, _coverage_union([g for h in vc.sides
                                                                   for g in parts.get((h, CONTESTED), [])])))
            if hit is not None:
                self._states[v.pk] = (*hit[:3], layers)
            return layers

    def memo(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        """A response body cached by ``key`` (LRU bounded by ``CACHE_BYTES`` in all).

        Keys start with what the body depends on (kind, version pk, revision,
        parameters): a version's content never changes once imported, and a
        revision bumps ``revision``.
        """
        while True:
            with self._memo_lock:
                body = self._bodies.get(key)
                if body is not None:
                    self._bodies.move_to_end(key)
                    return body
                busy = self._inflight.get(key)
                if busy is None:  # nobody is making it: this request does
                    mine = self._inflight[key] = threading.Event()
                    break
            # The same answer is being made for another request (a prefetch, a second tab): wait for
            # it instead of computing it twice; if that one fails, this one tries itself.
            busy.wait(60.0)
        try:
            body = make()
            with self._memo_lock:
                if key not in self._bodies and len(body) <= CACHE_BYTES // 4:
                    self._bodies[key] = body
                    self._body_bytes += len(body)
                    while self._body_bytes > CACHE_BYTES and self._bodies:
                        _, old = self._bodies.popitem(last=False)
                        self._body_bytes -= len(old)
        finally:
            with self._memo_lock:
                self._inflight.pop(key, None)
            mine.set()
        return body

    def state_body(self, v, zoom: float | None) -> bytes:
        """The whole-theatre state of a version as GeoJSON bytes, simplified for a zoom bucket."""
        zb = _zoom_bucket(zoom)
        return self.memo(("state", v.pk, v.revision, zb), lambda: self._state_body(v, zb, None))

    def _state_body(self, v, zb: int | None, box) -> bytes:
        tol = _tolerance(zb)
        # 5 decimals ≈ 1 m: far below a pixel at zoom ≤ 10; 4 (≈ 10 m) at zoom ≤ 8, where a pixel is ≥ 150 m here.
        # At zoom ≤ 8 the tolerance is a whole pixel: the page opens at zoom 6, and a smaller first answer
        # is parsed, tiled and drawn sooner (about 20 % fewer bytes at zoom 6).
        digits = 6 if zb is None or zb > 10 else 5 if zb > 8 else 4
        if zb is not None and zb <= 8:
            tol *= 2.0
        feats = []
        for status, side, g in self.layers(v):
            if g is None or g.is_empty:
                continue
            if box is not None:
                g = shapely.clip_by_rect(g, *box)
            if tol:
                g = shapely.simplify(g, tol, preserve_topology=True)
            if g.is_empty:
                continue
            feats.append(({"status": status, "side": side}, geometry_json(g, digits)))
        return feature_collection_bytes(feats, version=v.version_id, time=iso(v.valid_time), revision=v.revision)

    # -- reference layers (settlements, roads) --------------------------------
    def reference(self, what: str):
        """The store's settlements (Gazetteer) or roads (Roads), else those given to the app, else None.

        Read once: reference layers are imported rarely and the app holds a
        read-only handle.
        """
        with self.lock:
            if what in self._ref:
                return self._ref[what]
            obj = None
            try:
                from ..store import reference as ref  # written by the store's reference-layer work
                loader = getattr(ref, "load_settlements" if what == "settlements" else "load_roads", None)
            except ImportError:
                loader = None
            if loader is not None:
                obj = loader(self.store)
            if obj is None:
                obj = self._extra.get(what)
                if isinstance(obj, (str, os.PathLike)):
                    obj = _read_reference(what, obj)
            self._ref[what] = obj
            return obj

    def name_index(self):
        """A transliteration-tolerant :class:`frontline.names.NameIndex` of the settlements (or None)."""
        with self.lock:
            if "names" not in self._ref:
                from ..names import NameIndex

                gaz = self.reference("settlements")
                self._ref["names"] = NameIndex.from_gazetteer(gaz) if gaz is not None and len(gaz.names) else None
            return self._ref["names"]

    def local_map(self, v, box: tuple[float, float, float, float]):
        """The control map of a version cut to ``box`` (lon/lat): built from the tile parts near it."""
        from ..model import ControlMap, utc

        vc, _ = self.state(v)
        with self.lock:
            cm = ControlMap(source=v.source, version_id=v.version_id, valid_time=utc(v.valid_time), held={},
                            contested=None, control=vc)
            return cm.clipped(shapely.box(*box))

    def warm(self) -> None:
        """Compute the answers a first page load needs (errors are left for the requests to report)."""
        try:
            self.borders()
            vs = self.versions()
            if vs:
                for z in (6, 7):  # the page opens at zoom 5.5 and asks for ceil(zoom)
                    self.state_body(vs[-1], z)
                for hook in self.warmers:  # the route modules' default views of the latest version
                    hook(vs[-1])
        except Exception:  # noqa: BLE001 - warming is best effort; the request path reports errors
            pass

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


def _read_reference(what: str, path) -> Any:
    """Settlements (a GeoNames dump or point layer) or roads (any line layer) from a file."""
    if what == "settlements":
        from ..sources.geonames import load_gazetteer

        return load_gazetteer(path)
    from ..sources.osm import read_roads

    return read_roads(path)


def require_write(request: Request) -> None:
    """Refuse a write unless the app has a write token and the request carries it.

    The token comes as ``Authorization: Bearer <token>`` (or ``X-Frontline-Token``).
    Raises :class:`ApiError` 403 when the app is read-only, 401 on a missing
    or wrong token (compared in constant time).
    """
    token = getattr(request.app.state, "write_token", None)
    if not token:
        raise ApiError(403, None, "This server is read-only: start it with `frontline serve --token-file FILE` "
                                  "(or $FRONTLINE_WRITE_TOKEN) to allow writes.")
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-frontline-token", "")
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "Authorization", "A write needs the server's token as `Authorization: Bearer <token>`.")


def _cached(request: Request, payload, v=None, exact: bool = False) -> Response:
    """JSON with caching headers: immutable + ETag when addressed by a version, else no-cache.

    ``payload`` is anything JSON-serialisable, or ready JSON bytes.
    """
    headers = {}
    if v is not None:
        etag = f'"{v.version_id}.{v.revision}"'
        headers["ETag"] = etag
        headers["Cache-Control"] = IMMUTABLE if exact else NO_CACHE
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
    else:
        headers["Cache-Control"] = NO_CACHE
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    notes = _NOTES.get()
    if notes and body[:1] == b"{":  # a JSON object: the warnings travel in it too (ready bodies stay as cached)
        body = b'{"warnings":' + orjson.dumps(notes) + (b"," if body[1:].lstrip()[:1] != b"}" else b"") + body[1:]
    return Response(body, media_type="application/json", headers=headers)


def create_app(store_path, *, write_token: str | None = None, gazetteer=None, roads=None,
               warm: bool = False, max_age_s: int | None | str = "default", strict: bool = False) -> FastAPI:
    """The web app over the store at ``store_path`` (opened read-only).

    Parameters
    ----------
    store_path
        A Frontline GeoPackage store.
    write_token
        Enables the write routes (see :func:`require_write`); None keeps the
        API read-only.
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
    policy = replace(policy, strict=bool(strict), report=None,
                     max_age_s=policy.max_age_s if max_age_s == "default" else max_age_s)
    svc = _Service(store_path, gazetteer=gazetteer, roads=roads, policy=policy)
    app = FastAPI(title="Frontline", version="1", description=__doc__)
    app.router.route_class = _RetryRoute  # every route is answered again if its version was revised meanwhile
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

    @app.exception_handler(StaleVersion)
    async def _stale(request: Request, exc: StaleVersion):
        return JSONResponse({"detail": f"The version was revised while answering ({exc}); ask again.",
                             "parameter": None}, status_code=503, headers={"Retry-After": "1",
                                                                            "Cache-Control": NO_CACHE})

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
        etag = f'"{v.version_id}.{v.revision}"'
        if request.headers.get("if-none-match") == etag:
            return _cached(request, b"", v, exact)  # 304 before any work
        if box is None:
            body = svc.state_body(v, z)
        else:
            body = svc._state_body(v, _zoom_bucket(z), box)
        return _cached(request, body, v, exact)

    @app.get("/api/points", summary="Directions of attack, units, HQs and markers at a time")
    def points(request: Request, at: str | None = Query(None, description="version id, ISO time or epoch seconds")):
        v, exact = svc.resolve(at)

        def make() -> bytes:
            _, stored = svc.state(v)
            feats = []
            for f in stored:
                if f.kind == "area" or f.geometry is None or f.geometry.is_empty:
                    continue
                g = f.geometry if f.geometry.geom_type == "Point" else f.geometry.representative_point()
                feats.append({"type": "Feature", "id": f.fid,
                              "properties": {"kind": f.kind, "key": f.key, "bearing": f.bearing, "name": f.name,
                                             "name_en": f.name_en, "side": f.side},
                              "geometry": {"type": "Point", "coordinates": [round(g.x, 6), round(g.y, 6)]}})
            body = orjson.dumps(feats, option=orjson.OPT_SERIALIZE_NUMPY)
            # same points as another version → same digest: the page then keeps what it drew
            digest = hashlib.blake2b(body, digest_size=8).hexdigest()
            return orjson.dumps({"type": "FeatureCollection", "version": v.version_id, "time": iso(v.valid_time),
                                 "digest": digest})[:-1] + b',"features":' + body + b"}"

        return _cached(request, svc.memo(("points", v.pk, v.revision), make), v, exact)

    an = svc.analyses  # analyses run there: its own store handle, lock and threads

    @app.get("/api/areas", summary="Area per side and contested over time in a region")
    @svc.offload
    def areas(request: Request, region: str = Query("home:ua", description="theatre, ukraine, russia, "
                                                                           "home:<side> or outside:<side>"),
              convention: str = Query("clipped", description="clipped or as_drawn"),
              from_: str | None = Query(None, alias="from"), to: str | None = None,
              every: str | None = Query(None, description="day, week or month")):
        from ..analysis.area import area_series
        from ..times import PERIODS
        from ..normalise import CONVENTIONS
        from ..state import empty_range_message
        from ..times import parse_time

        sides = svc.store.sides
        allowed = set(REGIONS_FIXED) | {f"{k}:{s}" for k in ("home", "outside") for s in sides}
        if region not in allowed:  # no polygon files over HTTP: they would read the server's disk
            raise ApiError(400, "region", f"region must be one of {', '.join(sorted(allowed))}, not {region!r}.")
        if convention not in CONVENTIONS:
            raise ApiError(400, "convention", f"convention must be one of {', '.join(CONVENTIONS)}.")
        if every not in (None, "") and every not in PERIODS:
            raise ApiError(400, "every", f"every must be one of {', '.join(PERIODS)}.")
        ts = {}
        for name, val, role in (("from", from_, "start"), ("to", to, "end")):
            try:  # a bare date: from its 00:00:00, to its 23:59:59 (UTC)
                ts[name] = parse_time(val, role=role, name=name)  # type: ignore[arg-type]
            except (ValueError, OverflowError) as exc:
                raise ApiError(400, name, str(exc)) from None
        if ts["from"] is not None and ts["to"] is not None and ts["from"] > ts["to"]:
            raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
        versions = svc.versions()
        if not versions:
            return _cached(request, {"rows": []})
        if ts["to"] is not None and ts["to"] >= versions[0].valid_time:
            svc.resolve(to, "to", role="end")  # an end past the last version's day: a warning (404 when strict)
        with an.lock:
            try:
                rows = area_series(an.store, region=region, convention=convention, start=ts["from"],
                                   end=ts["to"], every=every or None)
            except OverflowError as exc:
                raise ApiError(400, None, str(exc)) from None
        if not rows:
            raise ApiError(404, "from" if ts["from"] is not None else "to",
                           empty_range_message(versions, ts["from"], ts["to"], versions[0].source))
        return _cached(request, {"region": region, "convention": convention, "sides": list(sides), "rows": rows})

    @app.get("/api/change", summary="Ground gained and lost by each side between two times, top advances")
    @svc.offload
    def change(request: Request, from_: str = Query(..., alias="from"), to: str = Query(...),
               zoom: str | None = None,
               top: int = Query(5, ge=0, le=50, description="how many largest advances to list")):
        z = _parse_zoom(zoom)
        va, ea = svc.resolve(from_, "from", role="start")  # a bare date: from its start, to its end (UTC)
        vb, eb = svc.resolve(to, "to", role="end")
        from ..times import parse_time

        ta = va.valid_time if ea else parse_time(from_, role="start")
        tb = vb.valid_time if eb else parse_time(to, role="end")
        if ta is not None and tb is not None and ta > tb:
            raise ApiError(400, "from", f"The range is inverted: from={from_!r} is after to={to!r}.")
        if va.pk == vb.pk and not (ea and eb):  # two times with no version between them (ids: asked for)
            raise ApiError(404, "to", f"No version from {iso(ta)} to {iso(tb)}: both are version {va.version_id} "
                                      f"of {iso(va.valid_time)}, so nothing changed.")
        etag = f'"{va.version_id}.{va.revision}-{vb.version_id}.{vb.revision}"'
        if ea and eb and request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        zb = _zoom_bucket(z)
        body = svc.memo(("change", va.pk, va.revision, vb.pk, vb.revision, zb, top),
                        lambda: orjson.dumps(_change_payload(an, va, vb, zb, top),
                                             option=orjson.OPT_SERIALIZE_NUMPY))
        resp = _cached(request, body)
        if ea and eb:
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

    def warm_change(v):  # the changes list of the page: previous version → this one, top 8
        vs = svc.versions()
        i = next((k for k, x in enumerate(vs) if x.pk == v.pk), 0)
        if i > 0:
            svc.memo(("change", vs[i - 1].pk, vs[i - 1].revision, v.pk, v.revision, None, 8),
                     lambda: orjson.dumps(_change_payload(an, vs[i - 1], v, None, 8),
                                          option=orjson.OPT_SERIALIZE_NUMPY))

    svc.warmers.append(warm_change)
    if warm:
        threading.Thread(target=svc.warm, name="frontline-warm", daemon=True).start()

    # -- UI -------------------------------------------------------------------
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
            return JSONResponse({"detail": "MapLibre is not installed: run `npm install` at the repository root "
                                           "(node_modules/maplibre-gl/dist)."}, status_code=404)
    return app


def _route_modules() -> list:
    import importlib
    import pkgutil

    from . import __path__ as web_path

    return [importlib.import_module(f"{__package__}.{i.name}")
            for i in sorted(pkgutil.iter_modules(web_path), key=lambda i: i.name) if i.name.startswith("routes_")]


def _change_payload(svc: _Service, va, vb, zb: int | None, top: int) -> dict:
    """Gained/lost ground per side between two versions, totals and the largest advances.

    Uses :func:`frontline.analysis.change.change_between` (only tiles whose
    pieces differ are compared); without it, falls back to comparing each
    side's cut-outs of its home and its ground abroad.
    """
    try:
        from ..analysis.change import change_between
    except ImportError:  # pragma: no cover - the change module ships with the package
        change_between = None
    tol = _tolerance(zb)
    feats, totals = [], {}
    if change_between is not None:
        with svc.read():  # both versions checked and compared in one snapshot
            svc.check(va)
            svc.check(vb)
            rep = change_between(svc.store, va.valid_time, vb.valid_time, source=va.source)
            sides = list(svc.store.sides)
            tt = rep.totals()
            for side in sides:
                t = tt.get(side, {})
                totals[f"{side}_gained_km2"] = round(float(t.get("gained_km2", 0.0)), 3)
                totals[f"{side}_lost_km2"] = round(float(t.get("lost_km2", 0.0)), 3)
            for (side, what, region), g in rep.parts.items():
                if g is None or g.is_empty:
                    continue
                if tol:
                    g = shapely.simplify(g, tol, preserve_topology=True)
                feats.append(({"side": side, "change": what, "region": region,
                               "km2": round(float(rep.km2.get((side, what, region), 0.0)), 6)}, g))
            advances = []
            for x in rep.advances(top, sides=sides) if top else []:
                x = _plain(x)
                x["location"] = [x.pop("lon"), x.pop("lat")]
                x["bbox"] = list(shapely.bounds(shapely.geometry.shape(x.pop("geometry"))).round(5))
                advances.append(x)
            report = _plain(rep.to_dict())
    else:
        a, _ = svc.state(va)
        b, _ = svc.state(vb)
        sides, advances, report = list(a.sides), [], None
        with svc.lock:
            for side in sides:
                # home − (others' ground and contested in home) + abroad: only the small parts change
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
                    if what == "gained" and top:
                        parts = shapely.get_parts(g)
                        areas = geodesy.areas_km2(parts)
                        for k in np.argsort(-areas)[:top]:
                            c = shapely.centroid(parts[k])
                            advances.append({"side": side, "km2": round(float(areas[k]), 3),
                                             "location": [round(c.x, 5), round(c.y, 5)],
                                             "bbox": [round(v, 5) for v in parts[k].bounds]})
                    if tol:
                        g = shapely.simplify(g, tol, preserve_topology=True)
                    feats.append(({"side": side, "change": what, "km2": km2}, g))
        advances.sort(key=lambda r: -r["km2"])
        advances = [{"rank": i + 1, **r} for i, r in enumerate(advances[:top])]
    for side in sides:
        totals[f"{side}_net_km2"] = round(totals[f"{side}_gained_km2"] - totals[f"{side}_lost_km2"], 3)
    payload = {"type": "FeatureCollection", "from": va.version_id, "to": vb.version_id,
               "from_time": iso(va.valid_time), "to_time": iso(vb.valid_time), "totals": totals,
               "advances": advances,
               "features": [{"type": "Feature", "properties": p, "geometry": _geojson(g)} for p, g in feats]}
    if report is not None:
        payload["report"] = report
    return payload


def _plain(obj):
    """``obj`` made JSON-safe (numpy scalars, tuples, geometries as GeoJSON)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, BaseGeometry):
        return _geojson(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _coverage_union(parts: list[BaseGeometry]) -> BaseGeometry:
    """Union of polygons that do not overlap (tile pieces), falling back to a full union if that fails.

    Used for drawing only: the result is not validated (a validity check costs
    as much as the union), and the partition guarantees its pieces are disjoint.
    """
    if not parts:
        return shapely.Polygon()
    if len(parts) == 1:
        return parts[0]
    try:
        return _polygonal(shapely.coverage_union_all(parts))
    except shapely.errors.GEOSException:
        return _polygonal(shapely.union_all(parts))


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    from ..borders import polygonal

    return polygonal(g)


def serve(store_path, host: str = "127.0.0.1", port: int = 8765, **app_kwargs) -> None:
    """Run the web map and API with uvicorn (blocks); ``app_kwargs`` go to :func:`create_app`."""
    import uvicorn

    uvicorn.run(create_app(store_path, **app_kwargs), host=host, port=port)
