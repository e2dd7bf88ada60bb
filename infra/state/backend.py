"""The state backend interface: read, write (atomically), and an exclusive lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Protocol

from infra.errors import ProviderError
from infra.state.lock import Confirm, LockInfo, LockLostError, lock_lost, lock_lost_before
from infra.state.model import State


class StateBackend(Protocol):
    description: str

    def read(self) -> State: ...

    def write(self, state: State) -> None: ...

    def acquire(self, info: LockInfo) -> None:
        """Take the lock or raise StateLockedError naming the holder."""

    def release(self, info: LockInfo) -> None: ...

    def holds(self, info: LockInfo) -> bool:
        """Whether the lock is still the one `info` took (nobody removed or replaced it)."""

    def force_unlock(self, lock_id: str, confirm: Confirm) -> LockInfo:
        """Remove the lock `lock_id` names, after `confirm` (lock.unlockable says when it is asked)."""


def still_held(backend: StateBackend, info: LockInfo, *, before: str | None = None) -> None:
    """Raise LockLostError unless `backend`'s lock is still the one `info` took: checked before each
    step and state write of an apply, and before the change of a command that holds the lock for one
    (`before`: that change, not made), so one whose lock was removed stops instead of racing the next."""
    if not backend.holds(info):
        raise (lock_lost_before(backend.description, info, before) if before is not None
               else lock_lost(backend.description, info))


@contextmanager
def locked(backend: StateBackend, operation: str) -> Iterator[LockInfo]:
    info = LockInfo(operation=operation)
    backend.acquire(info)
    try:
        yield info
    except BaseException:
        with suppress(LockLostError, ProviderError):  # the run's own error is the one to tell
            backend.release(info)
        raise
    backend.release(info)  # may say the lock was lost as it was let go (LockLostError)
