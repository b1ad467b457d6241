"""Structured logging with structlog.

The library only *emits* log events; it never configures logging on import and is silent until
its host says otherwise. Where the host has configured structlog (``structlog.configure``, or
:func:`configure_json_logging` once for JSON lines), events go through structlog's
configuration. Otherwise they go to the standard-library logger ``mediation_flow``, which has
only a ``NullHandler``: nothing is printed until the host configures :mod:`logging` (say
``logging.basicConfig(level="INFO")``). The command-line tool configures logging for itself.

Every fired trigger logs one ``transition`` event with ``case_id``, ``trigger``, ``source``,
``dest``, ``actor_id``, ``actor_role``, ``seq`` and ``duration_ms``, never personal data; a
host that logs its own events with identity numbers or phones should add
:func:`mask_personal_data` to its structlog processors (the JSON helper does).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from mediation_flow.personal_data import mask_personal_data

__all__ = ["configure_json_logging", "get_logger", "mask_personal_data"]

#: The standard-library logger the library writes to while structlog is not configured.
STDLIB_LOGGER = logging.getLogger("mediation_flow")
if not any(isinstance(h, logging.NullHandler) for h in STDLIB_LOGGER.handlers):
    # A library adds no other handler: without one, logging's "last resort" would print
    # warnings to standard error.
    STDLIB_LOGGER.addHandler(logging.NullHandler())

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class LibraryLogger:
    """The library's logger. Each call goes to structlog when the host has configured it (the
    host's processors, level and output apply), else to the standard-library logger
    ``mediation_flow`` as ``event key=value ...`` with personal data masked, which prints
    nothing until the host configures :mod:`logging`. Checked on every call, so a host may
    configure logging before or after creating an engine."""

    __slots__ = ("_context", "_structlog")

    def __init__(self, context: dict[str, Any] | None = None) -> None:
        self._context = context or {}
        # A lazy proxy: it follows the structlog configuration of the moment it is first used.
        self._structlog = structlog.get_logger("mediation_flow")

    def bind(self, **values: Any) -> LibraryLogger:
        return LibraryLogger({**self._context, **values})

    def _emit(self, method: str, event: str, values: dict[str, Any]) -> Any:
        if structlog.is_configured():
            log = self._structlog.bind(**self._context) if self._context else self._structlog
            return getattr(log, method)(event, **values)
        level = _LEVELS[method]
        if not STDLIB_LOGGER.isEnabledFor(level):
            return None
        fields = mask_personal_data(None, method, {"event": event, **self._context, **values})
        text = " ".join([str(fields.pop("event")), *(f"{k}={v!r}" for k, v in fields.items())])
        STDLIB_LOGGER.log(level, "%s", text, exc_info=method == "exception" or None)
        return None

    def debug(self, event: str, **values: Any) -> Any:
        return self._emit("debug", event, values)

    def info(self, event: str, **values: Any) -> Any:
        return self._emit("info", event, values)

    def warning(self, event: str, **values: Any) -> Any:
        return self._emit("warning", event, values)

    warn = warning

    def error(self, event: str, **values: Any) -> Any:
        return self._emit("error", event, values)

    def exception(self, event: str, **values: Any) -> Any:
        return self._emit("exception", event, values)

    def critical(self, event: str, **values: Any) -> Any:
        return self._emit("critical", event, values)


def get_logger() -> Any:
    """The library's logger: silent until the host configures structlog or :mod:`logging`
    (:class:`LibraryLogger`)."""
    return LibraryLogger()


def configure_json_logging(stream: TextIO | None = None, *, level: str | int = "INFO") -> None:
    """Configure structlog globally to write one JSON object per line to ``stream``
    (default: standard error), with an ISO timestamp and the level. For applications and
    scripts; a library that embeds mediation_flow should leave logging to its host."""
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            # Never an identity number or a phone number in a log line (after every
            # processor that adds text, before the renderer).
            mask_personal_data,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
