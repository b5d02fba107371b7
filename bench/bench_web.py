"""Web benchmark: state-at-time responses, slider steps and first page load, with a baseline.

Run: .venv/bin/python bench/bench_web.py [--store PATH] [--n 120] [--zooms 6,9] [--steps 40]
                                          [--loads 5] [--no-http] [--screenshot docs/screenshot.png]

On the full DeepState archive store (``/tmp/full.gpkg`` when present, else
``--store``; with neither, the demo store is built and used, and that is
said). A real uvicorn server runs in a child process on loopback; an httpx
client asks for the state of ``n`` random versions at each zoom: the first
pass is cold (nothing computed yet), the second warm. The baseline is a naive
endpoint computed in this process for a subset of the same versions: read
the version's raw features, union them per side and status, simplify, dump
JSON (no partition pieces, no cache). Browser numbers come from Debian
chromium driven by Playwright: first page load (navigation start to the map's
first 'idle' with the version drawn, fresh browser context each time), and
the same with the HTTP cache warm (a second page in the same browser context:
the immutable version answers and the scripts come from the cache), the
page's own marks of the first load (``window.frontline.marks``: script run,
MapLibre 'load', versions, state fetched, ground drawn; medians), and
slider steps (``setTime`` to the next version: time until the new held ground
is drawn, i.e. the state source loaded and a frame rendered, and until the
map is idle with arrows and units too; the analysis layers load after that),
stepped at a user's pace (0.4 s between steps, the page prefetches the
neighbours meanwhile) and as random jumps. Bars (issue 4): state p95 ≤ 100 ms warm, slider
step p95 ≤ 200 ms, first load ≤ 2 s.

``--screenshot PATH`` instead writes the README screenshot: the demo store,
1280×800, at the narrowest corridor with its width label.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FULL = Path("/tmp/full.gpkg")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):7.1f} ms   p95 {p95(xs):7.1f} ms   (n={len(xs)})"


def start_server(path: Path) -> tuple[str, subprocess.Popen]:
    """uvicorn in a child process (its own GIL), warmed at start as `frontline serve` does."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = ("import uvicorn; from frontline.web import create_app; "
            f"uvicorn.run(create_app({str(path)!r}, warm=True), host='127.0.0.1', port={port}, log_level='warning')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            if httpx.get(base + "/api/versions", timeout=2).status_code == 200:
                return base, proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the server did not start within 60 s")


def naive_state(store, v) -> bytes:
    """Baseline: what a naive endpoint does per request (raw features, unions, simplify, json)."""
    import shapely
    from shapely.geometry import mapping

    feats = store.features_at(v)
    groups: dict[tuple, list] = {}
    for f in feats:
        if f.kind == "area" and f.role in ("held", "contested") and f.geometry is not None:
            groups.setdefault((f.role, f.side), []).append(f.geometry)
    out = []
    for (role, side), gs in groups.items():
        g = shapely.simplify(shapely.union_all(gs), 0.5 * 360 / (512 * 2 ** 6), preserve_topology=True)
        out.append({"type": "Feature", "properties": {"status": role, "side": side}, "geometry": mapping(g)})
    return json.dumps({"type": "FeatureCollection", "features": out}).encode()


def bench_http(base: str, store_path: Path, n: int, zooms: list[int], n_naive: int) -> dict:
    import httpx

    from frontline.store import open_store

    out = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        vs = c.get("/api/versions").json()["versions"]
        rng = random.Random(0)
        pick = rng.sample(vs, min(n, len(vs)))
        for z in zooms:
            passes = []
            for _ in ("cold", "warm"):
                lat, size = [], 0
                order = pick[:]
                rng.shuffle(order)
                for v in order:
                    t = time.perf_counter()
                    r = c.get("/api/state", params={"at": v["id"], "zoom": z})
                    lat.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, r.text[:200]
                    size += len(r.content)
                passes.append((lat, size / len(order)))
            out[z] = passes
    st = open_store(store_path, readonly=True)
    byid = {v.version_id: v for v in st.versions()}
    naive = []
    for v in pick[:n_naive]:
        t = time.perf_counter()
        naive_state(st, byid[v["id"]])
        naive.append((time.perf_counter() - t) * 1000)
    st.close()
    out["naive"] = naive
    out["n_versions"] = len(vs)
    return out


