"""Writers and readers on one store at once: two imports, a pull and ``serve``; a writer SIGKILLed.

Real processes: two ``frontline import`` runs of overlapping generated archives
(a folder and a .tar.gz), a ``frontline pull deepstate`` from the replay
server, and ``frontline serve`` answering reader threads, all on one store at
the same time. No process may end in a traceback, the store must end with
exactly the union of the versions, each feature stored once, every version's
members as its revision recorded them, and no answer of the server may mix two
versions (the markers of :mod:`test_concurrency` name the version in its
geometry). A writer killed with SIGKILL must not block the next one.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from replay_server import ReplayServer, feature
from shapely.geometry import box
from test_concurrency import _get, decode, marker_version

ROOT = Path(__file__).resolve().parents[1]
T0 = 1736193600
STATIC = box(33.0, 48.0, 33.2, 48.2)  # in every version
PERIOD = 3  # versions sharing a period box: versions of both archives, so both imports want to insert it
# The two archives interleave (evens and odds) and overlap (10-19, 21-29); the feed overlaps the odds' end.
A = sorted(set(range(0, 40, 2)) | set(range(20, 30)))  # a folder
B = sorted(set(range(1, 40, 2)) | set(range(10, 20)))  # a .tar.gz
FEED = range(36, 48)


def version(i: int) -> dict:
    """Version ``i``: the markers of version i, the static box and the box of its period."""
    o = marker_version(i)
    k = i // PERIOD
    o["map"]["features"] += [
        feature(STATIC, "occupied"),
        feature(box(34.0, 47.0, 34.0 + 0.01 * (k + 1), 47.1), "occupied"),
    ]
    return o


def write_folder(folder: Path, ids) -> Path:
    folder.mkdir(parents=True)
    for i in ids:
        o = version(i)
        (folder / f"{o['id']}.json").write_text(json.dumps(o))
    return folder


def write_tar(path: Path, ids) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for i in ids:
            o = version(i)
            data = json.dumps(o).encode()
            info = tarfile.TarInfo(f"history/{o['id']}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def frontline(*args: str, log: Path | None = None) -> subprocess.Popen:
    """``frontline ARGS`` in its own process (the console script of this environment when there is one).

    With ``log`` its output goes to that file instead of pipes: a long-running server logs every request,
    and a pipe nobody reads until the end fills up and blocks the server mid-request.
    """
    exe = Path(sys.executable).with_name("frontline")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "frontline.cli"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if log is not None:
        out = log.open("w")
        try:
            return subprocess.Popen([*cmd, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        finally:
            out.close()  # the child keeps its own descriptor
    return subprocess.Popen([*cmd, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_store(path: Path | str, ids) -> None:
    from frontline.ingest import Importer
    from frontline.sources import deepstate
    from frontline.store import init_store

    st = init_store(path)
    imp = Importer(st)
    for i in ids:
        o = version(i)
        imp.add(deepstate.snapshot_from_bytes(json.dumps(o).encode(), "seed", str(o["id"])))
    st.close()


def check_store(path: Path | str, expected: set[int]) -> None:
    """The store holds exactly ``expected`` versions, once each, whole, with their own content."""
    from frontline.state import state_at
    from frontline.store import open_store
    from frontline.store._sql import sql_of

    st = open_store(path, readonly=True)
    try:
        versions = st.versions("deepstate")
        ids = [int(v.version_id) for v in versions]
        assert sorted(ids) == sorted(T0 + 3600 * i for i in expected), ids
        assert len(set(ids)) == len(ids)
        db = sql_of(st)
        (dupes,) = db.fetchone("SELECT COUNT(*) - COUNT(DISTINCT fkey) FROM features")
        assert dupes == 0
        periods = {i // PERIOD for i in expected}
        assert db.fetchone("SELECT COUNT(*) FROM features") == (2 * len(expected) + 1 + len(periods),)
        for v, fids in st.version_members("deepstate"):
            (members,) = db.fetchone(
                "SELECT members FROM revisions WHERE source=? AND version_id=? AND revision=?",
                (v.source, v.version_id, v.revision),
            )
            # the revision's own record of its members: a little-endian int32 blob, or a PostgreSQL integer[]
            stored = list(members) if isinstance(members, list) else np.frombuffer(members, dtype="<i4").tolist()
            assert sorted(stored) == fids, v.version_id
            assert len(fids) == v.n_features == 4
        for v in versions[:: max(1, len(versions) // 6)]:
            i = (v.valid_time - T0) // 3600
            _, feats = state_at(st, v.valid_time)
            edges = sorted(round(f.geometry.bounds[2], 6) for f in feats)
            assert len(edges) == 4 and decode(edges[0], 31.0) == (i, 1) and decode(edges[1], 32.0) == (i, 1)
    finally:
        st.close()


def _parts(geometry: dict) -> list:
    """The polygons of a GeoJSON (multi)polygon, as coordinate lists."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"]) if geometry["type"] == "MultiPolygon" else []


