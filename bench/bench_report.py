"""Report benchmark: the median time of one situation report (one region, one date), PDF and HTML; an animation.

Run: .venv/bin/python bench/bench_report.py --store ds.gpkg [--at 2025-03-07 --since 2025-02-28]
     [--region outside:ua --side ua] [--repeat 3] [--frames 30 --from 2024-08-01] [--only report|animate]

Bars: a PDF report in at most 10 s on a 2-core machine; an animation of 30 weekly frames (GIF, from
``--from``, the region's side) in at most 30 s, every step included (versions read, frames drawn, written).
Timed in process on a store already open (the first report is a warm-up: it loads the borders, the gazetteer
and fonts once, as a long-running process would), then once more through the CLI as a user runs it (process
start included). The store is only read; with no settlements or roads stored the report says so and those
parts cost nothing.
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
ANIMATION_BAR_S = 30.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=os.environ.get("FRONTLINE_STORE", "ds.gpkg"))
    ap.add_argument("--at", default="2025-03-07")
    ap.add_argument("--since", default="2025-02-28")
    ap.add_argument("--region", default="outside:ua")
    ap.add_argument("--side", default="ua")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--frames", type=int, default=30, help="frames of the animation (weekly)")
    ap.add_argument("--from", dest="start", default="2024-08-01", help="first time of the animation")
    ap.add_argument("--only", choices=["report", "animate"], default=None)
    args = ap.parse_args()
    if args.only != "report":
        bench_animation(args)
    if args.only != "animate":
        bench_report(args)


def bench_animation(args) -> None:
    """The median time of a GIF of ``args.frames`` weekly frames from ``args.start``."""
    from frontline.report.animate import animate, frame_versions
    from frontline.store import open_store

    st = open_store(args.store, readonly=True)
    vs = frame_versions(st, args.start, None, "week")[: args.frames]
    end = vs[-1].valid_time
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "animation.gif"

        def one():
            _, frames = animate(st, out, args.start, end, every="week", region=args.region, side=args.side)
            assert len(frames) == len(vs)

        med = median_time(one, args.repeat)
        verdict = "ok" if med <= ANIMATION_BAR_S else "OVER"
        print(
            f"animation gif of {len(vs)} frames: median of {args.repeat} {med:5.2f} s "
            f"(bar {ANIMATION_BAR_S:g} s: {verdict}), {out.stat().st_size / 1e6:.2f} MB"
        )


def bench_report(args) -> None:
    """The median time of a PDF and an HTML report, in process and through the CLI."""

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
