"""One autoscaling group's calls, shared by the provider (autoscaling.py) and a roll (blue_green.py).

infra keeps on each ASG, as tags that are not propagated to instances, what AWS cannot tell:
the roll's `timeout` and `healthy_deadline`; `infra:roll` while a roll is under way (`pending`
until the new ASG is healthy and baked, `paused` at a manual pause step, with `infra:roll_step` (the
step, from 0), `infra:roll_since` (when, UTC) and `infra:roll_steps` (a digest of the steps it ran),
`holding` once it took the traffic; `kept` on an old ASG kept warm after the roll, since
`infra:kept_since` until `infra:kept_until`, rollout.keep_previous); `infra:previous`,
the launch template version and AMI its predecessor ran (what `infra rollback` returns to, and
what retention keeps); `infra:rolled_back_from`, the version `infra rollback` left.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from infra.aws.consistency import Patience, until_visible
from infra.aws.session import AwsClients, aws_errors, error_code, paginate
from infra.errors import ProviderError
from infra.providers.aws.common import GROUP_TAG, available_zones, tag_dict
from infra.providers.aws.unlisted import Lookup
from infra.providers.base import Progress
from infra.reconciler.graph import OWNER_TAG

ROLL_TAG = "infra:roll"
PENDING, HOLDING = "pending", "holding"  # a roll's new ASG: not yet healthy; healthy, the old one still kept
PAUSED = "paused"  # a roll's new ASG at a manual pause step, beside the old one that still serves
STEP_TAG, SINCE_TAG = "infra:roll_step", "infra:roll_since"  # the paused step (from 0), and since when
STEPS_TAG = "infra:roll_steps"  # a digest of the steps the paused roll ran (rolls.steps_digest)
KEPT = "kept"  # a rolled group's old ASG, kept warm out of the target groups (rollout.keep_previous)
KEPT_UNTIL_TAG = "infra:kept_until"  # until when (UTC); the next apply after that deletes it
KEPT_SINCE_TAG = "infra:kept_since"  # since when (UTC): a lower keep_previous ends its window sooner
TIMEOUT_TAG = "infra:timeout"
DEADLINE_TAG = "infra:healthy_deadline"
PREVIOUS_TAG = "infra:previous"  # "<launch template id>:<version>:<image id>"
ROLLED_BACK_TAG = "infra:rolled_back_from"  # the launch template version infra rollback left
SIZES = {"MinSize": "min_size", "MaxSize": "max_size", "DesiredCapacity": "desired_capacity"}
# ASGs by name, 50 a call: what a listing may leave out yet (docs/aws-behaviour.md), the state records or an
# apply made (a plan's confirm, a renamed group's hold, retention's in-use check).
BY_NAME = Lookup("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroupNames", "AutoScalingGroups",
                 "AutoScalingGroupName", output="name", batch=50)


def settings(clients: AwsClients, region: str, attributes: dict[str, Any], *, size: int | None = None,
             leave: frozenset[str] = frozenset()) -> dict[str, Any]:
    """CreateAutoScalingGroup's (and UpdateAutoScalingGroup's) settings; `size` instances for now
    instead of the desired capacity (a canary); without the sizes named in `leave` (an update
    leaves those its scaling policies set)."""
    desired = attributes["desired_capacity"] if size is None else size
    sizes = {"MinSize": min(attributes["min_size"], desired), "MaxSize": attributes["max_size"],
             "DesiredCapacity": desired}
    if "desired_capacity" in leave:
        sizes["MinSize"] = attributes["min_size"]
    found: dict[str, Any] = {
        **{key: value for key, value in sizes.items() if SIZES[key] not in leave},
        "LaunchTemplate": {"LaunchTemplateId": attributes["launch_template_id"],
                           "Version": str(attributes["launch_template_version"])},
        "HealthCheckType": attributes["health_check_type"],
        "HealthCheckGracePeriod": attributes["health_check_grace"],
        "TerminationPolicies": attributes["termination_policies"],
    }
    if attributes.get("subnets"):
        found["VPCZoneIdentifier"] = ",".join(attributes["subnets"])
    else:
        found["AvailabilityZones"] = attributes.get("zones") or available_zones(clients, region)
    return found


def create(clients: AwsClients, region: str, name: str, attributes: dict[str, Any], progress: Progress, *,
           size: int | None = None, extra: dict[str, str] | None = None,
           target_group_arns: list[str] | None = None) -> None:
    """Create the ASG; while Auto Scaling does not see its launch template version yet (made a
    moment ago), try again (consistency.py). AlreadyExists is an earlier attempt of this very call
    that went through (the name is new to this roll): the ASG is there."""
    attached = {"TargetGroupARNs": target_group_arns} if target_group_arns else {}
    client = clients.client("autoscaling", region)
    request = {"AutoScalingGroupName": name, **settings(clients, region, attributes, size=size),
               "Tags": tags(name, attributes, extra or {}), **attached}
    template = f"launch template {attributes['launch_template_id']} version {attributes['launch_template_version']}"

    def create_once() -> None:
        try:
            client.create_auto_scaling_group(**request)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "AlreadyExists":
                raise

    with aws_errors(f"create autoscaling group {name}"):
        until_visible(create_once, what=f"{template} to reach Auto Scaling (creating {name})", service="autoscaling",
                      patience=clients.patience, progress=progress)


def detach_target_groups(client: Any, name: str, arns: list[str] | tuple[str, ...], progress: Progress) -> None:
    """Detach the ASG from its target groups, so they stop sending it requests; should AWS refuse,
    say so and go on (its instances leave their target groups as they end)."""
    try:
        with aws_errors(f"detach autoscaling group {name} from its target groups"):
            client.detach_load_balancer_target_groups(AutoScalingGroupName=name, TargetGroupARNs=list(arns))
    except ProviderError as exc:
        progress(f"could not detach {name} first ({exc}); deleting it all the same")


def delete(client: Any, name: str, progress: Progress, patience: Patience, *,
           detach: list[str] | tuple[str, ...] = ()) -> None:
    """Delete the ASG (its instances terminate), detached from `detach` first, so its load
    balancers stop sending it traffic before its instances go. A scaling activity still under way
    (ScalingActivityInProgress, ResourceInUse) is waited out (consistency.py)."""
    if detach:
        detach_target_groups(client, name, detach, progress)
    try:
        with aws_errors(f"delete autoscaling group {name}"):
            until_visible(lambda: client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True),
                          what=f"the scaling activities of {name} to end (deleting it)", service="autoscaling",
                          patience=patience, progress=progress)
    except ProviderError as exc:
        if "not found" not in str(exc):
            raise
    progress(f"deleted {name} (its instances terminate)")


def described(client: Any, name: str) -> dict[str, Any]:
    """The ASG as DescribeAutoScalingGroups tells it; {} when it is gone."""
    with aws_errors(f"describe autoscaling group {name}"):
        found = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return found[0] if found else {}


def in_service(group: dict[str, Any]) -> list[str]:
    """The ASG's instances that are InService and Healthy."""
    return [i["InstanceId"] for i in group.get("Instances", [])
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"]


def tags(name: str, attributes: dict[str, Any], extra: dict[str, str]) -> list[dict[str, Any]]:
    """The group's tags (propagated to instances) and infra's bookkeeping tags (kept on the ASG)."""
    own = {TIMEOUT_TAG: str(attributes["timeout"]), DEADLINE_TAG: str(attributes["healthy_deadline"]), **extra}
    return ([tag(name, k, v, propagate=True) for k, v in attributes["tags"].items()]
            + [tag(name, k, v) for k, v in own.items()])


def tag(name: str, key: str, value: str, *, propagate: bool = False) -> dict[str, Any]:
    return {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key, "Value": value,
            "PropagateAtLaunch": propagate}


def previous_of(value: str | None) -> dict[str, str] | None:
    """The `infra:previous` tag read back: what the ASG's predecessor ran."""
    parts = (value or "").split(":")
    if len(parts) != 3 or not all(parts):
        return None
    return {"launch_template_id": parts[0], "launch_template_version": parts[1], "image_id": parts[2]}


def previous_tag(previous: dict[str, Any]) -> str:
    return f"{previous['launch_template_id']}:{previous['launch_template_version']}:{previous['image_id']}"


def clear_stale_holding(client: Any, group: str, owner: str, progress: Progress) -> None:
    """Remove `infra:roll=holding` from the group's ASGs once the ASG a killed roll kept beside them
    is gone (a kill -9 during the drain or the hold leaves it on the survivor for ever), unless
    another roll is under way (an ASG of the group is `pending`)."""
    with aws_errors(f"describe the autoscaling groups of {group}"):
        found = list(paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups",
                              Filters=[{"Name": f"tag:{GROUP_TAG}", "Values": [group]},
                                       {"Name": f"tag:{OWNER_TAG}", "Values": [owner]}]))
    rolls = {g["AutoScalingGroupName"]: tag_dict(g.get("Tags")).get(ROLL_TAG) for g in found}
    if PENDING in rolls.values():
        return
    for name, roll in sorted(rolls.items()):
        if roll == HOLDING:
            with aws_errors(f"clear the roll tag of {name}"):
                client.delete_tags(Tags=[tag(name, ROLL_TAG, "")])
            progress(f"cleared {ROLL_TAG}={HOLDING} from {name}: the roll that set it was interrupted, and what it "
                     f"kept beside {name} is gone")
