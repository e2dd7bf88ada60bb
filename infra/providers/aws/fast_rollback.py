"""infra rollback in seconds: the previous ASG, kept warm after its roll (rollout.keep_previous), is
attached to the target groups again, instead of a new ASG being launched.

As Spinnaker's rollback enables the previous server group it kept disabled: the kept ASG's running
instances register with the target groups and must be healthy there (no instance is launched); the
ASG that rolled back is then detached, drained, kept for `timeout` and deleted, as the old one of any
roll. It is the same state machine (rollout.py) with a fleet whose "launch" is an attach and whose
"remove the new one" (should a gate fail) detaches the kept ASG again and keeps it as it was, warm.
No alarm stops it before it starts: an alarm in ALARM is likely why one rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from infra.aws.session import AwsClients, aws_errors
from infra.errors import ProviderError
from infra.providers.aws import asg, scaling
from infra.providers.aws.blue_green import AsgFleet
from infra.providers.aws.rollout import Roll, RollFailed
from infra.providers.base import Progress
from infra.reconciler.rolls import RollShape, target_group_name


class KeptFleet(AsgFleet):
    """The kept ASG (`new`) takes the traffic back from the group's ASG (`old`)."""

    def launch(self, size: int) -> None:
        """Attach the kept ASG, warm, to the target groups: its instances register; none is launched."""
        extra = {asg.ROLL_TAG: asg.PENDING, asg.ROLLED_BACK_TAG: str(self.attributes.get("rolled_back_from") or "")}
        with aws_errors(f"attach {self.new} to its target groups again"):
            self.client.create_or_update_tags(Tags=[asg.tag(self.new, key, value) for key, value in extra.items()])
            if self.arns:
                self.client.attach_load_balancer_target_groups(AutoScalingGroupName=self.new, TargetGroupARNs=self.arns)
        self.progress(f"attached {self.new} ({size} instance(s), kept warm since its roll) to "
                      f"{', '.join(map(target_group_name, self.target_groups))}; no instance launched; waiting up to "
                      f"{self.attributes['healthy_deadline']}s for them to be healthy there")

    def hand_over(self) -> None:
        """The kept ASG's scaling acts again (its roll suspended it); the rolled back one's stops."""
        scaling.resume(self.client, self.new)
        if self.old_scaling and any(self.old_scaling.values()):
            scaling.pause(self.client, self.old or "")
            self.paused_old = True

    def remove_new(self) -> None:
        """A gate failed: the kept ASG leaves the target groups again and stays kept, warm, as it was."""
        with aws_errors(f"detach {self.new} again"):
            if self.arns:
                self.client.detach_load_balancer_target_groups(AutoScalingGroupName=self.new, TargetGroupARNs=self.arns)
            self.client.create_or_update_tags(Tags=[asg.tag(self.new, asg.ROLL_TAG, asg.KEPT)])
        self.progress(f"detached {self.new} again; it stays kept")


def bring_back(clients: AwsClients, region: str, group: str, attributes: dict[str, Any], before: dict[str, Any],
               progress: Progress, *, clock: Callable[[], float], sleep: Callable[[float], object],
               rest: Callable[[float], object], stopped: Callable[[], bool]) -> dict[str, Any]:
    """Roll `group` back to its kept ASG (before["kept_previous"]); the outputs to record."""
    kept = before["kept_previous"]
    size = int(kept.get("desired_capacity") or 0)
    shape = replace(RollShape.of(attributes), desired=size, first=size, steps=(), listed=False, bake=0, alarms=(),
                    keep_previous=0)
    fleet = KeptFleet(clients, region, group, {**attributes, "desired_capacity": size}, before, progress,
                      new=kept["asg"])
    fleet.attributes = {**fleet.attributes, "rollout": {**(attributes.get("rollout") or {}), "keep_previous": 0}}
    try:
        Roll(shape, fleet, progress=progress, clock=clock, sleep=sleep, rest=rest, stopped=stopped).run()
    except RollFailed as failure:
        raise ProviderError(str(failure)) from None
    previous = asg.previous_of(_tag(fleet, asg.PREVIOUS_TAG))
    return {"name": fleet.new, **({"previous": previous} if previous else {})}


def _tag(fleet: AsgFleet, key: str) -> str | None:
    tags = asg.described(fleet.client, fleet.new).get("Tags") or []
    return next((t.get("Value") for t in tags if t.get("Key") == key), None)
