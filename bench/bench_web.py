"""Web benchmark: state-at-time responses, slider steps and first page load, with a baseline.

Run: .venv/bin/python bench/bench_web.py [--store PATH] [--n 120] [--zooms 6,9] [--steps 40]
                                          [--loads 5] [--no-http] [--materialised COPY]
                                          [--page-baseline OLD_APP_JS] [--screenshot docs/screenshot.png]

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
slider steps (``setTime`` to the next version), stepped at a user's pace
(0.4 s between steps; the page prefetches the neighbours meanwhile) and as
cold random jumps, each timed three ways by the page (``frontline.timing``):
the new held ground drawn (its tiles reloaded with the new data and a frame
rendered: MapLibre's early 'metadata' event, when the old tiles still show,
is not counted), the map idle, and the whole map idle (every shown layer,
settlements, contact line, corridors, points, holds this version's answer
and MapLibre is idle: ``timing.all``); ``frontline.shown()`` is checked to
name the new version for every source after each move. ``timing.set`` says
when each answer was handed to the map (where the time goes).
``--materialised COPY`` then copies the store to COPY (once), runs
``frontline recompute`` there for the versions the browser visits, and runs
the cold analyses and the browser part twice on it, with stored results off
(``$FRONTLINE_STORED_RESULTS=off``: computed on request) and on.
``--page-baseline APP_JS`` repeats each browser pass's steps and jumps with
that script as the page's (an earlier one-file app.js, served in place of the
entry module ``static/js/main.js``; or a folder: every ``/static/`` file is
served from it, e.g. an earlier commit's ``frontline/web/static``), on a
fresh server over the same store, and prints the ratios of its held ground
drawn and whole-map idle to this page's. Each move also says where its time
went: when each answer was handed to the map, when each source's tiles were
cut again, and how many frames were drawn and how long the main thread was
held by long tasks (a frame costs 100–400 ms there in software GL).
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
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):7.1f} ms   p95 {p95(xs):7.1f} ms   (n={len(xs)})"


def start_server(path: Path, env: dict | None = None) -> tuple[str, subprocess.Popen]:
    """uvicorn in a child process (its own GIL), warmed at start as `frontline serve` does; ``env`` adds variables."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import uvicorn; from frontline.web import create_app; "
        f"uvicorn.run(create_app({str(path)!r}, warm=True), host='127.0.0.1', port={port}, log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **(env or {})})
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
        g = shapely.simplify(shapely.union_all(gs), 0.5 * 360 / (512 * 2**6), preserve_topology=True)
        out.append({"type": "Feature", "properties": {"status": role, "side": side}, "geometry": mapping(g)})
    return json.dumps({"type": "FeatureCollection", "features": out}).encode()


def bench_http(base: str, store_path: Path, n: int, zooms: list[int], n_naive: int) -> dict:
    import httpx

    from frontline.store import open_store

    out: dict = {}
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
        urls = [
            ("/api/contact-line", {"at": b}),
            ("/api/corridors", {"at": b, "ground": "held"}),
            ("/api/settlements", {"at": b, "zoom": 7}),
            ("/api/change", {"from": a, "to": b, "top": 8}),
        ]
        if k == 0:
            urls.append(("/api/contact-line/series", {"every": "month"}))
        done: list[float] = []

        def fire(u, p, done=done):
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


def browser_plan(n_versions: int, steps: int, jumps: int) -> tuple[int, list[int]]:
    """Where the browser part goes: the first of ``steps`` consecutive versions, and the random jumps."""
    rng = random.Random(1)
    i0 = rng.randrange(0, max(1, n_versions - steps - 1))
    return i0, rng.sample(range(n_versions), min(jumps, n_versions))


# One slider move: setTime resolves at the held ground drawn and the map idle; extras() once every shown
# analysis layer holds this version's answer and the map is idle again. shown(): the version each source holds.
STEP_JS = """async (id) => { await window.frontline.setTime(id); await window.frontline.extras();
  const f = window.frontline, t = f.timing;
  return [t.drawn, t.idle, t.all, t.set || {}, f.shown ? f.shown() : {}, t.loaded || {}, t.work || {}]; }"""
