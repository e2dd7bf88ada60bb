"""The registry's reads and writes: notify, decommission, and the snapshot everything else reads.

Pure decisions (what to write, what to collect) live in `changes` and `collect`; this module
only fetches what they need from etcd and writes what they decide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.errors import RegistryError
from infra.providers.etcd import DEFAULT_URL, Etcd, LeaseNotFound, Put, WatchStream
from infra.registry.changes import notify_changes, reusable_lease, withdrawn
from infra.registry.entry import Address, Entry
from infra.registry.keys import DEFAULT_ROOT, KeyLayout, check_node_id


@dataclass(frozen=True)
class Snapshot:
    """Every entry at one etcd revision; `unreadable` holds keys whose values could not be parsed."""

    entries: list[Entry]
    revision: int
    unreadable: list[str] = field(default_factory=list)

    def of_node(self, node: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.node == node]

    def by_service(self, up_only: bool = False) -> dict[str, list[Entry]]:
        result: dict[str, list[Entry]] = {}
        for entry in sorted(self.entries, key=lambda e: (e.service, e.node)):
            if entry.is_up or not up_only:
                result.setdefault(entry.service, []).append(entry)
        return result


@dataclass(frozen=True)
class NotifyResult:
    node: str
    address: Address
    services: list[str]
    written: list[str]
    lease: int
    ttl: int | None


@dataclass(frozen=True)
class Leaving:
    """Entries marked leaving at `revision`, to be removed after a grace period."""

    node: str
    services: list[str]
    revision: int


@dataclass(frozen=True)
class DecommissionResult:
    node: str
    removed: list[str]
    reregistered: list[str]
    still_running: list[str]


class Registry:
    """The service registry under one key root of one etcd."""

    def __init__(self, etcd: Etcd, layout: KeyLayout | None = None) -> None:
        self.etcd = etcd
        self.layout = layout or KeyLayout()

    @classmethod
    def connect(cls, url: str = DEFAULT_URL, root: str = DEFAULT_ROOT, timeout: float = 5.0) -> Registry:
        return cls(Etcd(url, timeout=timeout), KeyLayout(root))

    def snapshot(self) -> Snapshot:
        kvs, revision = self.etcd.range(self.layout.services_prefix)
        entries: list[Entry] = []
        unreadable: list[str] = []
        for kv in kvs:
            parsed = self.layout.parse(kv.key)
            try:
                if parsed is None:
                    raise RegistryError(kv.key)
                entries.append(Entry.from_value(*parsed, kv.value, lease=kv.lease))
            except RegistryError:
                unreadable.append(kv.key)
        return Snapshot(entries, revision, unreadable)

    def watch(self, start_revision: int, idle_timeout: float = 60.0) -> WatchStream:
        return self.etcd.watch(self.layout.services_prefix, start_revision, idle_timeout)

    def service_of(self, key: str) -> str | None:
        parsed = self.layout.parse(key)
        return parsed[0] if parsed else None

    def notify(self, *, group: str, services: list[str], node: str, address: Address,
               ttl: int | None = None) -> NotifyResult:
        """Register `node` as running each of `services` at `address`; writes only what differs.

        With a TTL every entry hangs on one lease, reused (and renewed) across re-notifies, so
        a node that stops renewing it disappears from the registry by itself.
        """
        check_node_id(node)
        for attempt in (1, 2):
            current = self.snapshot().of_node(node)
            lease = self._lease_for(current, node, ttl) if ttl else 0
            changes = notify_changes(current, group, node, address, services, lease)
            try:
                if changes.put:
                    self.etcd.put_all([self._put(entry) for entry in changes.put])
                break
            except LeaseNotFound:
                if attempt == 2:
                    raise
        return NotifyResult(node=node, address=address, services=list(services),
                            written=[entry.service for entry in changes.put], lease=lease, ttl=ttl)

    def renew(self, lease: int) -> bool:
        """Keep a notify's lease alive; False when it has already expired."""
        return self.etcd.refresh_lease(lease) > 0

    def decommission(self, *, node: str, keep: list[str], grace: float,
                     wait: Callable[[float], None] = time.sleep,
                     announced: Callable[[list[str]], None] | None = None) -> DecommissionResult:
        """Withdraw the node's entries for services not in `keep` (see `withdraw`)."""
        check_node_id(node)
        current = self.snapshot().of_node(node)
        going = [entry.service for entry in withdrawn(current, node, keep)]
        running = sorted(entry.service for entry in current if entry.service in keep)
        return self.withdraw(node=node, services=going, grace=grace, wait=wait, announced=announced,
                             running=running)

    def withdraw(self, *, node: str, services: list[str], grace: float,
                 wait: Callable[[float], None] = time.sleep,
                 announced: Callable[[list[str]], None] | None = None,
                 running: list[str] | None = None) -> DecommissionResult:
        """Withdraw the node's entries for `services`: mark them leaving, wait, remove.

        Consumers watching the registry drop a leaving node at once, so by the time the entry
        (and then the service itself) goes, nothing points at it. An entry re-registered
        during the grace period is left alone.
        """
        marked = self.mark_leaving(node, services)
        if marked is None:
            return DecommissionResult(node, [], [], running or [])
        if announced is not None:
            announced(marked.services)
        if grace > 0:
            wait(grace)
        removed, reregistered = self.remove_left(marked)
        return DecommissionResult(node, removed, reregistered, running or [])

    def mark_leaving(self, node: str, services: list[str]) -> Leaving | None:
        """Step one of a withdrawal: rewrite the node's entries for `services` as leaving, in one
        transaction (watchers see one change). None when none of them is registered."""
        check_node_id(node)
        wanted = set(services)
        for _ in range(3):
            going = sorted((entry for entry in self.snapshot().of_node(node) if entry.service in wanted),
                           key=lambda entry: entry.service)
            if not going:
                return None
            try:
                revision = self.etcd.put_all([self._put(entry.leaving()) for entry in going])
            except LeaseNotFound:  # the lease expired meanwhile, taking the entries with it: look again
                continue
            return Leaving(node, [entry.service for entry in going], revision)
        return None

    def remove_left(self, leaving: Leaving) -> tuple[list[str], list[str]]:
        """Step two: delete each entry unless it was written again since it was marked leaving.
        (removed, registered again meanwhile)."""
        removed: list[str] = []
        reregistered: list[str] = []
        for service in leaving.services:
            key = self.layout.entry_key(service, leaving.node)
            (removed if self.etcd.delete_unless_changed(key, leaving.revision) else reregistered).append(service)
        return removed, reregistered

    def _lease_for(self, current: list[Entry], node: str, ttl: int) -> int:
        lease = reusable_lease(current, node)
        if lease:
            left, granted = self.etcd.lease_ttl(lease)
            if left > 0 and granted == ttl and self.renew(lease):
                return lease
        return self.etcd.grant_lease(ttl)

    def _put(self, entry: Entry) -> Put:
        return Put(self.layout.entry_key(entry.service, entry.node), entry.value(), entry.lease)
