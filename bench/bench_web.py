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
neighbours meanwhile) and as random jumps, each also until the whole map is
idle (settlements, contact line, corridors and points drawn: ``timing.all``).
Bars (issue 4): state p95 ≤ 100 ms warm, slider step p95 ≤ 200 ms, first
load ≤ 2 s; (issue 12) whole map idle per step p95 ≤ 500 ms, random jump p95 ≤ 1 s.

Settlements (issue 12): ``/api/settlements`` at the page's zoom for random
versions, cold and warm, against the baseline of the old path measured in
this process (the control map cut to the places' box, then
``status_codes``), checked to give the same statuses. Contention: the cold
state of a version asked while analyses of other versions (contact line,
corridors, settlements, changes, the monthly front-length series) are being
computed, against the same kind of cold state asked alone.

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


def bench_settlements(base: str, store_path: Path, n: int, n_baseline: int) -> dict:
    """``/api/settlements`` cold and warm at random versions; the old path (cut map + status_codes) as baseline."""
    import httpx
    import numpy as np
    import shapely

    from frontline.analysis.settlements import status_codes
    from frontline.web.app import _Service

    out: dict = {"cold": [], "warm": [], "baseline": [], "same": 0, "checked": 0}
    with httpx.Client(base_url=base, timeout=120) as c:
        vs = c.get("/api/versions").json()["versions"]
        first = c.get("/api/settlements", params={"at": vs[-1]["id"], "zoom": 7}).json()
        if not first.get("features") and first.get("note"):
            out["note"] = first["note"]
            return out
        pick = random.Random(2).sample(vs, min(n, len(vs)))
        for rnd in ("cold", "warm"):
            for v in pick:
                t = time.perf_counter()
                r = c.get("/api/settlements", params={"at": v["id"], "zoom": 7})
                out[rnd].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text[:200]
        out["n_places"] = len(first["features"])
        svc = _Service(store_path, analyses=False)
        gaz = svc.reference("settlements")
        out["n_gazetteer"] = len(gaz.lon)
        lon, lat = np.asarray(gaz.lon, float), np.asarray(gaz.lat, float)
        byid = {v.version_id: v for v in svc.versions()}
        for v in pick[:n_baseline]:
            sv = byid[v["id"]]
            t = time.perf_counter()
            cm = svc.local_map(sv, (lon.min() - 0.05, lat.min() - 0.05, lon.max() + 0.05, lat.max() + 0.05))
            codes, labels = status_codes((lon, lat), cm)
            out["baseline"].append((time.perf_counter() - t) * 1000)
            old = dict(zip(np.asarray(gaz.ids).tolist(), np.array(labels, dtype=object)[codes].tolist()))
            fc = c.get("/api/settlements", params={"at": v["id"], "limit": 20000}).json()  # every place
            out["checked"] += len(fc["features"])
            out["same"] += sum(old[f["properties"]["id"]] == f["properties"]["status"] for f in fc["features"])
    return out


def bench_contention(base: str, n: int) -> dict:
    """Cold ``/api/state`` alone, and while analyses of other versions are being computed."""
    import threading

    import httpx

    out: dict = {"alone": [], "busy": [], "analysis": []}
    with httpx.Client(base_url=base, timeout=300) as c:
        vs = c.get("/api/versions").json()["versions"]
    rng = random.Random(3)
    pool = rng.sample(range(1, len(vs)), min(len(vs) - 1, 4 * n))
    for k in range(n):
        i_alone, i_busy, i_an = pool[4 * k], pool[4 * k + 1], pool[4 * k + 2]
        with httpx.Client(base_url=base, timeout=300) as c:
            t = time.perf_counter()
            c.get("/api/state", params={"at": vs[i_alone]["id"], "zoom": 6})
            out["alone"].append((time.perf_counter() - t) * 1000)
        a, b = vs[i_an - 1]["id"], vs[i_an]["id"]
        urls = [("/api/contact-line", {"at": b}), ("/api/corridors", {"at": b, "ground": "held"}),
                ("/api/settlements", {"at": b, "zoom": 7}), ("/api/change", {"from": a, "to": b, "top": 8})]
        if k == 0:
            urls.append(("/api/contact-line/series", {"every": "month"}))
        done: list[float] = []

        def fire(u, p):
            with httpx.Client(base_url=base, timeout=600) as c2:
                t0 = time.perf_counter()
                c2.get(u, params=p)
                done.append((time.perf_counter() - t0) * 1000)

        th = [threading.Thread(target=fire, args=up) for up in urls]
        for x in th:
            x.start()
        time.sleep(0.05)  # the analyses are under way
        with httpx.Client(base_url=base, timeout=300) as c:
            t = time.perf_counter()
            c.get("/api/state", params={"at": vs[i_busy]["id"], "zoom": 6})
            out["busy"].append((time.perf_counter() - t) * 1000)
        for x in th:
            x.join()
        out["analysis"].append(max(done))
    return out


