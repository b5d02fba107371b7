"""The store behind the web app: state and analysis services, locks, offloaded threads, ready-JSON cache.

Two services, each with its own store handle, lock and state cache, so no
analysis ever delays the state path: the app's service answers versions,
``/api/state`` and ``/api/points``; ``svc.analyses`` answers every analysis
in threads of its own (:meth:`Service.offload`). Both share the response
cache, whose lock is held only to look up and store (an answer being made for
one request is waited for by another instead of being made twice).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..model import CONTESTED, iso
from .errors import ApiError, StaleVersion
from .geojson import (
    _geojson,
    clean_coverage,
    coverage_simplify_layers,
    coverage_union,
    feature_collection_bytes,
    fill_water_holes,
    geometry_json,
    tolerance,
    zoom_bucket,
)
from .responses import add_warning, client_gone, drop_codings, keep_codings

# Response bodies kept in memory (bytes), least recently used dropped first.
CACHE_BYTES = int(float(os.environ.get("FRONTLINE_WEB_CACHE_MB", "384")) * 2**20)
ANALYSIS_THREADS = 4  # analysis requests answered at once (they take turns on the analysis service's lock)


class Service:
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

    def __init__(
        self, store_path, *, gazetteer=None, roads=None, policy=None, analyses: bool = True, keep_states: int = 32
    ):
        from ..state import time_policy
        from ..store import open_store

        self.store = open_store(store_path, readonly=True)
        self.policy = policy or time_policy()  # stale times: max age and strictness
        self.lock = threading.RLock()
        self._states: OrderedDict[int, tuple] = OrderedDict()
        self._keep_states = keep_states
        self._borders: tuple[bytes, str] | None = None
        self._drawn: OrderedDict[tuple, list | None] = OrderedDict()  # drawn_layers, per (pk, revision)
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
        self._limiter: Any = None
        self._threads: Any = None
        self.analyses: Service = (
            Service(store_path, gazetteer=gazetteer, roads=roads, policy=self.policy, analyses=False, keep_states=8)
            if analyses
            else self
        )
        if analyses:
            self.analyses._shared = True

    _shared = False  # True on the analysis service: it uses frontline.state's shared partition builder

    def offload(self, fn: Callable) -> Callable:
        """A route handler run in the analysis threads, never in the threads the state path uses.

        FastAPI runs plain ``def`` routes in one thread pool (40 threads);
        analysis requests piling up there could make ``/api/state`` wait for
        a thread. The returned ``async`` handler has ``fn``'s signature (plus
        ``request`` when ``fn`` has none) and runs it in a pool of
        ``ANALYSIS_THREADS`` of its own (the warnings context travels with
        it). A request whose client went away while it waited for a thread
        (a prefetch the page aborted) is not worked on.
        """
        import contextvars
        import functools
        import inspect
        import typing

        import anyio
        from fastapi import Request
        from fastapi.responses import Response

        from .routing import GONE

        # FastAPI reads the signature of the wrapper (inspect follows __wrapped__) and evaluates string
        # annotations in the wrapper's module: give it the resolved types of fn's own module.
        fn.__annotations__ = typing.get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        takes_request = "request" in sig.parameters

        @functools.wraps(fn)
        async def run(*args, **kwargs):
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(ANALYSIS_THREADS)  # the turns: waited for here
                self._threads = anyio.CapacityLimiter(ANALYSIS_THREADS)  # the threads: free once a turn is had
            request = kwargs.get("request") if takes_request else kwargs.pop("request", None)
            async with self._limiter:
                if isinstance(request, Request) and request.method == "GET" and await client_gone(request):
                    return Response(status_code=GONE)
                ctx = contextvars.copy_context()
                return await anyio.to_thread.run_sync(lambda: ctx.run(fn, *args, **kwargs), limiter=self._threads)

        if not takes_request:
            extra = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
            run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])  # type: ignore[attr-defined]
        return run

    # -- consistent reads -----------------------------------------------------
    @contextmanager
    def read(self):
        """Hold the lock and one read snapshot of the store (:meth:`~frontline.store.base.Store.snapshot`).

        Nested uses join the outer snapshot. Writers (imports, revisions) go
        on meanwhile; what is read here sees none of their later commits. The
        store's own snapshot, not a transaction on its handle, so any backend
        (GeoPackage, PostGIS) serves.
        """
        with self.lock, self.store.snapshot():
            yield

    def check(self, v) -> None:
        """Raise :class:`StaleVersion` unless ``v`` is still the stored revision (call inside :meth:`read`).

        A revision read as known at a time (``v.known_at`` set) is never
        stale: it is a past revision on purpose, read from its own members.
        """
        if getattr(v, "known_at", None) is not None:
            return
        cur = self.store.version(v.source, v.version_id)
        if cur is None or cur.pk != v.pk or cur.revision != v.revision:
            raise StaleVersion(f"{v.version_id} revision {v.revision} was replaced")

    # -- versions -----------------------------------------------------------
    def versions(self, known_at: int | None = None, source: str | None = None):
        """The versions of ``source`` (None: the default source), as known at ``known_at`` (epoch seconds) if given.

        ``source`` is a name the store holds (checked by
        :func:`~frontline.web.params.parse_source`); a source it no longer
        holds has no versions.
        """
        with self.lock:
            have = self.store.sources()
            if not have or (source is not None and source not in have):
                return []
            return self.known(known_at).versions(source)

    def pick_source(self, value: str | None, parameter: str = "source") -> str | None:
        """A ``source`` parameter checked against the store (None: the default source); 400 naming it otherwise.

        :func:`~frontline.web.params.parse_source` under this service's lock
        (the store handle is shared by the request threads).
        """
        from .params import parse_source

        if value is None or value == "":
            return None
        with self.lock:
            return parse_source(self.store, value, parameter)

    def source_name(self, source: str | None) -> str | None:
        """``source``, else the store's default source (None while the store holds no versions)."""
        if source is not None:
            return source
        with self.lock:
            return self.store.default_source() if self.store.sources() else None

    def source_credit(self, source: str) -> tuple[str, str]:
        """``(attribution, licence)`` of a source, as ``frontline sources set`` recorded them (or its defaults).

        Read on every answer that shows the source's data (a ``meta`` row:
        microseconds), so a change made while the server runs shows at once.
        """
        from ..store.source_info import source_info

        with self.lock:
            info = source_info(self.store, source)
        return str(info["attribution"] or info["title"] or ""), str(info["licence"] or "")

    def known(self, known_at: int | None):
        """The store as known at ``known_at`` (:func:`frontline.state.as_known`); the store itself when None."""
        if known_at is None:
            return self.store
        from ..state import as_known

        return as_known(self.store, known_at)

    def resolve(
        self,
        at: str | None,
        parameter: str = "at",
        role: str = "at",
        known_at: str | int | None = None,
        source: str | None = None,
    ):
        """``(version, exact)``: exact when ``at`` names the version itself (id or valid time).

        ``role`` reads a bare date as its end (``at``, ``end``) or start
        (``start``). A stale time (:func:`frontline.state.staleness`) adds a
        warning to the answer, or answers 404 when the app is strict.
        ``known_at`` (a ``known_at`` parameter or epoch seconds): answer among
        the versions known then, each in its revision then
        (:mod:`frontline.store.known_at`); a past revision comes back with
        ``known_at`` set and a negative ``pk``, so caches keep it apart.
        ``source``: a source the store holds (None: the default source);
        every cache key holds the version's ``pk``, which no two sources share.
        """
        from ..state import staleness
        from ..times import parse_time
        from .params import parse_known_at

        t_known = parse_known_at(known_at) if isinstance(known_at, str) else known_at
        versions = self.versions(t_known, source)
        if not versions and t_known is not None and self.versions(None, source):
            raise ApiError(
                404, "known_at", f"No version was known at {iso(t_known)}: none was published or imported by then."
            )
        if not versions:
            raise ApiError(
                404,
                parameter,
                "The store holds no versions." if source is None else f"Source {source!r} holds no versions.",
            )
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
            raise ApiError(
                404, parameter, f"{parameter}={at!r} is before the first version ({iso(versions[0].valid_time)})."
            )
        with self.lock:
            v = self.known(t_known).version_at(t, source)
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
            if hit is not None and hit[0] != v.revision:  # a newer revision's entry: neither read nor fill it
                hit = None
            if hit is not None and len(hit) > 3:
                return hit[3]
            parts = vc.tile_parts() if hasattr(vc, "tile_parts") else None
            if parts is None:  # another partition type: its own unions
                layers = [("held", side, vc.abroad(side)) for side in vc.sides] + [("contested", None, vc.contested)]
            else:
                # The parts are per-tile pieces that never overlap: a coverage union (edges
                # matched, no overlay) builds them 5-8x faster than a general union.
                layers = [
                    ("held", side, coverage_union([g for h in vc.sides if h != side for g in parts.get((h, side), [])]))
                    for side in vc.sides
                ]
                layers.append(
                    ("contested", None, coverage_union([g for h in vc.sides for g in parts.get((h, CONTESTED), [])]))
                )
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
                    keep_codings(body, self._grown)
                    self._evict()
        finally:
            with self._memo_lock:
                self._inflight.pop(key, None)
            mine.set()
        return body

    def _grown(self, n: int) -> None:
        """A cached body made a compressed form of ``n`` bytes: count it (the cache's bound covers both)."""
        with self._memo_lock:
            self._body_bytes += n
            self._evict()

    def _evict(self) -> None:
        """Drop least recently used bodies until the cache fits (call with the memo lock held)."""
        while self._body_bytes > CACHE_BYTES and self._bodies:
            _, old = self._bodies.popitem(last=False)
            self._body_bytes -= len(old) + drop_codings(old)

    def state_body(self, v, zoom: float | None, legacy: bool = False) -> bytes:
        """The whole-theatre state of a version as GeoJSON bytes, simplified for a zoom bucket.

        ``legacy``: the answer as made before the layers were simplified
        together (each on its own, water holes kept), for bench/bench_wire.py.
        """
        zb = zoom_bucket(zoom)
        if legacy:
            return self.memo(("state-legacy", v.pk, v.revision, zb), lambda: self._state_body(v, zb, None, True))
        return self.memo(("state", v.pk, v.revision, zb), lambda: self._state_body(v, zb, None))

    def drawn_layers(self, v, digits: int) -> list[tuple[str, str | None, BaseGeometry]] | None:
        """The layers as drawn when simplified: water holes filled, on a grid of ``digits`` decimals, one coverage.

        Snapped to the grid the answer is written on *before* they are made a
        coverage, so that writing them rounds nothing and no rounding can
        open a gap or an overlap between two layers. Cached per version and
        grid; None when GEOS cannot make them a coverage (then each layer is
        simplified on its own, as before).
        """
        with self.lock:
            hit = self._drawn.get((v.pk, v.revision, digits))
            if hit is not None or (v.pk, v.revision, digits) in self._drawn:
                return hit
            filled = self._drawn.get((v.pk, v.revision, "filled"))
            if filled is None:
                layers = self.layers(v)
                geoms = fill_water_holes([g for _, _, g in layers], self.land())
                filled = [(st, sd, g) for (st, sd, _), g in zip(layers, geoms)]
                self._keep_drawn((v.pk, v.revision, "filled"), filled)
            grid = [None if g is None else shapely.set_precision(g, 10.0**-digits) for _, _, g in filled]
            clean = clean_coverage(grid)
            drawn = None if clean is None else [(st, sd, g) for (st, sd, _), g in zip(filled, clean)]
            self._keep_drawn((v.pk, v.revision, digits), drawn)
            return drawn

    def _keep_drawn(self, key: tuple, value) -> None:
        """Keep a drawn-layers entry (a few per version: filled, then one per grid), oldest dropped first."""
        self._drawn[key] = value
        while len(self._drawn) > 4 * self._keep_states:
            self._drawn.popitem(last=False)

    def land(self) -> shapely.STRtree | None:
        """An STRtree of the store's country polygons (lakes are their holes), or None without countries."""
        with self.lock:
            if "land" not in self._ref:
                regions = self.store.regions().values()
                parts = np.array([p for kind, g in regions if kind == "country" for p in shapely.get_parts(g)])
                shapely.prepare(parts)  # point-in-country tests: indexed, not a walk over every vertex
                self._ref["land"] = shapely.STRtree(parts) if len(parts) else None
            return self._ref["land"]

    def _state_body(self, v, zb: int | None, box, legacy: bool = False) -> bytes:
        """The state body for a zoom bucket (None: full detail), cut to ``box`` when given."""
        tol = tolerance(zb)
        # 5 decimals ≈ 1 m: far below a pixel at zoom ≤ 10; 4 (≈ 10 m) at zoom ≤ 8, where a pixel is ≥ 150 m here.
        # At zoom ≤ 8 the tolerance is a whole pixel: the page opens at zoom 6, and a smaller first answer
        # is parsed, tiled and drawn sooner (about 20 % fewer bytes at zoom 6).
        digits = 6 if zb is None or zb > 10 else 5 if zb > 8 else 4
        if zb is not None and zb <= 8:
            tol *= 2.0
        layers = self.layers(v)
        drawn = self.drawn_layers(v, digits) if tol and not legacy else None
        if drawn is not None:
            # Simplified together (shared edges stay shared: no slivers between the layers), then cut.
            geoms = coverage_simplify_layers([g for _, _, g in drawn], tol)
            layers = [(st, sd, g) for (st, sd, _), g in zip(drawn, geoms)]
        feats = []
        for status, side, g in layers:
            if g is None or g.is_empty:
                continue
            if box is not None:
                g = shapely.clip_by_rect(g, *box)
            if tol and drawn is None:
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
            cm = ControlMap(
                source=v.source,
                version_id=v.version_id,
                valid_time=utc(v.valid_time),
                held={},
                contested=None,
                control=vc,
            )
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
        """Country outlines (kind ``country``) and their larger lakes (kind ``water``) as GeoJSON, and its ETag.

        Outlines are drawn without holes (the land fill); lakes of at least
        ``LAKE_MIN_DEG2`` come as their own features, which the page draws
        as water over the held ground (whose water holes the state answer
        fills when simplified: :func:`~frontline.web.geojson.fill_water_holes`).
        """
        with self.lock:
            if self._borders is None:
                feats = []
                for name, (kind, g) in sorted(self.store.regions().items()):
                    if kind != "country":
                        continue
                    polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and shapely.area(p) > 1e-3]
                    # outlines only: holes (lakes, tiling slivers) and islets are dropped for the land fill
                    parts = [shapely.simplify(shapely.Polygon(p.exterior), 0.01) for p in polys]
                    parts = [p for p in parts if not p.is_empty and p.geom_type == "Polygon"]
                    g = shapely.multipolygons(parts) if parts else shapely.Polygon()
                    if g.is_empty:
                        continue
                    label = name.split(":", 1)[1]
                    feats.append(_feature({"name": label, "kind": kind}, g, 3))
                    lakes = [shapely.Polygon(r) for p in polys for r in p.interiors]
                    lakes = [shapely.simplify(h, LAKE_SIMPLIFY) for h in lakes if h.area >= LAKE_MIN_DEG2]
                    lakes = [h for h in lakes if not h.is_empty and h.geom_type == "Polygon"]
                    if lakes:
                        feats.append(_feature({"name": label, "kind": "water"}, shapely.multipolygons(lakes), 4))
                body = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":")).encode()
                keep_codings(body)
                self._borders = (body, '"' + hashlib.sha1(body).hexdigest()[:20] + '"')
            return self._borders


