"""`infra rollback GROUP`: back to what the group ran before its last roll, through the same gated roll
(or, when its old ASG is still kept warm (rollout.keep_previous), by attaching that one again).

Every roll records on the new ASG (tag `infra:previous`, and in state as the ASG's `previous`
output) the launch template version and AMI the old ASG ran. A rollback is a roll of the ASG to
that version, planned and applied like any other: canary, bake, alarms, target groups, and
undone in its turn if a gate fails. The new ASG carries `infra:rolled_back_from`, so plans keep it
there (instead of rolling forward to what was just rolled back) until nodes.json changes what the
group runs, or `autoscale:update` rolls it forward; and retention keeps the AMI it left, which is
its rollback target now.
"""

from __future__ import annotations

from typing import Any

from infra import engine
from infra.errors import InfraError
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import attribute_changes
from infra.reconciler.plan import Plan
from infra.workspace import Workspace


def rollback_plan(workspace: Workspace, group: str) -> Plan:
    """The plan of one action: roll `group`'s ASG back to the version its last roll replaced."""
    if workspace.config.group(group).autoscale is None:
        raise InfraError(f"group {group!r} has no autoscale block in {workspace.config.path}: no ASG to roll back")
    address = f"asg.{group}"
    plan = engine.make_plan(workspace, engine.Selection([group], {"asg"}, with_dependencies=False), forced=[address])
    action = next(a for a in plan.actions if a.address == address)
    if action.action is not ActionKind.REPLACE:
        raise InfraError(f"{address} does not exist: nothing to roll back (infra autoscale:run {group} makes it)")
    before = action.before or {}
    previous = before.get("previous") or _recorded(workspace, address)
    if not previous:
        raise InfraError(f"{address} ({before.get('name')}) records no earlier roll (infra:previous): nothing to "
                         f"roll back to")
    version, image = str(previous["launch_template_version"]), previous["image_id"]
    now = str(before.get("launch_template_version"))
    if version == now and previous["launch_template_id"] == before.get("launch_template_id"):
        raise InfraError(f"{address} ({before.get('name')}) already runs launch template version {version} "
                         f"({image}), what it ran before its last roll: nothing else to roll back to")
    _check_image(workspace, before.get("region"), image, version)
    after = {**(action.after or {}), "launch_template_id": previous["launch_template_id"],
             "launch_template_version": version, "rolled_back_from": now}
    reason = (f"infra rollback: back to launch template version {version} ({image}), what it ran before its last "
              f"roll; it runs version {now} now")
    kept = before.get("kept_previous") or {}
    if str(kept.get("launch_template_version")) == version and kept.get("launch_template_id") == \
            previous["launch_template_id"]:
        reason += (f"; {kept['asg']} still runs it, kept warm until {kept.get('until')}: attached again, no "
                   f"instance launched")
    rolled = action.model_copy(update={"after": after, "reason": reason, "changes": attribute_changes(before, after)})
    return plan.model_copy(update={"actions": [rolled if a is action else a for a in plan.actions]})


def _recorded(workspace: Workspace, address: str) -> dict[str, Any] | None:
    recorded = workspace.backend.read().resources.get(address)
    return recorded.outputs.get("previous") if recorded is not None else None


def _check_image(workspace: Workspace, region: str | None, image: str, version: str) -> None:
    """The AMI to go back to still exists (retention keeps it; a hand may not have)."""
    from infra.aws.session import aws_errors

    ec2 = workspace.aws_clients.client("ec2", region)
    try:
        with aws_errors(f"describe {image}"):
            found = ec2.describe_images(ImageIds=[image])["Images"]
    except InfraError:
        found = []
    if not found:
        raise InfraError(f"{image}, the AMI launch template version {version} boots, no longer exists: there is "
                         f"nothing to roll back to")
