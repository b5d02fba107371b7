"""A local ArcGIS-REST-shaped feature service on loopback, with fault injection (test helper).

Serves one layer at ``{prefix}/FeatureServer/0``:

``GET …/0?f=json``
    the layer description: ``name``, ``maxRecordCount``, ``objectIdField``, ``editFieldsInfo``, ``fields``.
``GET …/0/query?where=…&outFields=*&outSR=4326&f=geojson&resultOffset=…&resultRecordCount=…``
    one page of GeoJSON features ordered by object id, with ``exceededTransferLimit`` at the top (or under
    ``properties`` when ``limit_in_properties``); the ``where`` understood is ``1=1`` and
    ``EditDate > timestamp 'YYYY-MM-DD HH:MI:SS'`` (ANDed with anything else, which is ignored).
``GET …/0/query?where=…&returnIdsOnly=true&f=json``
    ``{"objectIdFieldName": "OBJECTID", "objectIds": […]}``.

Features are held as ``{objectid: (geometry, status, edit time in epoch seconds)}``; :meth:`edit` changes one
(and moves its edit date), :meth:`delete` removes one. Faults are queued per kind of request (``"info"``,
``"query"``, ``"ids"``) with :meth:`fail`, each used once: ``"timeout:S"``, ``"500"``, ``"truncate"`` (half the
body under the full ``Content-Length``), ``"truncate_nolen"``, ``"arcgis_error"`` (a 200 with an ArcGIS error
object, code 500). Every request is logged in ``requests`` as ``(kind, params, action)``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from shapely.geometry import mapping

EDITS = re.compile(r"EditDate\s*>\s*timestamp\s*'([^']+)'", re.I)


class ArcGISServer:
    """An ArcGIS-shaped feature layer over HTTP.

    Parameters
    ----------
    features
        ``{objectid: (geometry, status, edit time in epoch seconds)}`` to serve at start.
    max_record_count
        The layer's page size cap.
    """

    def __init__(
        self,
        features: dict[int, tuple] | None = None,
        max_record_count: int = 3,
        prefix: str = "/arcgis/rest/services/Control",
    ):
        self.prefix = prefix.rstrip("/")
        self.features: dict[int, tuple] = dict(features or {})
        self.max_record_count = max_record_count
        self.limit_in_properties = False
        self.edit_fields = True
        self.esri_json = False  # answer Esri JSON whatever f asks, as servers before 10.4 do
        self.lock = threading.Lock()
        self.faults: dict[str, list[str]] = {}
        self.requests: list[tuple[str, dict, str]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                srv._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    # -- content ------------------------------------------------------------
    @property
    def service_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}/FeatureServer"

    def edit(self, oid: int, geom, status: str, when: float) -> None:
        """Add or change a feature, edited at ``when``."""
        with self.lock:
            self.features[int(oid)] = (geom, status, when)

    def delete(self, oid: int) -> None:
        with self.lock:
            self.features.pop(int(oid), None)

    def fail(self, kind: str, *actions: str) -> None:
        """Queue faults for a kind of request (``info``, ``query``, ``ids``), each used once."""
        with self.lock:
            self.faults.setdefault(kind, []).extend(actions)

    def log(self, kind: str) -> list[dict]:
        """The parameters of every request of a kind, in order."""
        with self.lock:
            return [p for k, p, _ in self.requests if k == kind]

    # -- answers ------------------------------------------------------------
    def _info(self) -> dict:
        info = {
            "id": 0,
            "name": "Control areas",
            "type": "Feature Layer",
            "copyrightText": "Generated test layer (Frontline tests)",
            "maxRecordCount": self.max_record_count,
            "objectIdField": "OBJECTID",
            "fields": [
                {"name": "OBJECTID", "type": "esriFieldTypeOID"},
                {"name": "status", "type": "esriFieldTypeString"},
                {"name": "EditDate", "type": "esriFieldTypeDate"},
            ],
        }
        if self.edit_fields:
            info["editFieldsInfo"] = {"creationDateField": "CreationDate", "editDateField": "EditDate"}
        return info

    def _matching(self, where: str) -> list[int]:
        m = EDITS.search(where)
        since = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp() if m else None
        return sorted(o for o, (_, _, t) in self.features.items() if since is None or t > since)

    def _feature(self, oid: int) -> dict:
        g, status, t = self.features[oid]
        return {
            "type": "Feature",
            "id": oid,
            "geometry": None if g is None else mapping(g),
            "properties": {"OBJECTID": oid, "status": status, "EditDate": int(t * 1000)},
        }

    def _query(self, params: dict) -> dict:
        oids = self._matching(params.get("where", "1=1"))
        if params.get("returnIdsOnly") == "true":
            return {"objectIdFieldName": "OBJECTID", "objectIds": oids}
        offset = int(params.get("resultOffset", 0))
        count = min(int(params.get("resultRecordCount", self.max_record_count)), self.max_record_count)
        page = oids[offset : offset + count]
        if self.esri_json:
            return {
                "geometryType": "esriGeometryPolygon",
                "features": [
                    {
                        "attributes": {"OBJECTID": o, "status": self.features[o][1]},
                        "geometry": {"rings": [list(self.features[o][0].exterior.coords)]},
                    }
                    for o in page
                ],
            }
        out: dict = {"type": "FeatureCollection", "features": [self._feature(o) for o in page]}
        more = offset + count < len(oids)
        if self.limit_in_properties:
            out["properties"] = {"exceededTransferLimit": more}
        elif more:
            out["exceededTransferLimit"] = True
        return out

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        layer = f"{self.prefix}/FeatureServer/0"
        with self.lock:
            if parts.path == layer:
                kind, body = "info", self._info()
            elif parts.path == layer + "/query":
                kind = "ids" if params.get("returnIdsOnly") == "true" else "query"
                body = self._query(params)
            else:
                kind, body = "other", None
            queue = self.faults.get(kind)
            action = queue.pop(0) if queue else "ok"
            self.requests.append((kind, params, action))
        data = json.dumps(body).encode() if body is not None else b""
        try:
            self._answer(h, action, data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out)

    def _answer(self, h: BaseHTTPRequestHandler, action: str, data: bytes) -> None:
        if action.startswith("timeout:"):
            time.sleep(float(action.split(":", 1)[1]))
        if action == "500":
            return self._send(h, 500, b'{"error": "injected"}')
        if action == "arcgis_error":
            return self._send(h, 200, b'{"error": {"code": 500, "message": "Unable to complete operation."}}')
        if not data:
            return self._send(h, 404, b'{"error": {"code": 404, "message": "not found"}}')
        if action in ("truncate", "truncate_nolen"):
            h.send_response(200)
            h.send_header("Content-Type", "application/geo+json")
            if action == "truncate":
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return None
        return self._send(h, 200, data)

    @staticmethod
    def _send(h, status: int, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