LISTINGS = ("claims", "events")  # time-addressed listings, not version answers


def _from_folder(route, folder: Path) -> None:
    """Answer a ``/static/…`` request from ``folder`` (the baseline page's files), else from the server."""
    rel = route.request.url.split("/static/", 1)[1].split("?")[0]
    f = folder / rel
    if not f.is_file():
        route.continue_()
        return
    kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}.get(
        f.suffix, "application/octet-stream"
    )
    route.fulfill(body=f.read_bytes(), content_type=kind)


def bench_browser(
    base: str, loads: int, steps: int, jumps: int, first_loads: bool = True, app_js: str | Path | None = None
) -> dict:
    """First loads, slider steps at a user's pace and cold random jumps in Chromium (see the module doc).

    ``app_js``: the page's script is replaced by this text, or, a folder, every ``/static/`` file by
    that folder's (the baseline page of ``--page-baseline``).
    """
    from playwright.sync_api import sync_playwright

    out: dict = {
        "loads": [],
        "loads_warm": [],
        "marks": [],
        "steps": [],
        "steps_idle": [],
        "steps_all": [],
        "jumps": [],
        "jumps_idle": [],
        "jumps_all": [],
        "steps_set": [],
        "jumps_set": [],
        "steps_loaded": [],
        "jumps_loaded": [],
        "steps_work": [],
        "jumps_work": [],
        "wrong": [],
    }
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for _ in range(loads if first_loads else 0):
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
        if isinstance(app_js, Path):  # the page's modules and styles: the baseline folder's
            pg.route("**/static/**", lambda route: _from_folder(route, app_js))
        elif app_js is not None:  # the page's entry module (static/js/main.js) becomes the old one-file script
            pg.route("**/static/js/main.js", lambda route: route.fulfill(body=app_js, content_type="text/javascript"))
        pg.goto(base + "/")
        pg.wait_for_function("document.body.dataset.layers !== undefined", timeout=60000)
        ids = pg.evaluate("window.frontline.versions().map(v => v.id)")
        i0, jump_to = browser_plan(len(ids), steps, jumps)

        def move(j: int, kind: str) -> None:
            d, i, a, set_at, shown, loaded, work = pg.evaluate(STEP_JS, ids[j])
            # honest: every source must hold the new version's answer (listings are addressed by time)
            wrong = {n: v for n, v in shown.items() if n not in LISTINGS and v != ids[j]}
            if wrong:
                out["wrong"].append((ids[j], wrong))
            out[kind].append(d)
            out[kind + "_idle"].append(i)
            out[kind + "_all"].append(a)
            out[kind + "_set"].append(set_at)
            out[kind + "_loaded"].append(loaded)
            out[kind + "_work"].append(work)

        move(i0, "steps")  # the starting point (not counted: the page has no neighbours prefetched yet)
        for key in ("steps", "steps_idle", "steps_all", "steps_set", "steps_loaded", "steps_work"):
            out[key].clear()
        for k in range(1, steps + 1):
            pg.wait_for_timeout(400)  # a user looks at the map between steps (the page prefetches meanwhile)
            move(min(len(ids) - 1, i0 + k), "steps")
        for j in jump_to:
            move(j, "jumps")
        ctx.close()
        b.close()
    return out


