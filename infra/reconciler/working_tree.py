"""Generated files (roles, Packer templates, dna) live in each clone of the ops repository, but the
state they were applied with may be shared (S3). Pure.

When a clone's copy of a generated file is missing or differs while the state records exactly what
nodes.json wants, nothing in nodes.json changed: the file was applied from another clone (whose
generated files this one lacks) or edited here. The plan says so, instead of a bare "changed", and
names the workflow that avoids it: generated files committed, checked by `infra generate --check`.
"""

from __future__ import annotations

from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import same
from infra.reconciler.kinds import kind_of
from infra.reconciler.plan import Action
from infra.state.model import ResourceState

WORKFLOW = ("commit roles/, packer/ and dna/ so every clone has what was applied, and check them with infra "
            "generate --check (docs/ci.md)")


def explained(action: Action, recorded: ResourceState | None) -> Action:
    """`action`, its reason saying why when it only brings this working tree back to what was applied."""
    if not kind_of(action.kind).local or recorded is None or action.after is None:
        return action
    if action.action not in (ActionKind.CREATE, ActionKind.UPDATE):
        return action
    if not same(recorded.attributes.get("document"), action.after.get("document")):
        return action  # nodes.json changed since the last apply: an ordinary change
    path = action.after.get("path") or action.address
    state = "missing from" if action.action is ActionKind.CREATE else "different in"
    return action.model_copy(update={"reason": (
        f"{path} is {state} this working tree, but the state records it as nodes.json wants it: applied from "
        f"another clone, or edited here; apply writes it back (no other change); {WORKFLOW}")})
