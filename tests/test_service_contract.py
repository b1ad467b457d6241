"""Contract tests of the HTTP service, generated from its own OpenAPI document (schemathesis):
whatever the generated input, on SQLite and on PostgreSQL, the service answers without a 500,
and every error is a problem document. Bounded: a few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from mediation_flow import Actor, Engine, HandoffSettings, Role  # noqa: E402
from mediation_flow.server import HmacTokenAuthenticator, create_app, issue_token  # noqa: E402
from tests.conftest import at, make_intake  # noqa: E402

SECRET = "contract-test-secret-0123456789abcdef"
OFFICER = Actor("officer-1", Role.intake_officer)
TOKEN = issue_token(SECRET, OFFICER, ttl=3600 * 24)
#: Generated requests per operation (17 operations): keeps each database's run well under a
#: minute on a busy machine.
EXAMPLES = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_schema(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'api.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = Engine(url, clock=lambda: at(2025, 6, 3, 10), handoff=HandoffSettings(org_id="A"))
    case = engine.open_case(make_intake(), at=at(2025, 6, 3))  # something to find
    engine.fire(case.id, "refer_to_negotiation", at=at(2025, 6, 3))
    app = create_app(engine, authenticator=HmacTokenAuthenticator(SECRET))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    engine.close()


def check(case: Any) -> None:
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500 or response.status_code == 503, (
        case.method,
        case.formatted_path,
        response.status_code,
        response.text[:500],
    )
    if response.status_code >= 400:
        content_type = response.headers["content-type"]
        if isinstance(content_type, list):
            content_type = content_type[0]
        assert content_type.startswith("application/problem+json"), content_type
        body = response.json()
        assert body["type"].startswith("urn:mediation-flow:problem:"), body
        assert body["status"] == response.status_code


def test_no_input_makes_the_service_fail(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            check(case)

        run()
