"""Region-file benchmark: the all-versions area series inside one polygon file — with a naive baseline.

Run: .venv/bin/python bench/bench_region.py --store ds.gpkg --raw ../raw/geojsons [--region FILE] [--repeat 3]

Prints medians. Frontline is timed through the CLI as a user runs it (process start included:
``frontline area --region FILE --csv``, every version, both conventions; one time with ``--at``; four
regions with ``--region-field``) and in process. The baseline is what an analyst writes in a notebook: for
each version, read the raw file, build the shapely polygons, union occupied and grey, cut to Ukraine's land
and to the region, measure geodesically; it is timed on ``--baseline-files`` versions spread over the
archive and scaled to all of them. The ratio is baseline / Frontline, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POKROVSK = (37.0, 47.9, 38.0, 48.5)  # lon/lat box around Avdiivka–Pokrovsk: the busiest front of the archive


from bench_core import median_time  # noqa: E402  (bench/ is on sys.path when run as a script)


def write_regions(d: Path) -> tuple[Path, Path]:
    """The default region (one box) and a four-feature file (the box in quarters, field ``name``)."""
    x0, y0, x1, y1 = POKROVSK
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2

    def feat(name, b):
        a, b_, c, e = b
        return {
            "type": "Feature",
            "properties": {"name": name},
            "geometry": {"type": "Polygon", "coordinates": [[[a, b_], [c, b_], [c, e], [a, e], [a, b_]]]},
        }

    one = d / "pokrovsk.geojson"
    one.write_text(json.dumps({"type": "FeatureCollection", "features": [feat("Avdiivka-Pokrovsk", POKROVSK)]}))
    four = d / "quarters.geojson"
    four.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    feat("SW", (x0, y0, xm, ym)),
                    feat("SE", (xm, y0, x1, ym)),
                    feat("NW", (x0, ym, xm, y1)),
                    feat("NE", (xm, ym, x1, y1)),
                ],
            }
        )
    )
    return one, four


def naive_region(raw_files: list[Path], region_path: Path) -> int:
    """Per-file baseline: parse, shapely, union per class, cut to Ukraine and the region, geodesic areas."""
    import orjson
    import shapely
    from shapely.geometry import shape

    from frontline import geodesy
    from frontline.analysis.area import load_region_file
    from frontline.borders import default_theatre
    from frontline.sources.deepstate import classify_area

    region = load_region_file(region_path)
    land = shapely.intersection(default_theatre().homes["ua"], region)
    for path in raw_files:
        doc = orjson.loads(path.read_bytes())
        ru, grey = [], []
        for f in doc.get("features", doc.get("map", {}).get("features", [])):
            g = f.get("geometry")
            if not g or g["type"] not in ("Polygon", "MultiPolygon"):
                continue
            _, role, side, _ = classify_area(f.get("properties") or {})
            if role == "contested":
                grey.append(shapely.make_valid(shapely.force_2d(shape(g))))
            elif role == "held" and side == "ru":
                ru.append(shapely.make_valid(shapely.force_2d(shape(g))))
        c = shapely.intersection(shapely.union_all(grey), land)
        r = shapely.intersection(shapely.difference(shapely.union_all(ru), c), land)
        geodesy.area_km2(c), geodesy.area_km2(r)
    return len(raw_files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="a store of the whole archive (read only)")
    ap.add_argument(
        "--raw",
        default=str(ROOT.parent / "raw" / "geojsons"),
        help="folder of the archive's raw <id>.geojson files (for the baseline)",
    )
    ap.add_argument("--region", default=None, help="polygon file (default: a box around Avdiivka–Pokrovsk)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--baseline-files",
        type=int,
        default=20,
        help="versions the naive baseline measures (spread over the archive, scaled to all)",
    )
    args = ap.parse_args()
    from frontline.analysis.area import area_series, areas_at
    from frontline.store import open_store

    tmp = Path(tempfile.mkdtemp())
    one, four = write_regions(tmp)
    region = Path(args.region) if args.region else one
    st = open_store(args.store, readonly=True)
    nver = len(st.versions())
    exe = ROOT / ".venv" / "bin" / "frontline"
    cli = [str(exe) if exe.exists() else "frontline", "area", "--store", args.store]

    def run_cli(*extra: str) -> None:
        subprocess.run([*cli, *extra], check=True, stdout=subprocess.DEVNULL)

    results = []
    area_series(st, region=str(region))  # warm the theatre's tile cache on disk, as any earlier command does
    series = median_time(lambda: run_cli("--region", str(region), "--csv"), args.repeat)
    results.append((f"CLI series, {region.name}, clipped, {nver} versions", series, 10.0))
    results.append(
        (
            f"CLI series, {region.name}, as_drawn, {nver} versions",
            median_time(lambda: run_cli("--region", str(region), "--convention", "as_drawn", "--csv"), args.repeat),
            10.0,
        )
    )
    results.append(
        (
            "CLI series, every week, clipped",
            median_time(lambda: run_cli("--region", str(region), "--every", "week", "--csv"), args.repeat),
            None,
        )
    )
    results.append(
        (
            "CLI one time (--at 2025-01-15), clipped",
            median_time(lambda: run_cli("--region", str(region), "--at", "2025-01-15", "--csv"), args.repeat),
            None,
        )
    )
    results.append(
        (
            f"CLI series, 4 regions (--region-field), clipped, {nver} versions",
            median_time(lambda: run_cli("--region", str(four), "--region-field", "name", "--csv"), args.repeat),
            None,
        )
    )
    inproc = median_time(lambda: area_series(st, region=str(region)), args.repeat)
    results.append(("in process: area_series, clipped", inproc, None))
    results.append(
        (
            "in process: area_series, as_drawn",
            median_time(lambda: area_series(st, region=str(region), convention="as_drawn"), args.repeat),
            None,
        )
    )
    results.append(
        (
            "in process: areas_at, clipped",
            median_time(lambda: areas_at(st, "2025-01-15", region=str(region)), args.repeat),
            None,
        )
    )
    raw = sorted(Path(args.raw).glob("*.geojson"))
    if raw:
        step = max(1, len(raw) // args.baseline_files)
        picked = raw[::step][: args.baseline_files]
        t = time.perf_counter()
        n = naive_region(picked, region)
        per_file = (time.perf_counter() - t) / n
        baseline = per_file * nver
        results.append((f"naive baseline series (measured on {n} files, scaled to {nver})", baseline, None))
    else:
        baseline = None
        print(f"no raw files under {args.raw}: baseline skipped")
    print(
        f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs: timings are only comparable within one run"
    )
    print(f"{'measure':66s} {'median s':>10s} {'target s':>9s}")
    for name, sec, target in results:
        print(f"{name:66s} {sec:10.3f} {'' if target is None else f'{target:9.3f}'}")
    if baseline:
        print(f"ratio naive baseline / Frontline CLI series (clipped): {baseline / series:,.1f}x")


if __name__ == "__main__":
    main()
