"""The node-side agent behind `services:watch`: the watcher, plus the keep-alive when a TTL is set.

One process per node (a systemd unit) does both jobs, so a node that is alive keeps its own
registration alive and reacts to the services it consumes; when it dies, its lease expires and
every consumer's agent sees it go.
"""

from __future__ import annotations

from typing import Callable

from infra.errors import RegistryError
from infra.registry.entry import Address
from infra.registry.keepalive import KeepAlive
from infra.registry.registry import NotifyResult, Registry
from infra.registry.watcher import Watcher


def check_watch(group: str, depends_on: list[str], ttl: int | None, address: Address | None,
                once: bool = False) -> None:
    """Refuse option mixes that cannot work, before anything starts."""
    if ttl and once:
        raise RegistryError("services:watch --once exits at once, so it cannot keep a --ttl lease alive; "
                            "use services:notify --ttl for that")
    if ttl and address is None:
        raise RegistryError("services:watch --ttl keeps this node registered, so it needs --address HOST[:PORT] too")
    if not depends_on and not ttl:
        raise RegistryError(f"group {group!r} has no depends_on: there is nothing to watch "
                            f"(add the services it consumes to depends_on in nodes.json)")


def run_agent(watcher: Watcher, make_registry: Callable[[], Registry], *, group: str,
              services: Callable[[], list[str]], node: str, address: Address | None, ttl: int | None,
              log: Callable[[str], None]) -> None:
    """Run until interrupted; the keep-alive thread stops with the watcher.

    `services` is asked again at each re-registration (it re-reads nodes.json), so a node
    whose lease lapsed does not bring back a service that was decommissioned meanwhile.
    """
    keepalive = None
    if ttl and address is not None:
        registered_at, lease_ttl = address, ttl

        def register(registry: Registry) -> NotifyResult:
            return registry.notify(group=group, services=services(), node=node, address=registered_at,
                                   ttl=lease_ttl)

        keepalive = KeepAlive(make_registry, register, ttl, log)
        keepalive.start()
    try:
        watcher.run()
    finally:
        watcher.stop()
        if keepalive is not None:
            keepalive.stop()
