"""Keep this node's registration alive while the watch agent runs.

A registration made with a TTL disappears unless its lease is renewed; the agent renews it
every third of the TTL from its own thread, so a long chef-solo run in the watcher never lets
it lapse. When the lease is gone anyway (etcd lost it, or the node was partitioned longer than
the TTL) the node notifies again, which grants a new lease: a node that is alive and running
the agent is always registered, and one that died disappears within one TTL.
"""

from __future__ import annotations

import threading
from typing import Callable

from infra.errors import InfraError
from infra.registry.registry import NotifyResult, Registry


class KeepAlive(threading.Thread):
    def __init__(self, make_registry: Callable[[], Registry], register: Callable[[Registry], NotifyResult],
                 ttl: int, log: Callable[[str], None]) -> None:
        super().__init__(name="infra-keepalive", daemon=True)
        self._make_registry, self._register, self._log = make_registry, register, log
        self.interval = max(ttl / 3, 0.2)
        self._stopped = threading.Event()
        self.lease = 0

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        registry = self._make_registry()
        failing = False
        while not self._stopped.is_set():
            try:
                if not self.lease or not registry.renew(self.lease):
                    result = self._register(registry)
                    was = f"lease {self.lease:x} had expired; " if self.lease else ""
                    self._log(f"{was}registered {', '.join(result.services) or 'no services'} on lease "
                              f"{result.lease:x}, renewed every {self.interval:.1f}s")
                    self.lease = result.lease
                if failing:
                    self._log("lease renewed again")
                failing = False
            except InfraError as exc:  # etcd away, or nodes.json being edited: try again soon
                if not failing:
                    self._log(f"cannot renew the registration: {exc}; retrying")
                failing = True
            self._stopped.wait(min(self.interval, 1.0) if failing else self.interval)
