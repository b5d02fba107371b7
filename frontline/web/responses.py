"""Answers of the web API: JSON with caching headers, the warnings of a request, and the write check."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import threading
from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import quote

import orjson
from fastapi import Request
from fastapi.responses import Response

from .. import __version__ as APP_VERSION
from .errors import NO_CACHE, ApiError

try:  # brotli when installed (smaller than gzip at the same speed), else gzip
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

IMMUTABLE = "public, max-age=31536000, immutable"
WARNING_HEADER = "X-Frontline-Warning"
SOURCE_HEADER = "X-Frontline-Source"  # the source (map) whose data an answer shows
ATTRIBUTION_HEADER = "X-Frontline-Attribution"  # and its attribution text (/api/sources)
MIN_COMPRESS = 1024  # bytes: smaller answers go as they are (a coding's header and CPU are not worth it)

# Warnings of the request being answered (stale times): the route wrapper collects them, ``cached`` and
# the wrapper put them in the answer (``warnings`` in a JSON object body, ``X-Frontline-Warning`` header).
_NOTES: ContextVar[list[str] | None] = ContextVar("frontline_web_notes", default=None)


def add_warning(message: str) -> None:
    """Attach a warning to the answer of the request being handled (no-op outside a request)."""
    notes = _NOTES.get()
    if notes is not None and message not in notes:
        notes.append(message)


# Compressed forms of cached bodies, by the body's id: ``id → (body, {coding: bytes}, on_grow)``. The body
# itself is held, so its id stays its own while registered. Plain bytes (not a subclass) stay plain for
# everyone reading cached bodies (orjson takes exact bytes only).
_CODINGS: dict[int, tuple[bytes, dict[str, bytes], Callable[[int], None] | None]] = {}
_CODINGS_LOCK = threading.Lock()


def keep_codings(body: bytes, on_grow: Callable[[int], None] | None = None) -> None:
    """Keep the compressed forms of ``body`` (a cached answer) once made: it is compressed once, not per request.

    ``on_grow(n)`` is told the bytes each new form adds (the cache's bound counts them).
    """
    with _CODINGS_LOCK:
        _CODINGS[id(body)] = (body, {}, on_grow)


def drop_codings(body: bytes) -> int:
    """Forget the compressed forms of ``body`` (dropped from its cache); the bytes they held."""
    with _CODINGS_LOCK:
        hit = _CODINGS.get(id(body))
        if hit is None or hit[0] is not body:
            return 0
        del _CODINGS[id(body)]
        return sum(map(len, hit[1].values()))


def encoded(body: bytes, coding: str) -> bytes:
    """``body`` compressed with ``coding``: the kept form of a cached body (made on first use), else made now."""
    with _CODINGS_LOCK:
        hit = _CODINGS.get(id(body))
        if hit is None or hit[0] is not body:
            hit = None
        else:
            out = hit[1].get(coding)
            if out is not None:
                return out
    out = compress(body, coding)  # outside the lock: two requests may both make it, one is kept
    if hit is not None:
        with _CODINGS_LOCK:
            if _CODINGS.get(id(body)) is hit and coding not in hit[1]:
                hit[1][coding] = out
            else:
                return out
        if hit[2] is not None:
            hit[2](len(out))
    return out


def compress(body: bytes, coding: str) -> bytes:
    """``body`` compressed with ``br`` (quality 5) or ``gzip`` (level 6, no timestamp: same bytes each time).

    Levels chosen on the real archive's state answers: within 2 % of the
    smallest each coding makes, at a quarter to a third of its time
    (bench/bench_wire.py).
    """
    if coding == "br":
        return brotli.compress(body, quality=5)
    return gzip.compress(body, 6, mtime=0)


def negotiate(request: Request) -> str | None:
    """The coding to answer in: ``br`` when asked for (and brotli is installed), else ``gzip``, else None."""
    asked = {}
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        asked[name.strip().lower()] = q
    for coding in ("br", "gzip") if brotli is not None else ("gzip",):
        if asked.get(coding, asked.get("*", 0.0)) > 0:
            return coding
    return None


# Query parameters that only pick the version (already named in the tag), not what is said about it.
_SELECTORS = frozenset({"at", "known_at", "from", "to"})


def etag_for(request: Request, data: str, source: str | None = None) -> str:
    """The ETag of an answer: data version, app version, and every parameter that shapes the body.

    ``data``: the version(s) answered, ``<version id>.<revision>`` (two
    joined by ``-`` for a comparison). Then ``v<app version>``: after an
    upgrade, browsers holding year-long immutable answers revalidate and get
    the new app's body. Then a digest of the other query parameters (zoom,
    bbox, limit, …), of the source answered (``source``: two sources may
    hold a version of the same id and revision, and the default source may
    change) and of the request's warnings, when there are any. The coding
    (``-gzip``, ``-br``) is added by :func:`json_response`.
    """
    params = sorted((k, v) for k, v in request.query_params.multi_items() if k not in _SELECTORS)
    notes = _NOTES.get() or []
    tag = f"{data}.v{APP_VERSION}"
    if params or notes or source:
        shaped = (params, notes) if source is None else (params, notes, source)
        tag += "." + hashlib.blake2b(repr(shaped).encode(), digest_size=6).hexdigest()
    return f'"{tag}"'


def not_modified(request: Request, etag: str) -> bool:
    """True when the request's ``If-None-Match`` names ``etag`` (in any coding, weak or strong, or ``*``)."""
    return _matched(request, etag) is not None


