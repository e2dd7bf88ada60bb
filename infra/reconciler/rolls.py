"""How a blue/green roll of an autoscaling group goes, from its attributes alone. Pure.

The plan says it in words ("canary 1 of 4, bake 300 s watching web-5xx; then 4; old ASG drained
from web-tg, deleted after 120 s") and the provider's state machine (providers/aws/rollout.py)
walks the same steps, so what a plan promises is what an apply does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.config.fields import target_group_name
from infra.reconciler.actions import ActionKind
from infra.reconciler.kinds import kind_of
from infra.reconciler.scaling import carried, sizes_owned, with_sizes_of


@dataclass(frozen=True)
class RollShape:
    desired: int  # the ASG's desired capacity once the roll is done
    first: int  # instances the new ASG starts with: the canary, or all of them
    bake: int  # seconds to watch the new instances (and the alarms) before going on
    alarms: tuple[str, ...]  # CloudWatch alarms: one in ALARM rolls back
    target_groups: tuple[str, ...]  # where traffic moves; none: health is the ASG's own
    min_healthy_percent: int  # share of the new instances that must be healthy at each step
    healthy_deadline: int  # seconds each step has to become healthy
    timeout: int  # seconds the old ASG stays after the new one took over
    carried: bool = False  # `desired` is the old ASG's size when the roll starts: scaling sets it
    scaling: bool = False  # the new ASG's scaling policies and scheduled actions act once it takes over

    @classmethod
    def of(cls, attributes: Mapping[str, Any], running: Mapping[str, Any] | None = None) -> RollShape:
        """The roll of an ASG with these attributes (nodes.json's), whose old ASG has the sizes
        `running` now (a roll takes those that scaling owns: reconciler/scaling.py)."""
        sized = with_sizes_of(attributes, running)
        rollout = attributes.get("rollout") or {}
        desired = int(sized.get("desired_capacity") or 0)
        return cls(desired=desired, first=canary_size(rollout.get("canary"), desired),
                   bake=int(rollout.get("bake") or 0), alarms=tuple(rollout.get("alarms") or ()),
                   target_groups=tuple(attributes.get("target_groups") or ()),
                   min_healthy_percent=int(rollout.get("min_healthy_percent") or 100),
                   healthy_deadline=int(attributes.get("healthy_deadline") or 600),
                   timeout=int(attributes.get("timeout") or 0), carried=carried(attributes, running),
                   scaling=bool(sizes_owned(attributes)))

    @property
    def canary(self) -> bool:
        """Whether the roll starts with fewer instances than it ends with."""
        return self.first < self.desired

    def needed(self, size: int) -> int:
        """How many of `size` new instances must be healthy: min_healthy_percent of them, rounded
        up, and at least one."""
        return min(size, max(1, math.ceil(size * self.min_healthy_percent / 100))) if size > 0 else 0

    def summary(self) -> str:
        """The roll in one line, as a plan shows it."""
        steps = [f"canary {self.first} of {self.desired}" if self.canary else f"{self.desired} at once"]
        if self.carried:
            steps[0] += " (the old ASG's size now: its scaling sets it)"
        if self.bake:
            steps[0] += f", bake {self.bake} s" + (f" watching {_listed(self.alarms)}" if self.alarms else "")
        elif self.alarms:
            steps[0] += f", watching {_listed(self.alarms)}"
        if self.canary:
            steps.append(f"then {self.desired}")
        drained = f" drained from {_listed(self.target_groups)}," if self.target_groups else ""
        steps.append(f"old ASG{drained} deleted after {self.timeout} s")
        where = f"healthy in {_listed(self.target_groups)}" if self.target_groups else "InService and Healthy"
        share = f"{self.min_healthy_percent}% " if self.min_healthy_percent < 100 else ""
        scaling = "; its scaling policies act on the new ASG once it takes over" if self.scaling else ""
        return ("; ".join(steps) + f" ({share}{where} within {self.healthy_deadline} s at each step, else rolled "
                f"back){scaling}")

    def document(self) -> dict[str, Any]:
        """The roll as the plan's JSON says it (docs/plan-json.md, `roll`)."""
        return {"summary": self.summary(), "desired": self.desired, "canary": self.first if self.canary else None,
                "bake": self.bake, "alarms": list(self.alarms), "target_groups": list(self.target_groups),
                "min_healthy_percent": self.min_healthy_percent, "healthy_deadline": self.healthy_deadline,
                "timeout": self.timeout}


def roll_of(action: Any) -> RollShape | None:
    """How `action` rolls, when it is a roll (the replacement of a kind that rolls)."""
    if action.action is not ActionKind.REPLACE or not kind_of(action.kind).rolls or not action.after:
        return None
    return RollShape.of(action.after, (action.before or {}).get("sizes_now"))


def canary_size(canary: int | str | None, desired: int) -> int:
    """Instances a roll starts with: a count, or a share of `desired` rounded up; never more than
    `desired`, never none while any are wanted."""
    if canary is None or desired <= 0:
        return desired
    count = math.ceil(desired * int(canary[:-1]) / 100) if isinstance(canary, str) else int(canary)
    return max(1, min(desired, count))


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(target_group_name(name) for name in names)
