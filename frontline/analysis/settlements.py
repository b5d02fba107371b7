"""Who holds each settlement, and which settlements changed hands.

A settlement is a point. Its status on a :class:`~frontline.model.ControlMap`
is the side whose held ground contains it (``"ua"``, ``"ru"``), ``"contested"``
for grey ground, or ``None`` outside the theatre.

Points exactly on a boundary are decided so that the answer does not depend
on which polygon happens to be tested first:

* on the edge of the grey zone → ``"contested"`` (it is on the front line);
* on a line where two sides' held ground meets with no grey zone between →
  ``"contested"`` too, for the same reason;
* on the outer edge of one side's ground (a state border) → that side;
* in a sliver gap between the polygons but inside the theatre (rounding in
  the source) → the nearest class.

Everything is vectorised with shapely 2: each geometry is prepared once and
tested against all points with ``contains_xy``/``intersects_xy``, after a
bounding-box cut in numpy, and each point is only tested until it is placed.
Over many versions of a store, :class:`StatusSeries` tests again at each
version only the places near tiles whose pieces changed (30,000 places over
the 1,359 versions of the archive in under two minutes on two cores).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from frontline.model import CONTESTED, ControlMap, iso

__all__ = [
    "StatusSeries",
    "status_codes",
    "status_on_control",
    "status_matrix",
    "settlement_status",
    "settlements_changed",
]

OUTSIDE_CODE = 0


def _lonlat(points: Any) -> tuple[np.ndarray, np.ndarray]:
    """lon, lat float arrays from a gazetteer, a (lon, lat) pair of arrays or an (n, 2) array."""
    if hasattr(points, "lon") and hasattr(points, "lat"):
        lon, lat = points.lon, points.lat
    elif isinstance(points, (tuple, list)) and len(points) == 2 and np.ndim(points[0]) == 1:
        lon, lat = points
    else:
        arr = np.asarray(points, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(
                "Settlements must be a Gazetteer, a (lon, lat) pair of arrays or an (n, 2) array "
                f"of lon/lat; got an array of shape {arr.shape}."
            )
        lon, lat = arr[:, 0], arr[:, 1]
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.ndim != 1 or lon.shape != lat.shape:
        raise ValueError(f"lon and lat must be 1-D arrays of one length, got shapes {lon.shape} and {lat.shape}.")
    return lon, lat


def _usable(geom: BaseGeometry | None) -> bool:
    return geom is not None and not geom.is_empty


def _test(geom: BaseGeometry | None, lon: np.ndarray, lat: np.ndarray, idx: np.ndarray, fn) -> np.ndarray:
    """fn(geom, x, y) for the points ``idx``, skipping those outside the bounds."""
    hit = np.zeros(len(idx), dtype=bool)
    if geom is None or geom.is_empty or len(idx) == 0:
        return hit
    x0, y0, x1, y1 = geom.bounds
    x, y = lon[idx], lat[idx]
    inb = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    if inb.any():
        shapely.prepare(geom)  # idempotent; caches the point-in-polygon index on the geometry
        hit[inb] = fn(geom, x[inb], y[inb])
    return hit


def status_codes(points: Any, control_map: ControlMap) -> tuple[np.ndarray, tuple[str | None, ...]]:
    """Status of each point as small integer codes.

    Parameters
    ----------
    points
        A gazetteer (anything with ``lon``/``lat`` arrays), a ``(lon, lat)``
        pair of arrays, or an ``(n, 2)`` array, in degrees.
    control_map
        The partition to look the points up in.

    Returns
    -------
    codes : numpy.ndarray of int8
        One code per point.
    labels : tuple
        ``labels[code]``: ``None`` (outside) for 0, then the map's sides in
        order, then ``"contested"``.
    """
    lon, lat = _lonlat(points)
    sides = control_map.sides
    if CONTESTED in sides:
        raise ValueError(f"A side may not be called {CONTESTED!r}: that name is kept for grey ground.")
    labels: tuple[str | None, ...] = (None, *sides, CONTESTED)
    vc = getattr(control_map, "control", None)
    if vc is not None and hasattr(vc, "tile_parts"):
        return _codes_from_parts(lon, lat, control_map, vc, sides), labels
    return _codes_from_geometry(lon, lat, control_map, sides), labels


class _HomeTests:
    """What never changes between versions for one set of points and homes: the points, and each home's tests.

    A series (every version of the archive for 30,000 places) asks the same
    point-in-home questions at every version; they are answered once here.
    """

    def __init__(self, lon: np.ndarray, lat: np.ndarray, homes: dict[str, BaseGeometry]):
        self.homes = homes  # held, so the ids in the cache key stay these geometries'
        self.points = shapely.points(lon, lat)
        all_idx = np.arange(len(lon))
        self.inside = {h: _test(g, lon, lat, all_idx, shapely.contains_xy) for h, g in homes.items()}
        self.touches = {h: _test(g, lon, lat, all_idx, shapely.intersects_xy) for h, g in homes.items()}

    def subset(self, idx: np.ndarray) -> _HomeTests:
        """The tests of the points ``idx`` only (the places a series re-tests at one version)."""
        out = object.__new__(_HomeTests)
        out.homes = self.homes
        out.points = self.points[idx]
        out.inside = {h: a[idx] for h, a in self.inside.items()}
        out.touches = {h: a[idx] for h, a in self.touches.items()}
        return out


_HOME_TESTS: dict[tuple, _HomeTests] = {}
_HOME_TESTS_KEEP = 4  # point sets kept (the gazetteer, a search's subset, …)


def _home_tests(lon: np.ndarray, lat: np.ndarray, homes: dict[str, BaseGeometry]) -> _HomeTests:
    """The cached :class:`_HomeTests` of these points and homes (keyed by the coordinates' bytes)."""
    import hashlib

    digest = hashlib.blake2b(np.ascontiguousarray(lon).tobytes(), digest_size=16)
    digest.update(np.ascontiguousarray(lat).tobytes())
    key = (digest.digest(), tuple((h, id(g)) for h, g in homes.items()))
    got = _HOME_TESTS.get(key)
    if got is None:
        while len(_HOME_TESTS) >= _HOME_TESTS_KEEP:
            _HOME_TESTS.pop(next(iter(_HOME_TESTS)))
        got = _HOME_TESTS[key] = _HomeTests(lon, lat, homes)
    return got


def _codes_from_parts(lon, lat, control_map: ControlMap, vc, sides, fixed: _HomeTests | None = None) -> np.ndarray:
    """Fast path for a map read from a store: test the tile parts and homes, never whole held ground.

    Each side's whole ground (its home minus everything cut out of it) costs
    seconds to build; most points are settled by the small tile parts and a
    prepared home. Points on an edge are decided by :func:`_codes_from_geometry`
    on the map cut to a small window around them, so the boundary rules above
    hold exactly. ``fixed`` holds the points' home tests when the caller keeps
    them (a series re-testing a subset); else they come from the cache.
    """
    c_code = len(sides) + 1
    codes = np.zeros(len(lon), dtype=np.int8)
    todo = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    parts = vc.tile_parts()
    homes = vc.theatre.homes
    grey = [g for (_, w), gs in parts.items() if w == CONTESTED for g in gs]
    all_parts = [g for gs in parts.values() for g in gs]
    if fixed is None:
        fixed = _home_tests(lon, lat, homes)  # the same at every version: computed once per point set

    def hits(geoms, idx, predicate):
        if not geoms or len(idx) == 0:
            return np.zeros(len(idx), dtype=bool)
        pi, _ = shapely.STRtree(geoms).query(fixed.points[idx], predicate=predicate)
        out = np.zeros(len(idx), dtype=bool)
        out[pi] = True
        return out

    h = hits(grey, todo, "intersects")  # grey is closed: its edge is the front line
    codes[todo[h]] = c_code
    todo = todo[~h]
    for code, s in enumerate(sides, start=1):  # interiors of ground held abroad
        abroad = [g for (hh, w), gs in parts.items() if w == s and hh != s for g in gs]
        h = hits(abroad, todo, "within")
        codes[todo[h]] = code
        todo = todo[~h]
    edge: list[np.ndarray] = []
    for h_side in homes:
        inside = fixed.inside[h_side][todo]
        cand = todo[inside]
        # On the edge of any part (one cut out of this home, or ground held abroad that rounding lets
        # reach over the state border), or on another home's border: the edge rules decide.
        touch = hits(all_parts, cand, "intersects")
        for other in homes:
            if other != h_side:
                touch |= fixed.touches[other][cand]
        if h_side in sides:
            codes[cand[~touch]] = sides.index(h_side) + 1
        edge.append(cand[touch])
        todo = todo[~inside]
    on_home_edge = np.zeros(len(todo), dtype=bool)
    for h_side in homes:
        on_home_edge |= fixed.touches[h_side][todo]
    edge.append(todo[on_home_edge])  # the rest is outside the theatre: code 0
    on_edge = np.unique(np.concatenate(edge)) if edge else np.array([], dtype=int)
    if len(on_edge):
        codes[on_edge] = _codes_near(lon[on_edge], lat[on_edge], control_map, vc, sides)
    return codes


_WINDOW_DEG = 0.005  # half-size of the window around an edge point (~0.5 km): room for the nearest-class rule


def _codes_near(lon, lat, control_map: ControlMap, vc, sides) -> np.ndarray:
    """Exact codes for a few points, on the map cut to small windows around them."""
    win = shapely.union_all(shapely.box(lon - _WINDOW_DEG, lat - _WINDOW_DEG, lon + _WINDOW_DEG, lat + _WINDOW_DEG))
    return _codes_from_geometry(lon, lat, control_map.clipped(win, snap=False), sides)  # exact edges


def _codes_from_geometry(lon, lat, control_map: ControlMap, sides) -> np.ndarray:
    """Codes from whole held ground, grey zone and theatre (any ControlMap)."""
    c_code = len(sides) + 1
    codes = np.zeros(len(lon), dtype=np.int8)
    todo = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))

    # Grey zone first and closed: its edge is the front line.
    hit = _test(control_map.contested, lon, lat, todo, shapely.intersects_xy)
    codes[todo[hit]] = c_code
    todo = todo[~hit]

    # Interiors of held ground, smallest geometry first, so the big polygon
    # (the rest of the country, with the full state border) sees fewest points.
    held = [(i + 1, control_map.held[s]) for i, s in enumerate(sides)]
    for code, geom in sorted(held, key=lambda cg: shapely.get_num_coordinates(cg[1]) if _usable(cg[1]) else 0):
        hit = _test(geom, lon, lat, todo, shapely.contains_xy)
        codes[todo[hit]] = code
        todo = todo[~hit]

    if len(todo) == 0:
        return codes
    # What is left lies on a boundary of held ground, in a gap, or outside.
    # Most of it is usually outside: one test against the theatre settles
    # those, instead of one test per side.
    if _usable(control_map.theatre):
        todo = todo[_test(control_map.theatre, lon, lat, todo, shapely.intersects_xy)]
        in_theatre = True
    else:
        in_theatre = False
    touches = np.array([_test(g, lon, lat, todo, shapely.intersects_xy) for _, g in held]).reshape(len(held), len(todo))
    n_touch = touches.sum(axis=0)
    for row, (code, _) in enumerate(held):
        codes[todo[touches[row] & (n_touch == 1)]] = code
    codes[todo[n_touch > 1]] = c_code  # where two sides' ground meets: the front line itself
    if in_theatre:
        gap = todo[n_touch == 0]
        if len(gap):
            # Slivers the source left between its polygons: give each point the
            # nearest class rather than calling it outside the theatre.
            classes = [(code, g) for code, g in held] + [(c_code, control_map.contested)]
            classes = [(code, g) for code, g in classes if _usable(g)]
            if classes:
                pts = shapely.points(lon[gap], lat[gap])
                dist = np.array([shapely.distance(g, pts) for _, g in classes])
                codes[gap] = np.array([code for code, _ in classes], dtype=np.int8)[dist.argmin(axis=0)]
    return codes


