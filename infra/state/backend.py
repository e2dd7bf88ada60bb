"""The state backend interface: read, write (atomically), and an exclusive lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from infra.state.lock import LockInfo
from infra.state.model import State


class StateBackend(Protocol):
    description: str

    def read(self) -> State: ...

    def write(self, state: State) -> None: ...

    def acquire(self, info: LockInfo) -> None:
        """Take the lock or raise StateLockedError naming the holder."""

    def release(self, info: LockInfo) -> None: ...

    def force_unlock(self, lock_id: str) -> LockInfo: ...


@contextmanager
def locked(backend: StateBackend, operation: str) -> Iterator[LockInfo]:
    info = LockInfo(operation=operation)
    backend.acquire(info)
    try:
        yield info
    finally:
        backend.release(info)