# Lakes drawn as water: from about 7 km² (1e-3 square degrees here), outlines simplified to about 300 m.
LAKE_MIN_DEG2 = 1e-3
LAKE_SIMPLIFY = 0.003


def _feature(props: dict, g: BaseGeometry, digits: int) -> dict:
    return {"type": "Feature", "properties": props, "geometry": _geojson(g, digits)}


def _read_reference(what: str, path) -> Any:
    """Settlements (a GeoNames dump or point layer) or roads (any line layer) from a file."""
    if what == "settlements":
        from ..sources.geonames import load_gazetteer

        return load_gazetteer(path)
    from ..sources.osm import read_roads

    return read_roads(path)


_Service = Service  # the name callers (bench/bench_web.py) import


def resolve_known(svc: Service, at: str | None, known_at: str | int | None, *args: Any, **kwargs: Any):
    """``svc.resolve(at, *args, **kwargs)``, with ``known_at`` only when one is given.

    The call is the one the routes made before ``known_at`` existed when none
    is given, so a stand-in for :meth:`Service.resolve` need not take it; a
    ``source`` keyword of None (the default source) is left out the same way.
    """
    if known_at not in (None, ""):
        kwargs["known_at"] = known_at
    if kwargs.get("source", "") is None:
        del kwargs["source"]
    return svc.resolve(at, *args, **kwargs)
