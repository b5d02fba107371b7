"""Import of an archive slice into a GeoPackage and a PostGIS store, side by side in one run.

    .venv/bin/python bench/bench_store.py [--raw /work/raw/geojsons] [--versions 60] [--repeats 3]

Takes ``--versions`` consecutive DeepState versions from the unpacked archive
(``--raw``, a folder of ``<id>.geojson``; ``--start`` picks the first id),
imports them ``--repeats`` times into a fresh GeoPackage and a fresh PostGIS
database (a throwaway cluster, as the tests make: ``tests/pgcluster.py``)
through the one import path (:class:`frontline.ingest.Importer`, in this
process), and prints the median seconds of each and the ratio PostGIS /
GeoPackage (issue 13's bar: within 2x). It also times ``state_at`` of the last
version on both (median of 20). Needs PostgreSQL and PostGIS; says so and
stops when absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pgcluster import PgCluster, missing  # noqa: E402

from frontline.ingest import Importer  # noqa: E402
from frontline.sources import deepstate  # noqa: E402
from frontline.state import state_at  # noqa: E402
from frontline.store import init_store  # noqa: E402


def _import(target: str, files: list[Path]) -> tuple[float, object]:
    """Seconds to import ``files`` into a new store at ``target``, and the store."""
    st = init_store(target)
    t0 = time.perf_counter()
    items = (deepstate.for_import(deepstate.snapshot_from_bytes(p.read_bytes(), p.name, p.stem)) for p in files)
    rep = Importer(st).run(items, progress=False)
    took = time.perf_counter() - t0
    if rep.failed:
        raise SystemExit(f"import into {target} failed: {rep.problems[:3]}")
    return took, st


def _state_ms(st) -> float:
    v = st.versions()[-1]
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        state_at(st, v.valid_time)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=Path("/work/raw/geojsons"))
    ap.add_argument("--versions", type=int, default=60)
    ap.add_argument("--start", type=int, default=None, help="First version id (default: the archive's middle).")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    why = missing()
    if why:
        raise SystemExit(f"PostGIS benchmark not run: {why}")
    files = sorted(args.raw.glob("*.geojson"), key=lambda p: int(p.stem))
    if not files:
        raise SystemExit(f"No <id>.geojson files in {args.raw}.")
    first = len(files) // 2 if args.start is None else next(i for i, p in enumerate(files) if int(p.stem) >= args.start)
    files = files[first : first + args.versions]
    cluster = PgCluster().start()
    gp_s, pg_s, gp_ms, pg_ms = [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.repeats):
                took, st = _import(str(Path(tmp) / f"b{k}.gpkg"), files)
                gp_s.append(took)
                gp_ms.append(_state_ms(st))
                st.close()
                took, st = _import(cluster.new_database("bench"), files)
                pg_s.append(took)
                pg_ms.append(_state_ms(st))
                st.close()
    finally:
        cluster.stop()
    g, p = statistics.median(gp_s), statistics.median(pg_s)
    print(f"import of {len(files)} versions ({files[0].stem} .. {files[-1].stem}), median of {args.repeats}:")
    print(f"  GeoPackage {g:8.2f} s   PostGIS {p:8.2f} s   ratio PostGIS/GeoPackage {p / g:5.2f} (bar: <= 2)")
    gm, pm = statistics.median(gp_ms), statistics.median(pg_ms)
    print(f"state_at of the last version, median: GeoPackage {gm:7.1f} ms   PostGIS {pm:7.1f} ms (bar: p95 <= 50 ms)")


if __name__ == "__main__":
    main()
