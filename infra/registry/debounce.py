"""Turn a burst of registry events into one run.

A node joining a group notifies several services in one go, and a blue/green roll replaces a
whole group within seconds; running chef-solo once per key would be wasteful and slow. So a
run waits until events have been quiet for `quiet` seconds, but never more than `max_wait`
after the first event of the burst, so a registry that never goes quiet still gets a run.
Time is passed in, so this is pure and testable without sleeping.
"""

from __future__ import annotations


class Debouncer:
    def __init__(self, quiet: float, max_wait: float | None = None) -> None:
        self.quiet = max(0.0, quiet)
        self.max_wait = max(self.quiet, max_wait if max_wait is not None else 10 * self.quiet)
        self._first: float | None = None
        self._last: float | None = None

    @property
    def pending(self) -> bool:
        return self._first is not None

    def poke(self, now: float) -> None:
        """Record an event at `now`."""
        if self._first is None:
            self._first = now
        self._last = now

    def due(self) -> float | None:
        """When the burst should be acted on; None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_wait)

    def ready(self, now: float) -> bool:
        due = self.due()
        return due is not None and now >= due

    def clear(self) -> None:
        self._first = self._last = None