def print_browser(br: dict, label: str, first_loads: bool = True) -> None:
    """The browser numbers of one run, with the bars and the ratios to the held ground drawn."""
    print(
        f"\nBrowser{label} (Debian chromium, headless, software GL; flags {' '.join(ARGS)}); "
        f"machine load now {os.getloadavg()[0]:.1f}"
    )
    if first_loads and br["loads"]:
        print(
            f"  first page load to map idle, cold HTTP cache {stats(br['loads'])}   bar ≤ 2000 ms: "
            f"{'PASS' if max(br['loads']) <= 2000 else 'FAIL'}"
        )
        print(f"  first page load to map idle, warm HTTP cache {stats(br['loads_warm'])}")
        keys = [k for k in (br["marks"][0] if br["marks"] else {})]
        if keys:
            print(
                "  first load marks (median ms from navigation start): "
                + ", ".join(f"{k} {statistics.median(m.get(k, float('nan')) for m in br['marks']):.0f}" for k in keys)
            )
    for kind, what, bar_all in (("steps", "slider step", 500), ("jumps", "random jump", 1000)):
        print(
            f"  {what}, held ground drawn  {stats(br[kind])}"
            + (f"   bar p95 ≤ 200 ms: {'PASS' if p95(br[kind]) <= 200 else 'FAIL'}" if kind == "steps" else "")
        )
        print(f"  {what}, map idle           {stats(br[kind + '_idle'])}   (points too)")
        print(
            f"  {what}, whole map idle     {stats(br[kind + '_all'])}   bar p95 ≤ {bar_all} ms: "
            f"{'PASS' if p95(br[kind + '_all']) <= bar_all else 'FAIL'}   (every shown layer: this version's "
            "answer drawn, map idle)"
        )
        print_phases(br, kind)
    print(
        f"  whole map idle / held ground drawn, median ratio: steps ×"
        f"{statistics.median(br['steps_all']) / statistics.median(br['steps']):.1f}, jumps ×"
        f"{statistics.median(br['jumps_all']) / statistics.median(br['jumps']):.1f}"
    )
    print(
        f"  layers showing another version's data after a move: {len(br['wrong'])}"
        + (f"  e.g. {br['wrong'][0]}" if br["wrong"] else "")
    )


def _medians(rows: list[dict]) -> str:
    """``name median`` for each key of a list of {name: ms} (a key missing from a row is not counted there)."""
    names = sorted({n for d in rows for n in d})
    return ", ".join(f"{n} {statistics.median(d[n] for d in rows if n in d):.0f}" for n in names) or "none"


def print_phases(br: dict, kind: str) -> None:
    """Where a move's time goes: answers handed, tiles cut again, frames drawn and main-thread long tasks."""
    print(f"    answer handed to the map (median ms after setTime): {_medians(br[kind + '_set'])}")
    loaded = br.get(kind + "_loaded") or []
    given = {n: sum(n in d for d in loaded) for d in loaded for n in d}
    print(
        f"    tiles cut again with the new data (median ms after setTime; sources given new data "
        f"in how many of {len(loaded)} moves: "
        + ", ".join(f"{n} {k}" for n, k in sorted(given.items()))
        + f"): {_medians(loaded)}"
    )
    work = [w for w in br.get(kind + "_work") or [] if w]
    if work:
        print(
            f"    by the whole map idle: frames drawn median {statistics.median(w['frames'] for w in work):.0f} "
            f"(p95 {p95([w['frames'] for w in work]):.0f}); main-thread long tasks median "
            f"{statistics.median(w['busy'] for w in work):.0f} ms (p95 {p95([w['busy'] for w in work]):.0f} ms)"
        )


def page_baseline(store: Path, env: dict | None, app_js: str | Path, br: dict, steps: int, jumps: int) -> None:
    """The same steps and jumps with the baseline page, on a fresh server over the same store; ratios to ``br``."""
    base, proc = start_server(store, env)
    try:
        old = bench_browser(base, 0, steps, jumps, first_loads=False, app_js=app_js)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"  baseline page (--page-baseline; fresh server, same store; machine load {os.getloadavg()[0]:.1f}):")
    for kind, what in (("steps", "slider step"), ("jumps", "random jump")):
        for key, label in (("", "held ground drawn"), ("_all", "whole map idle   ")):
            print(
                f"    {what}, {label}  {stats(old[kind + key])}   baseline / this page median ratio ×"
                f"{statistics.median(old[kind + key]) / statistics.median(br[kind + key]):.2f}"
            )
        if old.get(kind + "_work") and any(old[kind + "_work"]):
            print_phases(old, kind)


