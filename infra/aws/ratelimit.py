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
from infra.stopping import pause

# Below one request every 10 s a plan of a few groups takes hours: a typo (1e-9), not a limit.
LOWEST, HIGHEST = 0.1, 10_000.0


def rate_problem(per_second: float) -> str | None:
    """Why `per_second` is no request rate infra takes, or None."""
    if LOWEST <= per_second <= HIGHEST:
        return None
    return (f"give the AWS requests per second, from {LOWEST:g} (one request every 10 seconds) to {HIGHEST:g} "
            f"(0.5 is one request every 2 seconds)")


class RequestRate:
    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = pause) -> None:
        """`sleep` wakes early on Ctrl-C or SIGTERM (stopping.py): the request then goes at once, so a
        stopped command ends promptly, and what it does on its way out (a roll's undo) is not held back."""
        problem = rate_problem(per_second)
        if problem:
            raise InfraError(f"max_request_rate {per_second:g}: {problem}")
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
