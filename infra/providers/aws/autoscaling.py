"""Autoscaling groups: one live ASG per group, named `<group>-<short id>` (`<group>-<environment>-<short
id>` in an environment), rolled blue/green.

A group's ASG is found by its tags (`group`, `infra:managed`), never by name, because a roll
makes a new ASG beside the old one. The timings that cannot be read from AWS (the roll's
`timeout` and `healthy_deadline`) are kept as tags on the ASG, so they are observed like
everything else (asg.py lists infra's tags). While a roll waits for the new ASG to be healthy,
it carries `infra:roll=pending`; once healthy and baked, while the old one drains and is kept for
`timeout`, `infra:roll=holding`. If infra dies mid-roll, the next plan takes a holding ASG for the
group's one (it took the traffic; the old one is a leftover to delete) and a pending one for a
leftover (the old one stays the group's, and it rolls again). The roll itself is blue_green.py
(AWS calls) driven by rollout.py (the state machine).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from infra.aws.session import aws_errors
from infra.errors import ConfigError, ProviderError
from infra.providers.aws import alarms, asg, blue_green, fast_rollback, launch_templates, load_balancing, scaling
from infra.providers.aws.asg import (
    PENDING,
    ROLL_TAG,
)
from infra.providers.aws.asg_observed import (
    Zones,
    by_address,
    described_as,
    previous_output,
)
from infra.providers.aws.common import (
    GROUP_TAG,
    MANAGED,
    AwsContext,
    ByOwner,
    ObservedPerRegion,
    Scan,
    by_owner,
    identity_tags,
    tag_dict,
    tag_list,
    unowned_of,
)
from infra.providers.aws.waiting import Interrupted, RollFailed, Step, Waiter, keep_while_healthy
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import OWNER_TAG
from infra.reconciler.plan import Action, changed_attributes
from infra.reconciler.resources import Observation, Observed, address_of, split_address
from infra.reconciler.rolls import brings_back_kept, target_group_name
from infra.reconciler.scaling import sizes_owned

# What infra made in a region, AWS's largest page: at 10,000 groups, a chain of a hundred round trips,
# a plan's longest wait, so a plan starts it early. The other scans' chains are half as long or less:
# started early too, they held up to 50 MB more while the plan built its graph, and slowed that.
GROUPS_SCAN = Scan("autoscaling", "describe_auto_scaling_groups", "AutoScalingGroups",
                   {"Filters": [MANAGED], "PaginationConfig": {"PageSize": 100}})


class AutoscalingProvider(ObservedPerRegion):
    kinds = frozenset({"asg"})
    scans = (GROUPS_SCAN,)
    lookup = asg.BY_NAME  # what the state records and GROUPS_SCAN did not list (ObservedPerRegion.confirm)

    def __init__(self, context: AwsContext, *, sleep: Callable[[float], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.context, self.clients = context, context.clients
        self._interrupted = threading.Event()
        # A wait wakes at once when infra is stopped; rolling back then waits for real.
        self.sleep, self.rest, self.clock = sleep or self._interrupted.wait, sleep or time.sleep, clock
        self._made: dict[str, str] = {}  # group -> the ASG this apply made for it (a renamed group's hold)

    def interrupt(self) -> None:
        """infra is terminated: a roll that is waiting stops waiting and is undone (see rollout.py)."""
        self._interrupted.set()
        self.clients.interrupt()

    # -- observe -----------------------------------------------------------------------------

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        warnings = self._check_names(region, wanted)
        zones = Zones(self.clients, region)
        owners, ours = self._read(region, GROUPS_SCAN.items(self.clients, region), wanted, zones)
        theirs = [(address_of("asg", tag_dict(g.get("Tags"))[GROUP_TAG]), owner,
                   described_as(region, g["AutoScalingGroupName"])) for owner, g in owners.theirs]
        untagged = by_address(region, owners.untagged, wanted, zones, beside=ours)
        for group, said in warnings.items():  # read by the plan for a roll (render.py); never compared
            if address_of("asg", group) in ours:
                ours[address_of("asg", group)].attributes["roll_warnings"] = said
        return Observation(found=ours,
                           unowned=unowned_of(untagged, lambda o: described_as(region, o.attributes["name"]),
                                              theirs, wanted))

    def _observed_by_id(self, region: str, items: list[dict[str, Any]],
                        wanted: dict[str, dict[str, Any]]) -> dict[str, Observed]:
        """ASGs the scan did not list, described by name: this project's live ones, read as the scan's are."""
        return self._read(region, items, wanted, Zones(self.clients, region))[1]

    def _read(self, region: str, groups: Iterable[dict[str, Any]], wanted: dict[str, dict[str, Any]],
              zones: Zones) -> tuple[ByOwner[dict[str, Any]], dict[str, Observed]]:
        """The live ASGs of `groups` (listed, or described by name) by owner, and this project's read in
        nodes.json's words, with their scaling."""
        live = [group for group in groups
                if tag_dict(group.get("Tags")).get(GROUP_TAG) and not group.get("Status")]  # deleting: gone
        owners = by_owner(live, lambda group: tag_dict(group.get("Tags")), self.owner)
        ours = by_address(region, owners.ours, wanted, zones)
        self._observe_scaling(region, ours, wanted, {g["AutoScalingGroupName"] for g in owners.ours
                                                     if scaling.SCALING_TAG in tag_dict(g.get("Tags"))})
        return owners, ours

    def _observe_scaling(self, region: str, found: dict[str, Observed], wanted: dict[str, dict[str, Any]],
                         tagged: set[str]) -> None:
        """The `scaling` of the ASGs whose group has `autoscale.scaling` or that carry infra's scaling
        tag (nodes.json dropped it: what infra put there is to go); the others' stays None, unasked.
        Nothing is asked at all when no ASG here needs it."""
        needed = {obs.attributes["name"]: obs for address, obs in found.items()
                  if wanted.get(address, {}).get("scaling") is not None or obs.attributes["name"] in tagged}
        for live in found.values():  # an old ASG kept warm (asg_observed.py): deleting it forgets its alarms
            needed.update((kept.attributes["name"], kept) for kept in live.earlier.values()
                          if kept.attributes["name"] in tagged)
        if needed:
            for name, document in scaling.observe(self.clients, region, needed).items():
                suspended = set(scaling.PROCESSES) & set(needed[name].attributes["suspended_processes"])
                needed[name].attributes["scaling"] = {**document, "suspended": bool(suspended)}

    def _check_names(self, region: str, wanted: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        """The target groups and alarms nodes.json names exist in the group's region: a typo is an
        error when planning, not a roll that waits on nothing (one call for each, and none when no
        group names any). What a roll would meet there now, by group (_roll_warnings)."""
        groups = self.context.config.groups
        named: dict[str, dict[str, list[str]]] = {"target_groups": {}, "alarms": {}}
        for address, attributes in wanted.items():
            scale = getattr(groups.get(split_address(address)[1]), "autoscale", None)
            if scale is None or (self.clients.region or attributes.get("region")) != region:  # --region wins
                continue
            for name in scale.target_groups:
                named["target_groups"].setdefault(name, []).append(split_address(address)[1])
            for name in (scale.rollout.alarms if scale.rollout else []):
                named["alarms"].setdefault(name, []).append(split_address(address)[1])
        found: dict[str, str] = {}
        if named["target_groups"]:
            try:
                found = load_balancing.arns(self.clients, region, named["target_groups"])
            except load_balancing.MissingTargetGroups as missing:
                raise self._unknown("target_groups", "target group", missing.names, named, region) from None
        gone, firing = alarms.looked_up(self.clients, region, named["alarms"])
        if gone:
            raise self._unknown("rollout.alarms", "CloudWatch alarm", gone, named, region)
        return self._roll_warnings(region, named, found, firing)

    def _roll_warnings(self, region: str, named: dict[str, dict[str, list[str]]], arns: dict[str, str],
                       firing: dict[str, str]) -> dict[str, list[str]]:
        """What a roll would meet at once, by group: a watched alarm already in ALARM (the roll would
        stop before it starts), a target group with no healthy target (nothing to compare the canary
        with, or an outage already): one DescribeTargetHealth per target group."""
        warnings: dict[str, list[str]] = {}
        for name, said in firing.items():
            for group in named["alarms"][name]:
                warnings.setdefault(group, []).append(f"alarm {said} is in ALARM now: a roll would stop before it "
                                                      f"starts")
        for name, groups in named["target_groups"].items():
            arn = arns.get(name)
            if arn and not load_balancing.healthy_count(self.clients, region, arn):
                for group in groups:
                    warnings.setdefault(group, []).append(f"target group {target_group_name(name)} has no healthy "
                                                          f"target now")
        return warnings

    def _unknown(self, key: str, what: str, names: list[str], named: dict[str, dict[str, list[str]]],
                 region: str) -> ConfigError:
        group = named["target_groups" if key == "target_groups" else "alarms"][names[0]][0]
        return self.context.config.error_at(group, ["autoscale", *key.split(".")],
                                              f"group {group!r}: autoscale.{key}: no {what} "
                                              f"{', '.join(names)} in {region}; make it there, or fix the name")

    # -- apply -------------------------------------------------------------------------------

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        before = action.before or {}
        region: str = cast(str, attributes.get("region") or before.get("region"))  # every resource has one
        client = self.clients.client("autoscaling", region)
        if action.action is ActionKind.DELETE:
            if action.hold and before.get("timeout"):
                self._hold_before_delete(client, region, action, before["name"], before["timeout"], progress)
            arns = before.get("target_group_arns") or []
            if arns:  # detached (once) by the drain: detaching again would only hear InvalidTarget
                self._drain_before_delete(client, region, before["name"], arns, progress)
            asg.delete(client, before["name"], progress, self.clients.patience)
            scaling.forget(self.clients, region, before["name"], before.get("scaling"))
            if split_address(action.address)[2] is not None:  # what an interrupted roll left beside the group's
                asg.clear_stale_holding(client, action.group, self.owner, progress)
            return {}
        if action.action is ActionKind.UPDATE:
            self._update(client, region, action, attributes, progress)
            return {"name": before["name"], **previous_output(before)}
        if action.action is ActionKind.ADOPT:
            tagged = self._adopt(client, region, before["name"], action.group)
            progress(f"tagged {before['name']} and its {tagged} instance(s) {OWNER_TAG}={self.owner}, "
                     f"{GROUP_TAG}={action.group}")
            return {"name": before["name"], **previous_output(before)}
        old = before if action.action is ActionKind.REPLACE else None
        if old is not None and old.get("roll"):
            return self._carry_on(region, action, attributes, old, progress)
        if old is not None and brings_back_kept(old, attributes):
            outputs = fast_rollback.bring_back(self.clients, region, action.group, attributes, old, progress,
                                               clock=self.clock, sleep=self.sleep, rest=self.rest,
                                               stopped=self._interrupted.is_set)
        else:
            outputs = blue_green.roll(self.clients, region, action.group, attributes, old, progress, clock=self.clock,
                                      sleep=self.sleep, rest=self.rest, stopped=self._interrupted.is_set)
            self._made[action.group] = outputs["name"]
        if attributes.get("rolled_back_from") or before.get("rolled_back_from"):  # infra rollback, or the way on
            launch_templates.point_default(self.clients, region, attributes["launch_template_id"],
                                           str(attributes["launch_template_version"]), progress)
        return outputs

    def _carry_on(self, region: str, action: Action, attributes: dict[str, Any], before: dict[str, Any],
                  progress: Progress) -> dict[str, Any]:
        """A paused roll goes on (infra rollout promote) or is undone (abort); never a second roll beside it."""
        if action.roll_command not in ("promote", "abort"):
            raise ProviderError(f"{before['name']}'s roll is paused beside it ({before['roll']['asg']}): go on with "
                                f"infra rollout promote {action.group}, or go back with infra rollout abort "
                                f"{action.group}, first")
        abort = action.reason if action.roll_command == "abort" else None
        return blue_green.carry_on(self.clients, region, action.group, attributes, before, progress, abort=abort,
                                   clock=self.clock, sleep=self.sleep, rest=self.rest,
                                   stopped=self._interrupted.is_set)

    def _update(self, client: Any, region: str, action: Action, attributes: dict[str, Any],
                progress: Progress) -> None:
        before = action.before or {}
        name, changed = before["name"], changed_attributes(action.changes)
        if set(changed) <= {"rollout"}:
            progress(f"recorded how {name} rolls from now on (rollout); nothing changes in AWS")
            return
        if set(changed) - {"rollout", "scaling"}:
            self._update_settings(client, region, before, attributes, changed, progress)
        if "scaling" in changed:
            self._update_scaling(client, region, before, attributes, progress)
        progress(f"updated {name} in place: " + ", ".join(changed))

    def _update_settings(self, client: Any, region: str, before: dict[str, Any], attributes: dict[str, Any],
                         changed: list[str], progress: Progress) -> None:
        """Sizes, health checks, zones, timings, target groups, tags. A size the group's scaling owns
        is left as it is, unless nodes.json changed it (reconciler/scaling.py)."""
        name, tags_before = before["name"], before.get("tags") or {}
        kept = sizes_owned(attributes) - set(changed)
        gone = [k for k in tags_before if k not in attributes["tags"]]
        with aws_errors(f"update autoscaling group {name}"):
            client.update_auto_scaling_group(AutoScalingGroupName=name, **asg.settings(
                self.clients, region, attributes, leave=kept))
            if gone:
                client.delete_tags(Tags=[asg.tag(name, k, "") for k in gone])
            client.create_or_update_tags(Tags=asg.tags(name, attributes, {}))
        if "target_groups" in changed:
            self._reattach(client, region, name, before.get("target_group_arns") or [], attributes, progress)
        if attributes["tags"] != tags_before:
            self._tag_instances(client, region, name, attributes["tags"], gone)

    def _update_scaling(self, client: Any, region: str, before: dict[str, Any], attributes: dict[str, Any],
                        progress: Progress) -> None:
        """Put the policies and scheduled actions nodes.json wants, delete the others; without
        `autoscale.scaling`, delete them all and stop managing them (the tag goes)."""
        name = before["name"]
        wanted = attributes.get("scaling")
        scaling.put(self.clients, region, name, wanted, identity_tags(attributes["tags"].get(GROUP_TAG, ""),
                                                                      self.owner), progress)
        if wanted is not None and (before.get("scaling") or {}).get("suspended"):
            scaling.resume(client, name)
            progress(f"{name}: its scaling acts again (it was suspended)")
        with aws_errors(f"tag autoscaling group {name}"):
            if wanted is None:
                client.delete_tags(Tags=[asg.tag(name, scaling.SCALING_TAG, "")])
            else:
                client.create_or_update_tags(Tags=[asg.tag(name, scaling.SCALING_TAG, "true")])

    def _reattach(self, client: Any, region: str, name: str, attached: list[str], attributes: dict[str, Any],
                  progress: Progress) -> None:
        """Attach the ASG to the target groups nodes.json adds, detach it from those it drops."""
        wanted = list(load_balancing.arns(self.clients, region, attributes["target_groups"]).values())
        added, dropped = [a for a in wanted if a not in attached], [a for a in attached if a not in wanted]
        with aws_errors(f"change the target groups of {name}"):
            if added:
                client.attach_load_balancer_target_groups(AutoScalingGroupName=name, TargetGroupARNs=added)
            if dropped:
                client.detach_load_balancer_target_groups(AutoScalingGroupName=name, TargetGroupARNs=dropped)
        progress(f"{name}: attached to {len(added)}, detached from {len(dropped)} target group(s)")

    def _adopt(self, client: Any, region: str, name: str, group: str) -> int:
        """Tag an ASG made before owner tags or without infra, and its instances, as this project's, of
        `group`; how many instances."""
        identity = identity_tags(group, self.owner)
        with aws_errors(f"tag autoscaling group {name}"):
            client.create_or_update_tags(Tags=[asg.tag(name, k, v, propagate=True) for k, v in identity.items()])
        return self._tag_instances(client, region, name, identity, [])

    def _tag_instances(self, client: Any, region: str, name: str, tags: dict[str, str], gone: list[str]) -> int:
        """Give the instances the ASG runs now the tags it propagates: AWS tags instances only at
        launch, so a changed tag (an owner, a cost centre) would otherwise miss the running ones."""
        instances = [i["InstanceId"] for i in asg.described(client, name).get("Instances", [])]
        if instances:
            ec2 = self.clients.client("ec2", region)
            with aws_errors(f"tag the instances of {name}"):
                if gone:
                    ec2.delete_tags(Resources=instances, Tags=[{"Key": k} for k in gone])
                ec2.create_tags(Resources=instances, Tags=tag_list(tags))
        return len(instances)

    def _hold_before_delete(self, client: Any, region: str, action: Action, name: str, timeout: float,
                            progress: Progress) -> None:
        """New nodes of the same apply take over (a renamed group): keep these for their `timeout`
        so other nodes notice the new ones first, while the new ASGs stay healthy, as a roll does."""
        successors = self._successors(region, action)
        wanted = sum(size for _, size in successors)
        new = ", ".join(new for new, _ in successors) or "the nodes that replace it"

        def healthy() -> str:
            count = sum(min(len(asg.in_service(asg.described(client, n))), size) for n, size in successors)
            if count < wanted:
                raise RollFailed(f"{new} became unhealthy before {name} was removed ({count}/{wanted} instances "
                                 f"InService and Healthy)")
            return f"{count}/{wanted} instances InService and Healthy"

        waiter = Waiter(progress, self.clock, self.sleep, self._interrupted.is_set)
        try:
            keep_while_healthy(waiter, new, name, timeout, healthy)
        except RollFailed as failure:
            raise ProviderError(f"{failure}; {name} is kept, apply again once the new nodes are healthy") from None
        except Interrupted:
            raise ProviderError(f"infra was stopped (Ctrl-C or SIGTERM) while {name} was kept beside {new}; "
                                f"{name} is kept, apply again to remove it") from None

    def _drain_before_delete(self, client: Any, region: str, name: str, arns: list[str], progress: Progress) -> None:
        """Detach the ASG and wait, up to its target groups' deregistration delay, until its instances
        have left them, so requests in flight finish before the instances terminate (as a roll drains)."""
        asg.detach_target_groups(client, name, arns, progress)
        delay = load_balancing.deregistration_delay(self.clients, region, arns)
        instances = [i["InstanceId"] for i in asg.described(client, name).get("Instances", [])]

        def step(elapsed: float, left: float) -> Step:
            where = load_balancing.still_registered(self.clients, region, arns, instances)
            if not where:
                return Step(f"{name}: drained from {', '.join(map(target_group_name, arns))}", done=True)
            return Step(f"{name}: draining {', '.join(where)}; {left:.0f} s left", key=", ".join(where))

        try:
            last = Waiter(progress, self.clock, self.sleep, self._interrupted.is_set).wait("the drain", delay, step)
        except Interrupted:
            raise ProviderError(f"infra was stopped (Ctrl-C or SIGTERM) while {name} drained; it is detached and "
                                f"kept, apply again to delete it") from None
        if not last.done:
            progress(f"{name}: still draining after {delay:g}s (the deregistration delay); deleting it")

    def _successors(self, region: str, action: Action) -> list[tuple[str, int]]:
        """The live ASGs (name, desired capacity) of the groups whose nodes this deletion waited for: those
        this apply made (a renamed group's are new groups' CREATEs), asked for by name, since AWS's
        listings may not show yet what was made seconds ago (docs/aws-behaviour.md)."""
        groups = {split_address(d)[1] for d in action.depends_on if split_address(d)[0] == "asg"}
        names = sorted(self._made[group] for group in groups if group in self._made)
        if not names:
            return []
        found = asg.BY_NAME.describe(self.clients, region, names)
        return [(name, found[name]["DesiredCapacity"]) for name in names
                if name in found and tag_dict(found[name].get("Tags")).get(ROLL_TAG) != PENDING]
