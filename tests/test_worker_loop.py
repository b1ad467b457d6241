"""Workers survive the database going away, exit only on a configuration error, log in the
configured format and stop cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mediation_flow import DatabaseUnavailable, SchemaMismatch
from mediation_flow.workers import run_worker


def test_a_lost_database_is_waited_for_with_backoff() -> None:
    stop = threading.Event()
    calls: list[str] = []
    waits: list[float] = []

    def step() -> None:
        calls.append("step")
        if len(calls) <= 3:
            raise DatabaseUnavailable("08006", "server closed the connection")
        if len(calls) == 5:
            stop.set()

    def sleep(event: threading.Event, seconds: float) -> bool:
        waits.append(seconds)
        return False

    assert run_worker("t", step, every=0.5, stop=stop, sleep=sleep, handle_signals=False) == 0
    assert len(calls) == 5
    backoffs = waits[:3]
    assert 0.5 <= backoffs[0] <= 1 and 1 <= backoffs[1] <= 2 and 2 <= backoffs[2] <= 4
    assert waits[3] == 0.5  # back to the normal pace once it works


def test_a_configuration_error_ends_the_worker() -> None:
    def step() -> None:
        raise SchemaMismatch("0006", "0011", "run 'mediation-flow db upgrade'")

    assert run_worker("t", step, every=1, handle_signals=False) == 2


def _worker(tmp_path: Path, db: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDIATION_FLOW_DB": db}
    return subprocess.Popen(
        [sys.executable, "-m", "mediation_flow", "--log-json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _started(proc: subprocess.Popen[str]) -> str:
    """Wait for the worker's first log line (its signal handlers are in place then)."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert json.loads(line)["event"] == "worker_started", line
    return line


def _json_lines(stderr: str) -> list[dict[str, object]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON


def test_a_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = _worker(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", "tick", "--every", "0.2")
    first = _started(proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    events = [line["event"] for line in _json_lines(first + stderr)]
    assert events[0] == "worker_started" and events[-1] == "worker_stopped"
    assert "worker_stopping" in events


def test_a_worker_waits_for_a_database_that_is_down(tmp_path: Path) -> None:
    """Nothing listens on the port: the worker logs each failure as JSON (no raw traceback)
    and keeps trying with backoff until it is stopped."""
    proc = _worker(tmp_path, "postgresql://mf@127.0.0.1:1/none", "tick", "--every", "0.1")
    first = _started(proc)
    time.sleep(4)
    assert proc.poll() is None, "the worker gave up"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    lines = _json_lines(first + stderr)
    failed = [line for line in lines if line["event"] == "worker_step_failed"]
    assert len(failed) >= 2 and failed[0]["kind"] == "DatabaseUnavailable"
    assert lines[-1]["event"] == "worker_stopped"


@pytest.mark.postgres
def test_tick_and_deliver_survive_terminated_connections(pg_url: str, tmp_path: Path) -> None:
    """Both workers' connections are terminated twice (as an operator or a failover would):
    they log the failure as JSON, reconnect and keep running, then stop on SIGTERM."""
    import uuid

    import psycopg

    from mediation_flow import Engine
    from tests.conftest import PG_URL

    Engine(pg_url).close()  # the schema
    subprocess.run(
        [sys.executable, "-m", "mediation_flow", "handoff", "keygen", str(tmp_path / "k")],
        check=True,
        capture_output=True,
    )
    app = f"mf_worker_{uuid.uuid4().hex[:10]}"  # only these connections are terminated
    url = f"{pg_url}&application_name={app}"
    workers = [
        _worker(tmp_path, url, "tick", "--every", "0.2"),
        _worker(tmp_path, url, "--signing-key", str(tmp_path / "k.key"), "deliver",
                "--every", "0.2"),
    ]  # fmt: skip
    firsts = [_started(p) for p in workers]
    time.sleep(1)
    plain = PG_URL.replace("postgresql+psycopg", "postgresql")
    terminated = 0
    for _ in range(2):
        with psycopg.connect(plain, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app,),
            ).fetchall()
            terminated += len(rows)
        time.sleep(2.5)
    assert terminated >= 2
    assert all(p.poll() is None for p in workers), "a worker died"
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc, first in zip(workers, firsts, strict=True):
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr
        events = [line["event"] for line in _json_lines(first + stderr)]
        assert events[-1] == "worker_stopped"
