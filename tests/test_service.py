"""The HTTP service: authentication required, problem details per error class, idempotent
requests, body limits, health and readiness, and `mediation-flow serve` refusing to start
without an authenticator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mediation_flow import Actor, Engine, Role, errors
from mediation_flow.cli import main
from mediation_flow.server import (
    PROBLEM_STATUS,
    HmacTokenAuthenticator,
    create_app,
    issue_token,
    problem_type,
)
from tests.conftest import at, make_intake

SECRET = "service-test-secret-0123456789abcdef"
OFFICER = Actor("officer-1", Role.intake_officer)


def bearer(actor: Actor = OFFICER) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, actor)}"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    engine = Engine("sqlite://", clock=lambda: at(2025, 3, 3))
    yield TestClient(create_app(engine, authenticator=HmacTokenAuthenticator(SECRET)))
    engine.close()


def test_open_drive_and_read_a_case(client: TestClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "intake-1"}
    opened = client.post("/cases", json=make_intake(), headers=headers)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["parties"][0]["id_number"] == "430102********1238"
    again = client.post("/cases", json=make_intake(), headers=headers)
    assert again.json()["id"] == case["id"]  # a retried intake: one case
    fired = client.post(
        f"/cases/{case['id']}/fire", json={"trigger": "refer_to_negotiation"}, headers=bearer()
    )
    assert fired.status_code == 200 and fired.json()["state"] == "negotiation"
    history = client.get(f"/cases/{case['id']}/history", headers=bearer()).json()
    assert [e["trigger"] for e in history] == ["open_case", "refer_to_negotiation"]
    assert client.get(f"/cases/{case['id']}/triggers", headers=bearer()).json()
    deadlines = client.get(f"/cases/{case['id']}/deadlines", headers=bearer()).json()
    assert deadlines[0]["kind"] == "negotiation_answer"
    progress = client.get(f"/lookup/{case['serial']}", headers=bearer()).json()
    assert progress["stage_key"] == "negotiation"
    page = client.get("/events?after=0", headers=bearer()).json()
    assert [e["trigger"] for e in page["events"]] == ["open_case", "refer_to_negotiation"]
    assert client.get(f"/events?after={page['next_after']}", headers=bearer()).json() == {
        "events": [],
        "next_after": page["next_after"],
    }


def test_no_credentials_no_access(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"X-Actor": "system"}):
        response = client.get("/cases", headers=headers)
        assert response.status_code == 401
        assert response.json()["type"] == "urn:mediation-flow:problem:unauthenticated"
    forged = issue_token("another-secret-0123456789abcdef-0123", OFFICER)
    assert client.get("/cases", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = issue_token(SECRET, OFFICER, ttl=-3600)
    assert client.get("/cases", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_errors_are_problem_details_with_a_stable_type(client: TestClient) -> None:
    case = client.post("/cases", json=make_intake(), headers=bearer()).json()
    illegal = client.post(f"/cases/{case['id']}/fire", json={"trigger": "sue"}, headers=bearer())
    assert illegal.status_code == 409
    assert illegal.headers["content-type"] == "application/problem+json"
    body = illegal.json()
    assert body["type"] == "urn:mediation-flow:problem:illegal-transition"
    assert (body["error"], body["state"]) == ("IllegalTransition", "received")
    assert "refer_to_negotiation" in body["legal"]
    missing = client.get("/cases/99999", headers=bearer())
    assert (missing.status_code, missing.json()["type"]) == (
        404,
        "urn:mediation-flow:problem:case-not-found",
    )
    bad = client.post("/cases", json=make_intake(region="12"), headers=bearer())
    assert bad.status_code == 422
    worker = Actor("w-1", Role.worker)
    # A case outside the caller's scope is "not found" (no existence oracle).
    hidden = client.get(f"/cases/{case['id']}", headers=bearer(worker))
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:mediation-flow:problem:case-not-found"
    assert client.get("/events", headers=bearer(worker)).status_code == 403


def test_every_error_class_has_a_documented_status() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    for klass in classes:
        assert klass in PROBLEM_STATUS, klass
        assert problem_type(klass).startswith("urn:mediation-flow:problem:")
    assert len({problem_type(k) for k in classes}) == len(classes)
    from pathlib import Path

    howto = (Path(__file__).parent.parent / "docs" / "howto" / "service.md").read_text()
    for klass in classes:
        assert f"`{problem_type(klass)}`" in howto, klass


def test_bodies_over_the_limit_are_refused_unread() -> None:
    engine = Engine("sqlite://")
    app = create_app(engine, authenticator=HmacTokenAuthenticator(SECRET), max_body=4096)
    client = TestClient(app)
    response = client.post("/handoff/import", content=b"{" + b" " * 10_000 + b"}", headers=bearer())
    assert response.status_code == 413
    assert response.json()["type"] == "urn:mediation-flow:problem:request-too-large"

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post("/handoff/import", content=chunks(), headers=bearer())
    assert streamed.status_code == 413
    engine.close()


def test_the_service_needs_an_authenticator(tmp_path: Any, monkeypatch: Any) -> None:
    with pytest.raises(ValueError, match="authenticator"):
        create_app(Engine("sqlite://"), authenticator=None)  # type: ignore[arg-type]
    monkeypatch.delenv("MEDIATION_FLOW_TOKEN_SECRET", raising=False)
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = runner.invoke(main, ["--db", db, "serve"])
    assert result.exit_code == 2 and "no authenticator" in result.output
    short = tmp_path / "short"
    short.write_text("too-short")
    result = runner.invoke(main, ["--db", db, "serve", "--token-secret-file", str(short)])
    assert result.exit_code == 2 and "at least 32 bytes" in result.output
    with pytest.raises(ValueError, match="32 bytes"):
        HmacTokenAuthenticator("short")


def test_the_token_command_issues_what_the_service_accepts(tmp_path: Any) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    result = CliRunner().invoke(
        main, ["token", "--sub", "officer-9", "--role", "arbitrator", "--secret-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    actor = HmacTokenAuthenticator(SECRET).actor_of(result.output.strip())
    assert actor == Actor("officer-9", Role.arbitrator)
    with pytest.raises(ValueError, match="system"):
        issue_token(SECRET, Actor("root", Role.system))
