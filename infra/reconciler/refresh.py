"""Refresh-only plans: accept what exists now into the state, and change nothing in the world. Pure.

Someone fixed something by hand that should stay (a bigger ASG during an incident), or removed
something infra made. `infra plan --refresh-only` shows, as a plan of state changes, what the
state would record instead of what infra last applied: one `refresh` action (`<=`) per resource
that drift finds changed (the state takes the values found) or gone (the state forgets it).
`infra apply --refresh-only` writes that state and calls no provider; `infra drift` then reports
none. nodes.json is not touched: the next plan still puts back what it says, unless it is edited
to say what was accepted.
"""

from __future__ import annotations

from typing import Any

from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import managed_part
from infra.reconciler.drift import Drifted, detect_drift
from infra.reconciler.kinds import kind_of
from infra.reconciler.plan import Action, MadeAgainst, Plan, changed_attributes, recorded_as
from infra.reconciler.resources import Observed
from infra.state.model import ResourceState, State


def refresh_plan(state: State, observed: dict[str, Observed], *, scope: set[str] | None = None,
                 made_against: MadeAgainst | None = None) -> Plan:
    """The state changes that make it record what is `observed` of the resources in `scope`."""
    report = detect_drift(state, observed, scope)
    actions = [_refresh(item, state.resources[item.address], observed.get(item.address)) for item in report.drifted]
    return Plan(actions=actions, refresh_only=True, targets=sorted(scope) if scope is not None else [],
                made_against=made_against or MadeAgainst(lineage=state.lineage, serial=state.serial))


def _refresh(item: Drifted, recorded: ResourceState, found: Observed | None) -> Action:
    base: dict[str, Any] = dict(address=item.address, kind=recorded.kind, group=recorded.group,
                                action=ActionKind.REFRESH, before=recorded.attributes,
                                depends_on=recorded.depends_on, protect=recorded.protect)
    if found is None:
        return Action(after=None, reason="deleted outside infra", **base)
    attributes, outputs, left = _as_found(recorded, found)
    reason = f"changed outside infra: {', '.join(changed_attributes(item.changes))}"
    if left:
        reason += f"; {left}"
    return Action(after=attributes, changes=item.changes, outputs=outputs, reason=reason, **base)


def _as_found(recorded: ResourceState, found: Observed) -> tuple[dict[str, Any], dict[str, Any], str]:
    """What the state records for a changed resource: its recorded attributes with the values found
    (those drift compares), the outputs found, and what cannot be accepted, if anything."""
    kind = kind_of(recorded.kind)
    if not kind.by_digest:
        taken = {key: found.attributes[key] for key in recorded.attributes if key in found.attributes}
        return {**recorded.attributes, **taken}, {**recorded.outputs, **found.outputs}, ""
    # An artifact (an AMI) records the inputs it was built from, which cannot be read back from it:
    # the state takes the AMI there now and its tags; one built from other inputs stays drift.
    digest = kind.build_digest(recorded.attributes)
    found = found.built_from(digest)
    taken = {key: managed_part(found.attributes[key], value, value) for key, value in recorded.attributes.items()
             if key in kind.outside_versions and key in found.attributes}
    left = ("" if found.attributes.get("source_hash") == digest else
            f"{found.outputs.get('image_id')} was built from other inputs than recorded, which a refresh cannot "
            f"accept: the next plan builds again")
    return {**recorded.attributes, **taken}, {**recorded.outputs, **found.outputs}, left


def check_refresh(plan: Plan) -> None:
    """A refresh-only plan holds state changes only, and only it does: a `refresh` action must never
    reach a provider (a hand-edited plan file)."""
    kinds = {action.action for action in plan.changes}
    if plan.refresh_only and kinds - {ActionKind.REFRESH}:
        raise InfraError("a refresh-only plan may only record what exists in the state; this one also changes "
                         "resources: plan again")
    if not plan.refresh_only and ActionKind.REFRESH in kinds:
        raise InfraError("this plan has refresh actions but is not a refresh-only plan: plan again")


def refreshed(state: State, plan: Plan) -> State:
    """`state` as a refresh-only plan records it: changed resources as found, gone ones forgotten."""
    for action in plan.changes:
        if action.after is None:
            state.resources.pop(action.address, None)
        else:
            state.resources[action.address] = recorded_as(action, action.after, action.outputs,
                                                          was=state.resources.get(action.address))
    return state
