"""A one-shot registration (`services:notify`): register the services a node runs, and with
status checks only those whose checks pass, withdrawing the others (marked leaving first).

The checks run until rise/fall decides each one (see risefall.settle), so a service that answers
only after a few seconds of start-up is still registered, and one that fails `fall` times in a
row is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from infra.errors import RegistryError
from infra.registry.entry import Address
from infra.registry.health import CheckPolicy, HealthCheck
from infra.registry.registry import Registry
from infra.registry.risefall import Health, settle

Say = Callable[[str], None]


def announce(registry: Callable[[], Registry], *, group: str, services: list[str], node: str, address: Address,
             ttl: int | None, checks: dict[str, HealthCheck], policy: CheckPolicy, grace: float, say: Say) -> None:
    """Register `node` for `services` (those whose checks pass); raise RegistryError naming the
    ones that failed, after withdrawing them."""
    if not services:
        say(f"group {group} runs no services; nothing to register")
        return
    failing = _failing(checks, policy, say) if checks else {}
    connected = registry()
    healthy = [service for service in services if service not in failing]
    if healthy:
        result = connected.notify(group=group, services=healthy, node=node, address=address, ttl=ttl)
        lease = f" on lease {result.lease:x} (ttl {result.ttl}s)" if result.lease else ""
        what = f"registered {', '.join(result.written)}" if result.written else "already registered"
        say(f"{node} at {result.address}: {what}{lease}")
    if failing:
        withdrawn = connected.withdraw(node=node, services=sorted(failing), grace=grace,
                                       announced=lambda going: say(f"{node}: {', '.join(going)} marked leaving; "
                                                                   f"removing in {grace:g}s"))
        if withdrawn.removed:
            say(f"{node}: withdrew {', '.join(withdrawn.removed)}")
        reasons = "; ".join(f"{service}: {detail}" for service, detail in sorted(failing.items()))
        plural = "s" if policy.fall != 1 else ""
        raise RegistryError(f"not registered, failed {policy.fall} status check{plural} in a row: {reasons}")


def _failing(checks: dict[str, HealthCheck], policy: CheckPolicy, say: Say) -> dict[str, str]:
    """Run each check until rise/fall decides it; {service: why} for those that failed."""
    say(f"checking {', '.join(checks)} ({policy.describe()})")

    def outcome(check: HealthCheck) -> tuple[bool, str]:
        found = check.run(policy.timeout)
        return found.passed, f"{found.detail} from {check.target}"

    runners = {service: (lambda check=check: outcome(check)) for service, check in checks.items()}
    verdicts = settle(runners, rise=policy.rise, fall=policy.fall, interval=policy.interval,
                      clock=time.monotonic, sleep=time.sleep, progress=say)
    return {service: detail for service, (health, detail) in verdicts.items() if health is Health.down}
