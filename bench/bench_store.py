"""Import into a GeoPackage and a PostGIS store, and state at a time on both, side by side in one run.

    .venv/bin/python bench/bench_store.py [--raw /work/raw/geojsons] [--versions 60|all] [--repeats 3]
        [--samples 50] [--workers N]

Takes ``--versions`` consecutive DeepState versions from the unpacked archive
(``--raw``, a folder of ``<id>.geojson``; ``--start`` picks the first id), or
the whole archive with ``--versions all`` (then once: ``--repeats`` is 1), and
imports them into a fresh GeoPackage and a fresh PostGIS database (a throwaway
cluster, as the tests make: ``tests/pgcluster.py``) through the import path
``frontline import`` takes (:func:`frontline.ingest.import_files`, with its
worker processes; ``--workers`` as the CLI's), the two backends alternating.
It prints the seconds of each, their ratio PostGIS / GeoPackage (issue 13's
bar: within 2x) and ``state_at`` at ``--samples`` random versions on each
(median and p95, ms; bar: p95 <= 50 ms), read from a freshly opened handle
as a reader (``serve``, a CLI command) would; and the same with the
contested ground built, for what a map of the state costs. The load average
is printed before and after: the machine is shared, and wall times follow
it. Needs PostgreSQL and PostGIS; says so and stops when absent.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pgcluster import PgCluster, missing  # noqa: E402

from frontline.ingest import import_files  # noqa: E402
from frontline.state import state_at  # noqa: E402
from frontline.store import init_store, open_store  # noqa: E402


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _import(target: str, files: list[Path], workers: int | None) -> float:
    """Seconds to import ``files`` into a new store at ``target`` (as ``frontline import`` does)."""
    st = init_store(target)
    try:
        t0 = time.perf_counter()
        members = ((str(p), p.read_bytes()) for p in files)  # what iter_members yields for a folder
        rep = import_files(st, members, workers=workers, total=len(files), progress=False)
        took = time.perf_counter() - t0
    finally:
        st.close()
    if rep.failed:
        raise SystemExit(f"import into {target} failed: {rep.problems[:3]}")
    return took


def _p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1] if len(xs) > 1 else xs[0]


def _state_ms(target: str, samples: int, seed: int) -> dict[str, list[float]]:
    """``state_at`` of ``samples`` random versions on a freshly opened handle: ms, plain and with contested built."""
    st = open_store(target)
    try:
        versions = st.versions()
        rng = random.Random(seed)
        picks = rng.sample(versions, min(samples, len(versions)))
        out: dict[str, list[float]] = {"state": [], "state+contested": [], "cpu": []}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # staleness notes of old versions: not what is measured
            for v in picks:
                t0, c0 = time.perf_counter(), time.process_time()
                cmap, _ = state_at(st, v.valid_time)
                t1, c1 = time.perf_counter(), time.process_time()
                _ = cmap.contested
                t2 = time.perf_counter()
                out["state"].append((t1 - t0) * 1000)
                out["cpu"].append((c1 - c0) * 1000)
                out["state+contested"].append((t2 - t0) * 1000)
    finally:
        st.close()
    return out


def _files(raw: Path, versions: str, start: int | None) -> list[Path]:
    files = sorted(raw.glob("*.geojson"), key=lambda p: int(p.stem))
    if not files:
        raise SystemExit(f"No <id>.geojson files in {raw}.")
    if versions == "all":
        return files
    try:
        n = int(versions)
    except ValueError:
        raise SystemExit(f"--versions must be a number or 'all', not {versions!r}.") from None
    first = len(files) // 2 if start is None else next(i for i, p in enumerate(files) if int(p.stem) >= start)
    return files[first : first + n]


def _print(files: list[Path], repeats: int, took: dict[str, list[float]], ms: dict[str, dict[str, list[float]]]):
    g, p = statistics.median(took["gpkg"]), statistics.median(took["pg"])
    print(f"import of {len(files)} versions ({files[0].stem} .. {files[-1].stem}), median of {repeats}:")
    print(f"  GeoPackage {g:8.2f} s   PostGIS {p:8.2f} s   ratio PostGIS/GeoPackage {p / g:5.2f} (bar: <= 2)")
    n = len(ms["gpkg"]["state"])
    print(f"state_at at {n} random versions, fresh handle, ms (bar: p95 <= 50 ms):")
    print(f"  {'':26s}{'GeoPackage':>22s}{'PostGIS':>22s}")
    print(f"  {'':26s}{'median':>11s}{'p95':>11s}{'median':>11s}{'p95':>11s}")
    for key, label in (
        ("state", "state_at"),
        ("cpu", "state_at, CPU of this proc"),
        ("state+contested", "+ contested built"),
    ):
        a, b = ms["gpkg"][key], ms["pg"][key]
        print(f"  {label:26s}{statistics.median(a):11.1f}{_p95(a):11.1f}{statistics.median(b):11.1f}{_p95(b):11.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=Path("/work/raw/geojsons"))
    ap.add_argument("--versions", default="60", help="How many versions, or 'all' (the whole archive, once).")
    ap.add_argument("--start", type=int, default=None, help="First version id (default: the archive's middle).")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=50, help="Random versions state_at is timed at.")
    ap.add_argument("--workers", type=int, default=None, help="Import worker processes (default: as the CLI's).")
    args = ap.parse_args()
    why = missing()
    if why:
        raise SystemExit(f"PostGIS benchmark not run: {why}")
    files = _files(args.raw, args.versions, args.start)
    repeats = 1 if args.versions == "all" else args.repeats
    print(f"before: {_load()}", flush=True)
    cluster = PgCluster().start()
    took: dict[str, list[float]] = {"gpkg": [], "pg": []}
    ms: dict[str, dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(repeats):
                targets = {"gpkg": str(Path(tmp) / f"b{k}.gpkg"), "pg": cluster.new_database("bench")}
                for name, target in targets.items():
                    took[name].append(_import(target, files, args.workers))
                    print(f"  {name} import {k + 1}: {took[name][-1]:.1f} s ({_load()})", flush=True)
                    if k == repeats - 1:
                        ms[name] = _state_ms(target, args.samples, seed=len(files))
    finally:
        cluster.stop()
    _print(files, repeats, took, ms)
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
