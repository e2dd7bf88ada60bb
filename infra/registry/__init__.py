"""The service registry: which node runs which service, kept in etcd.

Pure parts (key layout, entries, what notify and decommission change, what collect returns,
debouncing, digests) are separate modules with no I/O; `registry` reads and writes etcd through
`infra.providers.etcd`; `watcher` and `keepalive` are the long-running agent; `render` turns
the registry into files such as haproxy.cfg. See docs/registry.md.
"""

from infra.registry.collect import ATTRIBUTE, collect
from infra.registry.entry import Address, Entry, State
from infra.registry.keys import DEFAULT_ROOT, KeyLayout
from infra.registry.registry import DecommissionResult, NotifyResult, Registry, Snapshot

__all__ = ["ATTRIBUTE", "Address", "DEFAULT_ROOT", "DecommissionResult", "Entry", "KeyLayout", "NotifyResult",
           "Registry", "Snapshot", "State", "collect"]
