"""The AWS side of a roll: the `Fleet` that rollout.py's state machine drives, made of boto3 calls.

A new ASG (`<group>-<8 hex digits>`) beside the old one, attached to the group's target groups
from the start; the old one is detached from them only once the new one is healthy at full size
and baked. Health is DescribeTargetHealth in every target group (and InService and Healthy in
the ASG); without target groups, the ASG's own health. Alarms are read with DescribeAlarms.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.aws.session import AwsClients, aws_errors
from infra.errors import InfraError, ProviderError, RollPaused
from infra.providers.aws import alarms, analysis, asg, load_balancing, scaling
from infra.providers.aws.common import GROUP_TAG, identity_tags
from infra.providers.aws.rollout import Health, Paused, Roll, RollFailed
from infra.providers.base import Progress
from infra.reconciler.graph import OWNER_TAG
from infra.reconciler.rolls import RollShape, goes_on, steps_digest, target_group_name
from infra.reconciler.scaling import sizes_owned, with_sizes_of

MAX_NAMED = 3  # instances named in one line; more are counted
MAX_REASON = 160  # characters of a failed launch's status message


class AsgFleet:
    """A roll of one group: `attributes` wanted now, `before` the old ASG as observed (None: a first one)."""

    def __init__(self, clients: AwsClients, region: str, group: str, attributes: dict[str, Any],
                 before: dict[str, Any] | None, progress: Progress, *, new: str | None = None) -> None:
        self.clients, self.region, self.attributes, self.progress = clients, region, attributes, progress
        self.client = clients.client("autoscaling", region)
        environment = attributes["tags"].get(OWNER_TAG, "").partition("/")[2]  # <project>/<environment>
        # `new` given: a paused roll's new ASG, made by an earlier process, that this one goes on with.
        self.new = new or f"{group}-{environment + '-' if environment else ''}{secrets.token_hex(4)}"  # names carry it
        self.old = before.get("name") if before else None
        self.old_size = int(before.get("desired_capacity") or 0) if before else 0
        self.before = before or {}
        self.target_groups = tuple(attributes.get("target_groups") or ())
        self.arns = list(load_balancing.arns(clients, region, self.target_groups).values())
        self.old_arns = list(self.before.get("target_group_arns") or [])
        self.alarms = tuple((attributes.get("rollout") or {}).get("alarms") or ())
        self.previous: dict[str, str] | None = None  # what the old ASG ran: infra rollback's way back
        # Policies and scheduled actions, wanted on the new ASG and found on the old one (None: not infra's).
        self.scaling, self.old_scaling = attributes.get("scaling"), self.before.get("scaling")
        self.paused_old = False

    def launch(self, size: int) -> None:
        extra = {}
        if self.old is not None:
            extra[asg.ROLL_TAG] = asg.PENDING
            self.previous = self._previous()
            if self.previous:
                extra[asg.PREVIOUS_TAG] = asg.previous_tag(self.previous)
        if self.attributes.get("rolled_back_from"):
            extra[asg.ROLLED_BACK_TAG] = str(self.attributes["rolled_back_from"])
        if self.scaling is not None:
            extra[scaling.SCALING_TAG] = "true"
        asg.create(self.clients, self.region, self.new, self.attributes, self.progress, size=size, extra=extra,
                   target_group_arns=self.arns)
        attached = f", attached to {', '.join(map(target_group_name, self.target_groups))}" if self.arns else ""
        of = f" of {self.attributes['desired_capacity']}" if size != self.attributes["desired_capacity"] else ""
        self.progress(f"created {self.new} with {size}{of} instance(s){attached} (launch template version "
                      f"{self.attributes['launch_template_version']}); waiting up to "
                      f"{self.attributes['healthy_deadline']}s for them to be healthy")
        try:
            self._put_scaling()
        except InfraError as failed:
            if self.old is None:  # a first ASG is kept, as when it does not get healthy; apply again puts them
                raise
            asg.delete(self.client, self.new, self.progress, self.clients.patience, detach=self.arns)
            raise ProviderError(f"{failed}: deleted {self.new}, kept {self.old}; nothing else changed") from None

    def _put_scaling(self) -> None:
        """The new ASG has its policies and scheduled actions from the start; beside an old ASG they
        wait (suspended) until it takes over, so nothing grows the canary before the roll says so
        and no schedule resizes it mid-roll (hand_over)."""
        if self.scaling is None:
            return
        if self.old is not None and any(self.scaling.values()):  # nothing to hold back: nothing to resume later
            scaling.pause(self.client, self.new)
        owner = self.attributes["tags"].get(OWNER_TAG, "")
        scaling.put(self.clients, self.region, self.new, self.scaling,
                    identity_tags(self.attributes["tags"].get(GROUP_TAG, ""), owner), self.progress, new=True)
        if self.old is not None and any(self.scaling.values()):
            self.progress(f"{self.new}: its scaling is suspended until it takes over from {self.old}")

    def _previous(self) -> dict[str, str] | None:
        """What the old ASG runs: the launch template version, and the AMI in it."""
        template, version = self.before.get("launch_template_id"), self.before.get("launch_template_version")
        if not template or not version:
            return None
        with aws_errors(f"describe launch template {template} version {version}"):
            found = self.clients.client("ec2", self.region).describe_launch_template_versions(
                LaunchTemplateId=template, Versions=[str(version)])["LaunchTemplateVersions"]
        image = (found[0].get("LaunchTemplateData") or {}).get("ImageId") if found else None
        return {"launch_template_id": template, "launch_template_version": str(version), "image_id": image} \
            if image else None

    def scale(self, size: int) -> None:
        with aws_errors(f"scale autoscaling group {self.new} to {size}"):
            self.client.update_auto_scaling_group(AutoScalingGroupName=self.new,
                                                  MinSize=min(self.attributes["min_size"], size),
                                                  MaxSize=self.attributes["max_size"], DesiredCapacity=size)

    def health(self, name: str, size: int) -> list[Health]:
        arns = self.arns if name == self.new else self.old_arns
        if size == 0:  # nothing is asked of no instances: AWS need not be (a first ASG of desired 0)
            return [Health(0, 0, f"healthy in {target_group_name(arn)}") for arn in arns] or \
                [Health(0, 0, "instances InService and Healthy")]
        group = asg.described(self.client, name)
        instances = [i["InstanceId"] for i in group.get("Instances", [])]
        serving = set(asg.in_service(group))
        short = [f"{size - len(instances)} instance(s) not launched yet{self._launch_failure(name)}"] \
            if len(instances) < size else []
        if not arns:
            others = [f"{i['InstanceId']}: {i.get('LifecycleState')}, {i.get('HealthStatus')}"
                      for i in group.get("Instances", []) if i["InstanceId"] not in serving]
            return [Health(len(serving), size, "instances InService and Healthy", tuple(others + short))]
        found = []
        for arn in arns:
            where = target_group_name(arn)
            states = load_balancing.target_states(self.clients, self.region, arn, instances)
            healthy = [s.instance for s in states if s.state == "healthy" and s.instance in serving]
            others = [f"{s.instance} in {where}: {s.state}" + (f" ({s.reason})" if s.reason else "")
                      + ("" if s.instance in serving or s.state != "healthy" else " but not InService in the ASG")
                      for s in states if s.instance not in healthy]
            found.append(Health(len(healthy), size, f"healthy in {where}", tuple(others + short)))
        return found

    def _launch_failure(self, name: str) -> str:
        """Why the ASG's last launch failed, when it did (InsufficientInstanceCapacity in a zone, a
        bad launch template): its newest failed scaling activity, in a few words."""
        with aws_errors(f"describe the scaling activities of {name}"):
            found = self.client.describe_scaling_activities(AutoScalingGroupName=name, MaxRecords=10)["Activities"]
        failed = [a for a in found if a.get("StatusCode") in ("Failed", "Cancelled")]
        if not failed:
            return ""
        newest = max(failed, key=lambda a: str(a.get("StartTime", "")))
        said = " ".join(str(newest.get("StatusMessage") or newest.get("Description") or "").split())
        return f" (a launch failed: {said[:MAX_REASON]}{'...' if len(said) > MAX_REASON else ''})"

    def firing(self) -> list[str]:
        return alarms.firing(self.clients, self.region, self.alarms)

    def mark_holding(self) -> None:
        with aws_errors(f"mark {self.new} healthy"):
            self.client.create_or_update_tags(Tags=[asg.tag(self.new, asg.ROLL_TAG, asg.HOLDING)])

    def desired_now(self) -> int | None:
        if not (self.scaling is not None and any(self.scaling.values())):
            return None
        group = asg.described(self.client, self.new)
        return int(group["DesiredCapacity"]) if group else None

    def mark_pending(self) -> None:
        with aws_errors(f"mark {self.new} as pending"):
            self.client.create_or_update_tags(Tags=[asg.tag(self.new, asg.ROLL_TAG, asg.PENDING)])

    def mark_paused(self, step: int) -> None:
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ran = steps_digest(self.attributes.get("rollout") or {}, step)  # a promote refuses when they changed
        with aws_errors(f"mark {self.new} as paused"):
            self.client.create_or_update_tags(Tags=[asg.tag(self.new, asg.ROLL_TAG, asg.PAUSED),
                                                    asg.tag(self.new, asg.STEP_TAG, str(step)),
                                                    asg.tag(self.new, asg.SINCE_TAG, since),
                                                    asg.tag(self.new, asg.STEPS_TAG, ran)])

    def hand_over(self) -> None:
        said = []
        if self.scaling is not None and any(self.scaling.values()):
            scaling.resume(self.client, self.new)
            said.append(f"{self.new}'s scaling acts from now on")
        if self.old_scaling and any(self.old_scaling.values()):
            scaling.pause(self.client, self.old or "")  # out of traffic it would scale in, or a schedule resize it
            self.paused_old = True
            said.append(f"{self.old}'s is suspended")
        if said:
            self.progress("; ".join(said))

    def hand_back(self, pausing: bool = False) -> None:
        if self.paused_old:
            scaling.resume(self.client, self.old or "")
            self.progress(f"{'pausing again' if pausing else 'rolling back'}: {self.old}'s scaling acts again")
        if pausing and self.scaling is not None and any(self.scaling.values()):
            scaling.pause(self.client, self.new)  # beside the old ASG, the canary waits for the roll (_put_scaling)
            self.progress(f"{self.new}'s scaling is suspended until it takes over from {self.old}")

    def detach_old(self) -> float:
        attached = list(asg.described(self.client, self.old or "").get("TargetGroupARNs") or [])
        self.old_arns = attached or self.old_arns
        if attached:
            with aws_errors(f"detach {self.old} from its target groups"):
                self.client.detach_load_balancer_target_groups(AutoScalingGroupName=self.old,
                                                               TargetGroupARNs=attached)
        return load_balancing.deregistration_delay(self.clients, self.region, attached)

    def draining(self) -> list[str]:
        instances = [i["InstanceId"] for i in asg.described(self.client, self.old or "").get("Instances", [])]
        return load_balancing.still_registered(self.clients, self.region, self.old_arns, instances)

    def attach_old(self) -> None:
        if self.old_arns:
            with aws_errors(f"attach {self.old} to its target groups again"):
                self.client.attach_load_balancer_target_groups(AutoScalingGroupName=self.old,
                                                               TargetGroupARNs=self.old_arns)

    def promote(self) -> None:
        with aws_errors(f"promote {self.new}"):
            self.client.delete_tags(Tags=[asg.tag(self.new, key, "") for key in (asg.ROLL_TAG, asg.STEP_TAG,
                                                                                 asg.SINCE_TAG, asg.STEPS_TAG,
                                                                                 asg.KEPT_UNTIL_TAG,
                                                                                 asg.KEPT_SINCE_TAG)])
        keep = int((self.attributes.get("rollout") or {}).get("keep_previous") or 0)
        if keep and self.target_groups:
            self._keep_old(keep)
            return
        attached = asg.described(self.client, self.old or "").get("TargetGroupARNs") or []
        asg.delete(self.client, self.old or "", self.progress, self.clients.patience, detach=attached)
        scaling.forget(self.clients, self.region, self.old or "", self.old_scaling)

    def measure(self, metric: Mapping[str, Any], seconds: float, baseline: int) -> tuple[float | None, float | None]:
        now = datetime.now(UTC)
        value = analysis.measure(self.clients, self.region, metric, self.arns, now - timedelta(seconds=seconds), now)
        if metric.get("max_increase") is None:
            return value, None
        began = asg.described(self.client, self.new).get("CreatedTime") or now  # the roll's start, for any process
        return value, analysis.measure(self.clients, self.region, metric, self.arns,
                                       began - timedelta(seconds=baseline), began)

    def _keep_old(self, seconds: int) -> None:
        """Keep the old ASG warm, out of the target groups (detached by the roll), for `seconds`: infra
        rollback attaches it again in seconds instead of launching (Spinnaker keeps the previous server
        group disabled). Its scaling stays suspended (hand_over), so nothing resizes it meanwhile."""
        now = datetime.now(UTC)
        until = (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with aws_errors(f"keep {self.old}"):
            self.client.create_or_update_tags(Tags=[
                asg.tag(self.old or "", asg.ROLL_TAG, asg.KEPT), asg.tag(self.old or "", asg.KEPT_UNTIL_TAG, until),
                asg.tag(self.old or "", asg.KEPT_SINCE_TAG, now.strftime("%Y-%m-%dT%H:%M:%SZ"))])
        group = self.attributes["tags"].get(GROUP_TAG, "")
        self.progress(f"kept {self.old} warm ({self.old_size} instance(s), out of "
                      f"{', '.join(map(target_group_name, self.target_groups))}) until {until} (keep_previous "
                      f"{seconds} s): infra rollback {group} brings it back in seconds")

    def remove_new(self) -> None:
        asg.delete(self.client, self.new, self.progress, self.clients.patience, detach=self.arns)
        scaling.forget(self.clients, self.region, self.new, self.scaling)


def roll(clients: AwsClients, region: str, group: str, attributes: dict[str, Any], before: dict[str, Any] | None,
         progress: Progress, *, clock: Callable[[], float], sleep: Callable[[float], object],
         rest: Callable[[float], object], stopped: Callable[[], bool]) -> dict[str, Any]:
    """Make the group's new ASG, through every gate of its roll; its outputs to record (its name,
    and what the old one ran, to roll back to). A first ASG
    (no `before`) has nothing to roll back to: it is kept when it fails, and the error says so."""
    running = _sizes_now(clients, region, attributes, before, progress)
    shape = RollShape.of(attributes, running)
    if before is None:  # nothing serves yet: no canary, nothing to bake against, no alarms to heed
        shape = replace(shape, first=shape.desired, bake=0, alarms=(), steps=(), listed=False)
    fleet = AsgFleet(clients, region, group, with_sizes_of(attributes, running), before, progress)
    if running is not None:  # its scaling moved the old ASG: undoing the roll waits for what it runs now
        fleet.old_size = running["desired_capacity"]
    try:
        Roll(shape, fleet, progress=progress, clock=clock, sleep=sleep, rest=rest, stopped=stopped).run()
    except Paused as paused:
        raise _paused(group, fleet, paused, before or {}) from None
    except RollFailed as failure:
        if before is None:
            raise ProviderError(f"{failure}; {fleet.new} is kept: see why with aws autoscaling "
                                f"describe-scaling-activities --auto-scaling-group-name {fleet.new}") from None
        raise ProviderError(str(failure)) from None
    return {"name": fleet.new, **({"previous": fleet.previous} if fleet.previous else {})}


def carry_on(clients: AwsClients, region: str, group: str, attributes: dict[str, Any], before: dict[str, Any],
             progress: Progress, *, abort: str | None, clock: Callable[[], float], sleep: Callable[[float], object],
             rest: Callable[[float], object], stopped: Callable[[], bool]) -> dict[str, Any]:
    """Go on with the roll paused beside `before` (infra rollout promote), or undo it when `abort`
    says why (infra rollout abort, an alarm in ALARM while paused). The outputs to record: the
    new ASG's once it took over; the old one's, still serving, once aborted."""
    paused = before["roll"]
    running = _sizes_now(clients, region, attributes, before, progress)
    shape = RollShape.of(attributes, running)
    fleet = AsgFleet(clients, region, group, with_sizes_of(attributes, running), before, progress, new=paused["asg"])
    fleet.previous = paused.get("previous")
    if running is not None:
        fleet.old_size = running["desired_capacity"]
    machine = Roll(shape, fleet, progress=progress, clock=clock, sleep=sleep, rest=rest, stopped=stopped)
    try:
        if abort is not None:
            machine.abort(abort)
        fleet.mark_pending()  # should this process die, the next plan takes the old ASG for the group's
        step = int(paused["step"])
        steps = len(shape.steps)
        progress(f"{fleet.new}: promoted at step {step + 1}/{steps}; going on {goes_on(step, steps)}")
        machine.resume(step)
    except Paused as again:
        paused_again = _paused(group, fleet, again, before)
        if again.stopped:  # the apply ends as interrupted: this line says where the roll is, and what goes on
            progress(str(paused_again))
        raise paused_again from None
    except RollFailed as failure:
        if abort is None:
            raise ProviderError(str(failure)) from None
        progress(str(failure))
        _hold_back(fleet, str(paused.get("launch_template_version")))
        return {"name": fleet.old, **({"previous": before["previous"]} if before.get("previous") else {})}
    return {"name": fleet.new, **({"previous": fleet.previous} if fleet.previous else {})}


def _hold_back(fleet: AsgFleet, left: str) -> None:
    """An aborted roll is not tried again by the next apply: the old ASG carries the version it
    left (`infra:rolled_back_from`, as after infra rollback) until nodes.json changes what it runs."""
    with aws_errors(f"tag {fleet.old} with the version its roll left"):
        fleet.client.create_or_update_tags(Tags=[asg.tag(fleet.old or "", asg.ROLLED_BACK_TAG, left)])


def _paused(group: str, fleet: AsgFleet, paused: Paused, before: dict[str, Any]) -> RollPaused:
    """The roll stopped at a manual pause: one line saying where it stands and what to run next,
    and what to record (the old ASG still serves, and the roll waits beside it)."""
    message = (f"{paused}; go on with: infra rollout promote {group}; go back with: infra rollout abort {group}")
    outputs = {"name": fleet.old, **({"previous": before["previous"]} if before.get("previous") else {}),
               "roll": {"state": asg.PAUSED, "asg": fleet.new, "step": paused.step,
                        "steps": steps_digest(fleet.attributes.get("rollout") or {}, paused.step)}}
    return RollPaused(message, outputs)


def _sizes_now(clients: AwsClients, region: str, attributes: dict[str, Any], before: dict[str, Any] | None,
               progress: Progress) -> dict[str, Any] | None:
    """The old ASG's sizes as they are now, when the group's scaling owns some (the new ASG starts
    from them, so a roll under load does not drop to nodes.json's desired: reconciler/scaling.py)."""
    owned = sizes_owned(attributes)
    if before is None or not owned or not before.get("name"):
        return None
    found = asg.described(clients.client("autoscaling", region), before["name"])
    if not found:
        return None
    running = {"min_size": found["MinSize"], "max_size": found["MaxSize"], "desired_capacity": found["DesiredCapacity"]}
    moved = [f"{size} {running[size]}" for size in ("min_size", "max_size", "desired_capacity")
             if size in owned and running[size] != attributes[size]]
    if moved:
        progress(f"{before['name']} runs with {', '.join(moved)} now (its scaling set it, not nodes.json): the new "
                 f"ASG starts from there")
    return running
