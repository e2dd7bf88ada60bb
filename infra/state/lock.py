"""Who holds the state lock: the record shown when a second apply is refused."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from infra.errors import StateError, StateLockedError


class LockInfo(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    operation: str = ""
    who: str = Field(default_factory=lambda: f"{_user()}@{socket.gethostname()}")
    pid: int = Field(default_factory=os.getpid)
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return (f"{self.who} (pid {self.pid}) since {self.created} for {self.operation or 'an operation'}, "
                f"lock id {self.id}")

    def holder_is_gone(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists (it was killed,
        or the machine rebooted). Anything else (another host, a pid we may not signal) is not known to
        be gone; a reused pid reads as alive, so this never calls a live lock stale."""
        if self.pid <= 0 or self.who.rpartition("@")[2] != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def locked_error(where: str, holder: LockInfo | None, unreadable: str) -> StateLockedError:
    """The one-line refusal when another run holds the lock of the state at `where`: who, since when,
    for what, and how to unlock it once that run is gone (`unreadable`: what to do when the lock
    names no holder)."""
    if holder is None:
        hint = f"; {unreadable}"
    elif holder.holder_is_gone():
        hint = (f"; that process is no longer running on this host, so the lock is stale: run "
                f"infra state unlock {holder.id}")
    else:
        hint = f"; if that process is gone, run: infra state unlock {holder.id}"
    described = holder.describe() if holder else "an unknown process"
    return StateLockedError(f"state {where} is locked by {described}{hint}")


def unlockable(where: str, holder: LockInfo | None, lock_id: str, *, damaged: str | None = None) -> LockInfo:
    """The holder `infra state unlock LOCK_ID` may remove; else why not (`damaged`: the lock is there
    but names no holder, and what to do)."""
    if holder is None and damaged:
        raise StateError(damaged)
    if holder is None:
        raise StateError(f"state {where} is not locked")
    if holder.id != lock_id:
        raise StateError(f"lock id {lock_id} does not match the lock held by {holder.describe()}")
    return holder


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without /etc/passwd entry)
        return str(os.getuid())
