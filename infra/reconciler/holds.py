"""What a plan keeps back from what nodes.json asks for, and says so (an action's `held`). Pure.

Two things hold a group's ASG where it is: `infra rollback` (or `infra rollout abort`), which left a
version that nodes.json may still want, and a roll paused at a manual step beside it. Either way
the fleet and nodes.json differ: the plan reports it (`--detailed-exitcode` exits 2) with the
command that releases it, instead of planning a roll that would undo it.
"""

from __future__ import annotations

from typing import Any

from infra.reconciler.actions import ActionKind
from infra.reconciler.kinds import Kind
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observed, Resource
from infra.reconciler.rolls import paused_words


def paused_roll(resource: Resource, before: dict[str, Any], after: dict[str, Any], found: Observed,
            base: dict[str, Any]) -> Action:
    """A roll paused beside the live ASG (a manual pause step) holds the group where it is: no second
    roll is planned; the plan says where the roll stands and the commands that end it."""
    kept = {key: before.get(key, value) for key, value in after.items()}
    held = paused_words(resource.group, before["roll"], after, str(before.get("name")))
    return Action(action=ActionKind.NOOP, before=before, reason="its roll is paused",
                  outputs=found.outputs, **{**base, "after": kept, "held": held})


def held_back(kind: Kind, group: str, before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`infra rollback` took the resource back from what nodes.json still wants: keep it where it
    is (and say so) until nodes.json wants something else, or a roll is asked for."""
    if not kind.rolled_back:
        return after, ""
    attribute, marker = kind.rolled_back
    left = before.get(marker)
    if not left or str(after.get(attribute)) != str(left) or str(before.get(attribute)) == str(left):
        return after, ""
    return ({**after, attribute: before.get(attribute), marker: left},
            f"held at {attribute} {before.get(attribute)} by infra rollback, which left {left} (or by infra "
            f"rollout abort); it stays there until nodes.json changes what it runs, or infra autoscale:update {group} "
            f"rolls it forward")
