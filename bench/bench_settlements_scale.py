"""Benchmark: settlement status changes for a 30,000-place gazetteer over every version of a store.

    .venv/bin/python bench/bench_settlements_scale.py --store /work/stores/copy.gpkg [--places 30000]
        [--seed 7] [--versions N] [--check-every K] [--save codes.npy]

The store is opened read-only (use a copy of the full archive store: 1,359 versions). The places are
the store's gazetteer (``frontline settlements import --default`` first, else none) plus places drawn
uniformly at random (seeded) inside the theatre (rejection-sampled against the theatre's outline), up
to ``--places``. For every version in time order the status of every place is computed from the
stored pieces by :class:`frontline.analysis.settlements.StatusSeries` (the rule of the map and of the
stored codes, :func:`~frontline.analysis.settlements.status_on_control`; after the first version only
the places near tiles whose pieces changed are tested again) and compared with the version before:
the places that changed status are counted. A progress bar runs on stderr. Prints the wall time, the
time per version (median, p95), the places tested again per version, the places that changed at least
once, and the changes in all. ``--check-every K`` also computes every K-th version whole with
``status_on_control`` (outside the timing) and counts the places whose codes differ (must be 0);
``--save`` writes the (versions × places) int8 codes. The bar of issue 18: within 10 minutes for
30,000 places × 1,359 versions on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import shapely

warnings.filterwarnings("ignore", category=DeprecationWarning)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from frontline._progress import progress_bar  # noqa: E402
from frontline.analysis.settlements import CONTESTED, StatusSeries, recoded, status_on_control  # noqa: E402
from frontline.state import version_control  # noqa: E402
from frontline.store import open_store, theatre_of  # noqa: E402
from frontline.store.reference import load_settlements  # noqa: E402


def places(store, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(lon, lat, n_gazetteer)``: the store's gazetteer, then random places inside the theatre, ``n`` in all."""
    gaz = load_settlements(store)
    lon = np.asarray(gaz.lon, dtype=float) if gaz is not None else np.zeros(0)
    lat = np.asarray(gaz.lat, dtype=float) if gaz is not None else np.zeros(0)
    lon, lat, n_gaz = lon[:n], lat[:n], min(len(lon), n)
    outline = theatre_of(store).geom
    shapely.prepare(outline)
    w, s, e, nb = outline.bounds
    rng = np.random.default_rng(seed)
    extra_lon, extra_lat = [], []
    need = n - n_gaz
    while need > 0:  # rejection sampling: uniform inside the theatre's outline
        x, y = rng.uniform(w, e, 4 * need), rng.uniform(s, nb, 4 * need)
        keep = shapely.contains_xy(outline, x, y)
        extra_lon.append(x[keep][:need])
        extra_lat.append(y[keep][:need])
        need -= len(extra_lon[-1])
    return np.concatenate([lon, *extra_lon]), np.concatenate([lat, *extra_lat]), n_gaz


def check(st, v, lon, lat, got: np.ndarray, labels: list[str | None]) -> int:
    """Places whose series code at ``v`` differs from ``status_on_control`` on the whole version."""
    codes, labs = status_on_control(version_control(st, v), (lon, lat))
    return int((recoded(codes, labs, labels, np.int8) != got).sum())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--places", type=int, default=30_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--versions", type=int, default=0, help="Only the first N versions (0: all).")
    ap.add_argument("--check-every", type=int, default=0, help="Check every K-th version whole (0: none).")
    ap.add_argument("--save", type=Path, default=None, help="Write the versions x places codes (.npy).")
    args = ap.parse_args(argv)
    st = open_store(args.store, readonly=True)
    versions = st.versions()
    if args.versions:
        versions = versions[: args.versions]
    lon, lat, n_gaz = places(st, args.places, args.seed)
    labels: list[str | None] = [None, *st.sides, CONTESTED]
    print(
        f"{len(lon):,} places ({n_gaz:,} of the store's gazetteer, {len(lon) - n_gaz:,} generated), "
        f"{len(versions):,} versions"
    )
    mat = np.zeros((len(versions), len(lon)), dtype=np.int8)
    per_version, retested, checked, wrong = [], [], 0, 0
    t0 = time.perf_counter()
    series = StatusSeries(st, (lon, lat))
    setup = time.perf_counter() - t0
    with progress_bar(len(versions), "settlement status") as advance:
        for t, v in enumerate(versions):
            t1 = time.perf_counter()
            mat[t] = recoded(series.codes(v), series.labels, labels, np.int8)
            per_version.append(time.perf_counter() - t1)
            retested.append(series.retested)
            if args.check_every and t % args.check_every == 0:
                checked += 1
                wrong += check(st, v, lon, lat, mat[t], labels)
            advance()
    wall = setup + sum(per_version)
    moved = mat[1:] != mat[:-1]
    p95 = sorted(per_version)[int(0.95 * (len(per_version) - 1))]
    print(f"wall {wall:,.1f} s ({wall / 60:.1f} min; bar: 10 min) for {len(versions):,} versions × {len(lon):,} places")
    print(
        f"setup {setup:.1f} s; per version: median {statistics.median(per_version) * 1000:,.0f} ms, "
        f"p95 {p95 * 1000:,.0f} ms"
    )
    print(f"places tested again per version: median {statistics.median(retested):,.0f}, max {max(retested):,}")
    print(
        f"places that changed status at least once: {int(moved.any(axis=0).sum()):,}; "
        f"changes in all: {int(moved.sum()):,}"
    )
    if args.check_every:
        print(f"checked {checked:,} versions whole with status_on_control: {wrong:,} places differ")
    if args.save:
        np.save(args.save, mat)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