def bench_browser(base: str, loads: int, steps: int, jumps: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"loads": [], "loads_warm": [], "marks": [], "steps": [], "steps_idle": [], "jumps": [],
           "jumps_idle": []}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for _ in range(loads):
            ctx = b.new_context(viewport={"width": 1280, "height": 800})  # empty browser cache each time
            pg = ctx.new_page()
            pg.goto(base + "/")
            pg.wait_for_function("document.body.dataset.firstIdleMs !== undefined", timeout=60000)
            out["loads"].append(float(pg.evaluate("document.body.dataset.firstIdleMs")))
            out["marks"].append(pg.evaluate("(window.frontline && window.frontline.marks) || {}"))
            pg.wait_for_timeout(1500)  # the analysis layers and the chart finish loading into the cache
            pg2 = ctx.new_page()  # same context: the HTTP cache is warm
            pg2.goto(base + "/")
            pg2.wait_for_function("document.body.dataset.firstIdleMs !== undefined", timeout=60000)
            out["loads_warm"].append(float(pg2.evaluate("document.body.dataset.firstIdleMs")))
            ctx.close()
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        pg = ctx.new_page()
        pg.goto(base + "/")
        pg.wait_for_function("document.body.dataset.firstIdleMs !== undefined", timeout=60000)
        ids = pg.evaluate("window.frontline.versions().map(v => v.id)")
        rng = random.Random(1)
        i0 = rng.randrange(0, max(1, len(ids) - steps - 1))
        pg.evaluate(f"window.frontline.setTime('{ids[i0]}')")
        # setTime resolves when the map is idle; frontline.timing holds the time to the new held ground
        # drawn (state source loaded and a frame rendered) and to idle (points and labels too)
        step = "async (id) => { await window.frontline.setTime(id); const t = window.frontline.timing; " \
               "return [t.drawn, t.idle]; }"
        for k in range(1, steps + 1):
            pg.wait_for_timeout(400)  # a user looks at the map between steps
            d, i = pg.evaluate(step, ids[min(len(ids) - 1, i0 + k)])
            out["steps"].append(d)
            out["steps_idle"].append(i)
        for j in rng.sample(range(len(ids)), min(jumps, len(ids))):
            d, i = pg.evaluate(step, ids[j])
            out["jumps"].append(d)
            out["jumps_idle"].append(i)
        ctx.close()
        b.close()
    return out


