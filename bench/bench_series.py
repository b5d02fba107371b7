"""Wall time of every series over all versions, the command line as a user runs it (issue 18 bar 1: <= 1 s each).

    .venv/bin/python bench/bench_series.py --store /work/stores/full-ds.gpkg [--repeats 5] [--json out.json]

Runs each command in a fresh process under ``/usr/bin/time`` (start-up
included: the interpreter, the imports, opening the store), ``--repeats``
times, and prints the median, min and max wall seconds, the bar, and what the
command said on stderr about stored versions (``N of M versions read from
stored results``), with the load average before and after. The store is only
read. Commands:

* ``frontline --help`` (start-up alone);
* ``area --every week`` and ``area`` (every version; areas stored at import);
* ``contact-line --every week`` and ``contact-line`` over every version (rows kept by ``frontline recompute``);
* ``corridors --side ua`` and ``--side ru`` over every version, and ``--every week``;
* ``settlements changed`` over the whole archive (the per-version status codes kept by ``frontline recompute``).

Each command's table goes to a pipe (as a user's ``| less`` would), ``--json`` variants too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRONTLINE = ROOT / ".venv" / "bin" / "frontline"
BAR_S = 1.0


def commands(first: str, last: str) -> list[tuple[str, list[str]]]:
    """``(label, arguments)`` of the series measured; ``first``/``last``: the store's first and last days."""
    span = ["--from", first, "--to", last]
    return [
        ("help", ["--help"]),
        ("area week", ["area", "--every", "week"]),
        ("area all", ["area", "--from", first]),
        ("area all json", ["area", "--from", first, "--json"]),
        ("contact-line week", ["contact-line", "--from", first, "--every", "week"]),
        ("contact-line all", ["contact-line", "--from", first]),
        ("contact-line all json", ["contact-line", "--from", first, "--json"]),
        ("corridors ua all", ["corridors", "--side", "ua", "--from", first]),
        ("corridors ru all", ["corridors", "--side", "ru", "--from", first]),
        ("corridors ua week json", ["corridors", "--side", "ua", "--from", first, "--every", "week", "--json"]),
        ("settlements changed all", ["settlements", "changed", *span]),
        ("settlements changed all json", ["settlements", "changed", *span, "--json"]),
    ]


def run_once(args: list[str], store: str) -> tuple[float, float, int, str]:
    """``(wall seconds, CPU seconds (user + system), exit status, stderr)`` of one run, by ``/usr/bin/time``."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%e %U %S", "-o", tf.name, str(FRONTLINE), *args]
        if args != ["--help"]:
            cmd += ["--store", store]
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600)
        wall, user, system = (float(x) for x in tf.read().strip().splitlines()[-1].split())
    return wall, user + system, p.returncode, p.stderr


def stored_said(stderr: str) -> str:
    """What the command said about stored versions (its ``N of M versions read`` line, or a computed note)."""
    for line in stderr.splitlines():
        if "stored results" in line or "none was stored" in line:
            return line.strip()
    return ""


def span_of(store: str) -> tuple[str, str]:
    """The first and last version's days of the store's default source."""
    import sqlite3

    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    lo, hi = con.execute("SELECT MIN(valid_time), MAX(valid_time) FROM versions").fetchone()
    con.close()
    from datetime import UTC, datetime

    return tuple(datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d") for t in (lo, hi))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default="/work/stores/full-ds.gpkg")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default=None, help="Regular expression: only the labels matching it.")
    ap.add_argument("--json", dest="json_out", default=None, help="Also write the results as JSON here.")
    a = ap.parse_args()
    if not Path(a.store).is_file():
        sys.exit(f"No store at {a.store}: import the archive first (frontline import, then frontline recompute).")
    first, last = span_of(a.store)
    load0 = os.getloadavg()
    print(f"store {a.store} ({first} → {last}); load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    # CPU seconds are what a busy machine inflates least: the wall time of a quiet one is close to them
    print(f"{'series':30} {'median_s':>8} {'min_s':>6} {'max_s':>6} {'cpu_s':>6}  bar  stored")
    results = []
    for label, args in commands(first, last):
        if a.only and not re.search(a.only, label):
            continue
        runs = [run_once(args, a.store) for _ in range(a.repeats)]
        walls = [w for w, _, _, _ in runs]
        cpu = statistics.median(c for _, c, _, _ in runs)
        rc, err = runs[-1][2], runs[-1][3]
        med = statistics.median(walls)
        ok = "ok" if rc == 0 and med <= BAR_S else ("FAIL" if rc else "over")
        said = stored_said(err) if rc == 0 else f"exit {rc}: {err.strip().splitlines()[-1] if err.strip() else ''}"
        print(f"{label:30} {med:8.2f} {min(walls):6.2f} {max(walls):6.2f} {cpu:6.2f}  {ok:4} {said}", flush=True)
        results.append(
            {"series": label, "args": args, "walls_s": walls, "median_s": med, "cpu_s": cpu, "exit": rc, "stored": said}
        )
    load1 = os.getloadavg()
    print(f"load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (2 cores; the bar is for a quiet machine)")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"store": a.store, "load": [load0, load1], "results": results}))


if __name__ == "__main__":
    main()
