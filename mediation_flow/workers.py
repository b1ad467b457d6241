"""Long-running workers (``mediation-flow tick --every``, ``mediation-flow deliver``): a loop
that survives the database going away and stops cleanly.

:func:`run_worker` calls a step every ``every`` seconds until it is told to stop (SIGTERM or
SIGINT, or the ``stop`` event). A step that fails because of the database (a lost or refused
connection, a restarted server, a lock, a conflict: :class:`~mediation_flow.errors.DatabaseError`,
``DatabaseBusy``, ``ConcurrentUpdate``) or of anything else unexpected is logged and retried
after an exponential backoff with jitter (1 s doubling up to ``max_backoff``); the connection pool
reconnects on the next try. Only a configuration error ends the worker (exit status 2): a schema
that needs ``db upgrade``, a plugin or flow that does not load, a missing signing key. Every log
line goes through structlog, so ``--log-json`` makes them JSON (tracebacks included as a field).
On SIGTERM the step that is running finishes (its transaction commits or rolls back), then the
worker exits with status 0.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable
from typing import Any

from mediation_flow.errors import (
    FlowDefinitionError,
    InvalidData,
    MediationFlowError,
    SchemaMismatch,
    UnknownFlow,
)
from mediation_flow.logging import get_logger

__all__ = ["CONFIGURATION_ERRORS", "run_worker"]

#: Errors no retry can mend: the worker exits (status 2) and says what to fix.
CONFIGURATION_ERRORS: tuple[type[MediationFlowError], ...] = (
    SchemaMismatch,
    FlowDefinitionError,
    UnknownFlow,
    InvalidData,
)


def run_worker(
    name: str,
    step: Callable[[], Any],
    *,
    every: float,
    stop: threading.Event | None = None,
    max_backoff: float = 60.0,
    handle_signals: bool = True,
    sleep: Callable[[threading.Event, float], bool] | None = None,
) -> int:
    """Run ``step`` every ``every`` seconds until stopped; return the exit status (0 after a
    stop, 2 after a configuration error)."""
    log = get_logger().bind(worker=name)
    stop = stop or threading.Event()
    wait = sleep or (lambda event, seconds: event.wait(seconds))
    previous: dict[signal.Signals, Any] = {}
    received_signals: list[str] = []
    if handle_signals and threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):

            def _stop(received: int, frame: Any) -> None:
                # Nothing but the flag here: a handler that wrote a log line could wait for the
                # lock of a line the interrupted code was writing.
                received_signals.append(signal.Signals(received).name)
                stop.set()

            previous[signum] = signal.signal(signum, _stop)
    failures = 0
    log.info("worker_started", every=every)
    try:
        while not stop.is_set():
            try:
                step()
            except CONFIGURATION_ERRORS as exc:
                log.error("worker_configuration_error", error=str(exc), kind=type(exc).__name__)
                return 2
            except Exception as exc:  # the database went away, or anything unforeseen
                failures += 1
                delay = min(max_backoff, 2.0 ** min(failures - 1, 16)) * random.uniform(0.5, 1.0)
                log.warning(
                    "worker_step_failed",
                    error=str(exc)[:500],
                    kind=type(exc).__name__,
                    failures=failures,
                    retry_in_s=round(delay, 2),
                    exc_info=not isinstance(exc, MediationFlowError),
                )
                wait(stop, delay)
                continue
            if failures:
                log.info("worker_recovered", after_failures=failures)
                failures = 0
            wait(stop, every)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received_signals:
        log.info("worker_stopping", signal=received_signals[0])
    log.info("worker_stopped")
    return 0
