"""Errors of the web API: exception types mapped to status codes and one error body for all of them.

``ApiError`` carries its own status; Frontline's errors map by type
(:class:`~frontline.errors.InputError` 400, :class:`~frontline.errors.NoVersionError`
404, :class:`~frontline.errors.StoreError` 503); FastAPI's own validation
answers 422 in the same body; anything else is a bug: logged, 500.
A plain ``ValueError`` or ``OverflowError`` still answers 400: analysis code
that raises one for user input predates :mod:`frontline.errors`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..errors import InputError, NoVersionError, StoreError

log = logging.getLogger("frontline.web")
NO_CACHE = "no-cache"


class ApiError(Exception):
    """A request the API cannot answer: status, parameter name and a sentence."""

    def __init__(self, status: int, parameter: str | None, message: str):
        super().__init__(message)
        self.status, self.parameter, self.message = status, parameter, message


class StaleVersion(Exception):
    """A version was revised between resolving it and reading its content: the request is answered again."""


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer of the API."""

    detail: str = Field(description="what is wrong, in a sentence")
    parameter: str | None = Field(None, description="the query parameter, header or field at fault, if one is")


DESCRIPTIONS = {
    400: "A parameter cannot be used (named in `parameter`)",
    401: "The write token is missing or wrong",
    403: "The server is read-only",
    404: "No version answers (none stored, before the first, an empty range), or no such claim",
    409: "The write conflicts with a stored record",
    413: "The body is too large",
    422: "A parameter or body field fails validation (named in `parameter`)",
    503: "The store cannot be used now, or the version kept changing while answering (see Retry-After)",
}


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` declaring ``codes`` with the error body (for ``@app.get(..., responses=)``)."""
    return {c: {"model": ErrorBody, "description": DESCRIPTIONS[c]} for c in codes}


READ_ERRORS = error_responses(400, 404, 422, 503)  # what every read route can answer besides 200/304


def error_response(
    status: int, detail: str, parameter: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body as a response (never cached)."""
    return JSONResponse(
        {"detail": detail, "parameter": parameter},
        status_code=status,
        headers={"Cache-Control": NO_CACHE, **(headers or {})},
    )


def install(app: FastAPI) -> None:
    """Register the exception handlers: each error type answers its status code in :class:`ErrorBody`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.parameter)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        param = str(errs[0]["loc"][-1]) if errs and errs[0].get("loc") else None
        msg = errs[0].get("msg", "invalid parameter") if errs else "invalid parameter"
        return error_response(422, f"{param}: {msg}", param)

    @app.exception_handler(StaleVersion)
    async def _stale(request: Request, exc: StaleVersion):
        return error_response(
            503, f"The version was revised while answering ({exc}); ask again.", None, {"Retry-After": "1"}
        )

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError):
        return error_response(400, str(exc), exc.field)

    @app.exception_handler(NoVersionError)
    async def _no_version(request: Request, exc: NoVersionError):
        return error_response(404, str(exc), None)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError):
        return error_response(503, str(exc), None, {"Retry-After": "5"})

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError):
        return error_response(400, f"A parameter is out of range ({exc}).", None)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError):
        # a plain ValueError from analysis code that checks user input (see the module docstring)
        return error_response(400, str(exc), None)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"Internal error ({type(exc).__name__}); it is logged on the server.", None)