def status_on_control(control: Any, points: Any) -> tuple[np.ndarray, tuple[str | None, ...]]:
    """Status codes of points on a stored version's partition: the fast path, exact boundary rules.

    The whole gazetteer at once (tens of thousands of places in tens of
    milliseconds): the points are tested against the version's tile parts
    and prepared homes (:func:`status_codes` on a map that carries its
    ``control``), never against a side's whole ground, and the few points on
    an edge are decided on the map cut to a small window around them. The
    answer is the same as :func:`status_codes` on the map cut to the points'
    box (what the web map did before), only without building that map.

    Parameters
    ----------
    control
        A :class:`~frontline.normalise.VersionControl` (from
        :func:`frontline.state.version_control`), or a ControlMap carrying one.
    points
        Anything :func:`status_codes` takes.

    Returns
    -------
    codes, labels
        As :func:`status_codes`: one int8 code per point, ``labels[code]``.

    Raises
    ------
    ValueError
        When ``control`` is not a stored version's partition.
    """
    if isinstance(control, ControlMap):
        if control.control is None:
            raise ValueError("status_on_control needs a map read from a store (with its VersionControl).")
        return status_codes(points, control)
    if not hasattr(control, "tile_parts"):
        raise ValueError(f"status_on_control needs a VersionControl, not {type(control).__name__}.")
    return status_codes(points, _map_of(control))


