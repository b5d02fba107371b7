"""Helpers of the web tests (imported by name; the fixtures are in ``tests/web/conftest.py``).

* :func:`make_web_store` — the demo store (:func:`frontline.demo.build_demo_store`).
* :func:`_version` — a few weekly DeepState-shaped FeatureCollections (an occupied
  block in Donetsk oblast growing east→west, a liberated salient near Sudzha that
  shrinks, an unknown-status strip, arrows and units) for tests that build their own.
* Browser plumbing: :func:`browser_api` (skips the module when Chromium, Playwright or
  MapLibre is missing), :data:`ARGS` (the Chromium flags, as bench/bench_web.py uses them),
  :func:`start_server` (real uvicorn on loopback, in this process), :func:`serve_process` (``frontline serve``
  in its own process, as it is deployed), :func:`launch`, :func:`new_page`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
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
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

T0 = 1_735_689_600  # 2025-01-01T00:00Z
WEEK = 7 * 86400
N_VERSIONS = 6

OCC = "Окуповано /// Occupied /// geoJSON.status.occupied"
LIB = "Звільнено /// Liberated /// geoJSON.status.dismissed"
UNK = "Статус невідомий /// Unknown status /// geoJSON.status.unknown"


def _box(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _feature(name, geom, description=None):
    props = {"name": name}
    if description:
        props["description"] = description
    return {"type": "Feature", "properties": props, "geometry": geom}


def _version(i: int) -> dict:
    feats = [
        # ru-held in Ukraine: grows westward each week
        _feature(OCC, _box(37.9 - 0.08 * i, 47.9, 38.6, 48.4)),
        # ua-held in Russia near Sudzha: shrinks each week
        _feature(LIB, _box(35.05 + 0.03 * i, 51.12 + 0.01 * i, 35.45 - 0.03 * i, 51.38 - 0.01 * i)),
        # contested strip west of the occupied block
        _feature(UNK, _box(37.8 - 0.08 * i, 47.9, 37.9 - 0.08 * i, 48.4)),
        _feature(
            "Напрямок /// Direction /// geoJSON.status.attack_direction",
            {"type": "Point", "coordinates": [37.7 - 0.08 * i, 48.15]},
            f"{{icon=arrow_{13 - (i % 3)}}}",
        ),
        _feature("Підрозділ /// Unit /// x", {"type": "Point", "coordinates": [38.2, 48.2 + 0.01 * i]}, "{icon=enemy}"),
    ]
    return {"type": "FeatureCollection", "features": feats}


def make_web_store(path: Path):
    """The demo store (weekly versions, settlements, roads) built at ``path``; returns it open."""
    from frontline.demo import build_demo_store

    return build_demo_store(Path(path))


def browser_api():
    """Playwright's sync API; skips the calling test module when Chromium, Playwright or MapLibre is missing."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)
    api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    from frontline.web.app import maplibre_dir

    if maplibre_dir() is None:
        pytest.skip("node_modules/maplibre-gl is missing (npm install at the repository root)", allow_module_level=True)
    return api


def start_server(path, **kwargs):
    """A real uvicorn server over the store at ``path`` on a free loopback port: ``(base url, stop function)``."""
    import uvicorn

    from frontline.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(path, **kwargs), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(400):
        if srv.started:
            break
        time.sleep(0.05)

    def stop():
        srv.should_exit = True
        th.join(10)

    return f"http://127.0.0.1:{port}", stop


def serve_process(path, log: Path):
    """``frontline serve`` over the store at ``path`` in its own process on a free loopback port: ``(base, stop)``.

    Timing tests use it: a server inside the pytest process shares that process's heap and GIL, so a
    full garbage collection of everything the earlier tests left behind pauses the server too (seconds,
    late in a long run), which is not what a deployed server does. Its output goes to ``log`` (a pipe nobody
    reads fills up and blocks the server mid-request).
    """
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    exe = Path(sys.executable).with_name("frontline")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "frontline.cli"]
    env = dict(os.environ, PYTHONPATH=str(root))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*cmd, "serve", "--store", str(path), "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(base + "/api/versions", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"frontline serve did not start: {log.read_text()[-3000:]}")
        time.sleep(0.2)

    def stop():
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    return base, stop


def launch(playwright):
    """Debian's Chromium, headless, with :data:`ARGS` (no browser download)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)


def new_page(browser, base: str, width: int = 1200, height: int = 800):
    """A page that records uncaught page errors in ``page.errors`` and knows the server as ``page.base``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.base = base
    pg.errors = errors
    return pg


def open_page(page, hash_: str = "", drawn: str = "version") -> None:
    """Load the map at ``hash_`` and wait until ``document.body.dataset[drawn]`` is set (no page error)."""
    page.goto(page.base + "/" + hash_)
    page.wait_for_function("window.frontline !== undefined")
    page.evaluate("window.frontline.ready")
    page.wait_for_function(f"document.body.dataset.{drawn} !== undefined")
    assert not page.errors, page.errors
