"""Who holds the state lock: the record shown when a second apply is refused."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from infra.errors import StateError, StateLockedError


class LockInfo(BaseModel):
    """Who holds a lock: user@host and pid (so `infra state unlock` can tell a live holder on this host),
    since when, for what."""


    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    operation: str = ""
    who: str = Field(default_factory=lambda: f"{_user()}@{socket.gethostname()}")
    pid: int = Field(default_factory=os.getpid)
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return (f"{self.who} (pid {self.pid}) since {self.created} for {self.operation or 'an operation'}, "
                f"lock id {self.id}")

    @property
    def host(self) -> str:
        return self.who.rpartition("@")[2]

    def holder_is_gone(self) -> bool:
        """True only when the holder ran on this host and its process no longer exists (it was killed,
        or the machine rebooted). Anything else (another host, a pid we may not signal) is not known to
        be gone; a reused pid reads as alive, so this never calls a live lock stale."""
        return self._on_this_host() and _process_state(self.pid) == "gone"

    def holder_is_alive(self) -> bool:
        """True when the holder ran on this host and a process with its pid runs here now (one we may
        not signal counts: it exists). A pid reused by a process started after the lock was taken is
        not the holder (Linux tells its start time)."""
        if not self._on_this_host() or _process_state(self.pid) != "running":
            return False
        started = _process_start(self.pid)
        taken = _timestamp(self.created)
        return started is None or taken is None or started <= taken + 1

    def _on_this_host(self) -> bool:
        return self.pid > 0 and self.host == socket.gethostname()


Confirm = Callable[["LockInfo"], None]


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


def unlockable(where: str, holder: LockInfo | None, lock_id: str, *, damaged: str | None = None,
               confirm: Confirm = lambda holder: None) -> LockInfo:
    """The holder `infra state unlock LOCK_ID` may remove; else why not (`damaged`: the lock is there
    but names no holder, and what to do). A holder still running on this host is never removed (its
    apply would carry on unlocked beside the next one); one on another host, or whose process is not
    known, is removed once `confirm` returns (it raises to refuse); one known gone needs no question."""
    if holder is None and damaged:
        raise StateError(damaged)
    if holder is None:
        raise StateError(f"state {where} is not locked")
    if holder.id != lock_id:
        raise StateError(f"lock id {lock_id} does not match the lock held by {holder.describe()}")
    if holder.holder_is_alive():
        raise StateError(f"state {where} is locked by {holder.describe()}, and that process is still running on "
                         f"this host: the lock is not removed; wait for it to end, or stop it (kill {holder.pid}: "
                         f"it releases the lock as it stops)")
    if not holder.holder_is_gone():
        confirm(holder)
    return holder


class LockLostError(StateError):
    """The lock this run took was removed (infra state unlock) or taken by another run meanwhile."""


def lock_lost(where: str, info: LockInfo) -> LockLostError:
    return LockLostError(f"the lock of state {where} (lock id {info.id}) was removed while this run held it "
                         f"(infra state unlock?): stopped before the next step; what finished since the last "
                         f"step is not recorded; run infra plan to see where things are")


def lock_lost_before(where: str, info: LockInfo, change: str) -> LockLostError:
    """Said by a command that holds the lock for one change (state rm, state push, packer:clean,
    packer:delete) when it finds its lock gone just before making it: that change is not made."""
    return LockLostError(f"the lock of state {where} (lock id {info.id}) was removed while this run held it "
                         f"(infra state unlock?): stopped before {change}; nothing was written; run the command "
                         f"again once no other run holds the lock")


def lock_lost_at_end(where: str, info: LockInfo) -> LockLostError:
    """Said when an apply finished every step and found its lock gone as it was to write the state
    whole (its journal compacted, or uploaded): that write is left to whoever holds the lock now."""
    return LockLostError(f"the lock of state {where} (lock id {info.id}) was removed while this run held it "
                         f"(infra state unlock?), after its last step: every step is recorded in its journal on "
                         f"this machine, but the state was not written whole at the end; run infra plan here to "
                         f"see where things are")


def lock_lost_at_release(where: str, info: LockInfo) -> LockLostError:
    """Said when the lock was replaced by another run's between this run's last look at it and its
    release (its last state write came before that look): the other run's lock stays."""
    return LockLostError(f"the lock of state {where} (lock id {info.id}) was removed while this run held it "
                         f"(infra state unlock?), as this run let go of it: a lock another run took meanwhile is "
                         f"left in place; run infra plan to see where things are")


def _process_state(pid: int) -> str:
    """running, gone, or unknown (not this host's business)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "running"  # exists, under another user
    except OSError:
        return "unknown"
    return "running"


def _process_start(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), where /proc tells (Linux); else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        ticks = int(stat.rpartition(")")[2].split()[19])  # field 22, after the command's (name)
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _timestamp(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without /etc/passwd entry)
        return str(os.getuid())
