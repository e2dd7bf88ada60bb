"""Waiting on AWS with deadlines, progress lines and a way to stop: what a roll's phases (rollout.py),
and the hold before a renamed group's old ASG goes (autoscaling.py), have in common.

While it waits, a progress line at least every 10 s (and whenever what it waits for changes), on
a terminal and in CI logs alike. Polls come at a twentieth of the phase's length, between 0.1 s
and 5 s, so the short deadlines of tests mean short rolls. Time is `clock` and `sleep`, so tests
drive it with a fake clock and never sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from infra.providers.base import Progress

PROGRESS_EVERY = 10.0  # seconds: the longest silence while waiting
MAX_POLL = 5.0


class RollFailed(Exception):
    """A gate failed (or infra was stopped); the message says which, on one line."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached infra while a roll waited."""


def poll_interval(seconds: float) -> float:
    return min(MAX_POLL, max(0.1, seconds / 20))


@dataclass(frozen=True)
class Step:
    """One look at what a phase waits for: the progress line, and whether it is over."""

    line: str
    key: str = ""  # what, when it changes, is worth a line at once (the line without its countdown)
    done: bool = False


class Waiter:
    """Polls a step until it is done or its time is up, saying how far it is."""

    def __init__(self, progress: Progress, clock: Callable[[], float], sleep: Callable[[float], object],
                 stopped: Callable[[], bool] = lambda: False) -> None:
        self.progress, self.clock, self.sleep, self.stopped = progress, clock, sleep, stopped

    def wait(self, phase: str, seconds: float, step: Callable[[float, float], Step],
             timed_out: Callable[[Step], str] | None = None) -> Step:
        """Call `step(elapsed, left)` until it is done. When `seconds` run out first: fail with
        `timed_out(last step)` if given, else the wait is over. Stopped (Ctrl-C, SIGTERM): Interrupted."""
        start = self.clock()
        interval = poll_interval(seconds)
        said, said_at, line = None, float("-inf"), None
        while True:
            if self.stopped():
                raise Interrupted(phase)
            now = self.clock()
            left = start + seconds - now
            current = step(now - start, max(0.0, left))
            over = current.done or left <= 0
            if over and not current.done and timed_out is not None:
                raise RollFailed(timed_out(current))
            due = over or (current.key or current.line) != said or now + interval > said_at + PROGRESS_EVERY
            if due and not (over and current.line == line):  # the last word, unless just said
                self.progress(current.line)
                said, said_at, line = current.key or current.line, now, current.line
            if over:
                return current
            self.sleep(min(interval, left))


def keep_while_healthy(waiter: Waiter, new: str, old: str, seconds: float, healthy: Callable[[], str]) -> None:
    """Keep `old` for `seconds` so other nodes notice `new`; `healthy()` raises RollFailed when
    `new` is no longer healthy, else says how healthy it is (a renamed group's old ASG is kept
    this way too, while the new group's nodes stay healthy)."""
    if seconds <= 0:
        return
    first = [True]

    def step(elapsed: float, left: float) -> Step:
        said = healthy()
        line = (f"keeping {old} for {seconds:.0f}s so other nodes notice {new}" if first[0]
                else f"keeping {old}: {left:.0f} s left; {new}: {said}")
        first[0] = False
        return Step(line, key=said, done=left <= 0)

    waiter.wait("the hold", seconds, step)
