"""Which new group takes over from a group gone from nodes.json: the evidence of a rename.

Renaming a group is one group out and one in. Its old nodes are then kept until the new group's
are up, and for the old group's `timeout` after, so other nodes notice the new ones first (the
registry), as a roll keeps its old ASG. That wait is only right when the new group does the old
one's work: a group removed in the same plan as an unrelated one is added must go at once, and
never be held up (or kept for good) by that group's creation. The evidence is in the Chef roles:
the new group runs the same run list as the old one did, or provides one of its services (the
recipes of a `*-service` cookbook, which other nodes find through the registry).
"""

from __future__ import annotations

from typing import Any

from infra.config.chef import services_in_run_list
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph
from infra.reconciler.kinds import kind_of
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observed, address_of, split_address
from infra.state.model import State


class Takeovers:
    """For each group gone from nodes.json, the nodes of new groups that take over from it."""

    def __init__(self, planned: list[Action], desired: Graph, observed: dict[str, Observed], state: State) -> None:
        self.starting = _new_groups_nodes(planned, observed, state)
        self.desired, self.observed, self.state = desired, observed, state

    def successors(self, group: str) -> tuple[list[str], str]:
        """The new nodes (addresses) that take over from removed `group`, and why, in words."""
        old = self._run_list(group)
        if not old or not self.starting:
            return [], ""
        taking: list[str] = []
        why: set[str] = set()
        for address in self.starting:
            new = self._run_list(split_address(address)[1])
            shared = [s for s in services_in_run_list(new) if s in services_in_run_list(old)]
            if new == old:
                taking.append(address)
                why.add("the same run list")
            elif shared:
                taking.append(address)
                why.add("its services " + ", ".join(shared) if len(shared) > 1 else f"its service {shared[0]}")
        return taking, " and ".join(sorted(why))

    def evidence(self, unwanted: list[str], groups: set[str]) -> dict[str, str]:
        """Of `unwanted`, each node of a renamed group -> its role, to be deleted after it: the
        role is the evidence of the rename, so an apply that stops before the old nodes go (the
        new ones failed) leaves it, and the next plan sees the rename again."""
        kept: dict[str, str] = {}
        for address in unwanted:
            kind, group, _ = split_address(address)
            role = address_of("role", group)
            if kind_of(kind).serves and group not in groups and role in unwanted and self.successors(group)[0]:
                kept[address] = role
        return kept

    def _run_list(self, group: str) -> list[str]:
        """The group's role run list: wanted now for a group in nodes.json, else as last applied
        (or, with no state of it, as its role file still says)."""
        address = address_of("role", group)
        if address in self.desired.resources:
            return _listed(self.desired.resources[address].attributes)
        if address in self.state.resources:
            return _listed(self.state.resources[address].attributes)
        found = self.observed.get(address)
        return _listed(found.attributes) if found else []


def _listed(attributes: dict[str, Any]) -> list[str]:
    document = attributes.get("document")
    run_list = document.get("run_list") if isinstance(document, dict) else None
    return [str(item) for item in run_list] if isinstance(run_list, list) else []


def _new_groups_nodes(actions: list[Action], observed: dict[str, Observed], state: State) -> list[str]:
    """The nodes (ASGs, one-off instances) the plan makes for groups that have no nodes yet (a
    failed first try may have left their files and launch template): what a removed group's
    nodes may make way for."""
    known = {split_address(address)[1] for address in (*state.resources, *observed)
             if kind_of(split_address(address)[0]).serves}
    return [a.address for a in actions
            if kind_of(a.kind).serves and a.action is ActionKind.CREATE and a.group not in known]
