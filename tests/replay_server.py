"""A local replay server speaking the DeepState API shape, with fault injection (test helper).

``GET {prefix}/history/public`` lists the versions held (``id``, ``createdAt``,
``updatedAt``); ``GET {prefix}/history/{id}/geojson`` serves one version's
body as given (an API object ``{id, createdAt, updatedAt, map}`` or a bare
FeatureCollection). It runs ``http.server`` in a thread on 127.0.0.1 at a
free port.

Faults, queued per path with :meth:`ReplayServer.fail` (each used once, in
order) or set for every request with :meth:`ReplayServer.fail_always`:

``"timeout:S"``       sleep S seconds before answering (longer than the client's time-out)
``"500"``, ``"503"``  server error
``"429:S"``           rate limited, ``Retry-After: S``
``"truncate"``        send half the body under the full ``Content-Length`` and close
``"truncate_nolen"``  send half the body without ``Content-Length`` and close
``"invalid_json"``    a 200 with a body that is not JSON (correct ``Content-Length``)
``"reset"``           close the connection without answering

``listing_order`` is ``"sorted"``, ``"reversed"`` or ``"shuffled"``;
:meth:`revise` replaces a version's content and moves its ``updatedAt``;
``delay`` slows every version download (to interrupt a pull midway).
Every request is logged in ``requests`` as ``(time, path, user agent, action)``.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shapely
from shapely.geometry import mapping

NAMES = {
    "occupied": "Окуповано /// Occupied /// geoJSON.status.occupied",
    "unknown": "Статус невідомий /// Unknown status /// geoJSON.status.unknown",
    "liberated": "Звільнено /// Liberated /// geoJSON.status.dismissed",
}
FILL = {"occupied": "#a52714", "unknown": "#bcaaa4", "liberated": "#01579b"}


def iso(t: float) -> str:
    """ISO-8601 with milliseconds and Z, as DeepState writes it."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def feature(geom, kind: str, description: str | None = None) -> dict:
    """A DeepState-shaped GeoJSON feature of class ``kind`` (occupied, unknown, liberated)."""
    props = {"name": NAMES[kind], "fill": FILL[kind]}
    if description:
        props["description"] = description
    return {"type": "Feature", "properties": props, "geometry": mapping(shapely.force_2d(geom))}


def api_object(vid: int, features: list[dict], updated: int | None = None) -> dict:
    """A version in the API shape ``{id, createdAt, updatedAt, map}``."""
    return {
        "id": int(vid),
        "createdAt": iso(vid),
        "updatedAt": iso(updated if updated is not None else vid),
        "map": {"type": "FeatureCollection", "features": features},
    }


