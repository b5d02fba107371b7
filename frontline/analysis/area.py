"""Geodesic area held by each side, at a time and over time, within a region.

Regions: ``theatre``; ``home:<side>`` (e.g. ``home:ua`` = Ukraine) and its
aliases ``ukraine``/``russia``; ``outside:<side>`` (the theatre outside that
side's home); or a polygon file (any GDAL format). Two conventions, named in
every output: ``clipped`` (the partition cut to the region) and ``as_drawn``
(the source's own polygons as drawn, the way the source itself measures).
Standard regions read areas precomputed at import; a polygon file is
measured from the stored feature pieces, tile by tile, with the same cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from .. import geodesy
from ..borders import polygonal
from ..model import CONTESTED, iso, utc
from ..normalise import CONVENTION_CLIPPED, CONVENTIONS, THEATRE, FeaturePieces, Piece, PartitionBuilder
from ..store import GeoPackageStore, VersionInfo, theatre_of

ALIASES = {"ukraine": "home:ua", "russia": "home:ru"}
PERIODS = ("day", "week", "month")


def parse_time(value: str | int | float | datetime | None) -> int | None:
    """Epoch seconds from ISO text (``2025-03-06``, ``2025-03-06T12:00Z``), epoch digits or datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return int(utc(value).timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    s = str(value).strip()
    if s.isdigit():
        return int(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"Time {value!r} is not ISO-8601 (e.g. 2025-03-06 or 2025-03-06T18:00Z) "
                         "nor epoch seconds.") from None
    if len(s) == 10:  # a bare date means the end of that day: the map as it stood that day
        dt = dt + timedelta(days=1) - timedelta(seconds=1)
    return int(utc(dt).timestamp())


def _sides(store: GeoPackageStore) -> tuple[str, ...]:
    return store.sides


def resolve_region(store: GeoPackageStore, region: str) -> tuple[str, str | None]:
    """``(region key, stored column)``: the column is None for a polygon file."""
    region = ALIASES.get(region, region)
    sides = _sides(store)
    if region == THEATRE:
        return region, THEATRE
    if region.startswith("home:"):
        side = region.split(":", 1)[1]
        if side not in sides:
            raise ValueError(f"Unknown side {side!r} in region {region!r}; sides are {', '.join(sides)}.")
        return region, side
    if region.startswith("outside:"):
        side = region.split(":", 1)[1]
        if side not in sides:
            raise ValueError(f"Unknown side {side!r} in region {region!r}; sides are {', '.join(sides)}.")
        others = [s for s in sides if s != side]
        return region, others[0] if len(others) == 1 else None
    if Path(region).is_file():
        return region, None
    raise ValueError(f"Region {region!r} is not 'theatre', 'ukraine', 'russia', 'home:<side>', "
                     "'outside:<side>' nor an existing polygon file.")


def load_region_file(path: str) -> BaseGeometry:
    """Union of the polygons of a GDAL-readable file, in lon/lat."""
    import pyogrio

    try:
        meta, _, geoms, _ = pyogrio.raw.read(path)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read the region file ({exc}).") from None
    gs = shapely.from_wkb(geoms)
    gs = geodesy.to_lonlat_from(gs, meta.get("crs"))
    geom = polygonal(shapely.make_valid(shapely.union_all(gs)))
    if geom.is_empty:
        raise ValueError(f"{path}: the region file has no polygon.")
    return geom


class _CustomRegion:
    """Areas in a polygon region, from stored pieces clipped once each."""

    def __init__(self, store: GeoPackageStore, geom: BaseGeometry):
        self.store = store
        self.theatre = theatre_of(store)
        self.geom = geom
        shapely.prepare(geom)
        self.home_area = {h: geodesy.area_km2(t.clip(geom)) for h, t in self.theatre.tiled.items()}
        self.builder = PartitionBuilder(self.theatre)
        self._clipped: dict[int, FeaturePieces] = {}

    def _clip(self, fp: FeaturePieces) -> FeaturePieces:
        def cut(ps):
            out = []
            for p in ps:
                if shapely.contains_properly(self.geom, p.geom):
                    out.append(p)
                elif shapely.intersects(self.geom, p.geom):
                    g = polygonal(shapely.intersection(p.geom, self.geom))
                    if not g.is_empty:
                        out.append(Piece(p.fkey, p.home, p.tile, p.what, g, geodesy.area_km2(g)))
            return out

        return FeaturePieces(pieces=cut(fp.pieces), drawn=cut(fp.drawn), counted=fp.counted, home_of=fp.home_of)

    def areas(self, fids: Sequence[int]) -> dict:
        missing = [f for f in fids if f not in self._clipped]
        if missing:
            for fid, fp in self.store.pieces(missing).items():
                self._clipped[fid] = self._clip(fp)
        vc = self.builder.build(self._clipped[f] for f in fids if f in self._clipped)
        return vc.areas(home_area=self.home_area)


def _row(v: VersionInfo, region: str, convention: str, vals: dict[str, float | None], sides) -> dict:
    row = {"time": iso(v.valid_time), "version_id": v.version_id, "region": region, "convention": convention}
    for what in (*sides, CONTESTED):
        val = vals.get(what)
        row[f"{what}_km2"] = None if val is None else round(float(val), 3)
    return row


def _custom_key(region: str) -> str:
    return "file:" + hashlib.sha1(Path(region).read_bytes()).hexdigest()[:12]


def area_series(store: GeoPackageStore, *, region: str = "home:ua", convention: str = CONVENTION_CLIPPED,
                start=None, end=None, every: str | None = None, source: str | None = None,
                progress: bool = False) -> list[dict]:
    """Area per side and contested, per version (or per period), in a region.

    Parameters
    ----------
    store
        An open store.
    region
        ``theatre``, ``ukraine``/``russia``, ``home:<side>``, ``outside:<side>``
        or a polygon file.
    convention
        ``clipped`` or ``as_drawn``.
    start, end
        Time range (ISO text or epoch seconds); all versions when None.
    every
        ``day``, ``week`` or ``month``: one row per period (the last version
        of each), with net change against the previous period.
    source
        Source name; the default source when None.

    Returns
    -------
    list of dict
        Rows with ``time``, ``version_id``, ``region``, ``convention``,
        ``<side>_km2``, ``contested_km2``, and ``peak_<side>_km2``/
        ``share_of_peak_<side>`` for the side in the lead; with ``every``,
        ``net_<side>_km2`` and ``period``.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"Convention {convention!r} is not one of {', '.join(CONVENTIONS)}.")
    if every is not None and every not in PERIODS:
        raise ValueError(f"--every must be one of {', '.join(PERIODS)}, not {every!r}.")
    t0, t1 = parse_time(start), parse_time(end)
    if t0 is not None and t1 is not None and t0 > t1:
        raise ValueError(f"The range is inverted: start {iso(t0)} is after end {iso(t1)}.")
    source = store.default_source(source)
    sides = _sides(store)
    key, column = resolve_region(store, region)
    versions = {v.pk: v for v in store.versions(source)}
    rows: list[dict] = []
    if column is not None:
        vals: dict[int, dict[str, float]] = {}
        for pk, side, km2 in store.area_rows(source, column, convention):
            vals.setdefault(pk, {})[side] = km2
        for pk, v in sorted(versions.items(), key=lambda kv: kv[1].valid_time):
            if (t0 is not None and v.valid_time < t0) or (t1 is not None and v.valid_time > t1):
                continue
            rows.append(_row(v, key, convention, vals.get(pk, {}), sides))
    else:
        if key.startswith("outside:"):
            side = key.split(":", 1)[1]
            th = theatre_of(store)
            geom = polygonal(shapely.union_all([g for s, g in th.homes.items() if s != side]))
        else:
            geom = load_region_file(key)
            key = _custom_key(key)
        custom = _CustomRegion(store, geom)
        from .._progress import progress_bar

        selected = [(v, m) for v, m in store.version_members(source)
                    if not ((t0 is not None and v.valid_time < t0) or (t1 is not None and v.valid_time > t1))]
        with progress_bar(len(selected), "Measuring", enabled=progress) as advance:
            for v, members in selected:
                a = custom.areas(members)
                vals = {what: a.get((THEATRE, what, convention)) for what in (*sides, CONTESTED)}
                rows.append(_row(v, key, convention, vals, sides))
                advance()
    if every:
        rows = _resample(rows, every, sides)
    _add_peaks(rows, sides)
    return rows


def _period_key(t: datetime, every: str) -> str:
    if every == "day":
        return t.strftime("%Y-%m-%d")
    if every == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    return t.strftime("%Y-%m")


def _resample(rows: list[dict], every: str, sides) -> list[dict]:
    last: dict[str, dict] = {}
    for r in rows:
        last[_period_key(datetime.fromisoformat(r["time"].replace("Z", "+00:00")), every)] = r
    out, prev = [], None
    for period, r in last.items():
        r = dict(r, period=period)
        for what in (*sides, CONTESTED):
            cur = r.get(f"{what}_km2")
            before = prev.get(f"{what}_km2") if prev else None
            r[f"net_{what}_km2"] = None if cur is None or before is None else round(cur - before, 3)
        out.append(r)
        prev = r
    return out


def _add_peaks(rows: list[dict], sides) -> None:
    for what in (*sides, CONTESTED):
        vals = [r[f"{what}_km2"] for r in rows if r.get(f"{what}_km2") is not None]
        peak = max(vals) if vals else None
        for r in rows:
            v = r.get(f"{what}_km2")
            r[f"peak_{what}_km2"] = peak
            r[f"share_of_peak_{what}"] = None if v is None or not peak else round(v / peak, 4)


def area_at(store: GeoPackageStore, at, *, region: str = "home:ua", convention: str = CONVENTION_CLIPPED,
            source: str | None = None) -> dict:
    """Area per side and contested at one time (the version valid then).

    Raises
    ------
    ValueError
        When the time is before the first version of the source.
    """
    t = parse_time(at)
    source = store.default_source(source)
    v = store.version_at(t, source)
    if v is None:
        first = store.versions(source)[0]
        raise ValueError(f"No version of {source} at {iso(t)}: the first is {iso(first.valid_time)}.")
    rows = area_series(store, region=region, convention=convention, start=v.valid_time, end=v.valid_time,
                       source=source)
    row = {k: v for k, v in rows[0].items() if not k.startswith(("peak_", "share_of_peak_"))}
    row["convention_meaning"] = CONVENTIONS[convention]
    row["asked_time"] = iso(t)
    return row
