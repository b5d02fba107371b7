"""Benchmark: re-verify 10,000 claims against the full archive store (bar: ≤ 10 s).

    .venv/bin/python bench/bench_claims.py [--store /tmp/full.gpkg] [--n 10000] [--repeats 3] [--sample 2]

The store is opened read-only for ``verify_claims``; for ``verify_all`` (which writes the ledger) it is
copied to a temporary file first. Claims are generated: settlement claims at random points along the
front (taken/lost by either side, times spread over the archive) plus 1 % numeric share claims.
The naive baseline (per claim: ``state_at`` + ``settlement_status`` on the versions it needs — here only
the version at the claim time, at the window end and the latest, a lower bound of the real naive cost)
is measured on a small sample in the same run and extrapolated to n claims, labelled as such.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_claims(store, n, seed=0):
    from frontline.sources.claims import parse_claim
    from frontline.state import state_at

    rng = np.random.default_rng(seed)
    vs = store.versions()
    t_lo, t_hi = vs[0].valid_time, vs[-1].valid_time
    # points near the front: vertices of the contested and abroad ground of the latest map, jittered
    cm, _ = state_at(store)
    import shapely

    ring = shapely.get_coordinates(shapely.boundary(cm.control.abroad("ru")))
    pick = ring[rng.integers(0, len(ring), n)]
    pick = pick + rng.normal(0, 0.05, pick.shape)
    out = []
    for i in range(n):
        t = int(rng.integers(t_lo, t_hi))
        if i % 100 == 99:
            out.append(
                parse_claim(
                    {
                        "claimant": "bench",
                        "time": t,
                        "metric": "share_lost",
                        "side": "ua",
                        "region": "russia",
                        "value": f"{rng.integers(10, 90)}%",
                    }
                )
            )
        else:
            out.append(
                parse_claim(
                    {
                        "claimant": "bench",
                        "time": t,
                        "lon": float(pick[i, 0]),
                        "lat": float(pick[i, 1]),
                        "side": ["ru", "ua"][i % 2],
                        "change": ["taken", "lost"][(i // 2) % 2],
                    }
                )
            )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/full.gpkg")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=2)
    ap.add_argument("--skip-verify-all", action="store_true")
    a = ap.parse_args()

    from frontline.analysis.claims import verify_all, verify_claims
    from frontline.analysis.settlements import settlement_status
    from frontline.state import state_at
    from frontline.store import ledger, open_store, theatre_of

    st = open_store(a.store, readonly=True)
    nv = len(st.versions())
    _ = theatre_of(st).tiled  # the theatre's tiling is built once per process (shared by every analysis)
    claims = make_claims(st, a.n)
    print(f"store {a.store}: {nv} versions; {len(claims)} claims ({sum(c.kind == 'numeric' for c in claims)} numeric)")
    times = []
    for r in range(a.repeats):
        t = time.perf_counter()
        res = verify_claims(st, claims, window_days=14, resolutions=[None] * len(claims))
        times.append(time.perf_counter() - t)
        print(f"  verify_claims run {r + 1}: {times[-1]:.2f} s")
    med = statistics.median(times)
    counts = {}
    for x in res:
        counts[x["status"]] = counts.get(x["status"], 0) + 1
    print(f"verify_claims: median {med:.2f} s over {a.repeats} runs for {len(claims)} claims; statuses {counts}")

    # naive baseline on a sample: per claim, state_at + point-in-polygon on 3 versions (a lower bound)
    rng = np.random.default_rng(1)
    sample = [
        claims[i]
        for i in rng.choice([i for i, c in enumerate(claims) if c.kind == "settlement"], a.sample, replace=False)
    ]
    t = time.perf_counter()
    for c in sample:
        for at in (c.published_at, c.published_at + 14 * 86400, None):
            try:
                cm, _ = state_at(st, at)
            except ValueError:
                continue
            settlement_status([(c.lon, c.lat)], cm)
    naive = (time.perf_counter() - t) / len(sample)
    print(
        f"naive baseline: {naive:.2f} s per claim measured on {len(sample)} claims; "
        f"EXTRAPOLATED to {len(claims)} claims: {naive * len(claims):,.0f} s "
        f"(ratio {naive * len(claims) / med:,.0f}x)"
    )

    if not a.skip_verify_all:
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "full-copy.gpkg"
            shutil.copy(a.store, p)
            w = open_store(p)
            ledger.add_claims(w, claims)
            t = time.perf_counter()
            ch = verify_all(w, window_days=14)
            t1 = time.perf_counter() - t
            t = time.perf_counter()
            ch2 = verify_all(w, window_days=14)
            t2 = time.perf_counter() - t
            print(
                f"verify_all (ledger read + verify + statuses/history written): first {t1:.2f} s "
                f"({len(ch)} changes), again {t2:.2f} s ({len(ch2)} changes)"
            )
            w.close()
    print(f"bar: re-verify {len(claims)} claims ≤ 10 s — {'PASS' if med <= 10 else 'FAIL'} ({med:.2f} s)")


if __name__ == "__main__":
    main()
