"""Autoscaling groups: one live ASG per group, named `<group>-<short id>` (`<group>-<environment>-<short
id>` in an environment), rolled blue/green.

A group's ASG is found by its tags (`group`, `infra:managed`), never by name, because a roll
makes a new ASG beside the old one. The timings that cannot be read from AWS (the roll's
`timeout` and `healthy_deadline`) are kept as tags on the ASG, so they are observed like
everything else. While a roll waits for the new ASG to be healthy, it carries `infra:roll=pending`;
once healthy, while the old one is kept for `timeout`, `infra:roll=holding`. If infra dies mid-roll,
the next plan takes a holding ASG for the group's one (it was healthy; the old one is a leftover
to delete) and a pending one for a leftover (the old one stays the group's, and it rolls again).
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

from infra.errors import ProviderError
from infra.providers.aws.common import (GROUP_TAG, MANAGED, ObservedPerRegion, available_zones, by_owner,
                                        in_wanted_order, managed_tags, tag_dict, tag_list, unowned_of)
from infra.providers.aws.rollout import Health, Rollout, RollFailed
from infra.providers.aws.session import AwsClients, aws_errors, paginate
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import OWNER_TAG
from infra.reconciler.plan import Action, changed_attributes
from infra.reconciler.resources import Observation, Observed, address_of, split_address

ROLL_TAG = "infra:roll"
PENDING, HOLDING = "pending", "holding"  # a roll's new ASG: not yet healthy; healthy, the old one still kept
TIMEOUT_TAG = "infra:timeout"
DEADLINE_TAG = "infra:healthy_deadline"


class AutoscalingProvider(ObservedPerRegion):
    kinds = frozenset({"asg"})

    def __init__(self, workspace: Any, clients: AwsClients, *, sleep: Callable[[float], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.workspace, self.clients = workspace, clients
        self._interrupted = threading.Event()
        self.sleep, self.clock = sleep or self._interrupted.wait, clock

    def interrupt(self) -> None:
        """infra is terminated: a roll that is waiting stops waiting and is undone (see _roll)."""
        self._interrupted.set()

    def _pause(self, seconds: float) -> None:
        self.sleep(seconds)
        if self._interrupted.is_set():
            raise RollFailed("infra was terminated while waiting")

    # -- observe -----------------------------------------------------------------------------

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        client = self.clients.client("autoscaling", region)
        live = [group for group in paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups",
                                            Filters=[MANAGED], PaginationConfig={"PageSize": 100})  # AWS's largest
                if tag_dict(group.get("Tags")).get(GROUP_TAG) and not group.get("Status")]  # deleting: gone
        owners = by_owner(live, lambda group: tag_dict(group.get("Tags")), self.owner)
        zones = _Zones(self.clients, region)
        theirs = [(address_of("asg", tag_dict(g.get("Tags"))[GROUP_TAG]), owner,
                   _described(region, g["AutoScalingGroupName"])) for owner, g in owners.theirs]
        ours = _by_address(region, owners.ours, wanted, zones)
        untagged = _by_address(region, owners.untagged, wanted, zones, beside=ours)
        return Observation(found=ours,
                           unowned=unowned_of(untagged, lambda o: _described(region, o.attributes["name"]),
                                              theirs, wanted))

    # -- apply -------------------------------------------------------------------------------

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        before = action.before or {}
        region = attributes.get("region") or before.get("region")
        client = self.clients.client("autoscaling", region)
        if action.action is ActionKind.DELETE:
            if action.hold and before.get("timeout"):
                self._hold_before_delete(client, action, before["name"], before["timeout"], progress)
            self._delete(client, before["name"], progress)
            return {}
        if action.action is ActionKind.UPDATE:
            self._update(client, region, before["name"], attributes, before.get("tags") or {})
            progress(f"updated {before['name']} in place: " + ", ".join(changed_attributes(action.changes)))
            return {"name": before["name"]}
        if action.action is ActionKind.ADOPT:
            tagged = self._adopt(client, region, before["name"])
            progress(f"tagged {before['name']} and its {tagged} instance(s) {OWNER_TAG}={self.owner}")
            return {"name": before["name"]}
        old = before.get("name") if action.action is ActionKind.REPLACE else None
        return {"name": self._roll(client, region, action.group, attributes, old, progress)}

    def _roll(self, client: Any, region: str, group: str, attributes: dict[str, Any], old: str | None,
              progress: Progress) -> str:
        """Create a new ASG, wait until it is healthy, then (after `timeout`) remove the old one."""
        environment = attributes["tags"].get(OWNER_TAG, "").partition("/")[2]  # <project>/<environment>
        new = f"{group}-{environment + '-' if environment else ''}{secrets.token_hex(4)}"  # names carry it
        self._create(client, region, new, attributes, pending=old is not None)
        progress(f"created {new} ({attributes['min_size']}..{attributes['max_size']}, desired "
                 f"{attributes['desired_capacity']}); waiting up to {attributes['healthy_deadline']}s for its "
                 f"instances to be InService and Healthy")
        rollout = Rollout(Health(lambda: self._health(client, new), attributes["desired_capacity"]),
                          sleep=self._pause, clock=self.clock, progress=progress)
        try:
            rollout.wait_healthy(new, attributes["healthy_deadline"])
            if old is not None:
                with aws_errors(f"mark {new} healthy"):
                    client.create_or_update_tags(Tags=[_tag(new, ROLL_TAG, HOLDING)])
                rollout.hold(new, old, attributes["timeout"])
        except RollFailed as failure:
            if old is None:
                raise ProviderError(f"{failure}; {new} is kept: see why with aws autoscaling "
                                    f"describe-scaling-activities --auto-scaling-group-name {new}") from None
            self._delete(client, new, progress)
            raise ProviderError(f"{failure}: rolled back, deleted {new} and kept {old}") from None
        if old is not None:
            with aws_errors(f"promote {new}"):
                client.delete_tags(Tags=[_tag(new, ROLL_TAG, "")])
            self._delete(client, old, progress)
        return new

    def _create(self, client: Any, region: str, name: str, attributes: dict[str, Any], *, pending: bool) -> None:
        extra = {ROLL_TAG: PENDING} if pending else {}
        with aws_errors(f"create autoscaling group {name}"):
            client.create_auto_scaling_group(AutoScalingGroupName=name, **self._settings(region, attributes),
                                             Tags=_tags(name, attributes, extra))

    def _update(self, client: Any, region: str, name: str, attributes: dict[str, Any],
                tags_before: dict[str, str]) -> None:
        gone = [k for k in tags_before if k not in attributes["tags"]]
        with aws_errors(f"update autoscaling group {name}"):
            client.update_auto_scaling_group(AutoScalingGroupName=name, **self._settings(region, attributes))
            if gone:
                client.delete_tags(Tags=[_tag(name, k, "") for k in gone])
            client.create_or_update_tags(Tags=_tags(name, attributes, {}))
        if attributes["tags"] != tags_before:
            self._tag_instances(client, region, name, attributes["tags"], gone)

    def _adopt(self, client: Any, region: str, name: str) -> int:
        """Tag an ASG made before owner tags, and its instances, as this project's; how many instances."""
        with aws_errors(f"tag autoscaling group {name}"):
            client.create_or_update_tags(Tags=[_tag(name, OWNER_TAG, self.owner, propagate=True)])
        return self._tag_instances(client, region, name, {OWNER_TAG: self.owner}, [])

    def _tag_instances(self, client: Any, region: str, name: str, tags: dict[str, str], gone: list[str]) -> int:
        """Give the instances the ASG runs now the tags it propagates: AWS tags instances only at
        launch, so a changed tag (an owner, a cost centre) would otherwise miss the running ones."""
        with aws_errors(f"describe autoscaling group {name}"):
            groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        instances = [i["InstanceId"] for g in groups for i in g.get("Instances", [])]
        if instances:
            ec2 = self.clients.client("ec2", region)
            with aws_errors(f"tag the instances of {name}"):
                if gone:
                    ec2.delete_tags(Resources=instances, Tags=[{"Key": k} for k in gone])
                ec2.create_tags(Resources=instances, Tags=tag_list(tags))
        return len(instances)

    def _settings(self, region: str, attributes: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "MinSize": attributes["min_size"],
            "MaxSize": attributes["max_size"],
            "DesiredCapacity": attributes["desired_capacity"],
            "LaunchTemplate": {"LaunchTemplateId": attributes["launch_template_id"],
                               "Version": str(attributes["launch_template_version"])},
            "HealthCheckType": attributes["health_check_type"],
            "HealthCheckGracePeriod": attributes["health_check_grace"],
            "TerminationPolicies": attributes["termination_policies"],
        }
        if attributes.get("subnets"):
            settings["VPCZoneIdentifier"] = ",".join(attributes["subnets"])
        else:
            settings["AvailabilityZones"] = attributes.get("zones") or available_zones(self.clients, region)
        return settings

    def _health(self, client: Any, name: str) -> int:
        """How many of the ASG's instances are InService and Healthy."""
        with aws_errors(f"describe autoscaling group {name}"):
            groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return sum(1 for group in groups for i in group.get("Instances", [])
                   if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy")

    def _hold_before_delete(self, client: Any, action: Action, name: str, timeout: float,
                            progress: Progress) -> None:
        """New nodes of the same apply take over (a renamed group): keep these for their `timeout`
        so other nodes notice the new ones first, while the new ASGs stay healthy, as a roll does."""
        successors = self._successors(client, action)
        health = Health(lambda: sum(min(self._health(client, new), wanted) for new, wanted in successors),
                        sum(wanted for _, wanted in successors))
        rollout = Rollout(health, sleep=self._pause, clock=self.clock, progress=progress)
        try:
            rollout.hold(", ".join(new for new, _ in successors) or "the nodes that replace it", name, timeout)
        except RollFailed as failure:
            raise ProviderError(f"{failure}; {name} is kept, apply again once the new nodes are healthy") from None

    def _successors(self, client: Any, action: Action) -> list[tuple[str, int]]:
        """The live ASGs (name, desired capacity) of the groups whose nodes this deletion waited for."""
        groups = sorted({split_address(d)[1] for d in action.depends_on if split_address(d)[0] == "asg"})
        if not groups:
            return []
        with aws_errors("describe the new autoscaling groups"):
            found = paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups",
                             Filters=[{"Name": f"tag:{GROUP_TAG}", "Values": groups},
                                      {"Name": f"tag:{OWNER_TAG}", "Values": [self.owner]}])
            return [(g["AutoScalingGroupName"], g["DesiredCapacity"]) for g in found
                    if tag_dict(g.get("Tags")).get(ROLL_TAG) != PENDING]

    def _delete(self, client: Any, name: str, progress: Progress) -> None:
        try:
            with aws_errors(f"delete autoscaling group {name}"):
                client.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        except ProviderError as exc:
            if "not found" not in str(exc):
                raise
        progress(f"deleted {name} (its instances terminate)")


