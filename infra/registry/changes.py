"""What notify and decommission must write, computed from what is registered now. Pure.

Both are level-triggered: they compare the node's desired entries with the registered ones and
write only the difference, so running them again (a chef-solo re-run, a retried boot script)
writes nothing and wakes no watcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infra.registry.entry import Address, Entry


@dataclass(frozen=True)
class NotifyChanges:
    """Entries to (re)write for a notify, and those already registered exactly so."""

    put: list[Entry]
    unchanged: list[Entry]


def notify_changes(current: Iterable[Entry], group: str, node: str, address: Address,
                   services: Iterable[str], lease: int) -> NotifyChanges:
    """Entries that make `node` registered, up, at `address`, for each service, on `lease`."""
    registered = {entry.service: entry for entry in current if entry.node == node}
    put: list[Entry] = []
    unchanged: list[Entry] = []
    for service in services:
        wanted = Entry(service=service, node=node, group=group, address=address, lease=lease)
        (unchanged if registered.get(service) == wanted else put).append(wanted)
    return NotifyChanges(put=put, unchanged=unchanged)


def withdrawn(current: Iterable[Entry], node: str, keep: Iterable[str]) -> list[Entry]:
    """The node's entries for services it no longer runs (every entry when `keep` is empty)."""
    kept = set(keep)
    return sorted((entry for entry in current if entry.node == node and entry.service not in kept),
                  key=lambda entry: entry.service)


def reusable_lease(current: Iterable[Entry], node: str) -> int:
    """The lease the node's entries already share, so a re-notify does not leak a new lease."""
    leases = {entry.lease for entry in current if entry.node == node and entry.lease}
    return leases.pop() if len(leases) == 1 else 0
