"""How a blue/green roll of an autoscaling group goes, from its attributes alone. Pure.

The plan says it in words ("canary 1 of 4, bake 300 s watching web-5xx; then 4; old ASG drained
from web-tg, deleted after 120 s") and the provider's state machine (providers/aws/rollout.py)
walks the same steps, so what a plan promises is what an apply does. `autoscale.rollout.steps`
lists them ({"canary": 1}, {"bake": 60}, {"pause": 30}, {"pause": "manual"}); `canary` and `bake`
are the short form of [{"canary": ...}, {"bake": ...}]. A manual pause stops the roll; where it
stands is recorded on the new ASG's tags (`RollRecord`), so plan, drift and `infra rollout` read it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from infra.config.fields import target_group_name
from infra.config.rollout import MANUAL
from infra.reconciler.actions import ActionKind
from infra.reconciler.kinds import kind_of
from infra.reconciler.refs import digest
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
    # The steps in order, sizes resolved: ("canary", 2), ("bake", 60), ("pause", 30), ("pause", "manual").
    steps: tuple[tuple[str, int | str], ...] = ()
    listed: bool = False  # the steps were written as `steps` (not the short form canary/bake)
    keep_previous: int = 0  # seconds the old ASG is kept warm, out of the target groups, after the roll
    brings_back: str = ""  # an old ASG kept warm that this roll (infra rollback) attaches again, launching nothing
    # CloudWatch metrics judged at the end of every bake, timed pause and analysis step (reconciler/analysis.py).
    analysis: tuple[Mapping[str, Any], ...] = ()
    missing_data: str = "pass"  # a metric without datapoints: passes, or fails the roll
    baseline: int = 600  # seconds before the roll that max_increase compares with

    def __post_init__(self) -> None:
        if not self.steps and not self.listed and (self.canary or self.bake):  # made from first and bake alone
            short = ((("canary", self.first),) if self.canary else ()) + ((("bake", self.bake),) if self.bake else ())
            object.__setattr__(self, "steps", short)

    @classmethod
    def of(cls, attributes: Mapping[str, Any], running: Mapping[str, Any] | None = None) -> RollShape:
        """The roll of an ASG with these attributes (nodes.json's), whose old ASG has the sizes
        `running` now (a roll takes those that scaling owns: reconciler/scaling.py)."""
        sized = with_sizes_of(attributes, running)
        rollout = attributes.get("rollout") or {}
        desired = int(sized.get("desired_capacity") or 0)
        steps = resolved_steps(rollout, desired)
        first = next((int(value) for kind, value in steps if kind == "canary"), desired)
        return cls(desired=desired, first=first, steps=steps, listed=rollout.get("steps") is not None,
                   keep_previous=int(rollout.get("keep_previous") or 0),
                   analysis=tuple((rollout.get("analysis") or {}).get("metrics") or ()),
                   missing_data=str((rollout.get("analysis") or {}).get("missing_data") or "pass"),
                   baseline=int((rollout.get("analysis") or {}).get("baseline") or 600),
                   bake=sum(int(value) for kind, value in steps if kind == "bake"),
                   alarms=tuple(rollout.get("alarms") or ()),
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

    def size_after(self, index: int) -> int:
        """How many instances the new ASG has once step `index` is done (it launched with `first`)."""
        return max([self.first, *(int(value) for kind, value in self.steps[:index + 1] if kind == "canary")])

    @property
    def pauses(self) -> bool:
        """Whether a step stops the roll until a person promotes it."""
        return any(step == ("pause", MANUAL) for step in self.steps)

    def step_words(self, index: int) -> str:
        """Step `index` in words: "canary 1 of 4", "bake 60 s", "pause 30 s", "pause until promoted"."""
        kind, value = self.steps[index]
        if kind == "canary":
            return f"canary {value} of {self.desired}"
        if value == MANUAL:
            return "pause until infra rollout promote"
        if kind == "analysis":
            return f"analysis {value} s of {', '.join(str(m.get('name')) for m in self.analysis)}"
        return f"{kind} {value} s"

    def summary(self) -> str:
        """The roll in one line, as a plan shows it."""
        if self.brings_back:
            where = _listed(self.target_groups)
            return (f"attach {self.brings_back} (kept warm, {self.desired} instance(s)) to {where} again, no instance "
                    f"launched; once healthy there, the current ASG drained from {where}, deleted after "
                    f"{self.timeout} s (within {self.healthy_deadline} s, else it is detached again)")
        if self.listed:
            return self._listed_summary()
        steps = [f"canary {self.first} of {self.desired}" if self.canary else f"{self.desired} at once"]
        if self.carried:
            steps[0] += " (the old ASG's size now: its scaling sets it)"
        if self.bake:
            steps[0] += f", bake {self.bake} s" + (f" watching {_listed(self.alarms)}" if self.alarms else "")
        elif self.alarms:
            steps[0] += f", watching {_listed(self.alarms)}"
        if self.analysis:
            steps[0] += f", judging {', '.join(str(m.get('name')) for m in self.analysis)} at the end of each wait"
        if self.canary:
            steps.append(f"then {self.desired}")
        steps.append(self._old_fate())
        where = f"healthy in {_listed(self.target_groups)}" if self.target_groups else "InService and Healthy"
        share = f"{self.min_healthy_percent}% " if self.min_healthy_percent < 100 else ""
        scaling = "; its scaling policies act on the new ASG once it takes over" if self.scaling else ""
        return ("; ".join(steps) + f" ({share}{where} within {self.healthy_deadline} s at each step, else rolled "
                f"back){scaling}")

    def _listed_summary(self) -> str:
        """The steps numbered: "1. canary 1 of 4, 2. bake 60 s, 3. pause until infra rollout promote;
        then 4; old ASG ..."."""
        words = [f"{n}. {self.step_words(n - 1)}" for n in range(1, len(self.steps) + 1)]
        watching = f" watching {_listed(self.alarms)}" if self.alarms else ""
        if self.analysis:
            watching += f", judging {', '.join(str(m.get('name')) for m in self.analysis)} at the end of each wait"
        where = f"healthy in {_listed(self.target_groups)}" if self.target_groups else "InService and Healthy"
        share = f"{self.min_healthy_percent}% " if self.min_healthy_percent < 100 else ""
        sized = " (the old ASG's size now: its scaling sets it)" if self.carried else ""
        return (f"steps {', '.join(words)}{watching}; then {self.desired}{sized}; {self._old_fate()} ({share}{where} "
                f"within {self.healthy_deadline} s at each step, else rolled back)")

    def _old_fate(self) -> str:
        """What becomes of the old ASG once the new one took over."""
        drained = f" drained from {_listed(self.target_groups)}," if self.target_groups else ""
        if self.keep_previous:
            return (f"old ASG{drained} kept warm out of them for {self.keep_previous} s after {self.timeout} s "
                    f"(infra rollback brings it back in seconds), then deleted")
        return f"old ASG{drained} deleted after {self.timeout} s"

    def document(self) -> dict[str, Any]:
        """The roll as the plan's JSON says it (docs/plan-json.md, `roll`)."""
        return {"summary": self.summary(), "desired": self.desired, "canary": self.first if self.canary else None,
                "bake": self.bake, "alarms": list(self.alarms), "target_groups": list(self.target_groups),
                "min_healthy_percent": self.min_healthy_percent, "healthy_deadline": self.healthy_deadline,
                "timeout": self.timeout, "steps": [{kind: value} for kind, value in self.steps]}


def roll_of(action: Any) -> RollShape | None:
    """How `action` rolls, when it is a roll (the replacement of a kind that rolls)."""
    if action.action is not ActionKind.REPLACE or not kind_of(action.kind).rolls or not action.after:
        return None
    before = action.before or {}
    shape = RollShape.of(action.after, before.get("sizes_now"))
    if brings_back_kept(before, action.after):
        kept = before["kept_previous"]
        size = int(kept.get("desired_capacity") or 0)
        return replace(shape, brings_back=kept["asg"], desired=size, first=size, steps=(), bake=0, alarms=())
    return shape


def brings_back_kept(before: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether a roll goes back to what the old ASG kept warm runs (infra rollback): then that one is
    attached again, not launched anew."""
    kept = before.get("kept_previous") or {}
    return bool(kept) and attributes.get("rolled_back_from") is not None and \
        (kept.get("launch_template_id"), str(kept.get("launch_template_version"))) == \
        (attributes.get("launch_template_id"), str(attributes.get("launch_template_version")))


def written_steps(rollout: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The roll's steps as nodes.json writes them; the short form (canary, bake) as its two steps."""
    written = rollout.get("steps")
    if written is None:
        written = ([{"canary": rollout["canary"]}] if rollout.get("canary") is not None else []) + \
                  ([{"bake": rollout["bake"]}] if rollout.get("bake") else [])
    return list(written)


def resolved_steps(rollout: Mapping[str, Any], desired: int) -> tuple[tuple[str, int | str], ...]:
    """The roll's steps with canary sizes counted; the short form (canary, bake) as its two steps."""
    steps: list[tuple[str, int | str]] = []
    for step in written_steps(rollout):
        [(kind, value)] = step.items()
        steps.append((kind, canary_size(value, desired) if kind == "canary" else value))
    return tuple(steps)


def canary_size(canary: int | str | None, desired: int) -> int:
    """Instances a roll starts with: a count, or a share of `desired` rounded up; never more than
    `desired`, never none while any are wanted."""
    if canary is None or desired <= 0:
        return desired
    count = math.ceil(desired * int(canary[:-1]) / 100) if isinstance(canary, str) else int(canary)
    return max(1, min(desired, count))


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(target_group_name(name) for name in names)


def paused_words(group: str, paused: Mapping[str, Any], attributes: Mapping[str, Any], serving: str) -> str:
    """A paused roll in one line: where it stands, since when, and the two commands that end it."""
    shape = RollShape.of(attributes)
    step = int(paused.get("step") or 0)
    changed = steps_changed(group, paused, attributes.get("rollout") or {})
    what = f" ({shape.step_words(step)})" if step < len(shape.steps) and not changed else ""
    since = f" since {paused['since']}" if paused.get("since") else ""
    where = (f"roll paused at step {step + 1} of {len(shape.steps)}{what}{since}: {paused.get('asg')} runs "
             f"{paused.get('instances')} of {shape.desired} instance(s) beside {serving}, which serves at full size")
    if changed:
        return f"{where}; but {changed}"
    return f"{where}; go on with: infra rollout promote {group}; go back with: infra rollout abort {group}"


def steps_digest(rollout: Mapping[str, Any], step: int) -> str:
    """The steps a roll has run when it pauses after step `step` (from 0), as nodes.json wrote them, in 12
    hex digits: recorded with the pause (infra:roll_steps), so that a promote notices they changed."""
    return digest(written_steps(rollout)[:step + 1])[:12]


def goes_on(step: int, steps: int) -> str:
    """Where a roll promoted after step `step` (from 0) of `steps` goes on: the next step, or the
    take-over when it paused (or was stopped) after the last one."""
    return f"from step {step + 2}" if step + 1 < steps else "to the take-over"


def steps_changed(group: str, paused: Mapping[str, Any], rollout: Mapping[str, Any]) -> str:
    """Why a paused roll cannot go on with nodes.json's steps now, or "": its progress is an index into
    the steps, so steps inserted, removed or changed up to the one it paused after would resume it at
    the wrong step. Steps after that one have not run: they may change (promote runs them as they are
    now). A pause recorded without the digest (before infra recorded it) is taken as it is."""
    recorded = paused.get("steps")
    step = int(paused.get("step") or 0)
    if not recorded or recorded == steps_digest(rollout, step):
        return ""
    now = written_steps(rollout)[:step + 1]
    said = ", ".join(f"{n}. {json.dumps(dict(s), separators=(', ', ': '))}" for n, s in enumerate(now, 1)) or "none"
    ran = "step 1" if step == 0 else f"steps 1-{step + 1}"
    return (f"rollout.{ran} of {group} changed since its roll ran them and paused after step {step + 1} "
            f"(nodes.json has now: {said}), so a promote would go on from the wrong step; put them back as they were "
            f"to promote, or go back with: infra rollout abort {group}")
