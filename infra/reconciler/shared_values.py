"""One copy of what the state and nodes.json both hold.

A state read from its file holds every resource's attributes as last applied; the desired graph
holds them again as nodes.json wants them, and after an apply the two are equal. At 10,000 groups
that is 60,000 resources' documents (Chef roles, Packer templates, tags, user data) held twice, a
quarter of a plan's memory. So where a recorded value equals the wanted one as JSON, the state
holds the wanted one (both are never changed in place: a change is a new value). Likewise the
outputs the state records (ids, versions, paths: 60,000 small documents) where they equal those
observed.
"""

from __future__ import annotations

from infra.reconciler.diff import same
from infra.reconciler.graph import Graph
from infra.reconciler.resources import Observed
from infra.state.model import State

_ABSENT = object()
_SHAREABLE = frozenset({dict, list, str})  # not numbers, booleans or null: nothing to gain


def share_recorded(desired: Graph, state: State) -> None:
    """Make `state` hold `desired`'s values wherever they equal its own."""
    recorded = state.resources
    for resource in desired:
        held = recorded.get(resource.address)
        if held is None or held.attributes is resource.attributes:
            continue
        wanted, mine = resource.attributes, held.attributes
        if same(mine, wanted):
            state.hold(resource.address, wanted)
            continue
        shared = None
        for key, value in mine.items():
            if type(value) not in _SHAREABLE:
                continue
            other = wanted.get(key, _ABSENT)
            if other is not value and same(value, other):
                if shared is None:
                    shared = dict(mine)
                shared[key] = other
        if shared is not None:
            state.hold(resource.address, shared)


def share_observed(found: dict[str, Observed], state: State) -> None:
    """Make `state` hold the outputs `found` where they equal its own."""
    for address, held in state.resources.items():
        seen = found.get(address)
        if seen is not None and seen.outputs is not held.outputs and held.outputs and same(held.outputs, seen.outputs):
            state.hold(address, seen.outputs, "outputs")
