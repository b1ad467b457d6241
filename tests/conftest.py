"""Shared fixtures: an in-memory engine, a file SQLite engine, a PostgreSQL engine (a fresh
schema per test), a fixed clock, and a factory of realistic intakes.

Property-based tests (hypothesis) run derandomised in CI, randomised elsewhere.

PostgreSQL tests use ``MEDIATION_FLOW_PG_URL`` (default: the local server of the development
machines). Where it cannot be reached they are skipped, except in CI (``CI=true``), where they
must run and an unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings

from mediation_flow import Engine

SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("MEDIATION_FLOW_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Property-based tests: in CI the same examples on every run (a CI run is never flaky; a
# failure prints the blob that reproduces it); on a development machine each run explores new
# ones (the fuzz test found a lone surrogate that way).
settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress-seconds",
        type=float,
        default=8.0,
        help="how long the stress test's workers run (default 8; e.g. 300 for a long run)",
    )


@pytest.fixture
def stress_seconds(request: pytest.FixtureRequest) -> float:
    value: float = request.config.getoption("--stress-seconds")
    return value


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A moment in China (Asia/Shanghai)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def deadline(engine: Engine, case_id: int, kind: str, party: str | None = None) -> Any:
    """The most recently started deadline of ``kind`` (for ``party``: a party id, or a kind for
    the only party of that kind) of a case."""
    if party in ("worker", "employer"):
        party = f"{party}-1"
    found = [d for d in engine.deadlines(case_id) if d.kind == kind and d.party == party]
    assert found, f"no {kind} deadline for {party}: {engine.deadlines(case_id)}"
    return found[-1]


def make_intake(**overrides: Any) -> dict[str, Any]:
    """A wage dispute: 张三 against 长沙某建筑公司, in Changsha's Furong district."""
    intake: dict[str, Any] = {
        "region": "430102",
        "parties": [
            {
                "kind": "worker",
                "role": "applicant",
                "name": "张三",
                "id_number": "430102199001011238",
                "phone": "13800138000",
            },
            {"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"},
        ],
        "claims": [{"kind": "wages", "amount": "18000.00"}],
        "knew_of_infringement_on": "2024-12-31",
        "employment_ended_on": "2024-12-31",
    }
    intake.update(overrides)
    return intake


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """The CLI configures structlog globally, as an application does; undo it after each test."""
    yield
    import structlog

    structlog.reset_defaults()


@pytest.fixture
def intake() -> Callable[..., dict[str, Any]]:
    return make_intake


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An in-memory engine whose clock is fixed at 2025-03-03 09:00 in Shanghai."""
    eng = Engine("sqlite://", clock=lambda: at(2025, 3, 3))
    yield eng
    eng.close()


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"{type(exc).__name__}: {exc}"


_PG_PROBLEM: str | bool | None = False  # False: not probed yet


def require_postgres() -> None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_available()
    if _PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_URL}: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {_PG_PROBLEM}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards)."""
    require_postgres()
    import psycopg

    schema = f"mf_test_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database URL for storage tests: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
