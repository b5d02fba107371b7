"""Two sources compared: where their maps disagree at one time, and which one showed a change first.

:func:`compare_at` takes the versions of sources ``A`` and ``B`` valid at one
time and measures, per pair of statuses (``A ru / B grey``, ``A grey / B ua``,
…), the ground where they disagree, with the settlements whose status differs.
:func:`compare_lags` follows both sources over a range: each piece of ground a
side gained in ``A`` between consecutive versions is matched to the same
ground gained in ``B``, and the lag between the two says who showed it first;
settlements that changed hands in both are matched the same way.

Method
------
Both versions are read as the store keeps them, as pieces per 0.5° tile of
each home (:mod:`frontline.normalise`). A tile whose pieces are the same in
both agrees everywhere and is skipped. In any other tile of home ``H`` the
status of a point is ``contested`` inside ``C``, a side ``S ≠ H`` inside
``A[S]`` and ``H`` outside ``O`` (the names of :mod:`frontline.analysis.change`),
so for statuses ``s`` (in A) and ``t`` (in B):

* both other than ``H``: ``X_A(s) ∩ X_B(t)``;
* ``s = H``: ``X_B(t) − O_A``; ``t = H``: ``X_A(s) − O_B``.

Areas are geodesic (WGS84, :mod:`frontline.geodesy`). Where they agree is
each status's area in A (:func:`frontline.analysis.area.areas_at`) less what
B calls otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..borders import polygonal
from ..errors import InputError, NoVersionError
from ..model import CONTESTED, iso, utc
from ..store import GeoPackageStore, VersionInfo, theatre_of
from ..times import check_period, last_per_period, period_key
from .change import compare_versions, tile_groups, tile_signature, tile_state

__all__ = ["CompareReport", "LagReport", "compare_at", "compare_lags"]

_EMPTY = shapely.Polygon()
DAY_S = 86400.0


@dataclass
class CompareReport:
    """Where two sources disagree at one time.

    Attributes
    ----------
    a, b
        The versions of the two sources valid at the time asked for.
    region
        The region compared (``theatre``, ``ukraine``, ``russia``, ``home:<side>`` or a polygon file).
    statuses
        The sides, then ``contested``.
    km2
        ``(status in A, status in B) → geodesic km²`` for every pair of different statuses.
    parts
        ``(status in A, status in B) → lon/lat (Multi)Polygon`` of the pairs with ground.
    area_a, area_b
        Each source's km² per status in the region.
    settlements
        Places whose status differs: ``name``, ``lon``, ``lat``, ``population``, ``a``, ``b``.
    """

    a: VersionInfo
    b: VersionInfo
    region: str
    statuses: list[str]
    km2: dict[tuple[str, str], float]
    parts: dict[tuple[str, str], BaseGeometry]
    area_a: dict[str, float]
    area_b: dict[str, float]
    settlements: list[dict[str, Any]] = field(default_factory=list)
    tiles_compared: int = 0
    tiles_differing: int = 0
    bbox: tuple[float, float, float, float] | None = None

    def within(self, bbox: tuple[float, float, float, float]) -> CompareReport:
        """The report cut to a lon/lat box: pairs' ground and km² clipped, settlements inside it.

        The per-status areas of the two maps are kept for the region only (they are the store's precomputed
        areas), so the cut report has no ``agreement`` rows and its totals say only ``disagree_km2``.
        """
        x0, y0, x1, y1 = bbox
        parts: dict[tuple[str, str], BaseGeometry] = {}
        km2 = {p: 0.0 for p in self.km2}
        for lab, g in self.parts.items():
            polys = shapely.get_parts(shapely.clip_by_rect(g, x0, y0, x1, y1))
            polys = polys[shapely.get_type_id(polys) == 3]  # clipping can leave slivers as lines: no ground
            if len(polys):
                km2[lab] = float(geodesy.areas_km2(polys).sum())
                parts[lab] = shapely.multipolygons(polys)
        inside = [s for s in self.settlements if x0 <= s["lon"] <= x1 and y0 <= s["lat"] <= y1]
        return replace(self, km2=km2, parts=parts, settlements=inside, bbox=(x0, y0, x1, y1))

    def rows(self) -> list[dict[str, Any]]:
        """One row per pair of different statuses: ``{a, b, km2}``."""
        return [{"a": sa, "b": sb, "km2": round(v, 4)} for (sa, sb), v in self.km2.items()]

    def agreement(self) -> list[dict[str, Any]]:
        """Per status: km² in A, in B, and where both say it (A's area less what B calls otherwise).

        Empty for a report cut to a box (:meth:`within`): the maps' areas are known per region only.
        """
        if self.bbox is not None:
            return []
        out = []
        for s in self.statuses:
            off = sum(v for (sa, _), v in self.km2.items() if sa == s)
            out.append(
                {
                    "status": s,
                    "a_km2": round(self.area_a.get(s, 0.0), 4),
                    "b_km2": round(self.area_b.get(s, 0.0), 4),
                    "agree_km2": round(max(self.area_a.get(s, 0.0) - off, 0.0), 4),
                }
            )
        return out

    def totals(self) -> dict[str, float]:
        """``agree_km2`` and ``disagree_km2`` over the region."""
        dis = sum(self.km2.values())
        if self.bbox is not None:
            return {"disagree_km2": round(dis, 4)}
        return {"agree_km2": round(sum(r["agree_km2"] for r in self.agreement()), 4), "disagree_km2": round(dis, 4)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: both versions, pairs, agreement per status, totals and settlements."""
        return {
            "a": {"source": self.a.source, "time": iso(self.a.valid_time), "version_id": self.a.version_id},
            "b": {"source": self.b.source, "time": iso(self.b.valid_time), "version_id": self.b.version_id},
            "region": self.region,
            "bbox": list(self.bbox) if self.bbox is not None else None,
            "pairs": self.rows(),
            "agreement": self.agreement(),
            "totals": self.totals(),
            "settlements": self.settlements,
            "tiles_compared": self.tiles_compared,
            "tiles_differing": self.tiles_differing,
        }

    def to_geojson(self) -> dict[str, Any]:
        """FeatureCollection: one feature per pair of statuses with ground, with its km²."""
        feats = [
            {
                "type": "Feature",
                "geometry": mapping(g),
                "properties": {
                    f"{self.a.source}": sa,
                    f"{self.b.source}": sb,
                    "a": sa,
                    "b": sb,
                    "km2": round(self.km2[(sa, sb)], 4),
                    "a_time": iso(self.a.valid_time),
                    "b_time": iso(self.b.valid_time),
                },
            }
            for (sa, sb), g in self.parts.items()
            if not g.is_empty
        ]
        return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------
# One time
# --------------------------------------------------------------------------


def _region_scope(store: GeoPackageStore, region: str) -> tuple[str, list[str], BaseGeometry | None]:
    """``(label, homes to compare, polygon to clip to or None)`` of a ``--region`` as ``frontline area`` takes it."""
    from .area import ALIASES, load_region_file, resolve_region

    homes = list(theatre_of(store).homes)
    key, column = resolve_region(store, region)
    if key == "theatre":
        return key, homes, None
    if key.startswith("home:"):
        return region, [key.split(":", 1)[1]], None
    if key.startswith("outside:"):
        raise InputError(f"compare takes theatre, {', '.join(ALIASES)}, home:<side> or a polygon file", field="region")
    assert column is None
    return region, homes, load_region_file(key)


def _status_geoms(home: str, c, a: dict, sides) -> dict[str, BaseGeometry | None]:
    """A tile's ground per status; None for the home side (everything outside ``O``)."""
    out: dict[str, BaseGeometry | None] = {CONTESTED: c}
    for s in sides:
        out[s] = None if s == home else a.get(s, _EMPTY)
    return out


def _tile_pairs(home, tile, ga: dict, gb: dict, sides) -> tuple[list, list, list, list[tuple[str, str]]]:
    """Operands of one tile's disagreements: ``(ops, left, right, labels)``, ``ops`` "and"/"minus"."""
    ca, aa, oa = tile_state(home, tile, ga, sides)
    cb, ab, ob = tile_state(home, tile, gb, sides)
    xa, xb = _status_geoms(home, ca, aa, sides), _status_geoms(home, cb, ab, sides)
    ops, left, right, labels = [], [], [], []
    for sa, ga_ in xa.items():
        for sb, gb_ in xb.items():
            if sa == sb:
                continue
            if ga_ is None:  # A says home: B's ground of sb outside what A draws
                op, lhs, rhs = "minus", gb_, oa
            elif gb_ is None:
                op, lhs, rhs = "minus", ga_, ob
            else:
                op, lhs, rhs = "and", ga_, gb_
            if lhs is None or lhs.is_empty or (op == "and" and rhs.is_empty):
                continue
            ops.append(op)
            left.append(lhs)
            right.append(rhs)
            labels.append((sa, sb))
    return ops, left, right, labels


def _disagreement(
    store: GeoPackageStore, va: VersionInfo, vb: VersionInfo, homes: list[str], clip: BaseGeometry | None
) -> tuple[dict[tuple[str, str], list], int, int]:
    """``(status A, status B) → [polygons]`` where the versions differ, tiles compared, tiles differing."""
    sides = list(store.sides)
    ga, gb = tile_groups(store, va), tile_groups(store, vb)
    keys = [k for k in set(ga) | set(gb) if k[0] in homes]
    differ = [k for k in keys if tile_signature(ga.get(k, {})) != tile_signature(gb.get(k, {}))]
    ops: list[str] = []
    left: list = []
    right: list = []
    labels: list[tuple[str, str]] = []
    for home, tile in differ:
        o, lh, rh, tile_labels = _tile_pairs(home, tile, ga.get((home, tile), {}), gb.get((home, tile), {}), sides)
        ops += o
        left += lh
        right += rh
        labels += tile_labels
    out: dict[tuple[str, str], list] = {}
    if not labels:
        return out, len(keys), len(differ)
    lhs, rhs = np.array(left, dtype=object), np.array(right, dtype=object)
    is_and = np.array([o == "and" for o in ops])
    res = np.empty(len(labels), dtype=object)
    if is_and.any():
        res[is_and] = shapely.intersection(lhs[is_and], rhs[is_and])
    if (~is_and).any():
        res[~is_and] = shapely.difference(lhs[~is_and], rhs[~is_and])
    if clip is not None:
        res = shapely.intersection(res, clip)
    for lab, g in zip(labels, res):
        g = polygonal(g)
        if not g.is_empty:
            out.setdefault(lab, []).append(g)
    return out, len(keys), len(differ)


def _areas(store: GeoPackageStore, v: VersionInfo, region: str, statuses: list[str]) -> dict[str, float]:
    """km² per status of a version in the region (the clipped convention of ``frontline area``)."""
    from .area import areas_at

    row = areas_at(store, v.valid_time, region=region, source=v.source)[0]
    return {s: float(row.get(f"{s}_km2") or 0.0) for s in statuses}


def _in_region(store: GeoPackageStore, lon, lat, homes: list[str], clip: BaseGeometry | None) -> np.ndarray:
    """Which points lie in the compared region."""
    th = theatre_of(store)
    geom = clip if clip is not None else shapely.union_all([th.homes[h] for h in homes])
    shapely.prepare(geom)
    return shapely.contains_xy(geom, lon, lat)


def _settlements_differing(
    store: GeoPackageStore, va: VersionInfo, vb: VersionInfo, homes: list[str], clip: BaseGeometry | None
) -> list[dict[str, Any]]:
    """Places of the store's gazetteer whose status differs between the versions (none without a gazetteer)."""
    from ..store.reference import load_settlements
    from .settlements import status_matrix

    gz = load_settlements(store)
    if gz is None or not len(gz):
        return []
    lon, lat = np.asarray(gz.lon, dtype=float), np.asarray(gz.lat, dtype=float)
    mat, labels = status_matrix(store, [va, vb], lon, lat)
    idx = np.flatnonzero((mat[0] != mat[1]) & (mat[0] != 0) & (mat[1] != 0))
    idx = idx[_in_region(store, lon[idx], lat[idx], homes, clip)] if len(idx) else idx
    rows = [
        {
            "name": str(gz.names[i]),
            "lon": round(float(lon[i]), 5),
            "lat": round(float(lat[i]), 5),
            "population": int(gz.population[i]),
            "a": labels[mat[0, i]],
            "b": labels[mat[1, i]],
        }
        for i in idx
    ]
    rows.sort(key=lambda r: (-r["population"], r["name"]))
    return rows


def _two_sources(store: GeoPackageStore, a: str, b: str) -> None:
    have = set(store.sources())
    for name in (a, b):
        if name not in have:
            raise InputError(f"no source {name!r} in the store; it has {', '.join(sorted(have)) or 'none'}")
    if a == b:
        raise InputError("give two different sources", field="source")


def compare_at(store: GeoPackageStore, a: str, b: str, at=None, *, region: str = "theatre") -> CompareReport:
    """Where sources ``a`` and ``b`` disagree at one time, per pair of statuses, and the settlements they differ on.

    Parameters
    ----------
    store
        An open store holding both sources.
    a, b
        Source names.
    at
        A time (:func:`frontline.times.parse_time`; a bare date is its end) or None for the latest;
        each source's version valid then is compared.
    region
        ``theatre`` (default), ``ukraine``, ``russia``, ``home:<side>`` or a polygon file.

    Returns
    -------
    CompareReport

    Raises
    ------
    InputError
        When a source is not in the store or the region cannot be read.
    NoVersionError
        When a source has no version at that time.
    """
    from ..state import resolve_version

    _two_sources(store, a, b)
    label, homes, clip = _region_scope(store, region)
    va, vb = resolve_version(store, at, a), resolve_version(store, at, b)
    found, n_keys, n_diff = _disagreement(store, va, vb, homes, clip)
    statuses = [*store.sides, CONTESTED]
    pairs = [(sa, sb) for sa in statuses for sb in statuses if sa != sb]
    km2 = {p: 0.0 for p in pairs}
    parts: dict[tuple[str, str], BaseGeometry] = {}
    for lab, gs in found.items():
        polys = shapely.get_parts(np.array(gs, dtype=object))  # the tiles' polygons, cuts not healed
        km2[lab] = float(geodesy.areas_km2(polys).sum())
        parts[lab] = shapely.multipolygons(polys)
    return CompareReport(
        a=va,
        b=vb,
        region=label,
        statuses=statuses,
        km2=km2,
        parts=parts,
        area_a=_areas(store, va, region, statuses),
        area_b=_areas(store, vb, region, statuses),
        settlements=_settlements_differing(store, va, vb, homes, clip),
        tiles_compared=n_keys,
        tiles_differing=n_diff,
    )


# --------------------------------------------------------------------------
# Lags over a range
# --------------------------------------------------------------------------


@dataclass
class LagReport:
    """Who showed each change first over a range.

    Attributes
    ----------
    a, b
        The source names.
    side
        Whose gains were matched.
    every
        The period versions were sampled by (the last of each), also the period of the mean lags; None: every
        version (means per day).
    ground
        One row per matched gain: ``a_time``, ``b_time``, ``lag_days`` (B − A: positive when A
        showed it first), ``first``, ``a_km2``, ``b_km2``, ``overlap_km2``, ``lon``, ``lat``.
    settlements
        One row per place that changed hands in both: ``name``, ``to``, ``a_time``, ``b_time``, ``lag_days``, ``first``.
    unmatched_a, unmatched_b
        Gains seen by one source only.
    """

    a: str
    b: str
    side: str
    every: str | None
    ground: list[dict[str, Any]]
    settlements: list[dict[str, Any]]
    unmatched_a: int = 0
    unmatched_b: int = 0

    def per_period(self) -> list[dict[str, Any]]:
        """Per period of the earlier showing: matches, mean lag (days, B − A) and who was first how often."""
        groups: dict[str, list[dict]] = {}
        for r in self.ground:
            t = min(r["a_t"], r["b_t"])
            groups.setdefault(period_key(utc(t), self.every or "day"), []).append(r)
        out = []
        for p, rs in groups.items():
            lags = [r["lag_days"] for r in rs]
            out.append(
                {
                    "period": p,
                    "matched": len(rs),
                    "mean_lag_days": round(float(np.mean(lags)), 3),
                    "a_first": sum(r["first"] == self.a for r in rs),
                    "b_first": sum(r["first"] == self.b for r in rs),
                    "same": sum(r["first"] == "same" for r in rs),
                }
            )
        return sorted(out, key=lambda r: r["period"])

    def mean_lag_days(self) -> float | None:
        """Mean lag over every matched gain (days, B − A), None when nothing matched."""
        return round(float(np.mean([r["lag_days"] for r in self.ground])), 3) if self.ground else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: matched gains, per-period means, settlements, unmatched counts."""
        return {
            "a": self.a,
            "b": self.b,
            "side": self.side,
            "every": self.every,
            "ground": [{k: v for k, v in r.items() if k not in ("a_t", "b_t")} for r in self.ground],
            "per_period": self.per_period(),
            "mean_lag_days": self.mean_lag_days(),
            "settlements": self.settlements,
            "unmatched_a": self.unmatched_a,
            "unmatched_b": self.unmatched_b,
        }


@dataclass
class _Gain:
    t: int
    geom: BaseGeometry
    km2: float


def _sampled(store: GeoPackageStore, source: str, start, end, every: str | None) -> list[VersionInfo]:
    """The source's versions in the range (last per period), after the one valid at its start (the baseline)."""
    from ..state import versions_between
    from ..times import parse_time

    inside = versions_between(store, start, end, source)
    if every:
        inside = list(last_per_period(inside, every).values())
    t0 = parse_time(start, role="start")
    before = [v for v in store.versions(source) if t0 is not None and v.valid_time < t0]
    return ([before[-1]] if before else []) + inside


def _gains(store: GeoPackageStore, versions: list[VersionInfo], side: str, min_km2: float) -> list[_Gain]:
    """Connected ground ``side`` gained between consecutive versions, at least ``min_km2``."""
    out: list[_Gain] = []
    cache: dict = {}
    for v1, v2 in zip(versions, versions[1:]):
        rep = compare_versions(store, v1, v2, v1.source, cache)
        cache.pop(v1.pk, None)  # consecutive pairs: only the newer version is needed again
        parts = shapely.get_parts(rep.gained(side))
        if not len(parts):
            continue
        areas = geodesy.areas_km2(parts)
        out += [_Gain(v2.valid_time, p, float(k)) for p, k in zip(parts, areas) if k >= min_km2]
    return out


def _first(a: str, b: str, lag_days: float) -> str:
    return a if lag_days > 0 else b if lag_days < 0 else "same"


def _match_gains(
    ga: list[_Gain], gb: list[_Gain], a: str, b: str, *, min_overlap: float, max_lag_days: float
) -> list[dict[str, Any]]:
    """Each gain in A with the gain in B that overlaps it most (each used once), largest gains first."""
    if not ga or not gb:
        return []
    tree = shapely.STRtree([g.geom for g in gb])
    used: set[int] = set()
    rows = []
    for g in sorted(ga, key=lambda g: -g.km2):
        best = None
        for j in tree.query(g.geom, predicate="intersects"):
            h = gb[int(j)]
            lag = (h.t - g.t) / DAY_S
            if int(j) in used or abs(lag) > max_lag_days:
                continue
            ov = geodesy.area_km2(polygonal(shapely.intersection(g.geom, h.geom)))
            if ov < min_overlap * min(g.km2, h.km2):
                continue
            if best is None or (ov, -abs(lag)) > (best[0], -abs(best[2])):
                best = (ov, int(j), lag)
        if best is None:
            continue
        ov, j, lag = best
        used.add(j)
        c = g.geom.centroid
        rows.append(
            {
                "a_time": iso(g.t),
                "b_time": iso(gb[j].t),
                "lag_days": round(lag, 3),
                "first": _first(a, b, lag),
                "a_km2": round(g.km2, 4),
                "b_km2": round(gb[j].km2, 4),
                "overlap_km2": round(ov, 4),
                "lon": round(c.x, 5),
                "lat": round(c.y, 5),
                "a_t": g.t,
                "b_t": gb[j].t,
            }
        )
    rows.sort(key=lambda r: r["a_t"])
    return rows


def _flips(mat: np.ndarray, versions: list[VersionInfo]) -> dict[int, list[tuple[int, int, int]]]:
    """Per place: ``(time, from code, to code)`` of each change of status between consecutive versions."""
    out: dict[int, list[tuple[int, int, int]]] = {}
    if len(versions) < 2:
        return out
    ch = (mat[1:] != mat[:-1]) & (mat[1:] != 0) & (mat[:-1] != 0)
    for k, i in zip(*np.nonzero(ch)):
        out.setdefault(int(i), []).append((versions[k + 1].valid_time, int(mat[k, i]), int(mat[k + 1, i])))
    return out


def _settlement_lags(
    store: GeoPackageStore, va: list[VersionInfo], vb: list[VersionInfo], a: str, b: str, max_lag_days: float
) -> list[dict[str, Any]]:
    """Places that changed to the same status in both sources, with the lag between the two."""
    from ..store.reference import load_settlements
    from .settlements import status_matrix

    gz = load_settlements(store)
    if gz is None or not len(gz):
        return []
    lon, lat = np.asarray(gz.lon, dtype=float), np.asarray(gz.lat, dtype=float)
    ma, labels = status_matrix(store, va, lon, lat)
    mb, labels_b = status_matrix(store, vb, lon, lat)
    assert labels == labels_b  # both built from the store's sides
    fa, fb = _flips(ma, va), _flips(mb, vb)
    rows = []
    for i in sorted(set(fa) & set(fb)):
        left = list(fb[i])
        for t, _, to in fa[i]:
            near = [x for x in left if x[2] == to and abs(x[0] - t) <= max_lag_days * DAY_S]
            if not near:
                continue
            hit = min(near, key=lambda x: abs(x[0] - t))
            left.remove(hit)
            lag = (hit[0] - t) / DAY_S
            rows.append(
                {
                    "name": str(gz.names[i]),
                    "lon": round(float(lon[i]), 5),
                    "lat": round(float(lat[i]), 5),
                    "to": labels[to],
                    "a_time": iso(t),
                    "b_time": iso(hit[0]),
                    "lag_days": round(lag, 3),
                    "first": _first(a, b, lag),
                }
            )
    return sorted(rows, key=lambda r: (r["a_time"], r["name"]))


def compare_lags(
    store: GeoPackageStore,
    a: str,
    b: str,
    start,
    end,
    *,
    every: str | None = None,
    side: str = "ru",
    min_km2: float = 0.05,
    min_overlap: float = 0.3,
    max_lag_days: float = 14.0,
) -> LagReport:
    """Which source showed each gain of ``side`` first over a range, and by how many days.

    Parameters
    ----------
    store
        An open store holding both sources.
    a, b
        Source names.
    start, end
        The range (a bare ``start`` date from 00:00 UTC, a bare ``end`` date through 23:59:59 UTC); each
        source's version valid at ``start`` is the baseline of its first change.
    every
        ``day``, ``week`` or ``month``: the last version per period of each source is used, and mean
        lags are given per period; None: every version (means per day).
    side
        Whose gains are matched.
    min_km2
        Smaller connected gains are left out (slivers of redrawing).
    min_overlap
        A gain in B matches one in A when their overlap is at least this share of the smaller.
    max_lag_days
        Gains (and changes of hands) further apart in time are not matched.

    Returns
    -------
    LagReport

    Raises
    ------
    InputError
        When a source is not in the store, the side is unknown or ``every`` is not a period.
    NoVersionError
        When a source has no version in the range.
    """
    _two_sources(store, a, b)
    check_period(every)
    if side not in store.sides:
        raise InputError(f"unknown side {side!r}; sides are {', '.join(store.sides)}", field="side")
    va, vb = _sampled(store, a, start, end, every), _sampled(store, b, start, end, every)
    if len(va) < 2 or len(vb) < 2:
        raise NoVersionError(
            f"Nothing to compare from {start} to {end}: each source needs two versions there "
            f"({a}: {len(va)}, {b}: {len(vb)}; the version valid at the start counts)."
        )
    ga, gb = _gains(store, va, side, min_km2), _gains(store, vb, side, min_km2)
    ground = _match_gains(ga, gb, a, b, min_overlap=min_overlap, max_lag_days=max_lag_days)
    return LagReport(
        a=a,
        b=b,
        side=side,
        every=every,
        ground=ground,
        settlements=_settlement_lags(store, va, vb, a, b, max_lag_days),
        unmatched_a=len(ga) - len(ground),
        unmatched_b=len(gb) - len(ground),
    )
