"""Errors by type (input 400 naming the field, no version 404, store 503, a bug 500), 405 with every method
of a path in ``Allow``, and no work for a request whose client has gone."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from frontline.errors import InputError, NoVersionError, StoreError
from frontline.web import create_app


@pytest.fixture(scope="module")
def probe_client(demo_store):
    app = create_app(demo_store.path)

    @app.get("/probe/{kind}", include_in_schema=False)
    def probe(kind: str):
        if kind == "input":
            raise InputError("must be a number", where="query", field="width")
        if kind == "version":
            raise NoVersionError("No version of deepstate before 2020-01-01.")
        if kind == "store":
            raise StoreError("The store is of schema 9; this Frontline reads schema 3.")
        if kind == "value":
            raise ValueError("a plain ValueError from older analysis code")
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "kind,status,parameter",
    [("input", 400, "width"), ("version", 404, None), ("store", 503, None), ("value", 400, None), ("bug", 500, None)],
)
def test_error_types_map_to_status_codes(probe_client, kind, status, parameter, caplog):
    with caplog.at_level(logging.ERROR, logger="frontline.web"):
        r = probe_client.get(f"/probe/{kind}")
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail", "parameter"} and body["detail"] and body["parameter"] == parameter
    assert r.headers["cache-control"] == "no-cache"
    assert ("a bug" in caplog.text) == (kind == "bug")  # only a bug is logged
    if kind == "bug":
        assert "a bug" not in body["detail"]  # the server's internals stay in its log


def test_method_not_allowed_lists_every_method_of_the_path(client):
    r = client.options("/api/claims")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}
    assert r.json()["detail"]
    r = client.delete("/api/state")
    assert r.status_code == 405 and r.headers["allow"] == "GET"


def test_every_error_is_the_one_body_in_the_schema(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"detail", "parameter"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's list-shaped 422 is not used
    state = spec["paths"]["/api/state"]["get"]
    assert {"400", "404", "422", "503"} <= set(state["responses"])
    schemas = {p["name"]: p["schema"] for p in state["parameters"]}
    assert schemas["zoom"] == {"type": "number", "minimum": 0, "maximum": 24, "title": "Zoom"}
    assert "pattern" in schemas["at"] and "pattern" in schemas["bbox"]
    corridors = {p["name"]: p["schema"] for p in spec["paths"]["/api/corridors"]["get"]["parameters"]}
    assert set(corridors["side"]["enum"]) == {"ua", "ru"} and corridors["ground"]["enum"] == ["abroad", "held"]


def _gone_request(app) -> Request:
    """A GET request whose client has disconnected (an aborted prefetch)."""
    messages = [{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": [], "app": app}
    return Request(scope, receive)


def test_no_work_for_a_client_that_has_gone(demo_store):
    app = create_app(demo_store.path)  # its own service: the limiter belongs to the event loop of this test
    svc = app.state.service
    calls = []

    def work(request: Request):
        calls.append(1)
        return "done"

    def work_without_request():
        calls.append(2)
        return "done"

    async def both():
        return [await svc.offload(f)(request=_gone_request(app)) for f in (work, work_without_request)]

    # a handler that takes no request gets one all the same, for the check
    assert "request" in inspect.signature(svc.offload(work_without_request)).parameters
    assert [r.status_code for r in asyncio.run(both())] == [499, 499]
    assert calls == []


def test_work_for_a_client_that_is_there(demo_store):
    app = create_app(demo_store.path)
    svc = app.state.service

    def work(at: str):
        return at

    async def here():
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)  # the client is still waiting

        scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": [], "app": app}
        return await svc.offload(work)(at="v1", request=Request(scope, receive))

    assert asyncio.run(here()) == "v1"
