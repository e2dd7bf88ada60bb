"""An ASG's scaling policies and scheduled actions as the planner and a roll see them. Pure.

They are the `scaling` attribute of `asg.<group>` (None when nodes.json has no `autoscale.scaling`:
then infra leaves the ASG's policies alone), not a kind of their own: a roll must put them on the
new ASG before the old one goes, and only the ASG's provider is there then (docs/architecture.md).

Once scaling is on, it owns sizes nodes.json also gives: a policy moves the desired capacity, a
scheduled action sets the sizes it names. Those sizes are then compared with what was applied
last, not with what AWS has now (CloudFormation's AutoScalingScheduledAction update policy,
IgnoreUnmodifiedGroupSizeProperties): a policy's work is no drift, and an apply does not undo it
unless nodes.json changed the size. A roll gives the new ASG the old one's sizes of that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config.fields import target_group_name
from infra.config.scaling import Scaling

KINDS = ("target_tracking", "step", "scheduled")
SIZES = ("min_size", "max_size", "desired_capacity")
SCHEDULED_SIZES = {"min": "min_size", "max": "max_size", "desired": "desired_capacity"}


def empty() -> dict[str, Any]:
    return {kind: {} for kind in KINDS}


def document(scaling: Scaling | None, target_groups: list[str]) -> dict[str, Any] | None:
    """The `scaling` attribute: every key with its value or default, the target group of a
    requests_per_target policy by name (the group's only one when nodes.json names none), and
    `suspended` false: the ASG's scaling acts (a roll suspends it for a while; one killed then, or
    a hand in the console, may leave it suspended: drift, which apply resumes)."""
    if scaling is None:
        return None
    found = {**plain(scaling.model_dump()), "suspended": False}
    for policy in found["target_tracking"].values():
        if policy["metric"] == "requests_per_target" and policy["target_group"] is None and target_groups:
            policy["target_group"] = target_groups[0]
        if policy["target_group"] is not None:
            policy["target_group"] = target_group_name(policy["target_group"])
    return found


def plain(value: Any) -> Any:
    """`value` with whole floats as ints (a target of 60 reads 60 whether nodes.json or AWS says it)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def sizes_owned(attributes: Mapping[str, Any]) -> frozenset[str]:
    """The sizes of an ASG with these attributes that its scaling moves: the desired capacity under
    any policy or scheduled action, MinSize and MaxSize where a scheduled action sets them."""
    scaling = attributes.get("scaling") or {}
    if not any(scaling.get(kind) for kind in KINDS):
        return frozenset()
    owned = {"desired_capacity"}
    for action in scaling.get("scheduled", {}).values():
        owned.update(size for key, size in SCHEDULED_SIZES.items() if action.get(key) is not None)
    return frozenset(owned)


def with_sizes_of(attributes: Mapping[str, Any], running: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes a roll gives the new ASG: the sizes scaling owns as the old ASG has them now
    (`running`: its min_size, max_size and desired_capacity), the others as nodes.json says."""
    owned = sizes_owned(attributes)
    if not owned or not running:
        return dict(attributes)
    sized = {**attributes, **{size: int(running[size]) for size in owned if running.get(size) is not None}}
    sized["max_size"] = max(sized["max_size"], sized["min_size"])
    sized["desired_capacity"] = min(max(sized["desired_capacity"], sized["min_size"]), sized["max_size"])
    return sized


def carried(attributes: Mapping[str, Any], running: Mapping[str, Any] | None) -> bool:
    """Whether a roll takes the new ASG's desired capacity from the old one's rather than nodes.json's."""
    return bool(running) and "desired_capacity" in sizes_owned(attributes)


def summary(scaling: Mapping[str, Any] | None) -> str:
    """The policies and actions in a few words: `target tracking cpu (cpu at 60), scheduled night (0 22 * * *)`."""
    if not scaling:
        return "none"
    said = [f"target tracking {name} ({_metric(policy)} at {policy['target']:g})"
            for name, policy in scaling.get("target_tracking", {}).items()]
    said += [f"step {name} ({_metric(policy)} {_threshold(policy)})"
             for name, policy in scaling.get("step", {}).items()]
    said += [f"scheduled {name} ({action['cron']})" for name, action in scaling.get("scheduled", {}).items()]
    return ", ".join(said) or "none"


def _metric(policy: Mapping[str, Any]) -> str:
    custom = policy.get("custom_metric")
    return f"{custom['namespace']}/{custom['name']}" if custom else str(policy.get("metric"))


def _threshold(policy: Mapping[str, Any]) -> str:
    if policy.get("above") is not None:
        return f">= {policy['above']:g}"
    return f"<= {policy['below']:g}" if policy.get("below") is not None else "without its alarm"
