"""Drift: where the world no longer matches what infra last applied. Pure, like the planner."""

from __future__ import annotations

from pydantic import BaseModel, Field

from infra.reconciler.diff import attribute_changes, managed_part
from infra.reconciler.kinds import Kind, kind_of
from infra.reconciler.plan import AttributeChange
from infra.reconciler.promotion import identity
from infra.reconciler.resources import Observed
from infra.state.model import State


class Drifted(BaseModel):
    address: str
    kind: str
    group: str
    status: str  # "changed" or "missing"
    changes: list[AttributeChange] = Field(default_factory=list)


class Held(BaseModel):
    """A group infra itself keeps from what nodes.json asks for: not drift outside infra, but a fleet
    that differs from nodes.json all the same (a scheduled drift job must not stay green)."""

    address: str
    group: str
    reason: str  # what holds it, and the command that releases it


class DriftReport(BaseModel):
    checked: int = 0
    drifted: list[Drifted] = Field(default_factory=list)
    held: list[Held] = Field(default_factory=list)
    # Where the state was looked for, when none was there and that was allowed (--allow-empty).
    never_applied: str = ""

    @property
    def has_drift(self) -> bool:
        return bool(self.drifted or self.held)


def detect_drift(state: State, observed: dict[str, Observed], scope: set[str] | None = None) -> DriftReport:
    """Compare each recorded resource with what is observed now.

    Attribute by attribute, recorded value against actual value; a recorded resource that is
    gone is drift too.
    """
    report = DriftReport()
    for address, recorded in state.resources.items():
        if scope is not None and address not in scope:
            continue
        report.checked += 1
        found = observed.get(address)
        if found is None:
            report.drifted.append(Drifted(address=address, kind=recorded.kind, group=recorded.group, status="missing"))
            continue
        if kind_of(recorded.kind).by_digest:
            changes = _artifact_changes(kind_of(recorded.kind), recorded.attributes, recorded.outputs, found)
        else:
            moved = kind_of(recorded.kind).recorded(recorded.attributes)  # what scaling policies move is no drift
            wanted = {k: v for k, v in recorded.attributes.items() if k in found.attributes and k not in moved}
            changes = [c.reversed() for c in attribute_changes(found.attributes, wanted)]
        if changes:
            report.drifted.append(Drifted(address=address, kind=recorded.kind, group=recorded.group,
                                          status="changed", changes=changes))
        template = observed.get(f"launch_template.{recorded.group}")
        reason = held_by_infra(recorded.group, found, template.outputs.get("version") if template else None)
        if reason:
            report.held.append(Held(address=address, group=recorded.group, reason=reason))
    return report


def held_by_infra(group: str, found: Observed, wanted_version: str | None = None) -> str:
    """Why infra holds this group's ASG away from nodes.json, read from the ASG's tags: a roll paused
    beside it, or a rollback (or an aborted roll) that left a version nodes.json may still want.
    `wanted_version`, when known, is the launch template version infra applied (what nodes.json asks
    for): a rollback that went back to it (the way back from a rollback) holds nothing."""
    attributes = found.attributes
    paused = attributes.get("roll")
    if paused:
        return (f"roll paused at step {int(paused.get('step') or 0) + 1} since {paused.get('since') or '?'}: "
                f"{paused.get('asg')} runs {paused.get('instances')} instance(s) of launch template version "
                f"{paused.get('launch_template_version')} beside {attributes.get('name')}; go on with: infra "
                f"rollout promote {group}; go back with: infra rollout abort {group}")
    left, now = attributes.get("rolled_back_from"), attributes.get("launch_template_version")
    if left and str(left) != str(now) and (wanted_version is None or str(wanted_version) != str(now)):
        return (f"rolled back: {attributes.get('name')} runs launch template version {now}, not {left}, which "
                f"infra rollback (or infra rollout abort) left; infra autoscale:update {group} rolls it forward")
    return ""


def _artifact_changes(kind: Kind, attributes: dict, outputs: dict, found: Observed) -> list[AttributeChange]:
    """An artifact (an AMI) is found as the group's newest one. Another one than infra recorded
    means the recorded one is gone (deregistered by hand) or another was made: say which AMI,
    not only that the digest differs."""
    key, digest = identity(attributes, kind.build_digest)  # a promoted AMI is known by its image digest
    found = found.built_from(digest, key)  # an earlier AMI reused is no drift
    recorded_id, found_id = outputs.get("image_id"), found.outputs.get("image_id")
    if recorded_id and found_id and recorded_id != found_id:
        return [AttributeChange(path="image_id", before=recorded_id, after=found_id)]
    wanted = {key: digest,
              **{k: v for k, v in attributes.items() if k in kind.outside_versions and k in found.attributes}}
    if not found.attributes.get("source_hash"):  # not built by infra (imported): what it was built from is unknown
        del wanted["source_hash"]
    seen = {k: managed_part(found.attributes.get(k), v, v) for k, v in wanted.items()}
    return [c.reversed() for c in attribute_changes(seen, wanted)]
