"""Structured logging with structlog.

The library only *emits* log events through ``structlog.get_logger("mediation_flow")``; it never
configures logging on import. The host application configures structlog as it likes, or calls
:func:`configure_json_logging` once for JSON lines. Every fired trigger logs one ``transition``
event with ``case_id``, ``trigger``, ``source``, ``dest``, ``actor_id``, ``actor_role``, ``seq``
and ``duration_ms``, never personal data; a host that logs its own events with identity
numbers or phones should add :func:`mask_personal_data` to its structlog processors (the JSON
helper does).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from mediation_flow.personal_data import mask_personal_data

__all__ = ["configure_json_logging", "get_logger", "mask_personal_data"]


def get_logger() -> Any:
    """The library's logger (a lazy proxy: it follows the host's structlog configuration)."""
    return structlog.get_logger("mediation_flow")


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