def _map_of(vc: Any) -> ControlMap:
    """A ControlMap carrying a VersionControl: whole held ground, grey zone and theatre only built if asked for."""
    from frontline.model import utc
    from frontline.normalise import LazyHeld

    return ControlMap(
        source="",
        version_id="",
        valid_time=utc(0),
        held=LazyHeld(vc),
        contested=lambda: vc.contested,
        theatre=lambda: vc.theatre.geom,
        control=vc,
    )


_NEAR_DEG = 2 * _WINDOW_DEG  # a place this close to a changed tile is tested again (see StatusSeries)

TileKey = tuple[str, Any]  # (home, tile index in the home's tiling)


class StatusSeries:
    """Status codes of fixed places version after version, testing again only the places near changed ground.

    The places never move; only the partition does, and from one version to
    the next it changes in few tiles: the store keeps each version's pieces
    per tile of a home, and a redrawn polygon's pieces in the tiles where
    nothing moved are byte-identical. So at each version only the features
    new since the version before are read, and only the places within
    ``2 × 0.005°`` of a tile whose set of pieces changed are tested again,
    with :func:`status_on_control`'s rules on a partition built from the tiles
    around them; every other place keeps its code.

    The codes are :func:`status_on_control`'s on the whole version: a place's
    code depends only on the tile parts within its edge window (0.005° a
    side, the window :func:`status_on_control` decides edge points on), and
    those parts are the same as at the version before unless a tile that
    near changed. The margin is twice the window, so the nearest-class rule
    for sliver gaps, which looks up to the window's half-diagonal away, is
    covered too.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    points
        Anything :func:`status_codes` takes.

    Attributes
    ----------
    labels
        ``labels[code]``: None (outside), the theatre's sides, ``"contested"``.
    retested
        Places tested at the last :meth:`codes` call (all of them at the first).
    """

    def __init__(self, store: Any, points: Any):
        from frontline.normalise import PartitionBuilder
        from frontline.store import theatre_of

        self.store = store
        self.lon, self.lat = _lonlat(points)
        theatre = theatre_of(store)
        self.sides = tuple(theatre.homes)
        if CONTESTED in self.sides:
            raise ValueError(f"A side may not be called {CONTESTED!r}: that name is kept for grey ground.")
        self.labels: tuple[str | None, ...] = (None, *self.sides, CONTESTED)
        self.retested = 0
        self._builder = PartitionBuilder(theatre)  # its own tile-union cache, reused version after version
        self._fixed = _home_tests(self.lon, self.lat, theatre.homes)  # cached: a web series asks again and again
        self._finite = np.flatnonzero(np.isfinite(self.lon) & np.isfinite(self.lat))
        self._place_tree = shapely.STRtree(self._fixed.points[self._finite])
        keys: list[TileKey] = [(h, i) for h, t in theatre.tiled.items() for i in range(len(t.bounds))]
        boxes = np.concatenate([np.asarray(t.bounds, dtype=float).reshape(-1, 4) for t in theatre.tiled.values()])
        self._tile_keys = keys
        self._tile_box = dict(zip(keys, boxes))  # the tile's grid cell: every piece of the tile lies in it
        self._tile_tree = shapely.STRtree(shapely.box(*boxes.T))
        self._members: set[int] = set()
        self._tiles: dict[TileKey, dict[int, list[tuple[int, Any]]]] = {}  # tile → fid → (order, piece)
        self._fid_tiles: dict[int, set[TileKey]] = {}
        self._codes: np.ndarray | None = None

    def codes(self, version: Any) -> np.ndarray:
        """The status codes at ``version`` (a stored ``VersionInfo``): a read-only int8 array, ``labels[code]``.

        Versions may come in any order (time order re-tests the fewest places).
        """
        zones = self._advance(version)
        if self._codes is None:
            redo = self._finite
        elif not zones:
            self.retested = 0
            return self._codes
        else:
            z = np.asarray(zones, dtype=float)
            m = _NEAR_DEG
            _, hit = self._place_tree.query(shapely.box(z[:, 0] - m, z[:, 1] - m, z[:, 2] + m, z[:, 3] + m))
            redo = self._finite[np.unique(hit)]
        codes = np.zeros(len(self.lon), dtype=np.int8) if self._codes is None else self._codes.copy()
        if len(redo):
            codes[redo] = self._retest(redo)
        codes.flags.writeable = False  # handed out as is: the next version copies it
        self._codes = codes
        self.retested = len(redo)
        return codes

    def _signature(self, tile: TileKey) -> list[tuple[str, bytes]]:
        """What a tile's parts are made of: its pieces' (what, content key), as a sorted multiset."""
        return sorted((p.what, p.key) for ps in self._tiles.get(tile, {}).values() for _, p in ps)

    def _zone(self, tile: TileKey) -> tuple[float, float, float, float] | None:
        """The box a tile's parts lie in: its grid cell (its pieces' bounds for a tile the theatre lacks)."""
        box = self._tile_box.get(tile)
        if box is not None:
            return tuple(box)
        geoms = [p.geom for ps in self._tiles.get(tile, {}).values() for _, p in ps]
        return tuple(shapely.total_bounds(geoms)) if geoms else None

    def _advance(self, version: Any) -> list[tuple[float, float, float, float]]:
        """Take ``version``'s members (reading only the new ones); the boxes of the tiles that changed."""
        snap = getattr(self.store, "snapshot", None)
        with snap() if snap is not None else nullcontext():  # members and pieces from one state of the store
            fids = set(self.store.member_fids(version))
            added = sorted(fids - self._members)
            loaded = self.store.pieces(added) if added else {}
        removed = self._members - fids
        self._members = fids
        new: dict[int, dict[TileKey, list[tuple[int, Any]]]] = {}
        for fid, fp in loaded.items():
            if fp.counted:  # what the partition is built from (PartitionBuilder.build)
                for j, p in enumerate(fp.pieces):
                    new.setdefault(fid, {}).setdefault((p.home, p.tile), []).append((j, p))
        touched = {t for fid in removed for t in self._fid_tiles.get(fid, ())}
        touched |= {t for groups in new.values() for t in groups}
        before = {t: (self._signature(t), self._zone(t)) for t in touched}
        for fid in removed:
            for t in self._fid_tiles.pop(fid, ()):
                del self._tiles[t][fid]
                if not self._tiles[t]:
                    del self._tiles[t]
        for fid, groups in new.items():
            self._fid_tiles[fid] = set(groups)
            for t, ps in groups.items():
                self._tiles.setdefault(t, {})[fid] = ps
        zones = []
        for t, (sig, zone) in before.items():
            if self._signature(t) != sig:
                zones += [z for z in (zone, self._zone(t)) if z is not None]
        return zones

    def _retest(self, idx: np.ndarray) -> np.ndarray:
        """Codes of the places ``idx`` on a partition of the tiles within their edge windows."""
        from frontline.normalise import FeaturePieces

        lon, lat = self.lon[idx], self.lat[idx]
        w = _WINDOW_DEG * 1.01
        _, hit = self._tile_tree.query(shapely.box(lon - w, lat - w, lon + w, lat + w))
        near = {self._tile_keys[j] for j in np.unique(hit)} | (self._tiles.keys() - self._tile_box.keys())
        # In the order a whole version is built in (by feature, then piece), so each tile's union is the same.
        picked = sorted(
            ((fid, j, p) for t in near for fid, ps in self._tiles.get(t, {}).items() for j, p in ps),
            key=lambda r: (r[0], r[1]),
        )
        vc = self._builder.build([FeaturePieces(pieces=[p for *_, p in picked], counted=True)])
        return _codes_from_parts(lon, lat, _map_of(vc), vc, self.sides, self._fixed.subset(idx))


