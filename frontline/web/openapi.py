"""The API's OpenAPI schema: the parameter constraints the handlers check themselves, stated in the schema.

The handlers parse ``at``, ``zoom``, ``bbox``, ``side``… themselves (to answer
400 naming the parameter, in the words of :mod:`frontline.times`), so FastAPI
only knows them as strings; :func:`install` writes what each one accepts into
the schema: time formats as a ``pattern``, numeric ranges, enums of the
store's sides, regions, conventions and periods. Constraints between values
(a bbox's corners in order and at most ``MAX_BBOX_DEG2``, ``from`` before
``to``, a calendar day that exists) are said in the descriptions and answer 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..normalise import CONVENTIONS
from ..times import PERIODS
from .errors import error_response
from .params import MAX_BBOX_DEG2, regions

# ISO date, ISO time (minutes or seconds, a fraction, Z or an offset) or epoch seconds; "latest" for `at`.
_DATE = r"[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_CLOCK = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?"
_EPOCH = r"[+-]?\d{1,10}(\.\d{1,6})?"
TIME_PATTERN = rf"^(|{_DATE}([T ]{_CLOCK})?|{_EPOCH})$"  # nothing: no bound
AT_PATTERN = rf"^(|latest|{_DATE}([T ]{_CLOCK})?|{_EPOCH})$"
_NUM = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
BBOX_PATTERN = rf"^({_NUM},{_NUM},{_NUM},{_NUM})?$"
TIME_NOTE = (
    " ISO date (`2025-01-08`), ISO time (`2025-01-08T12:00Z`) or epoch seconds; a bare date is its "
    "start for `from`, its end (23:59:59 UTC) for `at` and `to`."
)


def parameter_schemas(sides) -> dict[str, dict[str, Any]]:
    """The schema of each query parameter the handlers check themselves, by name."""
    sides = list(sides)
    side_list = "|".join(sides) or "none"
    return {
        "at": {"type": "string", "pattern": AT_PATTERN},
        "from": {"type": "string", "pattern": TIME_PATTERN},
        "to": {"type": "string", "pattern": TIME_PATTERN},
        "known_at": {"type": "string", "pattern": TIME_PATTERN},
        "since": {"type": "string", "pattern": TIME_PATTERN},
        "zoom": {"type": "number", "minimum": 0, "maximum": 24},
        "bbox": {"type": "string", "pattern": BBOX_PATTERN},
        "side": {"type": "string", "enum": sides},
        "sides": {"type": "string", "pattern": rf"^(|({side_list})(,({side_list}))*)$"},
        "region": {"type": "string", "enum": sorted(regions(sides))},
        "convention": {"type": "string", "enum": list(CONVENTIONS)},
        "every": {"type": "string", "enum": ["", *PERIODS]},
        "ground": {"type": "string", "enum": ["abroad", "held"]},
        "q": {"type": "string", "pattern": r"\S", "maxLength": 100},
        # not an enum: a source imported while the server runs is served at once
        "source": {"type": "string", "maxLength": 200},
    }


# Per route where a parameter accepts less than its shared schema.
ROUTE_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    "/api/contact-line/series": {"every": {"type": "string", "enum": list(PERIODS)}},
}
NOTES = {
    "at": TIME_NOTE + " `latest` or nothing: the last version.",
    "from": TIME_NOTE + " Must not be after `to`.",
    "to": TIME_NOTE,
    "known_at": TIME_NOTE + " Nothing: the map as it is now.",
    "since": TIME_NOTE,
    "source": " A name the store holds (`/api/sources` lists them, with each one's attribution and licence); "
    "a name it does not hold answers 400 listing them. The answer names its source and attribution (members "
    "`source`, `attribution`, `licence` of a JSON object; headers `X-Frontline-Source` and "
    "`X-Frontline-Attribution`, non-ASCII characters percent-escaped as UTF-8).",
    "bbox": f" Corners in order (minx<maxx, miny<maxy), within lon ±180, lat ±90, at most {MAX_BBOX_DEG2:.0f} "
    "square degrees.",
}


def install(app: FastAPI, sides) -> None:
    """Make ``app.openapi()`` state what each route accepts, and 405 answers list every method of a path."""
    shared = parameter_schemas(sides)

    def schema() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for path, ops in doc.get("paths", {}).items():
                for op in ops.values():
                    _constrain(op, {**shared, **ROUTE_SCHEMAS.get(path, {})})
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route of the path: name them all
            headers["Allow"] = ", ".join(_methods(app, request))
            return error_response(405, f"{request.method} is not allowed here; use {headers['Allow']}.", None, headers)
        return error_response(exc.status_code, str(exc.detail), None, headers)


def _constrain(op: dict, schemas: dict[str, dict[str, Any]]) -> None:
    """Write the schemas of ``op``'s query parameters that the handlers check themselves."""
    for p in op.get("parameters", []):
        name = p.get("name")
        if p.get("in") != "query" or name not in schemas:
            continue
        p["schema"] = {**schemas[name], "title": p.get("schema", {}).get("title", name)}
        if name in NOTES:
            p["description"] = ((p.get("description") or "").rstrip(" .") + "." + NOTES[name]).lstrip(".")


def _methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route of the request's path answers."""
    found: set[str] = set()
    for route in app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches({**request.scope, "method": next(iter(methods))})[0] == Match.FULL:
            found |= set(methods)
    return sorted(found)
