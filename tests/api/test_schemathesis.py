"""Fuzzing: schemathesis generates requests from `/openapi.json` and sends them, with an admin key, to the app
over the real tools, in-process. No answer may be a 5xx, and every answer must match the schema (status
documented, body and headers as declared). Bounded: per operation, 25 valid and 25 invalid requests, plus
each example of the document (every tool's example payloads)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from conftest import ROLES, auth, make_settings
from salesboost.api import create_app

OPERATIONS = [
    ("POST", "/api/v1/tools/execute"),
    ("POST", "/api/v1/tools/execute-batch"),
    ("GET", "/api/v1/tools"),
    ("GET", "/api/v1/tools/{name}"),
    ("GET", "/api/v1/tools/cache/stats"),
    ("GET", "/api/v1/tools/bandit/stats"),
    ("GET", "/api/v1/tools/activity"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/api/v1/sms/consents"),
    ("POST", "/api/v1/sms/consents/revoke"),
    ("GET", "/api/v1/sms/consents"),
]
# Operations with parameters or a body, which can be sent invalid.
WITH_INPUT = [op for op in OPERATIONS if op[1] not in ("/healthz", "/readyz")]
EXECUTE = "/api/v1/tools/execute"
# Bodies valid by the schema that the route still refuses: a tool's payload (its own model decides), a string
# that is no phone number (400).
SCHEMA_IS_NOT_ALL = {EXECUTE, "/api/v1/sms/consents", "/api/v1/sms/consents/revoke"}
BOUNDED = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenApiSchema]:
    """The document of the app over the default tools, loaded through the app (its lifespan started)."""
    path = tmp_path_factory.mktemp("fuzz") / "salesboost.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app(make_settings(f"sqlite+aiosqlite:///{path}", ROLES))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    shutdown_lifespans()


def test_every_operation_is_fuzzed(api_schema: OpenApiSchema) -> None:
    operations = (result.ok() for result in api_schema.get_all_operations())
    found = {(op.method.upper(), op.path) for op in operations}
    assert found == set(OPERATIONS)


def fuzz(api_schema: OpenApiSchema, method: str, path: str, mode: GenerationMode) -> None:
    """Send up to 25 generated requests; schemathesis checks each answer.

    A schema-valid execute body may still be refused (422, 428): its payload is any object in the schema,
    each tool's own input model decides; a consent's phone_number is any string up to 40 characters. So "valid
    data is accepted" is not checked there.
    """
    operation = api_schema[path][method]
    excluded = [positive_data_acceptance] if path in SCHEMA_IS_NOT_ALL else []
    if path == "/readyz":  # 503 is its documented answer while the tools' models load: no server error
        excluded.append(not_a_server_error)

    @BOUNDED
    @given(case=operation.as_strategy(mode))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth("admin"), excluded_checks=excluded)

    check()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_valid_requests_get_no_server_error_and_answers_match_the_schema(
    api_schema: OpenApiSchema, method: str, path: str
) -> None:
    fuzz(api_schema, method, path, GenerationMode.POSITIVE)


@pytest.mark.parametrize(("method", "path"), WITH_INPUT)
def test_invalid_requests_are_refused_as_documented(
    api_schema: OpenApiSchema, method: str, path: str
) -> None:
    fuzz(api_schema, method, path, GenerationMode.NEGATIVE)


def test_every_documented_example_answers_as_documented(api_schema: OpenApiSchema) -> None:
    operation = api_schema[EXECUTE]["POST"]
    examples = api_schema.get_strategies_from_examples(operation)
    assert examples, "the execute body documents an example of each tool's payload"

    @settings(BOUNDED, max_examples=len(examples) * 3)
    @given(case=st.one_of(examples))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={**auth("admin"), "Idempotency-Key": "fuzz-example"})

    check()