def screenshot(path: Path) -> None:
    """The README picture: the demo at its narrowest corridor, width label drawn, 1280×800."""
    import httpx
    from playwright.sync_api import sync_playwright

    from frontline.demo import build_demo_store

    tmp = Path(tempfile.mkdtemp(prefix="frontline-shot-"))
    build_demo_store(tmp / "demo.gpkg").close()
    base, proc = start_server(tmp / "demo.gpkg")
    try:
        vs = httpx.get(base + "/api/versions").json()["versions"]
        best = None
        for v in vs:
            for f in httpx.get(base + "/api/corridors", params={"at": v["id"]}, timeout=60).json()["features"]:
                if f["properties"]["kind"] == "neck" and (best is None or f["properties"]["width_m"] < best[1]):
                    best = (v["id"], f["properties"]["width_m"], f["geometry"]["coordinates"])
        vid, width, seg = best
        sx = [c[0] for c in seg]
        sy = [c[1] for c in seg]
        lon, lat = sum(sx) / len(sx) + 0.02, sum(sy) / len(sy) - 0.005
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            pg = b.new_page(viewport={"width": 1280, "height": 800})
            pg.goto(f"{base}/#t={vid}&z=10.6&lon={lon:.4f}&lat={lat:.4f}"
                    "&layers=ua-held,ru-held,contested,contact,corridors,settlements,directions,units,roads")
            pg.wait_for_function("document.body.dataset.layers !== undefined", timeout=60000)
            pg.wait_for_timeout(500)
            path.parent.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(path))
            b.close()
        print(f"screenshot: {path} (version {vid}, neck {width:,.0f} m)")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=None, help="store to serve (default /tmp/full.gpkg, else demo)")
    ap.add_argument("--n", type=int, default=120, help="random versions per pass")
    ap.add_argument("--zooms", default="6,9", help="zoom levels asked for (the page opens at 6)")
    ap.add_argument("--naive", type=int, default=20, help="versions for the naive baseline")
    ap.add_argument("--steps", type=int, default=40, help="slider steps in the browser")
    ap.add_argument("--jumps", type=int, default=15, help="cold random jumps in the browser")
    ap.add_argument("--loads", type=int, default=5, help="first page loads")
    ap.add_argument("--no-http", action="store_true", help="browser numbers only (skip the HTTP passes)")
    ap.add_argument("--screenshot", type=Path, default=None, help="only write the README screenshot here")
    a = ap.parse_args()
    if a.screenshot:
        screenshot(a.screenshot)
        return
    store = a.store or (FULL if FULL.is_file() else None)
    if store is None:
        from frontline.demo import build_demo_store

        print(f"{FULL} is absent (import the DeepState archive there for the real benchmark): using the demo store")
        store = Path(tempfile.mkdtemp(prefix="frontline-bench-")) / "demo.gpkg"
        build_demo_store(store).close()
    print(f"store: {store} ({store.stat().st_size / 2 ** 20:,.0f} MiB); machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    base, proc = start_server(store)
    try:
        zooms = [int(z) for z in a.zooms.split(",")]
        if a.no_http:
            import httpx

            vs = httpx.get(base + "/api/versions").json()["versions"]
            for z in zooms:  # the page's first answers, as the HTTP passes would have left them
                httpx.get(base + "/api/state", params={"at": vs[-1]["id"], "zoom": z}, timeout=60)
        else:
            h = bench_http(base, store, a.n, zooms, a.naive)
            print(f"\nGET /api/state at {a.n} random versions of {h['n_versions']} (real uvicorn, httpx, loopback)")
            for z in zooms:
                (cold, size), (warm, _) = h[z]
                print(f"  zoom {z:>2}  cold (first pass)  {stats(cold)}   ~{size / 1024:,.0f} KiB")
                print(f"  zoom {z:>2}  warm (second pass) {stats(warm)}   bar p95 ≤ 100 ms: "
                      f"{'PASS' if p95(warm) <= 100 else 'FAIL'}")
                print(f"  zoom {z:>2}  cold / warm median ratio "
                      f"×{statistics.median(cold) / statistics.median(warm):,.0f}")
            nv = h["naive"]
            (_, _), (warm6, _) = h[zooms[0]]
            print(f"  baseline: naive endpoint (raw features, union, simplify, json; in-process) {stats(nv)}")
            print(f"  naive / warm median ratio ×{statistics.median(nv) / statistics.median(warm6):,.0f}; "
                  f"naive / cold ×{statistics.median(nv) / statistics.median(h[zooms[0]][0][0]):,.1f}")
        br = bench_browser(base, a.loads, a.steps, a.jumps)
        print(f"\nBrowser (Debian chromium, headless, software GL; flags {' '.join(ARGS)})")
        print(f"  first page load to map idle, cold HTTP cache {stats(br['loads'])}   bar ≤ 2000 ms: "
              f"{'PASS' if max(br['loads']) <= 2000 else 'FAIL'}")
        print(f"  first page load to map idle, warm HTTP cache {stats(br['loads_warm'])}")
        keys = [k for k in (br["marks"][0] if br["marks"] else {})]
        if keys:
            print("  first load marks (median ms from navigation start): " + ", ".join(
                f"{k} {statistics.median(m.get(k, float('nan')) for m in br['marks']):.0f}" for k in keys))
        print(f"  slider step, held ground drawn  {stats(br['steps'])}   bar p95 ≤ 200 ms: "
              f"{'PASS' if p95(br['steps']) <= 200 else 'FAIL'}")
        print(f"  slider step, map idle           {stats(br['steps_idle'])}   (points, labels too)")
        print(f"  random jump, held ground drawn  {stats(br['jumps'])}   (no prefetch)")
        print(f"  random jump, map idle           {stats(br['jumps_idle'])}")
    finally:
        proc.terminate()
        proc.wait(10)

if __name__ == "__main__":
    main()