class _Zones:
    """Every zone of a region, asked for once and only when a group wants them all (zones: [])."""

    def __init__(self, clients: AwsClients, region: str) -> None:
        self.clients, self.region, self._zones = clients, region, None

    def all(self) -> list[str]:
        if self._zones is None:
            self._zones = available_zones(self.clients, self.region)
        return self._zones


def _by_address(region: str, groups: list[dict[str, Any]], wanted: dict[str, dict[str, Any]],
                zones: _Zones, beside: dict[str, Observed] | None = None) -> dict[str, Observed]:
    """Each group's live ASG at `asg.<group>`, and the ones an interrupted roll left beside it at
    `asg.<group>.<name>` (planned for deletion). Groups that have their live ASG `beside` these
    (this project's, where these were made before owner tags) get only leftovers."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        by_group.setdefault(tag_dict(group.get("Tags"))[GROUP_TAG], []).append(group)
    observed: dict[str, Observed] = {}
    for name, found in by_group.items():
        address = address_of("asg", name)
        current, extras = _current(found) if address not in (beside or {}) else (None, found)
        want = wanted.get(address, {})
        if current is not None:
            every_zone = zones.all() if "zones" in want and not want["zones"] else []
            observed[address] = _observed(region, current, want, every_zone)
        for extra in extras:
            observed[address_of("asg", name, extra["AutoScalingGroupName"])] = _observed(region, extra, {}, [])
    return observed


def _described(region: str, name: str) -> str:
    return f"autoscaling group {name} in {region}"


def _current(found: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The group's live ASG (the newest one that is not waiting to become healthy) and any others."""
    settled = [g for g in found if tag_dict(g.get("Tags")).get(ROLL_TAG) != PENDING] or found
    current = max(settled, key=lambda g: (str(g.get("CreatedTime", "")), g["AutoScalingGroupName"]))
    return current, [g for g in found if g is not current]


