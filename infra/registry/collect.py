"""The attributes the seed's `seatgeek::collect-services` recipe computes, as chef-solo dna.

    {"seatgeek-services": {
        "available": {"api-workers": true, "old-service": false},
        "services":  {"api-workers": [{"node": ..., "address": ..., "host": ..., "port": ..., "group": ...}],
                      "cronq-workers": []}}}

`available` is true for each service this group runs. It is false for a service this node is
still registered for but no longer runs, which is exactly what the seed's decommission-services
recipe looks for. `services` lists, for every known service (any group's in nodes.json, and any
in the registry), the nodes where it is up; this node is included for the services it runs even
before it has notified, as in the seed (`where = where + current_node`), and left out of those it
no longer runs. Nodes that are leaving are not listed: consumers should stop pointing at them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.registry.entry import Address, Entry

ATTRIBUTE = "seatgeek-services"


def collect(entries: Iterable[Entry], *, group: str, runs: Iterable[str], known: Iterable[str],
            node: str | None = None, address: Address | None = None,
            attribute: str = ATTRIBUTE) -> dict[str, Any]:
    entries = list(entries)
    runs = list(runs)
    mine = {entry.service: entry for entry in entries if node is not None and entry.node == node}
    available: dict[str, bool] = {service: True for service in runs}
    for service in sorted(mine):
        available.setdefault(service, False)
    every = sorted({*known, *runs, *(entry.service for entry in entries)})
    services: dict[str, list[dict[str, Any]]] = {}
    for service in every:
        where = {entry.node: entry.where() for entry in entries
                 if entry.service == service and entry.is_up and entry.node != node}
        if node is not None and service in runs:
            where[node] = _current_node(service, node, group, address, mine.get(service))
        services[service] = [where[name] for name in sorted(where)]
    return {attribute: {"available": available, "services": services}}


def _current_node(service: str, node: str, group: str, address: Address | None,
                  registered: Entry | None) -> dict[str, Any]:
    """This node as it will be registered: the given address, else the registered one, else its id
    (node ids are usually hostnames; pass --address when they are not)."""
    if address is None and registered is not None:
        address = registered.address
    if address is None:
        return {"node": node, "group": group, "address": node, "host": node, "port": None}
    return Entry(service=service, node=node, group=group, address=address).where()
