"""Faults: a process killed in the middle of a batch of commands leaves a database that verifies;
a locked SQLite database gives DatabaseBusy after the busy timeout, not a hang or a broken case.
(A plugin raising inside a transition writes nothing: tests/test_plugins.py.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediation_flow import DatabaseBusy, Engine
from mediation_flow.cli import main
from tests.conftest import at, make_intake
from tests.stress.workload import fire_worker, intake

DAY = at(2025, 3, 3)


def test_a_process_killed_mid_batch_leaves_a_database_that_verifies(db_url: str) -> None:
    with Engine(db_url, entry_points=False) as engine:
        case_ids = [engine.open_case(intake(i), at=at(2025, 3, 3, 8)).id for i in range(20)]
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    victim = ctx.Process(target=fire_worker, args=(db_url, case_ids, 0.02, ready, go))
    victim.start()
    assert ready.wait(timeout=60)
    go.set()
    with Engine(db_url, entry_points=False, create_schema=False) as engine:
        deadline = time.monotonic() + 60
        while sum(engine.get(c).version for c in case_ids) < len(case_ids) + 30:
            assert time.monotonic() < deadline, "the worker never got going"
            time.sleep(0.02)
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=30)
        versions = [engine.get(c).version for c in case_ids]
        assert max(versions) < 7, "the worker finished before it was killed"
        assert engine.verify_all() == []
    result = CliRunner().invoke(main, ["--db", db_url, "verify", "--all"])
    assert result.exit_code == 0, result.output


def test_a_locked_sqlite_database_gives_database_busy_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    with Engine(url) as engine:
        case = engine.open_case(make_intake(), at=DAY)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with Engine(url, busy_timeout=0.3) as engine:
            started = time.monotonic()
            with pytest.raises(DatabaseBusy, match="locked by another writer"):
                engine.fire(case.id, "refer_to_negotiation", at=DAY)
            assert time.monotonic() - started < 5  # the timeout, not a hang
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Engine(url) as engine:
        assert engine.get(case.id).version == 1
        assert engine.verify(case.id).ok
        assert engine.fire(case.id, "refer_to_negotiation", at=DAY).state == "negotiation"