class Readers:
    """Threads asking ``/api/versions`` and ``/api/state`` until stopped; every answer checked."""

    def __init__(self, api: str, n: int = 2):
        self.api, self.stop = api, threading.Event()
        self.errors: list[str] = []
        self.torn: list[str] = []
        self.reads = 0
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(n)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        last = 0
        while not self.stop.is_set():
            try:
                last = max(last, self.read_once(rng, last))
            except Exception as exc:  # any failed request is a failure of the server under writers
                self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.2)

    def read_once(self, rng: random.Random, last: int) -> int:
        """One listing and one state, checked; returns how many versions the listing had."""
        status, body = _get(self.api + "/versions", timeout=60)
        ids = [v["id"] for v in body["versions"]]
        if status != 200 or ids != sorted(ids, key=int) or len(set(ids)) != len(ids) or len(ids) < last:
            self.errors.append(f"/versions {status}: {len(ids)} versions after {last}, {ids[:5]}…")
        status, body = _get(f"{self.api}/state?at={rng.choice(ids)}", timeout=60)
        if status != 200:
            self.errors.append(f"/state {status}")
            return len(ids)
        i = (int(body["version"]) - T0) // 3600
        marks = {}
        for f in body["features"]:
            p = f["properties"]
            key = "ru" if p["status"] == "held" and p["side"] == "ru" else p["status"]
            origin = {"ru": 31.0, "contested": 32.0}.get(key)
            # the marker's parts start at its origin (the ru one shares an area with the static box; grey may be
            # cut in two): the furthest east edge among them names the version
            edges = [
                max(c[0] for c in part[0])
                for part in _parts(f["geometry"])
                if origin and abs(min(c[0] for c in part[0]) - origin) < 1e-6
            ]
            if origin and edges:
                marks[key] = decode(max(edges), origin)
        if marks != {"ru": (i, 1), "contested": (i, 1)}:
            self.torn.append(f"answer names version {i}, content says {marks}")
        self.reads += 1
        return len(ids)


def test_two_imports_a_pull_and_serve_at_once(tmp_path, new_store_url):
    """The bar's test, on each backend: two imports of overlapping archives, a pull and serve at once."""
    path = new_store_url
    seed_store(path, range(2))
    folder = write_folder(tmp_path / "a", A)
    tgz = write_tar(tmp_path / "b.tar.gz", B)
    feed = ReplayServer([version(i) for i in FEED])
    port = free_port()
    server_log = tmp_path / "serve.log"
    server = frontline("serve", "--store", str(path), "--port", str(port), log=server_log)
    api = f"http://127.0.0.1:{port}/api"
    readers = Readers(api)
    writers: dict[str, subprocess.Popen] = {}
    try:
        deadline = time.time() + 120
        while True:
            try:
                _get(api + "/versions", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"serve did not start: {server_log.read_text()[-3000:]}")
                time.sleep(0.2)
        readers.start()
        writers = {
            "import folder": frontline("import", "--store", str(path), str(folder), "--quiet", "--workers", "2"),
            "import tar": frontline("import", "--store", str(path), str(tgz), "--quiet", "--workers", "1"),
            "pull": frontline(
                "pull",
                "deepstate",
                "--store",
                str(path),
                "--base-url",
                feed.base_url,
                "--quiet",
                "--timeout",
                "30",
                "--retries",
                "2",
            ),
        }
        outs = {name: p.communicate(timeout=600) for name, p in writers.items()}
        time.sleep(1.0)  # the readers see the final store too
    finally:
        readers.join()
        for p in writers.values():
            if p.poll() is None:
                p.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        feed.close()
    for name, p in writers.items():
        out, err = outs[name]
        assert p.returncode == 0, f"{name} exited {p.returncode}: {err[-3000:]}"
        assert "Traceback" not in err, f"{name}: {err[-3000:]}"
    check_store(path, set(range(2)) | set(A) | set(B) | set(FEED))
    assert not readers.errors, readers.errors[:5]
    assert not readers.torn, f"{len(readers.torn)} torn reads of {readers.reads}: {readers.torn[:3]}"
    assert readers.reads >= 5


# A process that takes the store's writer lock, says so, and sleeps: the GeoPackage's lock file, or
# PostgreSQL's advisory lock inside an open transaction (released when the server sees the client die).
HOLD_LOCK = {
    "gpkg": "import sys, time; from pathlib import Path; from frontline.store import locking; "
    "locking.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)",
    "postgis": "import sys, time, psycopg; from frontline.store.postgis import WRITER_LOCK; "
    "c = psycopg.connect(sys.argv[1]); c.execute('SELECT pg_advisory_xact_lock(%s)', (WRITER_LOCK,)); "
    "print('held', flush=True); time.sleep(600)",
}


def test_writer_waits_for_another_and_says_so(new_store_url, backend, capfd):
    from frontline.store import open_store
    from frontline.store._sql import sql_of

    path = new_store_url
    seed_store(path, range(1))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK[backend], str(path)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        st = open_store(path)  # opened first: on a loaded machine a connection can take a second
        threading.Timer(2.5, holder.send_signal, (signal.SIGKILL,)).start()  # a writer killed mid-transaction
        t0 = time.monotonic()
        st.begin()  # waits for the holder, then gets in once the kernel drops the dead holder's lock
        waited = time.monotonic() - t0
        sql_of(st).execute("INSERT INTO meta VALUES ('probe', '1')")
        st.commit()
        st.close()
    finally:
        holder.kill()
        holder.wait(10)
    assert 2.0 <= waited < 30, waited
    err = capfd.readouterr().err
    assert "waiting for another writer" in err.lower(), err
    if backend == "gpkg":  # the lock file names its holder
        assert f"waiting for another writer (pid {holder.pid})" in err
    st = open_store(path, readonly=True)
    try:
        assert st.get_meta("probe") == "1"  # the waiting writer's transaction was committed
    finally:
        st.close()


def test_sigkilled_import_does_not_block_the_next(tmp_path, new_store_url):
    from frontline.store import open_store

    path = new_store_url
    seed_store(path, range(1))
    folder = write_folder(tmp_path / "a", range(1, 60))
    proc = frontline("import", "--store", str(path), str(folder), "--quiet", "--workers", "1")
    deadline = time.time() + 300
    st = open_store(path, readonly=True)
    while len(st.versions()) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    st.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    again = frontline("import", "--store", str(path), str(folder), "--quiet", "--workers", "1")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0 and "Traceback" not in err, err[-3000:]
    check_store(path, set(range(60)))
