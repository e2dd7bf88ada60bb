"""A group's autoscaling groups as infra observes them, in nodes.json's words.

The group's live ASG (the newest one that is not waiting: pending, paused beside it, or kept warm
after a roll) at `asg.<group>`, with what waits beside it as attributes of it (`roll`: a paused
roll; `kept_previous`: the old ASG kept for a fast rollback, observed in full in the live one's
`earlier`, at the address it would have as a leftover), and leftovers at `asg.<group>.<name>`
(planned for deletion: an interrupted roll's, a kept ASG past its window).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infra.aws.session import AwsClients
from infra.providers.aws import asg, load_balancing
from infra.providers.aws.asg import (
    DEADLINE_TAG,
    KEPT,
    KEPT_SINCE_TAG,
    KEPT_UNTIL_TAG,
    PAUSED,
    PENDING,
    PREVIOUS_TAG,
    ROLL_TAG,
    ROLLED_BACK_TAG,
    SINCE_TAG,
    STEP_TAG,
    STEPS_TAG,
    TIMEOUT_TAG,
)
from infra.providers.aws.common import GROUP_TAG, available_zones, in_wanted_order, managed_tags, tag_dict
from infra.reconciler.resources import Observed, address_of


class Zones:
    """Every zone of a region, asked for once and only when a group wants them all (zones: [])."""

    def __init__(self, clients: AwsClients, region: str) -> None:
        self.clients, self.region = clients, region
        self._zones: list[str] | None = None

    def all(self) -> list[str]:
        if self._zones is None:
            self._zones = available_zones(self.clients, self.region)
        return self._zones


def by_address(region: str, groups: list[dict[str, Any]], wanted: dict[str, dict[str, Any]],
                zones: Zones, beside: dict[str, Observed] | None = None) -> dict[str, Observed]:
    """Each group's live ASG at `asg.<group>`, and the ones an interrupted roll left beside it at
    `asg.<group>.<name>` (planned for deletion). Groups that have their live ASG `beside` these
    (this project's, where these were made before owner tags) get only leftovers."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        by_group.setdefault(tag_dict(group.get("Tags"))[GROUP_TAG], []).append(group)
    found_here: dict[str, Observed] = {}
    for name, found in by_group.items():
        address = address_of("asg", name)
        current, extras = live_and_leftovers(found) if address not in (beside or {}) else (None, found)
        want = wanted.get(address, {})
        paused = [g for g in extras if tag_dict(g.get("Tags")).get(ROLL_TAG) == PAUSED]
        keep = int((want.get("rollout") or {}).get("keep_previous") or 0)
        kept = kept_asgs(extras, keep)
        if current is not None:
            every_zone = zones.all() if "zones" in want and not want["zones"] else []
            found_here[address] = observed(region, current, want, every_zone)
            if paused:  # the roll waits beside the live ASG: part of it, not a leftover
                extras = [g for g in extras if g is not paused[0]]
                roll = paused_roll(paused[0])
                found_here[address].attributes["roll"] = roll
                found_here[address].outputs["roll"] = roll
            if kept:  # the previous ASG, warm within its window: infra rollback's fast way back
                extras = [g for g in extras if g is not kept[0]]
                found_here[address].attributes["kept_previous"] = kept_previous(kept[0], keep)
                found_here[address].earlier = {address_of("asg", name, kept[0]["AutoScalingGroupName"]):
                                               kept_observed(region, kept[0], keep)}
        for extra in extras:
            was_kept = tag_dict(extra.get("Tags")).get(ROLL_TAG) == KEPT  # past its window, or kept before another
            found_here[address_of("asg", name, extra["AutoScalingGroupName"])] = (
                kept_observed(region, extra, keep) if was_kept else observed(region, extra, {}, []))
    return found_here


def described_as(region: str, name: str) -> str:
    return f"autoscaling group {name} in {region}"


def live_and_leftovers(found: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The group's live ASG (the newest one that is not waiting to become healthy, nor paused beside
    it) and any others."""
    if len(found) == 1:  # nearly every group: one ASG, live whatever its tags say
        return found[0], []
    settled = [g for g in found if tag_dict(g.get("Tags")).get(ROLL_TAG) not in (PENDING, PAUSED, KEPT)] or found
    current = max(settled, key=lambda g: (str(g.get("CreatedTime", "")), g["AutoScalingGroupName"]))
    return current, [g for g in found if g is not current]


def kept_asgs(found: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The old ASGs kept warm whose window is still open, newest first (an older one, or one past
    its window, is a leftover: the next apply deletes it). `keep`: the group's keep_previous now."""
    if not found:  # nearly every group: nothing beside its live ASG (and no clock read for it)
        return []
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    kept = [g for g in found if tag_dict(g.get("Tags")).get(ROLL_TAG) == KEPT and kept_until(g, keep) > now]
    return sorted(kept, key=lambda g: str(g.get("CreatedTime", "")), reverse=True)


def kept_until(group: dict[str, Any], keep: int) -> str:
    """The end of a kept ASG's window (UTC): what its roll tagged, or sooner when keep_previous was
    lowered since (`keep` seconds from when it was kept; no sooner for an ASG kept without that tag)."""
    tags = tag_dict(group.get("Tags"))
    until, since = tags.get(KEPT_UNTIL_TAG, ""), tags.get(KEPT_SINCE_TAG)
    if not keep or not since:
        return until
    try:
        lowered = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(seconds=keep)
    except ValueError:  # a tag edited by hand: the window its roll gave it
        return until
    return min(until, lowered.strftime("%Y-%m-%dT%H:%M:%SZ"))


def kept_previous(group: dict[str, Any], keep: int) -> dict[str, Any]:
    """An old ASG kept warm, as infra rollback reads it."""
    template = group.get("LaunchTemplate") or {}
    return {"asg": group["AutoScalingGroupName"], "until": kept_until(group, keep),
            "instances": len(asg.in_service(group)), "desired_capacity": group["DesiredCapacity"],
            "launch_template_id": template.get("LaunchTemplateId"), "launch_template_version": template.get("Version")}


def kept_observed(region: str, group: dict[str, Any], keep: int) -> Observed:
    """An old ASG kept warm, observed in full as a leftover is (what deleting it needs and names), with
    `kept_until`: the planner deletes it with its group, or once the group keeps none (reconciler/kept.py)."""
    found = observed(region, group, {}, [])
    found.attributes["kept_until"] = kept_until(group, keep)
    return found


def paused_roll(group: dict[str, Any]) -> dict[str, Any]:
    """A paused roll as its new ASG's tags record it (what plan, drift and infra rollout read)."""
    tags, template = tag_dict(group.get("Tags")), group.get("LaunchTemplate") or {}
    return {"state": PAUSED, "asg": group["AutoScalingGroupName"], "step": int_or_none(tags.get(STEP_TAG)) or 0,
            "since": tags.get(SINCE_TAG, ""), "instances": group["DesiredCapacity"],
            **({"steps": tags[STEPS_TAG]} if tags.get(STEPS_TAG) else {}),  # the steps it ran (rolls.steps_changed)
            "launch_template_id": template.get("LaunchTemplateId"),
            "launch_template_version": template.get("Version"),
            **({"previous": asg.previous_of(tags.get(PREVIOUS_TAG))} if tags.get(PREVIOUS_TAG) else {})}


def observed(region: str, group: dict[str, Any], wanted: dict[str, Any], all_zones: list[str]) -> Observed:
    tags = tag_dict(group.get("Tags"))
    template = group.get("LaunchTemplate") or {}
    subnets = [s for s in (group.get("VPCZoneIdentifier") or "").split(",") if s]
    attributes = {
        "region": region,
        "min_size": group["MinSize"],
        "max_size": group["MaxSize"],
        "desired_capacity": group["DesiredCapacity"],
        "zones": _zones(group.get("AvailabilityZones", []), bool(subnets), wanted, all_zones),
        "subnets": in_wanted_order(subnets, wanted.get("subnets")),
        "health_check_type": group.get("HealthCheckType"),
        "health_check_grace": group.get("HealthCheckGracePeriod"),
        "termination_policies": group.get("TerminationPolicies", []),
        "launch_template_id": template.get("LaunchTemplateId"),
        "launch_template_version": template.get("Version"),
        "timeout": int_or_none(tags.get(TIMEOUT_TAG)),
        "healthy_deadline": int_or_none(tags.get(DEADLINE_TAG)),
        "target_groups": load_balancing.in_config_words(group.get("TargetGroupARNs") or [],
                                                        wanted.get("target_groups")),
        "tags": managed_tags(tags),
        "scaling": None,  # its policies and scheduled actions, when asked about (_observe_scaling)
        # Not desired, so never compared: apply needs them, the plan names what a deletion ends,
        # infra rollback reads what the ASG's predecessor ran, and plan keeps what it rolled back to.
        "name": group["AutoScalingGroupName"],
        "instances": sorted(i["InstanceId"] for i in group.get("Instances", [])),
        "target_group_arns": list(group.get("TargetGroupARNs") or []),
        "suspended_processes": sorted(p["ProcessName"] for p in group.get("SuspendedProcesses") or []),
        "previous": asg.previous_of(tags.get(PREVIOUS_TAG)),
        "rolled_back_from": tags.get(ROLLED_BACK_TAG),
        # The sizes now, which scaling may have moved from nodes.json's: a roll starts from them.
        "sizes_now": {"min_size": group["MinSize"], "max_size": group["MaxSize"],
                      "desired_capacity": group["DesiredCapacity"]},
    }
    outputs = {"name": group["AutoScalingGroupName"], **previous_output(attributes)}
    return Observed.of(attributes, outputs)


def _zones(actual: list[str], in_subnets: bool, wanted: dict[str, Any], all_zones: list[str]) -> list[str]:
    """Zones in the config's terms: [] means every zone of the region."""
    if in_subnets and wanted.get("subnets"):
        return list(wanted.get("zones", []))  # the subnets decide the zones; they are compared instead
    if "zones" in wanted and not wanted["zones"] and sorted(actual) == sorted(all_zones):
        return []
    return in_wanted_order(list(actual), wanted.get("zones"))


def previous_output(attributes: dict[str, Any]) -> dict[str, Any]:
    """The `previous` output (what `infra rollback` returns to), when the ASG has one."""
    return {"previous": attributes["previous"]} if attributes.get("previous") else {}


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
