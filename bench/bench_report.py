"""Report benchmark: the median time of one situation report (one region, one date), PDF and HTML.

Run: .venv/bin/python bench/bench_report.py --store ds.gpkg [--at 2025-03-07 --since 2025-02-28]
     [--region outside:ua --side ua] [--repeat 3]

Bar: a PDF report in at most 10 s on a 2-core machine. Timed in process on a store already open (the
first report is a warm-up: it loads the borders, the gazetteer and fonts once, as a long-running process
would), then once more through the CLI as a user runs it (process start included). The store is only
read; with no settlements or roads stored the report says so and those parts cost nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_core import median_time  # noqa: E402  (bench/ is on sys.path when run as a script)

BAR_S = 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=os.environ.get("FRONTLINE_STORE", "ds.gpkg"))
    ap.add_argument("--at", default="2025-03-07")
    ap.add_argument("--since", default="2025-02-28")
    ap.add_argument("--region", default="outside:ua")
    ap.add_argument("--side", default="ua")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from frontline.report import write_report
    from frontline.store import open_store
    from frontline.times import parse_time

    st = open_store(args.store, readonly=True)
    at, since = parse_time(args.at, role="at"), parse_time(args.since, role="start")
    with tempfile.TemporaryDirectory() as d:
        for suffix in (".pdf", ".html"):
            out = Path(d) / f"report{suffix}"

            def one(out=out):
                write_report(st, out, at, since, region=args.region, side=args.side)

            t0 = time.perf_counter()
            one()
            first = time.perf_counter() - t0
            med = median_time(one, args.repeat)
            verdict = "ok" if med <= BAR_S else "OVER"
            print(
                f"report {suffix[1:]:4s} in process: first {first:5.2f} s, median of {args.repeat} {med:5.2f} s "
                f"(bar {BAR_S:g} s: {verdict}), {out.stat().st_size / 1e6:.2f} MB"
            )
        out = Path(d) / "cli.pdf"
        cmd = [
            sys.executable,
            "-m",
            "frontline.cli",
            "report",
            "--store",
            args.store,
            "--at",
            args.at,
            "--since",
            args.since,
            "--region",
            args.region,
            "--side",
            args.side,
            "--out",
            str(out),
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        print(f"report pdf via CLI (process start included): {time.perf_counter() - t0:5.2f} s")


if __name__ == "__main__":
    main()
