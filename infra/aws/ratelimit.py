"""A client-side limit on AWS requests per second, shared by every thread of one run.

Accounts share their API limits with other tools (Terraform, a CI job, the console); a plan of a
thousand groups with ten threads can take more than its share. `RequestRate(n)` spaces requests
at least 1/n seconds apart, whichever thread sends them, so no second ever sees more than about
n of them; a burst is smoothed, never let through. Every attempt counts: a retry is a request too.

It knows nothing of AWS: session.py calls `wait()` before each HTTP request boto3 sends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from infra.errors import InfraError


class RequestRate:
    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not per_second > 0:
            raise InfraError(f"max_request_rate {per_second:g}: give the AWS requests per second, more than 0 "
                             f"(0.5 is one request every 2 seconds)")
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0  # when the next request may go

    def wait(self) -> float:
        """Block until this request's turn; returns the seconds waited. Turns are handed out in
        the order threads ask, one interval apart, so no thread starves."""
        with self._lock:
            now = self._clock()
            turn = max(now, self._next)
            self._next = turn + self.interval
        delay = turn - now
        if delay > 0:
            self._sleep(delay)
        return delay

    def __repr__(self) -> str:
        return f"RequestRate({self.per_second:g}/s)"


def request_rate(per_second: float | None) -> RequestRate | None:
    """The limit for a configured rate; None (no limit) when none is configured."""
    return None if per_second is None else RequestRate(per_second)
