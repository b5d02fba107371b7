"""``serve`` keeps answering while ``watch`` imports into the same store: no errors, no torn reads.

A real uvicorn server (read-only store) runs in a thread on loopback; ``watch``
runs in another, pulling from the replay server, to which the test keeps
publishing new versions and revising old ones. Reader threads hammer
``/api/versions`` and ``/api/state`` for a bounded time. Every generated
version carries markers: a ru-held box and a grey box whose east edges encode
(version number, revision). A ``/api/state`` answer is consistent when both
markers decode to the version and revision the answer names.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request

import pytest
from replay_server import ReplayServer, api_object, feature
from shapely.geometry import box

T0 = 1736193600
STEP = 0.01  # degrees of east edge per version number
REV = 0.002  # degrees per revision
DURATION_S = 12.0


def marker_version(i: int, revision: int = 1) -> dict:
    """Version ``i`` (revision ``revision``): markers at 31.0E (ru-held) and 32.0E (grey), 49.5–49.6N."""
    w = STEP * (i + 1) + REV * (revision - 1)
    feats = [feature(box(31.0, 49.5, 31.0 + w, 49.6), "occupied"), feature(box(32.0, 49.5, 32.0 + w, 49.6), "unknown")]
    return api_object(T0 + 3600 * i, feats, updated=T0 + 3600 * i + 60 * (revision - 1))


def decode(maxx: float, origin: float) -> tuple[int, int]:
    """``(version number, revision)`` from a marker's east edge (revisions stay under 5: REV × 4 < STEP)."""
    w = maxx - origin
    i = int(w / STEP + 1e-6) - 1
    r = int(round((w - STEP * (i + 1)) / REV)) + 1
    return i, r


def _get(url: str, timeout: float = 20.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read())


def _maxx(geometry: dict) -> float:
    xs = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
        else:
            for x in c:
                walk(x)

    walk(geometry["coordinates"])
    return max(xs)


def test_serve_and_watch_together(new_store_url):
    """On each backend: a GeoPackage file, then a PostGIS database."""
    uvicorn = pytest.importorskip("uvicorn")
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store
    from frontline.watch import watch
    from frontline.web.app import create_app

    path = new_store_url
    st = init_store(path)
    imp = Importer(st)
    served = [marker_version(i) for i in range(3)]
    for o in served:  # the server starts on a store that already holds versions
        imp.add(deepstate.for_import(deepstate.snapshot_from_bytes(json.dumps(o).encode(), "seed", str(o["id"]))))
    st.close()

    feed = ReplayServer(served)
    config = uvicorn.Config(create_app(path), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    srv_thread = threading.Thread(target=server.run, daemon=True)
    srv_thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"

    stop = threading.Event()
    watch_out: dict = {}

    def run_watch():
        try:
            watch_out["cycles"] = watch(
                path,
                base_url=feed.base_url,
                every_s=0.2,
                stop_event=stop,
                handle_signals=False,
                timeout=10,
                retries=2,
                backoff=0.05,
            )
        except BaseException as exc:  # reported by the test below
            watch_out["error"] = repr(exc)

    errors: list[str] = []
    torn: list[str] = []
    seen: set[tuple[str, int]] = set()
    contents: dict[tuple[str, int], set[int]] = {}  # (version, store revision) -> feed revisions shown
    counts = {"versions": 0, "state": 0}
    lock = threading.Lock()

    def reader(seed: int):
        rng = random.Random(seed)
        ids: list[str] = []
        while not stop.is_set():
            try:
                status, body = _get(api + "/versions")
                if status != 200:
                    errors.append(f"/versions {status}")
                ids = [v["id"] for v in body["versions"]] or ids
                revs = [v["revision"] for v in body["versions"]]
                if ids != sorted(ids, key=int) or len(set(ids)) != len(ids) or min(revs, default=1) < 1:
                    errors.append(f"inconsistent listing {ids} {revs}")
                with lock:
                    counts["versions"] += 1
                at = rng.choice(ids + ["latest"]) if ids else "latest"
                status, body = _get(f"{api}/state?at={at}")
                if status != 200:
                    errors.append(f"/state {status}")
                    continue
                i = (int(body["version"]) - T0) // 3600
                rev = body["revision"]
                marks = {}
                for f in body["features"]:
                    p = f["properties"]
                    key = "ru" if p["status"] == "held" and p["side"] == "ru" else p["status"]
                    marks[key] = decode(_maxx(f["geometry"]), 31.0 if key == "ru" else 32.0)
                # The store numbers the revisions it saw; under load watch can miss one of the feed's (a
                # version first seen at the feed's revision 2 is the store's revision 1). So a read is torn
                # when its layers disagree, name another version, show an older feed revision than the
                # store's number, or when one store revision is ever seen with two contents (checked below).
                ru, grey = marks.get("ru"), marks.get("contested")
                if ru != grey or ru is None or ru[0] != i or ru[1] < rev:
                    torn.append(f"at={at}: answer names version {i} revision {rev}, content says {marks}")
                with lock:
                    counts["state"] += 1
                    seen.add((body["version"], rev))
                    if ru is not None:
                        contents.setdefault((body["version"], rev), set()).add(ru[1])
            except Exception as exc:  # any failure of a request is an error of the test's subject
                errors.append(f"{type(exc).__name__}: {exc}")

    readers = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(4)]
    wt = threading.Thread(target=run_watch, daemon=True)
    wt.start()
    for r in readers:
        r.start()
    try:
        t_end = time.time() + DURATION_S
        n = len(served)
        revision = {}
        rng = random.Random(3)
        while time.time() < t_end:
            time.sleep(0.4)
            feed.add(marker_version(n))  # a new version
            n += 1
            k = rng.choice([j for j in range(n - 1) if revision.get(j, 1) < 5])  # and a revision of an older one
            revision[k] = revision.get(k, 1) + 1
            feed.revise(marker_version(k, revision[k]))
        time.sleep(1.0)  # let watch take the last batch
    finally:
        stop.set()
        wt.join(30)
        for r in readers:
            r.join(30)
        server.should_exit = True
        srv_thread.join(10)
        feed.close()

    assert "error" not in watch_out, watch_out.get("error")
    cycles = watch_out["cycles"]
    pulled = sum(c.pull.get("added", 0) for c in cycles)
    revised = sum(c.pull.get("revised", 0) for c in cycles)
    assert pulled >= 10 and revised >= 5, (pulled, revised)
    assert not errors, errors[:5]
    assert not torn, f"{len(torn)} torn reads of {counts['state']}: {torn[:3]}"
    mixed = {k: sorted(v) for k, v in contents.items() if len(v) > 1}
    assert not mixed, f"one stored revision served with different contents: {mixed}"
    assert counts["state"] >= 100 and counts["versions"] >= 100, counts
    # readers really saw the store change under them: many versions and some revisions
    assert len({v for v, _ in seen}) >= 10 and any(r > 1 for _, r in seen)