def status_matrix(store: Any, versions: Sequence[Any], lon: Any, lat: Any) -> tuple[np.ndarray, list[str | None]]:
    """Status of points at each of ``versions`` of a store, as a (versions × points) int8 matrix.

    The exact boundary rules of :func:`status_codes` at the speed of the
    tile-part lookup (:func:`status_on_control`), each version after the
    first testing only the places near tiles that changed
    (:class:`StatusSeries`); for the CLI's ``settlements changed`` and any
    series of statuses.

    Parameters
    ----------
    store
        An open store.
    versions
        Stored versions (``VersionInfo``), in the order wanted.
    lon, lat
        Arrays of degrees.

    Returns
    -------
    matrix, labels
        ``labels[matrix[t, i]]``: None (outside), the store's sides, then ``"contested"``.
    """
    lon, lat = _lonlat((np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)))
    labels: list[str | None] = [None, *store.sides, CONTESTED]
    mat = np.zeros((len(versions), len(lon)), dtype=np.int8)
    if not len(versions):
        return mat, labels
    series = StatusSeries(store, (lon, lat))  # each version re-tests only the places near what changed
    for t, v in enumerate(versions):
        mat[t] = recoded(series.codes(v), series.labels, labels, np.int8)
    return mat, labels


def recoded(codes: np.ndarray, labs: Sequence[str | None], labels: list[str | None], dtype) -> np.ndarray:
    """One map's codes (``labs[code]``) as codes into the shared ``labels``, which gain what they lack."""
    for lab in labs:  # a side the table does not list yet (another source): its own code
        if lab not in labels:
            labels.append(lab)
    remap = np.array([labels.index(lab) for lab in labs], dtype=dtype)
    return remap[codes]