def materialise(src: Path, dst: Path, steps: int, jumps: int) -> None:
    """``frontline recompute`` on a writable copy ``dst`` of ``src``, for the versions the browser part visits."""
    from frontline.store import open_store

    cli = ROOT / ".venv" / "bin" / "frontline"
    cli = cli if cli.exists() else Path(sys.executable).with_name("frontline")
    if subprocess.run([str(cli), "recompute", "--help"], capture_output=True).returncode != 0:
        raise SystemExit("`frontline recompute` is not in this tree: --materialised needs it")
    if not dst.exists():
        import shutil

        print(f"copying {src} to {dst} (the source store stays untouched)")
        shutil.copyfile(src, dst)
    st = open_store(dst, readonly=True)
    times = [v.valid_time for v in st.versions()]
    st.close()
    i0, jump_to = browser_plan(len(times), steps, jumps)
    # what the page asks for: the steps and their prefetched neighbours, each jump and its neighbours,
    # and the latest version (the first load)
    spans = [(max(0, i0 - 1), min(len(times) - 1, i0 + steps + 2))]
    spans += [(max(0, j - 1), min(len(times) - 1, j + 2)) for j in jump_to] + [(len(times) - 2, len(times) - 1)]
    t = time.perf_counter()
    for a, b in sorted(spans):  # valid_time is epoch seconds, which --from/--to take as they are
        r = subprocess.run(
            [
                str(cli),
                "recompute",
                "--store",
                str(dst),
                "--from",
                str(times[a]),
                "--to",
                str(times[b]),
                "--workers",
                "1",
                "--quiet",
            ],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise SystemExit(f"frontline recompute failed on {times[a]}..{times[b]}:\n{r.stderr[-2000:]}")
    print(
        f"materialised {sum(b - a + 1 for a, b in spans)} versions' analyses in {dst} ({time.perf_counter() - t:.0f} s)"
    )


def cold_analyses(base: str, n: int) -> dict:
    """Cold ``/api/contact-line``, ``/api/corridors`` and ``/api/settlements`` at versions not asked for yet."""
    import httpx

    out: dict = {"contact-line": [], "corridors": [], "settlements": []}
    with httpx.Client(base_url=base, timeout=300) as c:
        vs = c.get("/api/versions").json()["versions"]
        _, jump_to = browser_plan(len(vs), 0, n)
        for j in jump_to:
            for name, params in (("contact-line", {}), ("corridors", {"side": "ua"}), ("settlements", {"zoom": 6})):
                t = time.perf_counter()
                c.get(f"/api/{name}", params={"at": vs[j]["id"], **params})
                out[name].append((time.perf_counter() - t) * 1000)
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
        assert best is not None, "the demo has no corridor neck"
        vid, width, seg = best
        sx = [c[0] for c in seg]
        sy = [c[1] for c in seg]
        lon, lat = sum(sx) / len(sx) + 0.02, sum(sy) / len(sy) - 0.005
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            pg = b.new_page(viewport={"width": 1280, "height": 800})
            pg.goto(
                f"{base}/#t={vid}&z=10.6&lon={lon:.4f}&lat={lat:.4f}"
                "&layers=ua-held,ru-held,contested,contact,corridors,settlements,directions,units,roads"
            )
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
    ap.add_argument(
        "--page-baseline",
        type=Path,
        default=None,
        metavar="APP_JS",
        help="also run the steps and jumps with this one-file script as the page's entry module (e.g. "
        "the one-file app.js before the ES modules: git show REV:frontline/web/static/app.js "
        "> /tmp/old.js), or with every /static/ file from this folder (e.g. an earlier commit's: "
        "git archive REV frontline/web/static | tar -x -C /tmp/old, then /tmp/old/frontline/web/static), "
        "and print ratios",
    )
    ap.add_argument(
        "--materialised",
        type=Path,
        default=None,
        metavar="COPY",
        help="then also: copy the store to COPY (once), `frontline recompute` there the versions the "
        "browser visits, and run the browser part with stored results off and on",
    )
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
    print(
        f"store: {store} ({store.stat().st_size / 2**20:,.0f} MiB); machine load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
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
                print(
                    f"  zoom {z:>2}  warm (second pass) {stats(warm)}   bar p95 ≤ 100 ms: "
                    f"{'PASS' if p95(warm) <= 100 else 'FAIL'}"
                )
                print(
                    f"  zoom {z:>2}  cold / warm median ratio ×{statistics.median(cold) / statistics.median(warm):,.0f}"
                )
            nv = h["naive"]
            (_, _), (warm6, _) = h[zooms[0]]
            print(f"  baseline: naive endpoint (raw features, union, simplify, json; in-process) {stats(nv)}")
            print(
                f"  naive / warm median ratio ×{statistics.median(nv) / statistics.median(warm6):,.0f}; "
                f"naive / cold ×{statistics.median(nv) / statistics.median(h[zooms[0]][0][0]):,.1f}"
            )
        if a.settlements:
            se = bench_settlements(base, store, a.settlements, a.baseline)
            print(f"\nGET /api/settlements?zoom=7 at {a.settlements} random versions")
            if "note" in se:
                print(f"  skipped: {se['note']}")
            else:
                print(f"  gazetteer {se['n_gazetteer']:,} places; {se['n_places']:,} sent at zoom 7 (whole theatre)")
                print(f"  cold (first pass)  {stats(se['cold'])}   bar ≤ a few hundred ms")
                print(
                    f"  warm (second pass) {stats(se['warm'])}   bar p95 < 100 ms: "
                    f"{'PASS' if p95(se['warm']) < 100 else 'FAIL'}"
                )
                if se["baseline"]:
                    print(
                        f"  baseline: old path (map cut to the places' box + status_codes, in-process) "
                        f"{stats(se['baseline'])}"
                    )
                    ratio = statistics.median(se["baseline"]) / statistics.median(se["cold"])
                    print(
                        f"  baseline / cold median ratio ×{ratio:,.0f}; "
                        f"same status for {se['same']:,} of {se['checked']:,} places"
                    )
        if a.contention:
            co = bench_contention(base, a.contention)
            print(
                f"\nCold /api/state while analyses of other versions run ({a.contention} rounds; the first with "
                "the monthly front-length series)"
            )
            print(f"  alone (baseline)        {stats(co['alone'])}")
            print(
                f"  with analyses running   {stats(co['busy'])}   ratio to alone ×"
                f"{statistics.median(co['busy']) / statistics.median(co['alone']):.1f}"
            )
            print(f"  the analyses took       {stats(co['analysis'])}")
        br = bench_browser(base, a.loads, a.steps, a.jumps, first_loads=True)
        print_browser(br, "")
    finally:
        proc.terminate()
        proc.wait(10)
    app_js: str | Path | None = None
    if a.page_baseline:
        app_js = a.page_baseline if a.page_baseline.is_dir() else a.page_baseline.read_text()
    if app_js:
        page_baseline(store, None, app_js, br, a.steps, a.jumps)
    if a.materialised:
        materialise(store, a.materialised, a.steps, a.jumps)
        for label, env in (
            (" — analyses computed on request (same copy, stored results off)", {"FRONTLINE_STORED_RESULTS": "off"}),
            (" — analyses materialised by `frontline recompute`", {}),
        ):
            base, proc = start_server(a.materialised, env)
            try:
                co = cold_analyses(base, a.jumps)
                print(
                    f"\nCold analyses{label}: "
                    + "; ".join(f"{k} median {statistics.median(v):.0f} ms p95 {p95(v):.0f} ms" for k, v in co.items())
                )
            finally:
                proc.terminate()
                proc.wait(10)
            base, proc = start_server(a.materialised, env)  # fresh: nothing computed yet
            try:
                br = bench_browser(base, 0, a.steps, a.jumps, first_loads=False)
                print_browser(br, label, first_loads=False)
            finally:
                proc.terminate()
                proc.wait(10)
            if app_js:
                page_baseline(a.materialised, env, app_js, br, a.steps, a.jumps)


if __name__ == "__main__":
    main()
