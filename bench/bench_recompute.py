"""Benchmark: analyses served from the store (``frontline recompute``) against computing them on request.

    .venv/bin/python bench/bench_recompute.py --store /work/stores/h5.gpkg [--versions 15] [--seed 5]
        [--engine-versions 8] [--workers 2] [--scheduler tcp://HOST:PORT]

The store must have been materialised first (``frontline recompute --store …``); it is opened
read-only. For ``--versions`` versions picked at random (seeded), in the same run:

* **on request**: a fresh web app with stored results turned off
  (``$FRONTLINE_STORED_RESULTS=off``) answers, cold, what the page asks for
  per slider step: ``/api/contact-line``, ``/api/corridors?side=S`` for each
  side, ``/api/settlements?zoom=7`` (a settlements answer also needs the
  previous version's statuses);
* **stored**: a fresh app reading the stored results answers the same;
* **recompute**: the time ``frontline recompute`` spends per version (all
  analyses, one worker: :func:`frontline.analysis.materialise.compute_version`,
  nothing written);
* **batch engines**: ``--engine-versions`` versions recomputed (forced, all
  analyses) on a copy of the store in a temporary folder, once on the local
  process pool and once on Dask distributed (``--scheduler``, else a
  ``LocalCluster`` on loopback with as many single-threaded worker processes
  as ``--workers``): both wall times and the cost per version (skipped when
  Dask distributed is not installed, or with ``--engine-versions 0``).

Each app is warmed on another version first (gazetteer, label zooms, borders),
so per-version costs only are compared. Prints medians per endpoint, per
version (all endpoints), the ratio stored / on request, and the size of the
stored results. Requests go through the real app in process (ASGI, no socket).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from frontline.analysis import materialise as m  # noqa: E402
from frontline.store import open_store  # noqa: E402
from frontline.store.results import get_result, stored_count  # noqa: E402
from frontline.web import create_app  # noqa: E402


def _urls(vid: str, sides) -> dict[str, str]:
    out = {"contact-line": f"/api/contact-line?at={vid}"}
    out |= {f"corridors {s}": f"/api/corridors?at={vid}&side={s}" for s in sides}
    out["settlements z7"] = f"/api/settlements?at={vid}&zoom=7"
    return out


def _serve(path: Path, warm_vid: str, vids: list[str], sides, stored: bool) -> dict[str, list[float]]:
    """Cold request times (s) per endpoint over ``vids`` on a fresh app."""
    os.environ["FRONTLINE_STORED_RESULTS"] = "on" if stored else "off"
    times: dict[str, list[float]] = {}
    with TestClient(create_app(path)) as c:
        for u in _urls(warm_vid, sides).values():
            assert c.get(u).status_code == 200, u
        for vid in vids:
            total = 0.0
            for name, u in _urls(vid, sides).items():
                t0 = time.perf_counter()
                r = c.get(u)
                dt = time.perf_counter() - t0
                assert r.status_code == 200, (u, r.text[:200])
                times.setdefault(name, []).append(dt)
                total += dt
            times.setdefault("whole step", []).append(total)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True, help="a store materialised with `frontline recompute`")
    ap.add_argument("--versions", type=int, default=15, help="versions sampled (default 15)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--engine-versions", type=int, default=8, help="versions recomputed per batch engine (0: skip)")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (and LocalCluster workers)")
    ap.add_argument("--scheduler", default=None, help="a Dask scheduler to use instead of a LocalCluster")
    a = ap.parse_args()
    st = open_store(a.store, readonly=True)
    vs = st.versions()
    sides = st.sides
    jobs = m.jobs_for(st)
    n_current = stored_count(st)
    if n_current == 0:
        sys.exit(f"{a.store} holds no stored results: run `frontline recompute --store {a.store}` first.")
    rng = random.Random(a.seed)
    # sampled among the versions whose every result is stored (a run may be measured while recompute goes on)
    full = [
        i for i in range(1, len(vs)) if all(get_result(st, w, p, vs[i], rule=m.RULES[w]) is not None for w, p in jobs)
    ]
    if not full:
        sys.exit(f"no version of {a.store} has every result stored: run `frontline recompute` first.")
    picked = sorted(rng.sample(full, min(a.versions, len(full))))
    vids = [vs[i].version_id for i in picked]
    warm = vs[0].version_id
    print(
        f"store {a.store}: {len(vs)} versions, {n_current} current stored results, {len(full) + 1} versions "
        f"fully stored; {len(vids)} of them sampled (seed {a.seed}): {vs[picked[0]].version_id} … "
        f"{vs[picked[-1]].version_id}"
    )
    computed = _serve(a.store, warm, vids, sides, stored=False)
    stored = _serve(a.store, warm, vids, sides, stored=True)
    os.environ.pop("FRONTLINE_STORED_RESULTS", None)
    rec = []
    for i in picked:
        t0 = time.perf_counter()
        rows, outs = m.compute_version(st, vs[i].source, vs[i].version_id, jobs)
        rec.append(time.perf_counter() - t0)
        assert all(o.status == "computed" for o in outs), [o.reason for o in outs if o.reason]
    print(
        f"\n{'endpoint (cold, per version)':32s} {'on request ms':>14s} {'stored ms':>10s} {'ratio':>7s}"
        f" {'p95 on req':>11s} {'p95 stored':>11s}"
    )
    for name in computed:
        a_, b_ = computed[name], stored[name]
        ma, mb = statistics.median(a_), statistics.median(b_)
        pa = sorted(a_)[max(0, int(round(0.95 * len(a_))) - 1)]
        pb = sorted(b_)[max(0, int(round(0.95 * len(b_))) - 1)]
        print(f"{name:32s} {ma * 1000:14.1f} {mb * 1000:10.1f} {mb / ma:7.3f} {pa * 1000:11.1f} {pb * 1000:11.1f}")
    print(
        f"\nrecompute per version (all analyses, 1 worker): median {statistics.median(rec):.2f} s, "
        f"max {max(rec):.2f} s over {len(rec)} versions"
    )
    size = a.store.stat().st_size
    blob, raw = st.db.execute("SELECT SUM(LENGTH(body)), COUNT(*) FROM analysis_results").fetchone()
    print(
        f"store file {size / 2**20:,.1f} MiB; analysis_results: {raw} rows, {blob / 2**20:,.1f} MiB of "
        f"bodies as stored ({blob / max(raw, 1) / 1024:,.1f} KiB a row)"
    )
    if a.engine_versions > 0:
        _engines(a.store, [vs[i] for i in picked][: a.engine_versions], a.workers, a.scheduler)


def _engines(path: Path, versions: list, workers: int, scheduler: str | None) -> None:
    """Recompute ``versions`` on a copy of the store with the local pool, then on Dask; print both times."""
    import logging
    import sqlite3
    import tempfile

    try:
        import distributed
    except ImportError:
        print("\nbatch engines: Dask distributed is not installed (pip install 'frontline[cluster]'): skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "engines.gpkg"
        src, dst = sqlite3.connect(f"file:{path}?mode=ro", uri=True), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
        st = open_store(copy)
        ids = [v.version_id for v in versions]
        versions = [v for v in st.versions() if v.version_id in ids]

        def run(label: str, **kw) -> None:
            t0 = time.perf_counter()
            rep = m.materialise(st, versions, workers=workers, progress=False, force=True, **kw)
            dt = time.perf_counter() - t0
            assert not rep.failed, [o.reason for o in rep.failed]
            print(
                f"{label:34s} {dt:8.1f} s wall, {dt / len(versions):6.2f} s a version "
                f"({len(versions)} versions, {rep.workers} workers)"
            )

        print("\nbatch engines (all analyses, forced, on a copy of the store):")
        run(f"local process pool ({workers})")
        if scheduler:
            run(f"dask {scheduler}", scheduler=scheduler)
        else:
            with distributed.LocalCluster(
                n_workers=workers,
                processes=True,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster:
                run(f"dask LocalCluster ({workers} processes)", scheduler=cluster.scheduler_address)
        st.close()


if __name__ == "__main__":
    main()