def bench_browser(base: str, loads: int, steps: int, jumps: int) -> dict:
    from playwright.sync_api import sync_playwright

    out = {"loads": [], "loads_warm": [], "marks": [], "steps": [], "steps_idle": [], "steps_all": [], "jumps": [],
           "jumps_idle": [], "jumps_all": []}
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
        # drawn (state source loaded and a frame rendered), to idle (points and labels too), and to the
        # whole map idle (every shown analysis layer loaded and drawn: extras() resolves then)
        step = "async (id) => { await window.frontline.setTime(id); await window.frontline.extras(); " \
               "const t = window.frontline.timing; return [t.drawn, t.idle, t.all]; }"
        for k in range(1, steps + 1):
            pg.wait_for_timeout(400)  # a user looks at the map between steps
            d, i, a = pg.evaluate(step, ids[min(len(ids) - 1, i0 + k)])
            out["steps"].append(d)
            out["steps_idle"].append(i)
            out["steps_all"].append(a)
        for j in rng.sample(range(len(ids)), min(jumps, len(ids))):
            d, i, a = pg.evaluate(step, ids[j])
            out["jumps"].append(d)
            out["jumps_idle"].append(i)
            out["jumps_all"].append(a)
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
    ap.add_argument("--settlements", type=int, default=30, help="random versions for /api/settlements (0: skip)")
    ap.add_argument("--baseline", type=int, default=3, help="versions for the old settlements path (slow)")
    ap.add_argument("--contention", type=int, default=5, help="state-under-analyses rounds (0: skip)")
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
        if a.settlements:
            se = bench_settlements(base, store, a.settlements, a.baseline)
            print(f"\nGET /api/settlements?zoom=7 at {a.settlements} random versions")
            if "note" in se:
                print(f"  skipped: {se['note']}")
            else:
                print(f"  gazetteer {se['n_gazetteer']:,} places; {se['n_places']:,} sent at zoom 7 (whole theatre)")
                print(f"  cold (first pass)  {stats(se['cold'])}   bar ≤ a few hundred ms")
                print(f"  warm (second pass) {stats(se['warm'])}   bar p95 < 100 ms: "
                      f"{'PASS' if p95(se['warm']) < 100 else 'FAIL'}")
                if se["baseline"]:
                    print(f"  baseline: old path (map cut to the places' box + status_codes, in-process) "
                          f"{stats(se['baseline'])}")
                    print(f"  baseline / cold median ratio ×{statistics.median(se['baseline']) / statistics.median(se['cold']):,.0f}; "
                          f"same status for {se['same']:,} of {se['checked']:,} places")
        if a.contention:
            co = bench_contention(base, a.contention)
            print(f"\nCold /api/state while analyses of other versions run ({a.contention} rounds; the first with "
                  "the monthly front-length series)")
            print(f"  alone (baseline)        {stats(co['alone'])}")
            print(f"  with analyses running   {stats(co['busy'])}   ratio to alone ×"
                  f"{statistics.median(co['busy']) / statistics.median(co['alone']):.1f}")
            print(f"  the analyses took       {stats(co['analysis'])}")
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
        print(f"  slider step, whole map idle     {stats(br['steps_all'])}   bar p95 ≤ 500 ms: "
              f"{'PASS' if p95(br['steps_all']) <= 500 else 'FAIL'}   (settlements, contact line, corridors too)")
        print(f"  random jump, held ground drawn  {stats(br['jumps'])}   (no prefetch)")
        print(f"  random jump, map idle           {stats(br['jumps_idle'])}")
        print(f"  random jump, whole map idle     {stats(br['jumps_all'])}   bar p95 ≤ 1000 ms: "
              f"{'PASS' if p95(br['jumps_all']) <= 1000 else 'FAIL'}")
        print(f"  whole map idle / held ground drawn, median ratio: steps ×"
              f"{statistics.median(br['steps_all']) / statistics.median(br['steps']):.1f}, jumps ×"
              f"{statistics.median(br['jumps_all']) / statistics.median(br['jumps']):.1f}")
    finally:
        proc.terminate()
        proc.wait(10)

if __name__ == "__main__":
    main()
