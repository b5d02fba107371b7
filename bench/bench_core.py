"""Core benchmark: archive import, area time series, state at one time — with a naive baseline.

Run: .venv/bin/python bench/bench_core.py [--archive PATH] [--repeat 5]

Prints medians. The baseline is what analysts do today in a notebook: load
each file, build shapely polygons, union the occupied ones, clip to Ukraine
and measure geodesically; the ratio is baseline / Frontline, measured in the
same run on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_time(fn, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def naive_series(archive: Path, limit: int | None = None) -> int:
    """Per-file baseline: parse, shapely, union, clip to Ukraine, geodesic area."""
    import orjson
    import shapely
    from shapely.geometry import shape

    from frontline import geodesy
    from frontline.borders import default_theatre
    from frontline.sources._archive import iter_members
    from frontline.sources.deepstate import classify_area

    ukr = default_theatre().homes["ua"]
    n = 0
    for _name, data in iter_members(archive, (".geojson", ".json")):
        doc = orjson.loads(data)
        polys = []
        for f in doc["features"]:
            g = f.get("geometry")
            if not g or g["type"] not in ("Polygon", "MultiPolygon"):
                continue
            _, role, side, _ = classify_area(f.get("properties") or {})
            if role == "held" and side == "ru":
                polys.append(shapely.make_valid(shapely.force_2d(shape(g))))
        geodesy.area_km2(shapely.intersection(shapely.union_all(polys), ukr))
        n += 1
        if limit and n >= limit:
            break
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archive", default=str(ROOT.parent / "shared/data/deepstate/history-2022-04_2025-08.tar.zst"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--baseline-files",
        type=int,
        default=100,
        help="files the naive baseline measures (scaled to the whole archive)",
    )
    ap.add_argument("--skip-import", metavar="STORE", default=None, help="use an existing store")
    ap.add_argument("--workers", type=int, default=None, help="import worker processes (default: CPU count)")
    args = ap.parse_args()
    archive = Path(args.archive)
    if not archive.is_file():
        sys.exit(f"archive not found: {archive}")
    from frontline.analysis.area import area_series
    from frontline.state import state_at
    from frontline.store import open_store

    tmp = Path(tempfile.mkdtemp())
    store_path = Path(args.skip_import) if args.skip_import else tmp / "bench.gpkg"
    results = []
    workers_opt = ["--workers", str(args.workers)] if args.workers else []
    if not args.skip_import:
        subprocess.run(
            [sys.executable, "-m", "frontline.cli", "init", "--store", str(store_path)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "frontline.cli",
                "import",
                "--quiet",
                "--json",
                "--store",
                str(store_path),
                str(archive),
                *workers_opt,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results.append(
            (
                f"full archive import, {args.workers or 'default'} workers (1 run, incl. start)",
                time.perf_counter() - t,
                60.0,
            )
        )
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "frontline.cli",
                "import",
                "--quiet",
                "--json",
                "--store",
                str(store_path),
                str(archive),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results.append(("re-import, nothing new (1 run)", time.perf_counter() - t, None))
    st = open_store(store_path, readonly=True)
    nver = len(st.versions())
    series = median_time(lambda: area_series(st, region="ukraine"), args.repeat)
    results.append((f"area time series, Ukraine, {nver} versions", series, 5.0))
    results.append(
        (
            "area time series, Russia as drawn",
            median_time(lambda: area_series(st, region="russia", convention="as_drawn"), args.repeat),
            5.0,
        )
    )
    import random

    rng = random.Random(7)
    picks = rng.sample(st.versions(), min(60, nver))
    ts = []
    for v in picks:  # distinct versions in random order: no result is reused, only tile unions
        t = time.perf_counter()
        state_at(st, v.valid_time)
        ts.append(time.perf_counter() - t)
    ts.sort()
    results.append((f"state at one time, {len(ts)} random versions: median", statistics.median(ts), 0.05))
    results.append(("state at one time, random versions: p95", ts[int(0.95 * (len(ts) - 1))], None))
    last = st.versions()[-1].valid_time
    results.append(
        (
            "state at one time, same version again (warm)",
            median_time(lambda: state_at(st, last), max(args.repeat, 20)),
            0.05,
        )
    )
    t = time.perf_counter()
    n = naive_series(archive, args.baseline_files)
    per_file = (time.perf_counter() - t) / n
    baseline = per_file * nver
    results.append((f"naive baseline series (measured on {n} files, scaled to {nver})", baseline, None))
    import os

    print(
        f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs: timings are only comparable within one run"
    )
    print(f"{'measure':62s} {'median s':>10s} {'target s':>9s}")
    for name, sec, target in results:
        print(f"{name:62s} {sec:10.3f} {'' if target is None else f'{target:9.3f}'}")
    print(f"ratio naive baseline / Frontline time series: {baseline / series:,.0f}x (target >= 10x)")


if __name__ == "__main__":
    main()
