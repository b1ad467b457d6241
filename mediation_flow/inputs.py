"""Checks of what comes in from outside before it reaches the database.

A database refuses some values with errors a caller cannot act on (PostgreSQL: a NUL
character in a text, an actor id wider than its column, a number out of range), and SQLite
accepts what PostgreSQL refuses. These checks refuse them first, the same on every store, with
an error that names the field; whatever still fails in the database comes back as a
:class:`~mediation_flow.errors.MediationFlowError` without the values
(:mod:`mediation_flow.storage.repository`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediation_flow.errors import InvalidData
from mediation_flow.models import Actor

__all__ = ["check_actor", "encodable", "nul_path"]

#: The longest actor id (the width of the actor columns).
MAX_ACTOR_ID = 128


def check_actor(actor: Actor, what: str) -> Actor:
    """``actor`` if its id fits the database (1 to 128 characters, no NUL), else
    ``InvalidData``: the check a database would otherwise make with an unreadable error."""
    if not isinstance(actor, Actor):
        raise InvalidData(what, "actor", f"expected an Actor, got {type(actor).__name__}")
    if not isinstance(actor.id, str) or not 0 < len(actor.id) <= MAX_ACTOR_ID:
        raise InvalidData(what, "actor.id", f"must be 1 to {MAX_ACTOR_ID} characters")
    for name, value in (("actor.id", actor.id), ("actor.org_id", actor.org_id),
                        ("actor.region", actor.region)):  # fmt: skip
        if isinstance(value, str) and "\x00" in value:
            raise InvalidData(what, name, "must not contain a NUL character")
    return actor


def nul_path(value: Any, path: str = "") -> str | None:
    """The path of the first text holding a NUL character in ``value`` (mappings, lists and
    texts, keys included), or None."""
    if isinstance(value, str):
        return path or "value" if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return path or "data"
            found = nul_path(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = nul_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def encodable(text: str) -> bool:
    """Whether ``text`` can be stored and compared at all: UTF-8 without lone surrogates
    (``"\\ud800"`` decoded from broken input) and without a NUL character."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
