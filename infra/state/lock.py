"""Who holds the state lock: the record shown when a second apply is refused."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, Field


class LockInfo(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    operation: str = ""
    who: str = Field(default_factory=lambda: f"{_user()}@{socket.gethostname()}")
    pid: int = Field(default_factory=os.getpid)
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def describe(self) -> str:
        return f"{self.who} (pid {self.pid}) since {self.created} for {self.operation or 'an operation'}, lock id {self.id}"

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


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without /etc/passwd entry)
        return str(os.getuid())
