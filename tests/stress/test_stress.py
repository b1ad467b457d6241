"""The stress test: 4 processes fire random legal triggers and tick on 200 shared cases on
PostgreSQL; afterwards every state equals its replayed history, sequence numbers are gapless
and no deadline expired twice. A short run by default; ``--stress-seconds N`` for a long one."""

from __future__ import annotations

import pytest

from tests.stress.workload import run


@pytest.mark.postgres
def test_four_processes_on_200_shared_cases(pg_url: str, stress_seconds: float) -> None:
    report = run(pg_url, processes=4, cases=200, seconds=stress_seconds)
    print("\nstress:", report["workers"], report["database"])
    print("conflicts:", report["workers"].get("conflicts", 0))
    assert report["problems"] == []
    assert report["workers"].get("fired", 0) > 100
    assert report["database"]["cases"] == 200