def settlement_status(points: Any, control_map: ControlMap, *, outside: str | None = None) -> np.ndarray:
    """Who holds each settlement on one control map.

    Parameters
    ----------
    points, control_map
        As for :func:`status_codes`.
    outside
        Value for points outside the theatre (and for NaN positions).

    Returns
    -------
    numpy.ndarray of object
        Per point: a side (``"ua"``, ``"ru"``), ``"contested"``, or ``outside``.
        Boundary cases are described in the module docstring.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> from frontline.model import ControlMap, utc
    >>> m = ControlMap("demo", "v1", utc(0), {"ua": box(0, 0, 1, 1), "ru": box(2, 0, 3, 1)},
    ...                contested=box(1, 0, 2, 1), theatre=box(0, 0, 3, 1))
    >>> settlement_status(([0.5, 1.5, 2.5, 9.0], [0.5, 0.5, 0.5, 0.5]), m).tolist()
    ['ua', 'contested', 'ru', None]
    """
    codes, labels = status_codes(points, control_map)
    table = np.array([outside if lab is None else lab for lab in labels], dtype=object)
    return table[codes]


def settlements_changed(
    gazetteer: Any,
    maps: Sequence[ControlMap],
    *,
    include_reverted: bool = False,
) -> list[dict[str, Any]]:
    """Settlements whose status differs between the first and the last map.

    Parameters
    ----------
    gazetteer
        The settlements: a :class:`~frontline.sources.geonames.Gazetteer`
        (``ids`` and ``names`` are then reported) or any point input that
        :func:`settlement_status` takes.
    maps
        Control maps ordered by ``valid_time`` (earliest first); usually the
        versions of one source.
    include_reverted
        Also report settlements that changed at some point but ended where
        they began (lost and retaken).

    Returns
    -------
    list of dict
        One dict per settlement, ordered by when it first changed, then by
        position in ``gazetteer``, with keys

        ``index``, ``id``, ``name``, ``lon``, ``lat``
            Which settlement (``id``/``name`` are None without a gazetteer).
        ``from``, ``to``
            Status on the first and on the last map.
        ``first_change``, ``last_change``
            The first and the last transition (the last one is when the
            final status took hold).
        ``transitions``
            Every change, in time order, each a dict with ``version_id`` and
            ``valid_time`` of the first map showing the new status,
            ``previous_version_id`` and ``previous_valid_time`` of the map
            before it (the change happened in between), ``from`` and ``to``.
        ``reversals``
            How many transitions went back to a status the settlement had
            held before (ua → ru → ua has one).

    Raises
    ------
    ValueError
        When the maps are not in time order.
    """
    maps = list(maps)
    lon, lat = _lonlat(gazetteer)
    _check_time_order(maps)
    if len(maps) < 2 or len(lon) == 0:
        return []
    # One label table across all maps (sides could differ between sources),
    # and the status of every settlement on every map as a small-int matrix;
    # the diff between consecutive rows is then a single numpy operation.
    labels: list[str | None] = [None]
    mat = np.empty((len(maps), len(lon)), dtype=np.int16)
    for t, cmap in enumerate(maps):
        codes, labs = status_codes((lon, lat), cmap)
        mat[t] = recoded(codes, labs, labels, np.int16)

    steps = mat[1:] != mat[:-1]
    keep = steps.any(axis=0) if include_reverted else (mat[0] != mat[-1])
    cols = np.flatnonzero(keep)
    if len(cols) == 0:
        return []
    t_idx, c_idx = np.nonzero(steps[:, cols])
    order = np.lexsort((t_idx, c_idx))  # by settlement, then time
    t_idx, c_idx = t_idx[order], c_idx[order]

    ids = getattr(gazetteer, "ids", None)
    names = getattr(gazetteer, "names", None)
    meta = [(m.version_id, iso(m.valid_time)) for m in maps]
    out: list[dict[str, Any]] = []
    bounds = np.searchsorted(c_idx, np.arange(len(cols) + 1))
    for k, col in enumerate(cols):
        i = int(col)
        transitions, reversals = _transitions(mat[:, i], t_idx[bounds[k] : bounds[k + 1]], labels, meta)
        out.append(
            {
                "index": i,
                "id": ids[i].item()
                if ids is not None and hasattr(ids[i], "item")
                else (ids[i] if ids is not None else None),
                "name": str(names[i]) if names is not None else None,
                "lon": float(lon[i]),
                "lat": float(lat[i]),
                "from": labels[int(mat[0, i])],
                "to": labels[int(mat[-1, i])],
                "first_change": transitions[0],
                "last_change": transitions[-1],
                "transitions": transitions,
                "reversals": reversals,
            }
        )
    first_t = {id(d): int(t_idx[bounds[k]]) for k, d in enumerate(out)}
    out.sort(key=lambda d: (first_t[id(d)], d["index"]))
    return out


