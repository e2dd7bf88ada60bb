"""Keep this node's registration true while the agent runs: health-gated, and alive on its lease.

A service with a status check is registered only while the check passes: after `rise` passes in
a row it is registered, after `fall` failures in a row its entry is marked `leaving` (consumers
drop it at once) and removed `grace` seconds later, unless it recovered meanwhile. A service
without a check is registered from the start, as `services:notify` would.

With a TTL, every entry hangs on one lease that this thread renews every third of the TTL, so a
node that dies disappears by itself. When the lease is lost anyway (etcd lost it, or the node was
partitioned longer than the TTL) the node registers again, re-reading nodes.json first, so a
decommissioned service does not come back.

Checks, renewals and removals all run in this one thread, so only one writer speaks for the node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from infra.errors import InfraError
from infra.registry.entry import Address
from infra.registry.health import CheckOutcome, CheckPolicy, HealthCheck
from infra.registry.registry import Leaving, Registry
from infra.registry.risefall import Health, RiseFall

RETRY = 1.0  # seconds between attempts while etcd is away


@dataclass(frozen=True)
class Node:
    """Who registers: the node, its group, and where consumers reach it."""

    node: str
    group: str
    address: Address


class Registrar(threading.Thread):
    def __init__(self, make_registry: Callable[[], Registry], node: Node, services: Callable[[], list[str]], *,
                 ttl: int | None, checks: dict[str, HealthCheck], policy: CheckPolicy, grace: float,
                 log: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="infra-registrar", daemon=True)
        self._make_registry, self.node, self._services, self._log = make_registry, node, services, log
        self.ttl, self.checks, self.policy, self.grace, self._clock = ttl, checks, policy, grace, clock
        self.renew_every = max(ttl / 3, 0.2) if ttl else None
        self.gates = {service: RiseFall(policy.rise, policy.fall) for service in checks}
        self._stopped = threading.Event()
        self.lease = 0
        self._register_now = True
        self._withdraw: set[str] = set()  # turned down, not yet marked leaving
        self._next_check = {service: 0.0 for service in checks}
        self._next_renew = 0.0
        self._leaving: list[tuple[float, Leaving]] = []
        self._failing = False

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        registry = self._make_registry()
        while not self._stopped.is_set():
            try:
                wake = self.step(registry, self._clock())
                if self._failing:
                    self._log("registry reachable again")
                self._failing = False
            except InfraError as exc:  # etcd away, or nodes.json being edited: try again soon
                if not self._failing:
                    self._log(f"cannot update the registration: {exc}; retrying")
                self._failing = True
                wake = self._clock() + RETRY
            self._stopped.wait(max(0.0, wake - self._clock()))

    def step(self, registry: Registry, now: float) -> float:
        """Run the checks that are due and write what they changed; when to wake up next."""
        for service, health, outcome in self._run_due_checks(now):
            self._turned(service, health, outcome)
        if self._withdraw:
            self._mark_leaving(registry, now)
        if self._register_now:
            self._register(registry)
        elif self.ttl and now >= self._next_renew:
            self._renew(registry)
        self._remove_due(registry, now)
        return min([*self._next_check.values(), *(due for due, _ in self._leaving),
                    self._next_renew if self.ttl and self.lease else now + 60.0])

    def _run_due_checks(self, now: float) -> list[tuple[str, Health, CheckOutcome]]:
        turned = []
        for service, check in self.checks.items():
            if now < self._next_check[service]:
                continue
            outcome = check.run(self.policy.timeout)
            self._next_check[service] = max(now, self._clock()) + self.policy.interval
            health = self.gates[service].record(outcome.passed)
            if health is not None:
                turned.append((service, health, outcome))
        return turned

    def _turned(self, service: str, health: Health, outcome: CheckOutcome) -> None:
        if health is Health.up:
            self._log(f"{service}: passed {_checks(self.policy.rise)} in a row ({outcome.detail}): registering")
            self._withdraw.discard(service)
            self._register_now = True
        else:
            self._log(f"{service}: failed {_checks(self.policy.fall)} in a row ({outcome.detail})")
            self._withdraw.add(service)

    def _mark_leaving(self, registry: Registry, now: float) -> None:
        leaving = registry.mark_leaving(self.node.node, sorted(self._withdraw))
        self._withdraw.clear()
        if leaving is not None:
            self._log(f"{', '.join(leaving.services)}: marked leaving; removing in {self.grace:g}s")
            self._leaving.append((now + self.grace, leaving))

    def _register(self, registry: Registry) -> None:
        services = self._services()  # nodes.json again: a decommissioned service must not come back
        wanted = [service for service in services
                  if service not in self.gates or self.gates[service].state is Health.up]
        if not wanted:
            self._register_now = False
            return
        result = registry.notify(group=self.node.group, services=wanted, node=self.node.node,
                                 address=self.node.address, ttl=self.ttl)
        self._register_now = False
        lease = f" on lease {result.lease:x}, renewed every {self.renew_every:.1f}s" if result.lease else ""
        if result.written or result.lease != self.lease:
            self._log(f"registered {', '.join(wanted)}{lease}")
        self.lease = result.lease
        if self.renew_every is not None:
            self._next_renew = self._clock() + self.renew_every

    def _renew(self, registry: Registry) -> None:
        if self.lease and registry.renew(self.lease):
            self._next_renew = self._clock() + (self.renew_every or 0.0)
            return
        if self.lease:
            self._log(f"lease {self.lease:x} had expired")
        self.lease = 0
        self._register(registry)

    def _remove_due(self, registry: Registry, now: float) -> None:
        due = [leaving for at, leaving in self._leaving if at <= now]
        self._leaving = [(at, leaving) for at, leaving in self._leaving if at > now]
        for leaving in due:
            removed, kept = registry.remove_left(leaving)
            if removed:
                self._log(f"{', '.join(removed)}: removed")
            if kept:
                self._log(f"{', '.join(kept)}: registered again meanwhile; kept")


def _checks(count: int) -> str:
    return f"{count} check{'s' if count != 1 else ''}"
