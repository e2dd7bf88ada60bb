"""The old ASG a roll kept warm (rollout.keep_previous), when nothing wants it any more, pure.

The provider observes a kept ASG within its window as part of its group's live one (its
`kept_previous`, for infra rollback), and in full in the live one's `earlier`, at the address it
would have as a leftover (`asg.<group>.<name>`). A plan deletes it, as it deletes a leftover, with
the live ASG when nodes.json no longer wants that (the group removed, or left without an ASG),
and when the group still has its ASG but keeps none any more (`keep_previous` off). So one apply
removes a group whole, and the plan names the warm ASG among what goes.

It is left alone when the live ASG is replaced in the same plan: a roll or a rollback may be the
one that attaches it again (infra rollback); the plan after that roll sees to it. Its window (and a
lower keep_previous's shorter one) is the provider's to read, with the clock: one found past it is
a leftover, and `why_kept_goes` says so too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observed, split_address


def unwanted_kept(desired: Graph, observed: Mapping[str, Observed], planned: Mapping[str, Action],
                  in_scope: Callable[[str], bool]) -> dict[str, Observed]:
    """The kept ASGs to delete (by their leftover address): those of a live ASG in scope that nodes.json
    no longer wants, or whose group's rollout keeps none now."""
    unwanted: dict[str, Observed] = {}
    for address, live in observed.items():
        if not live.earlier or not address.startswith("asg.") or not in_scope(address):
            continue
        if address in desired and _keeps_one(desired[address].attributes):
            continue
        action = planned.get(address)
        if action is not None and action.action is ActionKind.REPLACE:
            continue
        unwanted.update(live.earlier)
    return unwanted


def scope_with(in_scope: Callable[[str], bool], kept: Mapping[str, Observed]) -> Callable[[str], bool]:
    """`in_scope` and the kept ASGs to delete: in no targeted plan's scope by their own address (the
    scope names what nodes.json and the state do), they are in it with their live ASG."""
    return lambda address: address in kept or in_scope(address)


def _keeps_one(attributes: Mapping[str, object]) -> bool:
    rollout = attributes.get("rollout")
    return isinstance(rollout, Mapping) and bool(rollout.get("keep_previous"))


def why_kept_goes(address: str, found: Observed, desired: Graph) -> str | None:
    """Why a kept ASG goes (one within its window, or a leftover the provider found past it), or
    None for anything else."""
    until = found.attributes.get("kept_until")
    if not until:
        return None
    kind, group, _ = split_address(address)
    live = f"{kind}.{group}"
    kept = f"kept warm after its roll until {until} for a fast rollback (rollout.keep_previous)"
    if live not in desired:
        return f"{kept}; its group's ASG is no longer in nodes.json: it goes with it"
    if not _keeps_one(desired[live].attributes):
        return f"{kept}; the group keeps none now (keep_previous is off)"
    return f"{kept}; past that now, or an ASG kept by a later roll took its place"
