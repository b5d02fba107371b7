"""Answers of the web API: JSON with caching headers, the warnings of a request, and the write check."""

from __future__ import annotations

import hmac
from contextvars import ContextVar

import orjson
from fastapi import Request
from fastapi.responses import Response

from .errors import NO_CACHE, ApiError

IMMUTABLE = "public, max-age=31536000, immutable"
WARNING_HEADER = "X-Frontline-Warning"

# Warnings of the request being answered (stale times): the route wrapper collects them, ``cached`` and
# the wrapper put them in the answer (``warnings`` in a JSON object body, ``X-Frontline-Warning`` header).
_NOTES: ContextVar[list[str] | None] = ContextVar("frontline_web_notes", default=None)


def add_warning(message: str) -> None:
    """Attach a warning to the answer of the request being handled (no-op outside a request)."""
    notes = _NOTES.get()
    if notes is not None and message not in notes:
        notes.append(message)


def cached(request: Request, payload, v=None, exact: bool = False) -> Response:
    """JSON with caching headers: immutable + ETag when addressed by a version, else no-cache.

    ``payload`` is anything JSON-serialisable, or ready JSON bytes.
    """
    headers = {}
    if v is not None:
        etag = f'"{v.version_id}.{v.revision}"'
        headers["ETag"] = etag
        headers["Cache-Control"] = IMMUTABLE if exact else NO_CACHE
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
    else:
        headers["Cache-Control"] = NO_CACHE
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    notes = _NOTES.get()
    if notes and body[:1] == b"{":  # a JSON object: the warnings travel in it too (ready bodies stay as cached)
        body = b'{"warnings":' + orjson.dumps(notes) + (b"," if body[1:].lstrip()[:1] != b"}" else b"") + body[1:]
    return Response(body, media_type="application/json", headers=headers)


_cached = cached  # the name the route modules used


def require_write(request: Request) -> None:
    """Refuse a write unless the app has a write token and the request carries it.

    The token comes as ``Authorization: Bearer <token>`` (or ``X-Frontline-Token``).
    Raises :class:`ApiError` 403 when the app is read-only, 401 on a missing
    or wrong token (compared in constant time).
    """
    token = getattr(request.app.state, "write_token", None)
    if not token:
        raise ApiError(
            403,
            None,
            "This server is read-only: start it with `frontline serve --token-file FILE` "
            "(or $FRONTLINE_WRITE_TOKEN) to allow writes.",
        )
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-frontline-token", "")
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "Authorization", "A write needs the server's token as `Authorization: Bearer <token>`.")


async def client_gone(request: Request) -> bool:
    """True when the client of a GET request has disconnected (an aborted prefetch): its work can be skipped.

    A GET's first message is its (empty) body; the disconnect, if any, comes after it.
    """
    for _ in range(2):
        if await request.is_disconnected():
            return True
    return False
