"""HTTP plumbing shared by every connector and the webhooks: time-outs, retries, backoff, identity.

One retry loop (:func:`with_retries`) serves GETs of the live feed, downloads of gazetteer dumps and webhook
POSTs, so they all behave alike; :func:`get_json` is the one "fetch JSON, fetch a bad body again" used by the
live feed's listing and ArcGIS layers:

* every request has a time-out and is retried with exponential backoff and jitter
  (``backoff × 2^attempt × U(0.5, 1)``, capped at ``max_backoff``);
* ``429``/``503`` answers' ``Retry-After`` (seconds or an HTTP date) is honoured, up to ``max_retry_after``;
* client errors that retrying cannot mend (:data:`NO_RETRY`) fail at once;
* requests carry a descriptive ``User-Agent`` (:func:`user_agent`);
* a body cut short (``Content-Length`` not met, or not JSON where JSON was asked for) or rejected by the caller's
  check is fetched again within the same budget: ``retries`` bounds every request, whatever went wrong;
* a ``stop_event`` (:class:`threading.Event`) abandons the waits between attempts.

Requests go through the standard library (``urllib``), so nothing here needs a network package at install time.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from . import __version__
from .errors import FetchError

__all__ = [
    "PROJECT_URL",
    "NO_RETRY",
    "FetchError",
    "Refused",
    "Stopped",
    "HttpOptions",
    "user_agent",
    "retry_after",
    "with_retries",
    "request",
    "get_json",
]

log = logging.getLogger("frontline.http")

PROJECT_URL = "https://github.com/frontline-osint/frontline"
#: Answers that retrying will not mend: the request itself is refused.
NO_RETRY = (400, 401, 403, 404, 405, 410, 413, 422, 451)

T = TypeVar("T")


class Stopped(Exception):
    """The stop event was set while waiting or fetching."""


class Refused(FetchError):
    """An answer that asking again cannot mend (e.g. an API's error object with a client code).

    Raised by an attempt (or a :func:`get_json` check), it ends :func:`with_retries` at once; the
    :class:`FetchError` raised then names the URL and this reason.
    """


def user_agent(contact: str | None = None) -> str:
    """The User-Agent Frontline sends: ``Frontline/<version> (+<project URL>; <contact>)``.

    Parameters
    ----------
    contact
        An e-mail address or URL where a feed's operators can reach the person running Frontline; a generic
        description when None.
    """
    who = contact.strip() if contact and contact.strip() else "open-source front-line analysis"
    return f"Frontline/{__version__} (+{PROJECT_URL}; {who})"


@dataclass
class HttpOptions:
    """How requests are made: time-out, retries, backoff and identity.

    Attributes
    ----------
    timeout
        Seconds to wait for a connection or for data (per read).
    retries
        Further attempts after the first failed one.
    backoff, max_backoff
        First wait and the cap of the exponential backoff, in seconds.
    max_retry_after
        Longest ``Retry-After`` honoured, in seconds (longer ones are cut).
    user_agent
        The User-Agent header; see :func:`user_agent`.
    """

    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0
    user_agent: str = field(default_factory=user_agent)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _wait(seconds: float, stop_event: threading.Event | None, sleep: Callable[[float], None]) -> None:
    if seconds <= 0:
        return
    if stop_event is None:
        sleep(seconds)
    elif stop_event.wait(seconds):
        raise Stopped()


def with_retries(
    attempt: Callable[[int], T],
    url: str,
    opts: HttpOptions | None = None,
    *,
    verb: str = "GET",
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_http_error: Callable[[urllib.error.HTTPError], bool] | None = None,
) -> T:
    """Call ``attempt(n)`` until it returns, retrying network failures with backoff.

    Parameters
    ----------
    attempt
        Makes one request (``n`` = 0, 1, …) and returns its result; it raises :class:`FetchError` for a body it
        finds wrong (truncated, not the expected format), which is retried like a network failure, or
        :class:`Refused` for an answer no retry can mend.
    url, verb
        For messages.
    opts
        Time-out, retries, backoff (defaults when None).
    stop_event
        Set it to abandon the request during a wait (raises :class:`Stopped`).
    sleep, rng
        Injected for tests of the schedule.
    on_http_error
        Called with an HTTP error before the usual handling; returning True means "mended, retry" (e.g. a
        download dropping a partial file after ``416``).

    Raises
    ------
    FetchError
        After the last attempt, or at once on an answer in :data:`NO_RETRY`, naming the URL and the reason.
    Stopped
        When ``stop_event`` was set.
    """
    opts = opts or HttpOptions()
    rng = rng or random.Random()
    last = "no attempt made"
    for n in range(opts.retries + 1):
        if stop_event is not None and stop_event.is_set():
            raise Stopped()
        wait = min(opts.max_backoff, opts.backoff * (2**n)) * (0.5 + 0.5 * rng.random())
        try:
            return attempt(n)
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            mended = on_http_error is not None and on_http_error(exc)
            if not mended and exc.code in NO_RETRY:
                raise FetchError(f"{url}: {last}") from None
            ra = retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            if ra is not None and exc.code in (429, 503):
                wait = max(wait, min(ra, opts.max_retry_after))
        except Refused as exc:
            raise FetchError(f"{url}: {exc}") from None
        except http.client.IncompleteRead as exc:
            last = f"truncated body ({len(exc.partial)} bytes, {exc.expected} more expected)"
        except FetchError as exc:
            last = str(exc)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            last = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
        if n < opts.retries:
            log.info(
                "%s %s failed (%s); retrying in %.1f s (attempt %d of %d)",
                verb,
                url,
                last,
                wait,
                n + 2,
                opts.retries + 1,
            )
            _wait(wait, stop_event, sleep)
    raise FetchError(f"{url}: failed after {opts.retries + 1} attempts ({last})")


def _read_once(url: str, timeout: float, req: urllib.request.Request) -> bytes:
    """One request's whole body, checked against ``Content-Length`` (a short body raises :class:`FetchError`)."""
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        body = resp.read()  # raises IncompleteRead when the connection closes early
    if length is not None and length.strip().isdigit() and int(length) != len(body):
        raise FetchError(f"truncated body ({len(body)} of {length} bytes)")
    return body


def request(
    url: str,
    opts: HttpOptions | None = None,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    accept: str = "application/json",
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> bytes:
    """Make a request with :func:`with_retries` and return the whole body, checked against ``Content-Length``.

    Parameters
    ----------
    url, method, data
        The request (``data`` for a POST body).
    headers
        Extra headers; ``User-Agent`` and ``Accept`` are set from ``opts`` and ``accept`` unless given here.
    opts, stop_event, sleep, rng
        As for :func:`with_retries`.
    """
    opts = opts or HttpOptions()
    hdrs = {"User-Agent": opts.user_agent, "Accept": accept, **(headers or {})}

    def one(_n: int) -> bytes:
        return _read_once(url, opts.timeout, urllib.request.Request(url, data=data, headers=hdrs, method=method))

    return with_retries(one, url, opts, verb=method, stop_event=stop_event, sleep=sleep, rng=rng)


def get_json(
    url: str,
    opts: HttpOptions | None = None,
    *,
    check: Callable[[Any], T] | None = None,
    stop_event: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Any:
    """GET a URL and parse its body as JSON, fetching it again while it is cut short, not JSON or rejected.

    Every attempt is one request; network failures, bodies cut short (a proxy closing the connection,
    truncated without ``Content-Length``, so not JSON) and bodies ``check`` rejects share the one budget of
    ``opts.retries``, with the backoff, jitter, ``Retry-After`` and log lines of :func:`with_retries`.

    Parameters
    ----------
    url
        The URL to GET (``Accept: application/json``).
    opts, stop_event, sleep, rng
        As for :func:`with_retries`.
    check
        Called with the parsed body; returns what :func:`get_json` returns (the body itself when None). It
        raises :class:`FetchError` for a body worth fetching again (the wrong shape, a server-side error
        object) or :class:`Refused` for one that asking again cannot mend.

    Raises
    ------
    FetchError
        Naming the URL and the last reason (``not valid JSON, truncated or malformed (…)``, ``HTTP 500 …``,
        the check's message), after the last attempt or at once on a refusal.
    Stopped
        When ``stop_event`` was set.
    """
    opts = opts or HttpOptions()
    hdrs = {"User-Agent": opts.user_agent, "Accept": "application/json"}

    def one(_n: int) -> Any:
        body = _read_once(url, opts.timeout, urllib.request.Request(url, headers=hdrs))
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FetchError(f"not valid JSON, truncated or malformed ({exc})") from None
        return obj if check is None else check(obj)

    return with_retries(one, url, opts, stop_event=stop_event, sleep=sleep, rng=rng)