def _matched(request: Request, etag: str) -> str | None:
    """The coding suffix (``""`` for none) of the ``If-None-Match`` entry naming ``etag``; None if none does."""
    header = request.headers.get("if-none-match")
    if not header:
        return None
    base = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*":
            return ""
        item = item.removeprefix("W/").strip('"')
        suffix = next((x for x in _CODING_SUFFIXES if item.endswith(x)), "")
        if item[: len(item) - len(suffix)] == base:
            return suffix
    return None


_CODING_SUFFIXES = ("-gzip", "-br")


def json_response(request: Request, body: bytes, headers: dict[str, str], etag: str | None = None) -> Response:
    """A JSON answer, compressed when the client accepts it and the body is worth it; 304 on a matching ETag.

    ``etag`` is the identity one (:func:`etag_for`); a compressed answer
    carries it with the coding appended, as each coding is its own
    representation (``Vary: Accept-Encoding``). A 304 echoes the coding of
    the validator the client sent.
    """
    headers = {**headers, "Vary": "Accept-Encoding"}
    if etag is not None:
        suffix = _matched(request, etag)
        if suffix is not None:
            return Response(status_code=304, headers={**headers, "ETag": etag[:-1] + suffix + '"'})
    coding = negotiate(request) if len(body) >= MIN_COMPRESS else None
    if etag is not None:
        headers["ETag"] = etag if coding is None else etag[:-1] + f'-{coding}"'
    if coding is not None:
        body = encoded(body, coding)
        headers["Content-Encoding"] = coding
    return Response(body, media_type="application/json", headers=headers)


def credit(request: Request, source: str | None) -> dict[str, str]:
    """``source``, ``attribution`` and ``licence`` of the source whose data an answer shows (empty: none).

    Read from the app's service (:meth:`~frontline.web.service.Service.source_credit`);
    an app without one (a bare test app) credits the name alone.
    """
    if source is None:
        return {}
    svc = getattr(request.app.state, "service", None)
    attribution, licence = svc.source_credit(source) if svc is not None else ("", "")
    return {"source": source, "attribution": attribution, "licence": licence}


def credit_headers(members: dict[str, str]) -> dict[str, str]:
    """``X-Frontline-Source`` and ``X-Frontline-Attribution`` of :func:`credit`'s members.

    Header values are kept ASCII (many clients decode them as UTF-8, others
    as Latin-1): other characters, controls and ``%`` are percent-escaped as
    UTF-8 (``©`` → ``%C2%A9``; ``decodeURIComponent`` reads it back).
    """
    out = {}
    for key, name in (("source", SOURCE_HEADER), ("attribution", ATTRIBUTION_HEADER)):
        text = members.get(key)
        if text:
            out[name] = "".join(c if " " <= c <= "~" and c != "%" else quote(c, safe="") for c in text)
    return out


def cached(
    request: Request, payload, v=None, exact: bool = False, data: str | None = None, source: str | None = None
) -> Response:
    """JSON with caching headers: immutable + ETag when addressed by a version, else no-cache.

    ``payload`` is anything JSON-serialisable, or ready JSON bytes (a cached
    body's compressed forms are kept: :func:`keep_codings`). ``data`` replaces the
    version's ``<id>.<revision>`` in the ETag (an answer about two versions).
    ``source`` (else ``v``'s): the source whose data the answer shows; a JSON
    object answer gets its ``source``, ``attribution`` and ``licence``
    members (:func:`credit`) and the ``X-Frontline-Source`` and
    ``X-Frontline-Attribution`` headers. Answers are compressed for clients
    that accept it (br, gzip).
    """
    members = credit(request, source or getattr(v, "source", None))
    headers = credit_headers(members)
    etag = None
    if v is not None or data is not None:
        etag = etag_for(request, data or f"{v.version_id}.{v.revision}", members.get("source"))
        headers["Cache-Control"] = IMMUTABLE if exact else NO_CACHE
        if not_modified(request, etag):
            return json_response(request, b"", headers, etag)
    else:
        headers["Cache-Control"] = NO_CACHE
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    notes = _NOTES.get()
    head = ({"warnings": notes} if notes else {}) | members
    if head and body[:1] == b"{":  # a JSON object: warnings and credit travel in it (ready bodies stay as cached)
        body = orjson.dumps(head)[:-1] + (b"," if body[1:].lstrip()[:1] != b"}" else b"") + body[1:]
    return json_response(request, body, headers, etag)


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
