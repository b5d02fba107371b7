"""Fixtures of the web tests: a generated web store, test clients over it and the demo store, a browser.

Helpers that are not fixtures (the DeepState-shaped versions, a real uvicorn
server, Chromium's flags) are in :mod:`webtools`.
"""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402
from webtools import launch, make_web_store, new_page  # noqa: E402

from frontline.web import create_app  # noqa: E402


@pytest.fixture(scope="session")
def web_store(tmp_path_factory):
    """Path of the generated web store (the demo scenario, 10 weekly versions), built once."""
    path = tmp_path_factory.mktemp("web") / "s.gpkg"
    make_web_store(path).close()
    return path


@pytest.fixture(scope="module")
def app(demo_store):
    """The app over the demo store (6 weekly versions, settlements, roads)."""
    return create_app(demo_store.path)


@pytest.fixture(scope="module")
def client(app):
    """A test client of :func:`app` (a module may override ``app`` or ``client`` for another store)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def versions(client):
    """``/api/versions`` rows of the client's store."""
    r = client.get("/api/versions")
    assert r.status_code == 200
    return r.json()["versions"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (the calling module skips itself when either is missing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, request):
    """A fresh page on the module's ``server`` fixture, ``PAGE_WIDTH`` (module constant, default 1200) wide."""
    pg = new_page(browser, server, width=getattr(request.module, "PAGE_WIDTH", 1200))
    yield pg
    pg.close()
