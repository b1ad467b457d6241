"""A bounded cache of what a command needs besides the case row: its parties and claims.

Parties and claims are written when a case is opened (or taken in from a handoff package) and
rarely change, yet every command needs them (permission scopes, guards, the case it returns).
Reading them costs two statements per command; this cache saves those.

An entry is valid for one head of the case's hash chain (``mf_case.event_hash``): every change
to a case writes an event and so moves the head, and no two histories share a head. A command
that read the parties under one head and wrote a new one moves the entry to the new head
(:meth:`IntakeCache.advance`); any other writer (another process, an import) leaves the entry
behind on an old head, and the next command reads the rows again. A command that changes
parties or claims must call :meth:`IntakeCache.forget` before it commits.

The cache holds at most ``size`` cases (oldest entries go first), so memory does not grow
with the number of cases an engine handles.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["IntakeCache"]

V = TypeVar("V")


class IntakeCache(Generic[V]):
    """``case id -> (chain head, value)``, at most ``size`` entries, safe across threads."""

    def __init__(self, size: int = 4096) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._entries: dict[int, tuple[str | None, V]] = {}
        self._lock = threading.Lock()

    def get(self, case_id: int, head: str | None) -> V | None:
        """The value stored for the case at chain head ``head``, or None."""
        entry = self._entries.get(case_id)
        if entry is None or entry[0] != head:
            return None
        return entry[1]

    def put(self, case_id: int, head: str | None, value: V) -> None:
        with self._lock:
            entries = self._entries
            entries.pop(case_id, None)
            while len(entries) >= self.size:
                del entries[next(iter(entries))]
            entries[case_id] = (head, value)

    def advance(self, case_id: int, old: str | None, new: str | None, value: V) -> None:
        """The command that read ``value`` at head ``old`` committed head ``new``."""
        entry = self._entries.get(case_id)
        if entry is None or entry[0] == old:
            self.put(case_id, new, value)

    def forget(self, case_id: int) -> None:
        with self._lock:
            self._entries.pop(case_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