class ReplayServer:
    """DeepState-shaped HTTP server on loopback with fault injection.

    Parameters
    ----------
    versions
        API objects ``{id, createdAt, updatedAt, map}`` to serve at start.
    prefix
        Path of the API root (``base_url`` ends with it).
    """

    def __init__(self, versions: list[dict] | None = None, prefix: str = "/api"):
        self.prefix = prefix.rstrip("/")
        self.lock = threading.Lock()
        self.entries: dict[int, dict] = {}
        self.bodies: dict[int, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.always: dict[str, str] = {}
        self.listing_order = "sorted"
        self.delay = 0.0
        self.requests: list[tuple[float, str, str, str]] = []
        self.rng = random.Random(7)
        for obj in versions or []:
            self.add(obj)
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                srv._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # -- content ------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def add(self, obj: dict) -> None:
        """Serve a version given as an API object."""
        self.add_raw(
            int(obj["id"]), json.dumps(obj, ensure_ascii=False).encode(), obj.get("createdAt"), obj.get("updatedAt")
        )

    def add_raw(self, vid: int, body: bytes, created: str | None = None, updated: str | None = None) -> None:
        """Serve a version given as bytes (a FeatureCollection file), listed with these times."""
        with self.lock:
            self.entries[int(vid)] = {
                "id": int(vid),
                "createdAt": created or iso(vid),
                "updatedAt": updated or created or iso(vid),
                "description": f"replayed version {vid}",
            }
            self.bodies[int(vid)] = body

    def revise(self, obj: dict) -> None:
        """Replace a served version (new content and a later ``updatedAt``)."""
        self.add(obj)

    def remove(self, vid: int) -> None:
        with self.lock:
            self.entries.pop(int(vid), None)
            self.bodies.pop(int(vid), None)

    def served_ids(self) -> list[int]:
        with self.lock:
            return sorted(self.entries)

    # -- faults -------------------------------------------------------------
    def path_of(self, vid: int | None = None) -> str:
        """The path of the listing (``vid`` None) or of one version."""
        return f"{self.prefix}/history/public" if vid is None else f"{self.prefix}/history/{int(vid)}/geojson"

    def fail(self, path: str, *actions: str) -> None:
        """Queue faults for a path, each used by one request."""
        with self.lock:
            self.faults.setdefault(path, []).extend(actions)

    def fail_always(self, path: str, action: str | None) -> None:
        """A fault for every request to a path (None clears it)."""
        with self.lock:
            if action is None:
                self.always.pop(path, None)
            else:
                self.always[path] = action

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.always.clear()

    def hits(self, path: str) -> list[tuple[float, str, str, str]]:
        """Requests made to a path."""
        with self.lock:
            return [r for r in self.requests if r[1] == path]

    # -- serving ------------------------------------------------------------
    def _body_for(self, path: str) -> bytes | None:
        if path == f"{self.prefix}/history/public":
            items = [dict(e) for e in self.entries.values()]
            if self.listing_order == "reversed":
                items.sort(key=lambda e: -e["id"])
            elif self.listing_order == "shuffled":
                self.rng.shuffle(items)
            else:
                items.sort(key=lambda e: e["id"])
            return json.dumps(items).encode()
        m = re.fullmatch(re.escape(self.prefix) + r"/history/(\d+)/geojson", path)
        if m:
            return self.bodies.get(int(m.group(1)))
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            queue = self.faults.get(path)
            action = queue.pop(0) if queue else self.always.get(path, "ok")
            body = self._body_for(path)
            self.requests.append((time.time(), path, h.headers.get("User-Agent", ""), action))
            delay = self.delay if "/geojson" in path else 0.0
        try:
            if delay:
                time.sleep(delay)
            if action.startswith("timeout:"):
                time.sleep(float(action.split(":", 1)[1]))
            if action == "reset":
                h.close_connection = True
                return
            if action in ("500", "503"):
                self._send(h, int(action), b'{"error": "injected"}')
                return
            if action.startswith("429"):
                ra = action.split(":", 1)[1] if ":" in action else "1"
                self._send(h, 429, b'{"error": "slow down"}', {"Retry-After": ra})
                return
            if body is None:
                self._send(h, 404, b'{"error": "not found"}')
                return
            if action == "invalid_json":
                self._send(h, 200, b"<html>502 Bad Gateway</html>" + b" " * 10)
                return
            if action == "truncate":
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            if action == "truncate_nolen":
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                h.end_headers()
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            self._send(h, 200, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out): nothing to do

    @staticmethod
    def _send(h, status: int, body: bytes, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pull_then_revise(path, first: dict, revised: dict) -> None:
    """Make a store at ``path`` that pulled the API object ``first`` from a replay server, then ``revised``.

    The two objects are the same version id with different content and ``updatedAt``: the store ends with
    the version in two revisions (asserted), as a source that edits a published version leaves it.
    """
    from frontline.live_pull import pull
    from frontline.store import init_store

    srv = ReplayServer([first])
    try:
        st = init_store(path)
        opts = dict(timeout=2, retries=1, backoff=0.01, progress=False)
        assert pull(st, srv.base_url, **opts).report.added == 1
        srv.revise(revised)
        assert pull(st, srv.base_url, **opts).report.revised == 1
        st.close()
    finally:
        srv.httpd.shutdown()


class WebhookReceiver:
    """A local HTTP server that records JSON POSTs (a webhook endpoint), optionally failing first.

    ``fail_first`` answers that many POSTs with 500 before accepting; every
    attempt is in ``attempts``, accepted payloads in ``received``.
    """

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.attempts: list[dict] = []
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.event = threading.Event()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n)
                try:
                    payload = json.loads(data)
                except ValueError:
                    payload = {"_invalid": data.decode("utf-8", "replace")}
                with rec.lock:
                    rec.attempts.append(
                        {"payload": payload, "content_type": self.headers.get("Content-Type"), "time": time.time()}
                    )
                    fail = rec.fail_first > 0
                    if fail:
                        rec.fail_first -= 1
                    else:
                        rec.received.append(payload)
                        rec.event.set()
                status = 500 if fail else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def same_answer_server(body: bytes) -> tuple[ThreadingHTTPServer, list[str]]:
    """A loopback server answering every GET with ``body`` (200, JSON): ``(server, paths asked)``; shut it down."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, hits
