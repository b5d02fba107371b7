"""Change between two times: ground gained and lost by each side and by the grey zone.

:func:`change_between` compares the versions valid at two times and returns a
:class:`ChangeReport` (tables, GeoJSON layers, largest advances);
:func:`change_log` runs it period by period (daily by default).

Method
------
The store keeps each version's partition as *pieces* per 0.5° tile of each
home (see :mod:`frontline.normalise`). Two versions can only differ in tiles
whose pieces differ, so only those tiles are compared; every other tile is
skipped without touching a geometry. In a changed tile of home ``H``, with
``C`` the contested pieces and ``A[S]`` another side's held pieces minus
``C``, for both versions:

* contested gained ``C₂ − C₁`` and lost ``C₁ − C₂``;
* a side ``S ≠ H`` gained ``A₂[S] − A₁[S]`` and lost the reverse;
* the home side ``H`` gained ``O₁ − O₂`` and lost ``O₂ − O₁``, where
  ``O = C ∪ ⋃A`` is the tile's ground not held by ``H`` (``H`` holds the rest
  of its home), so its home polygon is never built.

A polygon gained by one side is lost by another (or by the grey zone), so the
gains of all three add up to the losses. Areas are geodesic (WGS84) and
reported per region (``ukraine``/``russia``: the homes ``home:ua`` and
``home:ru`` of the store) and in total. Advances are the connected polygons
of a side's gain (tile cuts healed), largest first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..borders import polygonal
from ..errors import InputError, NoVersionError
from ..model import CONTESTED, iso, utc
from ..store import GeoPackageStore, VersionInfo
from ..times import Role, check_period, parse_time, period_key

__all__ = [
    "ChangeReport",
    "change_between",
    "change_log",
    "compare_versions",
    "tile_groups",
    "tile_signature",
    "tile_state",
    "REGION_NAMES",
]

#: Region names for the homes (the area module's aliases, reversed).
REGION_NAMES = {"ua": "ukraine", "ru": "russia"}
GAINED, LOST = "gained", "lost"
_EMPTY = shapely.Polygon()


def region_name(home: str) -> str:
    """``ukraine``/``russia`` for the homes ``ua``/``ru``, ``home:<side>`` otherwise."""
    return REGION_NAMES.get(home, f"home:{home}")


@dataclass
class ChangeReport:
    """What changed between two versions.

    Attributes
    ----------
    source
        The source compared.
    before, after
        The versions valid at the two times asked for.
    sides
        The sides, then ``contested``.
    parts
        ``(side, change, region) → geometry`` (lon/lat (Multi)Polygon) of
        ground gained or lost.
    km2
        ``(side, change, region) → geodesic km²`` (every combination; 0.0 when nothing changed).
    tiles_compared, tiles_changed
        How many tiles were looked at and how many differed.
    """

    source: str
    before: VersionInfo
    after: VersionInfo
    sides: list[str]
    parts: dict[tuple[str, str, str], BaseGeometry]
    km2: dict[tuple[str, str, str], float]
    regions: list[str]
    tiles_compared: int = 0
    tiles_changed: int = 0
    elapsed_s: float = 0.0
    _advances: dict[str, list] = field(default_factory=dict, repr=False)

    # -- tables -------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One row per side, change and region: ``{side, change, region, km2}``."""
        out = []
        for s in self.sides:
            for ch in (GAINED, LOST):
                for r in self.regions:
                    out.append({"side": s, "change": ch, "region": r, "km2": round(self.km2.get((s, ch, r), 0.0), 4)})
        return out

    def totals(self) -> dict[str, dict[str, float]]:
        """Per side: ``gained_km2``, ``lost_km2`` and ``net_km2`` over all regions."""
        out = {}
        for s in self.sides:
            g = sum(self.km2.get((s, GAINED, r), 0.0) for r in self.regions)
            lo = sum(self.km2.get((s, LOST, r), 0.0) for r in self.regions)
            out[s] = {"gained_km2": round(g, 4), "lost_km2": round(lo, 4), "net_km2": round(g - lo, 4)}
        return out

    def net(self) -> dict[str, float]:
        """Net km² per side (gained − lost), all regions."""
        return {s: t["net_km2"] for s, t in self.totals().items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the two versions, rows, totals and net per side."""
        return {
            "source": self.source,
            "from": {"time": iso(self.before.valid_time), "version_id": self.before.version_id},
            "to": {"time": iso(self.after.valid_time), "version_id": self.after.version_id},
            "rows": self.rows(),
            "totals": self.totals(),
            "net": self.net(),
            "tiles_compared": self.tiles_compared,
            "tiles_changed": self.tiles_changed,
        }

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection: one feature per (side, change, region) with ground in it."""
        feats = []
        for (s, ch, r), g in self.parts.items():
            if g.is_empty:
                continue
            feats.append(
                {
                    "type": "Feature",
                    "geometry": mapping(g),
                    "properties": {
                        "side": s,
                        "change": ch,
                        "region": r,
                        "km2": round(self.km2[(s, ch, r)], 4),
                        "from": iso(self.before.valid_time),
                        "to": iso(self.after.valid_time),
                    },
                }
            )
        return {"type": "FeatureCollection", "features": feats}

    # -- advances -------------------------------------------------------------
    def gained(self, side: str) -> BaseGeometry:
        """All ground ``side`` gained, as one (Multi)Polygon (tile cuts healed)."""
        geoms = [g for (s, ch, _), g in self.parts.items() if s == side and ch == GAINED and not g.is_empty]
        if not geoms:
            return _EMPTY
        return polygonal(shapely.union_all(geoms)) if len(geoms) > 1 else geoms[0]

    def advances(self, top: int = 10, *, sides: list[str] | None = None) -> list[dict[str, Any]]:
        """The largest connected polygons gained, ranked by geodesic km².

        Parameters
        ----------
        top
            How many to return.
        sides
            Whose gains (default: every side, not the grey zone).

        Returns
        -------
        list of dict
            ``rank``, ``side``, ``km2``, ``lon``/``lat`` (centroid) and
            ``geometry`` (GeoJSON), largest first.
        """
        sides = list(sides or [s for s in self.sides if s != CONTESTED])
        cands = []
        for s in sides:
            if s not in self._advances:
                parts = shapely.get_parts(self.gained(s))
                parts = parts[~shapely.is_empty(parts)] if len(parts) else parts
                areas = geodesy.areas_km2(parts) if len(parts) else np.zeros(0)
                cents = shapely.centroid(parts) if len(parts) else np.zeros(0, dtype=object)
                self._advances[s] = [(float(a), p, c) for a, p, c in zip(areas, parts, cents)]
            cands += [(a, s, p, c) for a, p, c in self._advances[s]]
        cands.sort(key=lambda x: -x[0])
        return [
            {
                "rank": i + 1,
                "side": s,
                "km2": round(a, 4),
                "lon": round(c.x, 5),
                "lat": round(c.y, 5),
                "geometry": mapping(p),
            }
            for i, (a, s, p, c) in enumerate(cands[:top])
        ]


# --------------------------------------------------------------------------
# Tile states
# --------------------------------------------------------------------------

_UNIONS: OrderedDict = OrderedDict()
_UNIONS_MAX = 20_000


def _union_of(key, geoms: list[BaseGeometry]) -> BaseGeometry:
    """Union of a tile's pieces, cached by the pieces' feature keys (consecutive periods share most)."""
    if not geoms:
        return _EMPTY
    if len(geoms) == 1:
        return geoms[0]
    hit = _UNIONS.get(key)
    if hit is not None:
        _UNIONS.move_to_end(key)
        return hit
    g = polygonal(shapely.union_all(geoms))
    _UNIONS[key] = g
    if len(_UNIONS) > _UNIONS_MAX:
        _UNIONS.popitem(last=False)
    return g


def tile_groups(store: GeoPackageStore, v: VersionInfo) -> dict[tuple[str, Any], dict[str, list]]:
    """A version's counted pieces grouped by tile and by what they are.

    Parameters
    ----------
    store
        An open store.
    v
        The version.

    Returns
    -------
    dict
        ``(home, tile) → what → [Piece]``, ``what`` a side (held) or ``contested``; features not counted
        (labels, excluded, unclassified) are left out.
    """
    out: dict[tuple[str, Any], dict[str, list]] = {}
    for fp in store.pieces(store.member_fids(v)).values():
        if not fp.counted:
            continue
        for p in fp.pieces:
            out.setdefault((p.home, p.tile), {}).setdefault(p.what, []).append(p)
    return out


def _pkey(p) -> bytes:
    """A piece's identity: its content key (newer stores) or its feature's key (with the tile, unique)."""
    k = getattr(p, "key", None)
    return k if k is not None else p.fkey


def tile_signature(groups: dict[str, list]) -> frozenset:
    """What a tile is made of, comparable between versions: equal signatures mean the same ground.

    Parameters
    ----------
    groups
        ``what → [Piece]`` of one tile (a value of :func:`tile_groups`).

    Returns
    -------
    frozenset
        ``{(what, frozenset of piece keys)}``; a tile whose pieces did not change has the same signature, so
        only tiles whose signatures differ need geometry work.
    """
    return frozenset((w, frozenset(_pkey(p) for p in ps)) for w, ps in groups.items())


def tile_state(
    home: str, tile, groups: dict[str, list], sides
) -> tuple[BaseGeometry, dict[str, BaseGeometry], BaseGeometry]:
    """The ground of one tile as three geometries, unions cached by piece keys.

    Parameters
    ----------
    home
        The home the tile belongs to (a side).
    tile
        The tile's id (a cache key only).
    groups
        ``what → [Piece]`` of the tile (a value of :func:`tile_groups`).
    sides
        The store's sides.

    Returns
    -------
    tuple
        ``(C, {S: A[S]}, O)``: the contested ground; each other side's held ground minus ``C``; all ground
        not held by the home side (the home side holds the rest of the tile).
    """

    def key(what, ps):
        return (home, tile, what, frozenset(_pkey(p) for p in ps))

    c_ps = groups.get(CONTESTED, [])
    c = _union_of(key(CONTESTED, c_ps), [p.geom for p in c_ps])
    a = {}
    for s in sides:
        if s == home or s not in groups:
            continue
        g = _union_of(key(s, groups[s]), [p.geom for p in groups[s]])
        a[s] = polygonal(shapely.difference(g, c)) if not c.is_empty else g
    every = [p.geom for ps in groups.values() for p in ps]
    o = _union_of((home, tile, "*", frozenset((w, frozenset(_pkey(p) for p in ps)) for w, ps in groups.items())), every)
    return c, a, o


def _resolve(store: GeoPackageStore, at, source: str, role: Role = "at") -> VersionInfo:
    from ..state import resolve_version

    return resolve_version(store, at, source, role=role)  # stale times warned about (or refused) there


def compare_versions(
    store: GeoPackageStore, before: VersionInfo, after: VersionInfo, source: str, groups_cache: dict | None = None
) -> ChangeReport:
    """Ground gained and lost between two versions, tile by tile (only tiles whose pieces changed).

    Parameters
    ----------
    store
        An open store.
    before, after
        The two versions (any order of time; ``after`` is the state compared against ``before``).
    source
        The source name written in the report.
    groups_cache
        ``version pk → tile_groups`` kept between calls (a series reuses each version's groups once); filled
        with both versions' groups.

    Returns
    -------
    ChangeReport
        Gains and losses per side, grey zone and region.
    """
    import time as _time

    t0 = _time.perf_counter()
    from ..store import theatre_of

    th = theatre_of(store)
    homes = list(th.homes)
    sides = list(store.sides)
    whats = sides + [CONTESTED]
    regions = [region_name(h) for h in homes]
    cache = groups_cache if groups_cache is not None else {}
    g1 = cache.get(before.pk) or tile_groups(store, before)
    g2 = cache.get(after.pk) or tile_groups(store, after)
    cache[before.pk], cache[after.pk] = g1, g2
    keys = set(g1) | set(g2)
    changed = [k for k in keys if tile_signature(g1.get(k, {})) != tile_signature(g2.get(k, {}))]
    # Collect, per (side, change, home), the pieces of every changed tile; difference them as arrays.
    a_list: list[BaseGeometry] = []
    b_list: list[BaseGeometry] = []
    labels: list[tuple[str, str, str]] = []
    for home, tile in changed:
        c1, a1, o1 = tile_state(home, tile, g1.get((home, tile), {}), sides)
        c2, a2, o2 = tile_state(home, tile, g2.get((home, tile), {}), sides)
        r = region_name(home)
        pairs = {CONTESTED: (c1, c2), home: (o2, o1)}  # home side: gains what others lose in its home
        for s in sides:
            if s != home:
                pairs[s] = (a1.get(s, _EMPTY), a2.get(s, _EMPTY))
        for what, (old, new) in pairs.items():
            if old.is_empty and new.is_empty:
                continue
            a_list += [new, old]
            b_list += [old, new]
            labels += [(what, GAINED, r), (what, LOST, r)]
    parts: dict[tuple[str, str, str], list] = {}
    if labels:
        diffs = shapely.difference(np.array(a_list, dtype=object), np.array(b_list, dtype=object))
        for lab, g in zip(labels, diffs):
            g = polygonal(g)
            if not g.is_empty:
                parts.setdefault(lab, []).append(g)
    geoms: dict[tuple[str, str, str], BaseGeometry] = {}
    km2: dict[tuple[str, str, str], float] = {(w, ch, r): 0.0 for w in whats for ch in (GAINED, LOST) for r in regions}
    for lab, gs in parts.items():
        km2[lab] = float(sum(geodesy.area_km2(g) for g in gs))
        geoms[lab] = gs[0] if len(gs) == 1 else shapely.MultiPolygon([p for g in gs for p in shapely.get_parts(g)])
    return ChangeReport(
        source=source,
        before=before,
        after=after,
        sides=whats,
        parts=geoms,
        km2=km2,
        regions=regions,
        tiles_compared=len(keys),
        tiles_changed=len(changed),
        elapsed_s=_time.perf_counter() - t0,
    )


def change_between(
    store: GeoPackageStore, t1, t2, *, source: str | None = None, from_first: bool = False
) -> ChangeReport:
    """Ground gained and lost by each side and by the grey zone between two times.

    Parameters
    ----------
    store
        An open store.
    t1, t2
        The two times (:func:`frontline.times.parse_time`: a bare date ``t1``
        is the start of its day, ``t2`` the end of its day); the versions
        valid then are compared. ``t1`` must not be after ``t2``.
    source
        Source name; the default source when None.
    from_first
        A ``t1`` before the first version compares from the first version
        (:func:`range_start`, with a note), as the command line does; else
        it is an error.

    Returns
    -------
    ChangeReport
        ``to_dict()`` for tables, ``to_geojson()`` for the map,
        ``advances()`` for the largest gains.

    Raises
    ------
    ValueError
        When a time is before the first version, or ``t1`` is after ``t2``
        (:class:`frontline.state.StaleTimeError` for a stale time in strict mode;
        otherwise a stale time is reported by :func:`frontline.state.report_note`).
    """
    source = store.default_source(source)
    a, b = parse_time(t1, role="start"), parse_time(t2, role="end")
    if a is not None and b is not None and a > b:
        raise ValueError(f"The range is inverted: {iso(a)} is after {iso(b)}.")
    after = _resolve(store, t2, source, "end")  # first: a --to before every version is the error to give
    before = range_start(store, t1, source) if from_first else _resolve(store, t1, source, "start")
    return compare_versions(store, before, after, source)


def range_start(store: GeoPackageStore, start, source: str | None = None, *, end=None) -> VersionInfo:
    """The version a range starting at ``start`` compares from: the one valid then, or the first.

    A ``start`` before the source's first version starts at the first (as
    every series does), said by :func:`frontline.state.report_note` when it
    is before that version's day: the map before it is unknown, not empty.

    Parameters
    ----------
    store
        An open store.
    start
        The range's start (a bare date is the start of its day); the first version when None.
    source
        Source name; the default source when None.
    end
        The range's end, when known: one before the first version is refused (before any note).

    Raises
    ------
    NoVersionError
        When the source has no version, or ``end`` is before the first.
    """
    from ..state import report_note, versions_between

    source = store.default_source(source)
    t = parse_time(start, role="start", name="from")
    first = versions_between(store, None, None, source)[0]  # the versions as known (--as-known-at)
    t_end = parse_time(end, role="end", name="to")
    if t_end is not None and t_end < first.valid_time:
        raise NoVersionError(
            f"No version of {source} by --to {iso(t_end)}: the first is {first.version_id} ({iso(first.valid_time)})."
        )
    if t is None or t < first.valid_time:
        if t is not None and t < first.valid_time - first.valid_time % 86400:  # not for the first version's own day
            report_note(
                f"--from {iso(t)} is before the first version of {source} "
                f"({first.version_id}, {iso(first.valid_time)}): the range starts there."
            )
        return first
    return _resolve(store, start, source, "start")


def change_log(store: GeoPackageStore, start, end, *, every: str = "day", source: str | None = None) -> list[dict]:
    """Gains and losses per period: the last version of each period against the previous period's last.

    Parameters
    ----------
    store
        An open store.
    start, end
        Time range (ISO text or epoch seconds; a bare ``start`` date from
        00:00:00 UTC, a bare ``end`` date through 23:59:59 UTC).
    every
        ``day``, ``week`` or ``month``.
    source
        Source name; the default source when None.

    Returns
    -------
    list of dict
        One row per period with a version: ``period``, ``time``,
        ``version_id``, ``from_time``, ``from_version_id`` and, per side and
        ``contested``, ``gained_<s>_km2``, ``lost_<s>_km2``, ``net_<s>_km2``.
        The first period is compared with the last version before it (no
        row when there is none).
    """
    if every is None:
        raise InputError("a period is needed", field="--every")
    check_period(every)
    source = store.default_source(source)
    t0, t1 = parse_time(start, role="start"), parse_time(end, role="end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValueError(f"The range is inverted: start {iso(t0)} is after end {iso(t1)}.")
    versions = store.versions(source)
    if t1 is not None and t1 < versions[0].valid_time:
        raise ValueError(f"No version of {source} before {iso(t1)}: the first is {iso(versions[0].valid_time)}.")
    last: dict[str, VersionInfo] = {}
    before = None
    for v in versions:
        if t0 is not None and v.valid_time < t0:
            before = v
            continue
        if t1 is not None and v.valid_time > t1:
            break
        last[period_key(utc(v.valid_time), every)] = v
    rows = []
    cache: dict = {}
    prev = before
    for period, v in last.items():
        if prev is not None:
            rep = compare_versions(store, prev, v, source, cache)
            cache.pop(prev.pk, None)  # keep memory flat over long logs
            row: dict[str, Any] = {
                "period": period,
                "time": iso(v.valid_time),
                "version_id": v.version_id,
                "from_time": iso(prev.valid_time),
                "from_version_id": prev.version_id,
            }
            for s, t in rep.totals().items():
                row[f"gained_{s}_km2"] = t["gained_km2"]
                row[f"lost_{s}_km2"] = t["lost_km2"]
                row[f"net_{s}_km2"] = t["net_km2"]
            rows.append(row)
        prev = v
    return rows
