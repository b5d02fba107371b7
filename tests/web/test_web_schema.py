"""The API against its own OpenAPI schema: schemathesis runs every check on every route of a real app.

Every check (``--checks all``: server errors, status codes, content types,
headers and bodies as declared, valid data accepted, invalid data rejected,
methods outside the schema answered 405 with an ``Allow`` that lists the
path's methods, …) over the demo store. Positive data may answer 400 where
the schema cannot say it (constraints between values: a bbox's corners in
order and not too large, ``from`` before ``to``); the descriptions say so.
"""

from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)
schemathesis = pytest.importorskip("schemathesis")
from schemathesis.config import SchemathesisConfig  # noqa: E402

from frontline.web import create_app  # noqa: E402

MAX_EXAMPLES = 15  # per route and phase: about a minute on two shared cores
POSITIVE_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409"]

CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
    "generation": {"max-examples": MAX_EXAMPLES},
}


@pytest.fixture(scope="module")
def api_schema(demo_store):
    config = SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(demo_store.path), config=config)


def _failures(schema) -> list[str]:
    """Every failed check of a schemathesis run (all phases, every check enabled), one line each."""
    from schemathesis.engine import Status, events, from_schema

    found = []
    for event in from_schema(schema).execute():
        if isinstance(event, (events.FatalError, events.NonFatalError)):
            found.append(f"error: {getattr(event, 'value', None) or getattr(event, 'exception', None)!r}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        for case_id, nodes in event.recorder.checks.items():
            for node in nodes:
                if node.status != Status.FAILURE or node.failure_info is None:
                    continue
                case = event.recorder.cases[case_id].value
                f = node.failure_info.failure
                found.append(
                    f"{event.recorder.label} {node.name}: {f.title} -- {f.message[:300]} "
                    f"[{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200}]"
                )
    return found


def test_api_matches_its_schema(api_schema):
    """``st run --checks all`` over the app: no check fails on any route."""
    failures = _failures(api_schema)
    assert not failures, "\n".join(sorted(set(failures))[:40])


def test_every_route_declares_its_errors(api_schema):
    """Each operation declares 400 (bad or unknown parameter), 404, 422 and 503 with the one error body."""
    raw = api_schema.raw_schema
    for path, ops in raw["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"400", "422", "503"} <= codes, (method, path, codes)
            for code in codes - {"200", "201"}:
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorBody"), (method, path, code, ref)
