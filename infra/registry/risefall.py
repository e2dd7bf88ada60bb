"""Rise and fall: when a run of health checks changes whether a service should be registered. Pure.

As in haproxy and SmartStack's nerve, one result proves little: a service is judged up after
`rise` passes in a row and down after `fall` failures in a row, so one slow answer does not
pull a node out of rotation and one lucky answer does not put a broken one in.

A gate starts `unknown`: an agent that restarts neither withdraws a registration nor makes
one until the checks have decided. Time is not kept here; the caller runs the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum


class Health(str, Enum):
    unknown = "unknown"
    up = "up"
    down = "down"


class RiseFall:
    def __init__(self, rise: int, fall: int) -> None:
        if rise < 1 or fall < 1:
            raise ValueError("rise and fall must be at least 1")
        self.rise, self.fall = rise, fall
        self.state = Health.unknown
        self.passes = 0  # in a row, since the last failure
        self.failures = 0  # in a row, since the last pass

    def record(self, passed: bool) -> Health | None:
        """Count one result; the new state when this result changed it, else None."""
        if passed:
            self.passes, self.failures = self.passes + 1, 0
            turned = self.passes >= self.rise and self.state is not Health.up
            new = Health.up
        else:
            self.passes, self.failures = 0, self.failures + 1
            turned = self.failures >= self.fall and self.state is not Health.down
            new = Health.down
        if turned:
            self.state = new
            return new
        return None

    @property
    def decided(self) -> bool:
        return self.state is not Health.unknown

    def progress(self) -> str:
        """Where the count stands, for progress lines: '1 of 2 passes', '2 of 3 failures'."""
        if self.failures:
            return f"{self.failures} of {self.fall} failures"
        return f"{self.passes} of {self.rise} passes"


def settle(checks: Mapping[str, Callable[[], tuple[bool, str]]], *, rise: int, fall: int, interval: float,
           clock: Callable[[], float], sleep: Callable[[float], None],
           progress: Callable[[str], None] | None = None, every: float = 10.0) -> dict[str, tuple[Health, str]]:
    """Check each service every `interval` until rise/fall decides it: {service: (up|down, last detail)}.

    For a one-shot registration (`services:notify --check`): it waits at most about
    max(rise, fall) intervals per service, and says how far it got every `every` seconds.
    """
    gates = {service: RiseFall(rise, fall) for service in checks}
    last: dict[str, str] = {}
    said = clock()
    while True:
        started = clock()
        for service, check in checks.items():
            if not gates[service].decided:
                passed, last[service] = check()
                gates[service].record(passed)
        waiting = [service for service, gate in gates.items() if not gate.decided]
        if not waiting:
            return {service: (gate.state, last[service]) for service, gate in gates.items()}
        if progress is not None and clock() - said >= every:
            said = clock()
            progress("still checking " + ", ".join(f"{service} ({gates[service].progress()}, last: "
                                                   f"{last[service]})" for service in waiting))
        sleep(max(0.0, started + interval - clock()))
