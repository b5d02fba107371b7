"""Wire benchmark: ``/api/state`` bytes on the wire and latency, now against the old answer, and layer areas.

Run: .venv/bin/python bench/bench_wire.py [--store PATH] [--n 20] [--zooms 6,8,10] [--area-versions 5]

On ``--store`` (default the full archive store ``/work/stores/ds.gpkg``). A
real uvicorn server runs in a child process (``bench_web.start_server``,
warmed as ``frontline serve`` is); for ``n`` random versions (the warmed
latest left out) at each zoom an httpx client asks for the state

* now: ``Accept-Encoding: gzip`` as a browser sends it (bytes counted as
  downloaded: compressed), and once more with ``br``;
* the old answer: ``_legacy=1`` (each layer simplified on its own, water
  holes kept) with ``Accept-Encoding: identity`` (the old server never
  compressed).

Cold: the first request of a (version, zoom, way); at the first zoom the two
ways take turns going first, so each pays the partition build on half the
versions. Warm: the same request again (the ready body, and now its kept
compressed form). Prints medians and the ratio old bytes / new bytes (bar:
≥ 3× at the same zoom).

Areas: for ``--area-versions`` versions (2025-03-06 among them when in the
store), in this process, the geodesic area (pyproj, WGS84) of each layer at
zoom 6 and 9 against full detail: the old answer, the new one, and the new
one against full detail with its water holes filled (what the page draws:
lakes are painted over it), i.e. the simplification's own error.

Also: what Starlette's GZipMiddleware would cost on the largest answer
(level 9, every request) against the kept compressed body.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_web import start_server  # noqa: E402

STORE = Path("/work/stores/ds.gpkg")


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _get(client, base: str, vid: str, zoom: int, legacy: bool, coding: str) -> tuple[float, int, int]:
    """``(ms, bytes on the wire, bytes decoded)`` of one state request."""
    params = {"at": vid, "zoom": zoom, **({"_legacy": 1} if legacy else {})}
    t = time.perf_counter()
    r = client.get(base + "/api/state", params=params, headers={"Accept-Encoding": coding})
    body = r.content
    ms = (time.perf_counter() - t) * 1000
    if r.status_code != 200:
        raise SystemExit(f"/api/state?at={vid}&zoom={zoom} answered {r.status_code}: {r.text[:200]}")
    return ms, r.num_bytes_downloaded, len(body)


def wire(base: str, vids: list[str], zooms: list[int]) -> list[dict]:
    """Per zoom: bytes and latencies, now (gzip, br) and old (identity, per-layer)."""
    import httpx

    rows = []
    with httpx.Client(timeout=120) as client:
        for zi, z in enumerate(zooms):
            cold = {"new": [], "old": []}
            warm = {"new": [], "old": []}
            size = {"new": [], "old": [], "br": [], "new_raw": []}
            for i, vid in enumerate(vids):
                order = ("new", "old") if (i + zi) % 2 == 0 else ("old", "new")
                for k, way in enumerate(order):
                    ms, n, raw = _get(client, base, vid, z, way == "old", "identity" if way == "old" else "gzip")
                    if k == 0:  # only the first of the two pays what they share (partition, layers)
                        cold[way].append(ms)
                    size[way].append(n)
                    if way == "new":
                        size["new_raw"].append(raw)
                for way in ("new", "old"):
                    ms, _, _ = _get(client, base, vid, z, way == "old", "identity" if way == "old" else "gzip")
                    warm[way].append(ms)
                size["br"].append(_get(client, base, vid, z, False, "br")[1])
            rows.append({"zoom": z, "cold": cold, "warm": warm, "size": size})
    return rows


def print_wire(rows: list[dict], n: int) -> None:
    print(f"\n/api/state on the wire, {n} random versions (medians; KB = 1000 bytes)")
    head = (
        "zoom  old KB (identity)  new KB gzip  new KB br  new KB raw  ratio old/gzip  "
        "cold old ms  cold new ms  warm old ms  warm new ms"
    )
    print(head)
    for r in rows:
        s = r["size"]
        old, new = med(s["old"]), med(s["new"])
        ratios = [o / g for o, g in zip(s["old"], s["new"])]
        print(
            f"{r['zoom']:>4}  {old / 1e3:17.1f}  {new / 1e3:11.1f}  {med(s['br']) / 1e3:9.1f}  "
            f"{med(s['new_raw']) / 1e3:10.1f}  {med(ratios):8.2f} (min {min(ratios):.2f})  "
            f"{med(r['cold']['old']):11.0f}  {med(r['cold']['new']):11.0f}  "
            f"{med(r['warm']['old']):11.1f}  {med(r['warm']['new']):11.1f}"
        )


def areas(store: Path, k: int, seed: int) -> None:
    """Geodesic area of each layer at zoom 6 and 9 against full detail (relative difference, worst of k)."""
    import shapely
    from pyproj import Geod
    from shapely.geometry import shape

    from frontline.web.geojson import fill_water_holes
    from frontline.web.service import Service

    geod = Geod(ellps="WGS84")

    def km2(g) -> float:
        if g is None or g.is_empty:
            return 0.0
        # rings oriented first: a simplified coverage may mix orientations, whose signed areas would cancel
        return abs(geod.geometry_area_perimeter(shapely.orient_polygons(g))[0]) / 1e6

    def layers(body: bytes) -> dict:
        return {
            (f["properties"]["status"], f["properties"]["side"]): shape(f["geometry"])
            for f in json.loads(body)["features"]
        }

    svc = Service(store, analyses=False)
    vs = svc.versions()
    rng = random.Random(seed + 1)
    pick = rng.sample(vs, min(k, len(vs)))
    try:
        pick[0] = svc.resolve("2025-03-06")[0]
    except Exception:  # noqa: BLE001 - a store without that date: random versions only
        pass
    print(f"\nLayer areas vs full detail, {len(pick)} versions: worst relative difference (geodesic km²)")
    print("zoom  layer          full km² (median)  old        new        new vs full+lakes filled  lakes filled")
    for z in (6, 9):
        worst: dict = {}
        for v in pick:
            full = {(st, sd): g for st, sd, g in svc.layers(v) if g is not None and not g.is_empty}
            filled = dict(zip(full, fill_water_holes(list(full.values()), svc.land())))
            old = layers(svc._state_body(v, z, None, True))
            new = layers(svc._state_body(v, z, None))
            for key, g in full.items():
                a = km2(g)
                if a < 1.0:
                    continue
                af = km2(filled[key])
                row = worst.setdefault(key, {"full": [], "old": 0.0, "new": 0.0, "sim": 0.0, "fill": 0.0})
                row["full"].append(a)
                for name, got, ref in (("old", old, a), ("new", new, a), ("sim", new, af)):
                    d = (km2(got.get(key, shapely.Polygon())) - ref) / ref
                    row[name] = max(row[name], d, key=abs)
                row["fill"] = max(row["fill"], (af - a) / a)
        for key, row in worst.items():
            label = f"{key[0]} {key[1] or ''}".strip()
            print(
                f"{z:>4}  {label:<13}  {med(row['full']):17.0f}  {row['old']:+9.4%}  {row['new']:+9.4%}  "
                f"{row['sim']:+24.4%}  {row['fill']:+.4%}"
            )


def middleware_cost(store: Path) -> None:
    """GZipMiddleware (level 9, compressing every answer) vs the kept compressed body, on the largest answer."""
    from frontline.web import responses
    from frontline.web.service import Service

    svc = Service(store, analyses=False)
    v = svc.versions()[-1]
    body = svc.state_body(v, None)
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        gzip.compress(body, 9)
        ts.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    responses.encoded(body, "gzip")
    first = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    responses.encoded(body, "gzip")
    again = (time.perf_counter() - t) * 1000
    print(
        f"\nFull-detail state, {len(body) / 1e3:.0f} KB: GZipMiddleware (level 9) {med(ts):.1f} ms per request; "
        f"kept gzip (level 6) {first:.1f} ms once, then {again:.3f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=STORE)
    ap.add_argument("--n", type=int, default=20, help="random versions per zoom")
    ap.add_argument("--zooms", default="6,8,10")
    ap.add_argument("--area-versions", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if not a.store.exists():
        raise SystemExit(f"{a.store}: no such store (give --store)")
    zooms = [int(z) for z in a.zooms.split(",")]
    from frontline.store import open_store

    st = open_store(a.store, readonly=True)
    vids = [v.version_id for v in st.versions()[:-1]]  # the latest is warmed at start: not cold
    st.close()
    vids = random.Random(a.seed).sample(vids, min(a.n, len(vids)))
    print(f"store {a.store}: {len(vids)} versions, zooms {zooms}")
    base, proc = start_server(a.store)
    try:
        print_wire(wire(base, vids, zooms), len(vids))
    finally:
        proc.terminate()
        proc.wait(10)
    areas(a.store, a.area_versions, a.seed)
    middleware_cost(a.store)


if __name__ == "__main__":
    main()