def _check_time_order(maps: list[ControlMap]) -> None:
    """Raise unless the maps are ordered by valid time."""
    for i in range(1, len(maps)):
        if maps[i].valid_time < maps[i - 1].valid_time:
            raise ValueError(
                f"Maps must be ordered by valid_time: map {i} ({maps[i].version_id}, "
                f"{iso(maps[i].valid_time)}) is earlier than map {i - 1} "
                f"({maps[i - 1].version_id}, {iso(maps[i - 1].valid_time)})."
            )


def _transitions(
    column: np.ndarray, steps: np.ndarray, labels: list[str | None], meta: list[tuple[str, str | None]]
) -> tuple[list[dict[str, Any]], int]:
    """(the transitions of one settlement at the map steps ``steps``, how many went back to an earlier status)."""
    seen = {int(column[0])}
    transitions = []
    reversals = 0
    for t in steps:
        t = int(t)
        before, after = int(column[t]), int(column[t + 1])
        if after in seen:
            reversals += 1
        seen.add(after)
        transitions.append(
            {
                "version_id": meta[t + 1][0],
                "valid_time": meta[t + 1][1],
                "previous_version_id": meta[t][0],
                "previous_valid_time": meta[t][1],
                "from": labels[before],
                "to": labels[after],
            }
        )
    return transitions, reversals