def _observed(region: str, group: dict[str, Any], wanted: dict[str, Any], all_zones: list[str]) -> Observed:
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
        "timeout": _int(tags.get(TIMEOUT_TAG)),
        "healthy_deadline": _int(tags.get(DEADLINE_TAG)),
        "tags": managed_tags(tags),
        "name": group["AutoScalingGroupName"],  # not desired, so never compared; apply needs it
        "instances": sorted(i["InstanceId"] for i in group.get("Instances", [])),  # what deleting it ends
    }
    return Observed(attributes=attributes, outputs={"name": group["AutoScalingGroupName"]})


def _zones(actual: list[str], in_subnets: bool, wanted: dict[str, Any], all_zones: list[str]) -> list[str]:
    """Zones in the config's terms: [] means every zone of the region."""
    if in_subnets and wanted.get("subnets"):
        return list(wanted.get("zones", []))  # the subnets decide the zones; they are compared instead
    if "zones" in wanted and not wanted["zones"] and sorted(actual) == sorted(all_zones):
        return []
    return in_wanted_order(list(actual), wanted.get("zones"))


def _tags(name: str, attributes: dict[str, Any], extra: dict[str, str]) -> list[dict[str, Any]]:
    """The group's tags (propagated to instances) and infra's bookkeeping tags (kept on the ASG)."""
    own = {TIMEOUT_TAG: str(attributes["timeout"]), DEADLINE_TAG: str(attributes["healthy_deadline"]), **extra}
    return ([_tag(name, k, v, propagate=True) for k, v in attributes["tags"].items()]
            + [_tag(name, k, v) for k, v in own.items()])


def _tag(name: str, key: str, value: str, *, propagate: bool = False) -> dict[str, Any]:
    return {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key, "Value": value,
            "PropagateAtLaunch": propagate}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
