"""The API's route class: unknown parameters refused, warnings collected, answered again on a revision."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from .errors import StaleVersion
from .params import check_parameters, query_names
from .responses import _NOTES, WARNING_HEADER, client_gone

STALE_RETRIES = 3
GONE = 499  # nginx's "client closed request": nobody reads it, but logs show why nothing was done


class RetryRoute(APIRoute):
    """A route that checks its query parameters, collects warnings, and is answered again on a revision.

    * A query parameter the route does not declare answers 400 naming it
      (:func:`~frontline.web.params.check_parameters`; routes outside the API
      schema, such as the page itself, whose URL state the browser reads, are
      not checked).
    * A GET whose client has already gone (a superseded prefetch) is not answered.
    * Warnings added while answering (:func:`~frontline.web.responses.add_warning`)
      come back in the ``X-Frontline-Warning`` header (and ``warnings`` in JSON bodies).
    * Up to ``STALE_RETRIES`` times: content is read in one sqlite read
      transaction that first checks the version's revision
      (:meth:`~frontline.web.service.Service.state`); a revision committed after
      ``resolve`` makes that check fail, and the whole request runs again, so
      the answer and its ETag always come from the same revision.
    """

    def get_route_handler(self):
        handler = super().get_route_handler()
        allowed = query_names(self.dependant) if self.include_in_schema else None
        path = self.path

        async def retrying(request: Request) -> Response:
            if allowed is not None:
                check_parameters(request, allowed, path)
                if request.method == "GET" and await client_gone(request):
                    return Response(status_code=GONE)
            notes: list[str] = []
            token = _NOTES.set(notes)
            try:
                resp = await _answer(handler, request, notes)
            finally:
                _NOTES.reset(token)
            if notes:
                resp.headers[WARNING_HEADER] = " | ".join(notes).encode("ascii", "replace").decode()
            return resp

        return retrying


async def _answer(handler, request: Request, notes: list[str]) -> Response:
    """The handler's answer, asked again (up to ``STALE_RETRIES`` times) when its version was revised meanwhile."""
    for attempt in range(STALE_RETRIES):
        notes.clear()
        try:
            return await handler(request)
        except StaleVersion:
            if attempt == STALE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
