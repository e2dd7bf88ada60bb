"""The waiting half of a blue/green roll: until the new ASG is healthy, then while the old one stays.

Apart from the AWS calls so it can be tested with a fake clock: `Health` asks how many
instances are InService and Healthy; `Rollout` polls it against deadlines. Poll intervals follow
the deadlines (a twentieth of them, between 0.1 s and 10 s), so small deadlines in tests mean
short, few sleeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from infra.providers.base import Progress


class RollFailed(Exception):
    """The new ASG did not get, or did not stay, healthy."""


@dataclass
class Health:
    healthy: Callable[[], int]  # instances InService and Healthy right now
    wanted: int  # the desired capacity

    def check(self) -> tuple[bool, int]:
        count = self.healthy()
        return count >= self.wanted, count


def poll_interval(seconds: float) -> float:
    return min(10.0, max(0.1, seconds / 20))


class Rollout:
    def __init__(self, health: Health, *, progress: Progress, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.health, self.progress, self.sleep, self.clock = health, progress, sleep, clock

    def wait_healthy(self, name: str, deadline: float) -> None:
        """Return once every wanted instance is InService and Healthy; raise RollFailed at the deadline."""
        end = self.clock() + deadline
        interval = poll_interval(deadline)
        last = -1
        while True:
            ok, count = self.health.check()
            if ok:
                self.progress(f"{name}: {count}/{self.health.wanted} instances InService and Healthy")
                return
            if count != last:
                self.progress(f"{name}: {count}/{self.health.wanted} instances InService and Healthy; waiting")
                last = count
            left = end - self.clock()
            if left <= 0:
                raise RollFailed(f"{name} did not become healthy within {deadline:g}s "
                                 f"({count}/{self.health.wanted} instances InService and Healthy)")
            self.sleep(min(interval, left))

    def hold(self, new: str, old: str, timeout: float) -> None:
        """Keep the old ASG for `timeout` seconds so other nodes notice; the new one must stay healthy."""
        if timeout <= 0:
            return
        self.progress(f"keeping {old} for {timeout:g}s so other nodes notice {new}")
        end = self.clock() + timeout
        interval = poll_interval(timeout)
        while (left := end - self.clock()) > 0:
            self.sleep(min(interval, left))
            ok, count = self.health.check()
            if not ok:
                raise RollFailed(f"{new} became unhealthy before {old} was removed "
                                 f"({count}/{self.health.wanted} instances InService and Healthy)")
