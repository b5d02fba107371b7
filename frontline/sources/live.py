"""The DeepState-shaped live API as a source: list its versions and fetch one, over :mod:`frontline._http`.

``list_versions(base_url)`` reads the feed's listing (``GET /history/public``); ``http_get`` fetches a version
(``GET /history/{id}/geojson``) with time-outs, retries, backoff and ``Retry-After``. What to fetch and how it
is imported into a store is :mod:`frontline.live_pull` (the layer above sources and the store). Any server that
speaks the same shape works (tests use a local replay server).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from .._http import (  # noqa: F401 (re-exported)
    NO_RETRY,
    PROJECT_URL,
    FetchError,
    HttpOptions,
    Stopped,
    get_json,
    request,
    user_agent,
)
from . import deepstate

log = logging.getLogger("frontline.live")

DEFAULT_BASE_URL = deepstate.DEFAULT_BASE_URL


def http_get(
    url: str,
    opts: HttpOptions | None = None,
    *,
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> bytes:
    """GET a URL with time-outs, retries, backoff with jitter and ``Retry-After`` (see :mod:`frontline._http`).

    Raises
    ------
    deepstate.FetchError
        After the last attempt, or at once on a client error, naming the URL and the reason.
    Stopped
        When ``stop_event`` was set.
    """
    return request(url, opts, stop_event=stop_event, sleep=sleep, rng=rng)


def list_versions(
    base_url: str = DEFAULT_BASE_URL,
    opts: HttpOptions | None = None,
    *,
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    """The feed's version listing (``GET /history/public``), sorted by id.

    Fetched with :func:`frontline._http.get_json`: a listing that is not JSON (a truncated body without
    ``Content-Length``) or not a JSON list is fetched again, within the same retry budget as network failures.
    Entries without a numeric ``id`` are dropped (and logged).

    Raises
    ------
    FetchError
        Naming the URL, when no valid listing arrived.
    Stopped
        When ``stop_event`` was set.
    """
    url = base_url.rstrip("/") + "/history/public"

    def entries(items: object) -> list[dict]:
        if not isinstance(items, list):
            raise FetchError(f"expected a JSON list of versions, got {type(items).__name__}")
        good = [i for i in items if isinstance(i, dict) and str(i.get("id", "")).strip().isdigit()]
        if len(good) < len(items):
            log.warning("%s: %d listing entries without a numeric id ignored", url, len(items) - len(good))
        return sorted(good, key=lambda i: int(str(i["id"]).strip()))

    listing: list[dict] = get_json(url, opts, check=entries, stop_event=stop_event, sleep=sleep)
    return listing
