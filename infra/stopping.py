"""One event that Ctrl-C and SIGTERM set, so that every wait of infra's, in any thread, wakes at once.

Python runs a signal handler in the main thread only; a worker thread asleep in `time.sleep`
(a request held back by --max-request-rate, a pause before a retry) sleeps on, and the command
cannot end until it wakes. So infra waits through `pause`, which the CLI's Ctrl-C and SIGTERM
handlers wake (`request_stop`); each caller then decides what a stop means for it.
"""

from __future__ import annotations

import threading

_stop = threading.Event()


def request_stop() -> None:
    """Wake every pause, now and until `reset` (called by the CLI's signal handlers)."""
    _stop.set()


def reset() -> None:
    """A new command starts (tests run many in one process)."""
    _stop.clear()


def stop_requested() -> bool:
    return _stop.is_set()


def pause(seconds: float) -> bool:
    """Sleep `seconds`, or less when a stop is requested: True when the whole pause passed."""
    return not _stop.wait(max(seconds, 0.0))
