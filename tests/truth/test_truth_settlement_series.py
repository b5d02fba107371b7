"""Settlement status over a series of real versions (``StatusSeries``) against a brute force on the raw files.

The series tests again, at each version, only the places near tiles whose pieces changed; a place it does
not test keeps its code. Here every code of a sample is held against the status worked out from the raw
DeepState files with json + shapely only: 1,500 places drawn at random (seeded) inside Ukraine's border as
the store holds it (input data: the border the pieces were cut by), over 8 versions spread from January
2024 to the end of the archive and 16 consecutive versions of October 2024 (the front moving every day:
small steps, the path that re-tests few places). From 2024 on the raw polygons are classified by the rules
of ``test_truth_settlements`` (the 2022-2023 maps use more colours and names than those rules read); every
version of the archive is compared with the whole-version lookup by
``bench/bench_settlements_scale.py --check-every 1``.

Reference rule (as ``test_truth_settlements``, whose polygon classes it uses): "contested" in (or on the
edge of) the grey zone, else "ru" in the occupied, ORDLO, Crimea and Tuzla polygons, else "ua". Places
within 0.002° (~150-220 m) of a drawn edge or 0.01° of the border are left out: the store keeps the
polygons after its validity repair, overlap resolution and tiling, which can move an edge by metres.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from .test_truth_settlements import polygon_class

BOX = (33.0, 46.3, 39.8, 50.5)  # the east and south of Ukraine: the front over the whole war
N_PLACES = 1500
CLEAR_DEG = 0.002
BORDER_DEG = 0.01


def sample_ids(raw_ids: list[int]) -> tuple[list[int], list[int]]:
    """(8 versions spread over 2024-01-01 to the end and 16 consecutive ones from 2024-10-01, in time order; the 16)."""
    first = next(i for i, v in enumerate(raw_ids) if v >= 1704067200)  # 2024-01-01T00:00Z
    spread = [raw_ids[i] for i in np.linspace(first, len(raw_ids) - 1, 8).astype(int)]
    start = next(i for i, v in enumerate(raw_ids) if v >= 1727740800)  # 2024-10-01T00:00Z
    run = raw_ids[start : start + 16]
    return sorted(set(spread) | set(run)), run


def reference(fc: dict, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(status per place, clear of every classified polygon's edge)`` in one raw version."""
    hit = {c: np.zeros(len(pts), dtype=bool) for c in ("grey", "ru", "lib")}
    clear = np.ones(len(pts), dtype=bool)
    for f in fc["features"]:
        cls = polygon_class(f)
        if cls is None:
            continue
        g = shapely.make_valid(shapely.force_2d(shape(f["geometry"])))
        x0, y0, x1, y1 = g.bounds
        if x1 < BOX[0] or x0 > BOX[2] or y1 < BOX[1] or y0 > BOX[3]:
            continue
        shapely.prepare(g)
        hit[cls] |= shapely.intersects(g, pts)  # closed: on the edge is in
        edge = g.boundary
        shapely.prepare(edge)
        clear &= ~shapely.dwithin(edge, pts, CLEAR_DEG)
    status = np.where(hit["grey"], "contested", np.where(hit["ru"], "ru", "ua"))
    return status, clear


@pytest.fixture(scope="module")
def places(store):
    """Random places inside Ukraine's stored border, clear of it by ``BORDER_DEG``."""
    from frontline.store import theatre_of

    ukraine = theatre_of(store).homes["ua"].intersection(shapely.box(*BOX))
    rng = np.random.default_rng(2024)
    lon, lat = rng.uniform(BOX[0], BOX[2], 6 * N_PLACES), rng.uniform(BOX[1], BOX[3], 6 * N_PLACES)
    pts = shapely.points(lon, lat)
    shapely.prepare(ukraine)
    keep = shapely.contains(ukraine, pts) & ~shapely.dwithin(ukraine.boundary, pts, BORDER_DEG)
    idx = np.flatnonzero(keep)[:N_PLACES]
    assert len(idx) == N_PLACES
    return lon[idx], lat[idx]


def test_series_codes_match_the_raw_polygons(store, raw, raw_ids, places):
    from frontline.analysis.settlements import StatusSeries

    lon, lat = places
    pts = shapely.points(lon, lat)
    ids, run = sample_ids(raw_ids)
    by_id = {int(v.version_id): v for v in store.versions()}
    series = StatusSeries(store, (lon, lat))
    retested, compared, seen = [], 0, set()
    for vid in ids:
        want, clear = reference(raw(vid), pts)
        codes = series.codes(by_id[vid])
        retested.append(series.retested)
        got = np.array([series.labels[c] for c in codes], dtype=object)
        assert clear.mean() > 0.9, vid
        bad = np.flatnonzero(clear & (got != want))
        assert len(bad) == 0, [(vid, float(lon[i]), float(lat[i]), got[i], want[i]) for i in bad[:5]]
        compared += int(clear.sum())
        seen |= set(want[clear].tolist())
    assert compared > 0.9 * N_PLACES * len(ids) and seen == {"ua", "ru", "contested"}
    print(f"{compared:,} codes compared; places tested again per version: {retested}")
    # Each October version after the first follows the one before: most places are not tested again.
    daily = [r for vid, r in zip(ids, retested) if vid in run[1:] and ids[ids.index(vid) - 1] in run]
    assert len(daily) >= 14
    assert retested[0] == N_PLACES and max(daily) < N_PLACES // 2, retested
