"""The service registry: which node runs which service, kept in etcd.

Pure parts (key layout, entries, what notify and decommission change, what collect returns,
debouncing, digests, rise/fall) are separate modules with no I/O; `registry` reads and writes etcd
through `infra.providers.etcd`; `watcher` and `registrar` are the long-running agent (what the node
consumes, and its own health-gated registration); `render` and `reconfigure` turn the registry
into files such as haproxy.cfg and put them in place safely. See docs/registry.md.
"""

from infra.registry.collect import ATTRIBUTE, collect
from infra.registry.entry import Address, Entry, State
from infra.registry.keys import DEFAULT_ROOT, KeyLayout
from infra.registry.registry import DecommissionResult, NotifyResult, Registry, Snapshot

__all__ = ["ATTRIBUTE", "Address", "DEFAULT_ROOT", "DecommissionResult", "Entry", "KeyLayout", "NotifyResult",
           "Registry", "Snapshot", "State", "collect"]
