"""`autoscale.scaling` in nodes.json: target tracking, step policies on alarms, scheduled actions.

Each is named by its key (the name infra gives it in AWS is `<ASG name>-<key>`, see
providers/aws/scaling.py). Checks that need more than one key of the group (a policy's target group
among the group's `target_groups`) are in models.py's `Autoscale`, once merged with `__base__`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, field_validator, model_validator

from infra.config.fields import DAY, MAX_NODES, NonEmpty, Strict, TargetGroup

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# AWS's quotas per autoscaling group: 50 scaling policies (of any type), 125 scheduled actions.
MAX_POLICIES, MAX_SCHEDULED = 50, 125
MAX_STEPS = 20
# Unix cron, five fields (minute hour day-of-month month day-of-week), as PutScheduledUpdateGroupAction takes it.
CRON_FIELD = re.compile(r"[0-9A-Za-z*,/?#-]+")
ASG_DIMENSION = "AutoScalingGroupName"  # a metric of the ASG itself: infra names the ASG, which a roll changes
TRACKED = ("cpu", "network_in", "network_out", "requests_per_target")


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(f"{value!r} cannot name a policy or scheduled action; use 1 to 64 letters, digits, '_', "
                         f"'.' and '-'")
    return value


Name = Annotated[str, AfterValidator(_name)]


class CustomMetric(Strict):
    """A CloudWatch metric of one's own (a queue's depth, a custom latency)."""

    namespace: NonEmpty = Field(..., description="CloudWatch namespace, e.g. MyApp.")
    name: NonEmpty = Field(..., description="Metric name, e.g. QueueDepthPerNode.")
    statistic: Literal["Average", "Minimum", "Maximum", "Sum", "SampleCount"] = Field(
        "Average", description="The statistic compared with the target or threshold.")
    dimensions: dict[NonEmpty, str] = Field(default_factory=dict, description=(
        "Dimensions of the metric; AutoScalingGroupName, written \"\", is filled in with the group's ASG."))

    @field_validator("dimensions")
    @classmethod
    def _asg_dimension(cls, dimensions: dict[str, str]) -> dict[str, str]:
        if dimensions.get(ASG_DIMENSION, ""):
            raise ValueError(f"{ASG_DIMENSION} is the group's own ASG, whose name a roll changes: write it as \"\" "
                             f"and infra fills it in")
        return dimensions


def _one_metric(metric: str | None, custom: CustomMetric | None) -> None:
    if (metric is None) == (custom is None):
        raise ValueError("give either metric (a predefined one) or custom_metric (a CloudWatch metric), not "
                         + ("both" if metric else "neither"))


class TargetTracking(Strict):
    """Keep a metric near a target value: AWS adds nodes above it and removes them below it."""

    metric: Literal["cpu", "network_in", "network_out", "requests_per_target"] | None = Field(
        None, description="cpu (average CPU %), network_in, network_out (average bytes per node), "
                          "requests_per_target (requests per node from an Application Load Balancer).")
    custom_metric: CustomMetric | None = Field(None, description="Instead of metric: a CloudWatch metric.")
    target: float = Field(..., gt=0, description="The value to hold the metric at (percent for cpu).")
    target_group: TargetGroup | None = Field(None, description="For requests_per_target: which of the group's "
                                                                "target_groups; the only one when unset.")
    disable_scale_in: bool = Field(False, description="Only add nodes; never remove them.")
    warmup: int | None = Field(None, ge=0, le=DAY, description="Seconds a new node takes before its metrics count.")

    @model_validator(mode="after")
    def _consistent(self) -> TargetTracking:
        _one_metric(self.metric, self.custom_metric)
        if self.metric == "cpu" and self.target > 100:
            raise ValueError(f"target {self.target:g} for cpu, a percentage: give at most 100")
        if self.target_group is not None and self.metric != "requests_per_target":
            raise ValueError("target_group is for the requests_per_target metric only")
        return self


class Step(Strict):
    """One step: when the metric lies between threshold + lower and threshold + upper, change by `change`."""

    lower: float | None = Field(None, description="From threshold + lower (none: no lower end).")
    upper: float | None = Field(None, description="Up to threshold + upper (none: no upper end).")
    change: int = Field(..., ge=-MAX_NODES, le=MAX_NODES, description="Nodes (or percent, or the exact count) to "
                                                                       "change by, as adjustment says.")


class StepPolicy(Strict):
    """Scale by steps when a CloudWatch alarm infra makes for the policy fires."""

    metric: Literal["cpu", "network_in", "network_out"] | None = Field(
        None, description="cpu, network_in or network_out of the group's ASG.")
    custom_metric: CustomMetric | None = Field(None, description="Instead of metric: a CloudWatch metric.")
    above: float | None = Field(None, description="The alarm fires when the metric is at or above this.")
    below: float | None = Field(None, description="The alarm fires when the metric is at or below this.")
    period: int = Field(60, ge=10, le=DAY, description="Seconds over which the statistic is taken: 10, 30 or a "
                                                       "multiple of 60.")
    evaluation_periods: int = Field(1, ge=1, le=DAY // 10, description="Periods in a row before the alarm fires.")
    adjustment: Literal["change", "percent", "exact"] = Field(
        "change", description="change: add or remove nodes; percent: of the nodes running; exact: run this many.")
    steps: list[Step] = Field(..., min_length=1, max_length=MAX_STEPS, description="The steps, lowest first.")
    warmup: int | None = Field(None, ge=0, le=DAY, description="Seconds a new node takes before its metrics count.")

    @model_validator(mode="after")
    def _consistent(self) -> StepPolicy:
        _one_metric(self.metric, self.custom_metric)
        if (self.above is None) == (self.below is None):
            raise ValueError("give either above or below (where the alarm fires), not " +
                             ("both" if self.above is not None else "neither"))
        if self.period not in (10, 30) and self.period % 60:
            raise ValueError(f"period {self.period}: CloudWatch takes 10, 30 or a multiple of 60 seconds")
        if self.period * self.evaluation_periods > DAY:
            raise ValueError(f"period x evaluation_periods is {self.period * self.evaluation_periods} s; CloudWatch "
                             f"evaluates at most a day ({DAY} s)")
        if self.adjustment == "exact" and any(step.change < 0 for step in self.steps):
            raise ValueError("an exact adjustment is a node count: no step's change may be negative")
        _check_steps(self.steps, rising=self.above is not None)
        return self


def _check_steps(steps: list[Step], *, rising: bool) -> None:
    """AWS's rules for step adjustments (no gap, no overlap, open only at the ends), read for an
    alarm above its threshold (steps from 0 up, the last without an upper end) or below it (steps
    up to 0, the first without a lower end)."""
    for number, step in enumerate(steps, 1):
        if step.lower is not None and step.upper is not None and step.lower >= step.upper:
            raise ValueError(f"step {number}: lower ({step.lower:g}) must be below upper ({step.upper:g})")
        if number < len(steps) and (step.upper is None or step.upper != steps[number].lower):
            raise ValueError(f"step {number} must end where step {number + 1} starts (its upper is the next one's "
                             f"lower): no gap, no overlap")
    bounds = [b for step in steps for b in (step.lower, step.upper) if b is not None]
    if rising:
        if steps[-1].upper is not None or steps[0].lower != 0 or min(bounds) < 0:
            raise ValueError("for an alarm above its threshold, the steps go from lower 0 up, and the last has no "
                             "upper (it covers everything above)")
    elif steps[0].lower is not None or steps[-1].upper != 0 or max(bounds) > 0:
        raise ValueError("for an alarm below its threshold, the steps go up to upper 0, and the first has no lower "
                         "(it covers everything below)")


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


class ScheduledAction(Strict):
    """Set the sizes at given times: fewer nodes at night, more before the morning's traffic."""

    cron: str = Field(..., description="When, in Unix cron (minute hour day-of-month month day-of-week), e.g. "
                                       "\"0 22 * * *\".")
    time_zone: str | None = Field(None, description="IANA time zone of cron, e.g. Europe/Paris; UTC when unset.")
    min: int | None = Field(None, ge=0, le=MAX_NODES, description="The ASG's MinSize from then on.")
    max: int | None = Field(None, ge=0, le=MAX_NODES, description="The ASG's MaxSize from then on.")
    desired: int | None = Field(None, ge=0, le=MAX_NODES, description="The ASG's desired capacity from then on.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(CRON_FIELD.fullmatch(f) for f in fields):
            raise ValueError(f"{value!r} is not a cron expression of five fields (minute hour day-of-month month "
                             f"day-of-week), e.g. \"0 22 * * *\"")
        return " ".join(fields)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        known = _time_zones()
        if value is not None and known and value not in known:
            raise ValueError(f"{value!r} is not an IANA time zone (like UTC, Europe/Paris or America/New_York)")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> ScheduledAction:
        if self.min is None and self.max is None and self.desired is None:
            raise ValueError("a scheduled action sets min, max or desired (or several); this one sets none")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        for bound, ok in (("min", self.min is None or self.desired is None or self.min <= self.desired),
                          ("max", self.max is None or self.desired is None or self.desired <= self.max)):
            if not ok:
                raise ValueError(f"desired ({self.desired}) is outside {bound} ({getattr(self, bound)})")
        return self


class Scaling(Strict):
    """A group's scaling policies and scheduled actions; with this block infra owns them all on its ASG."""

    target_tracking: dict[Name, TargetTracking] = Field(default_factory=dict, description=(
        "Target tracking policies by name."))
    step: dict[Name, StepPolicy] = Field(default_factory=dict, description="Step policies by name, each with "
                                                                           "the alarm infra makes for it.")
    scheduled: dict[Name, ScheduledAction] = Field(default_factory=dict, description="Scheduled actions by name.")

    @model_validator(mode="after")
    def _names_and_counts(self) -> Scaling:
        both = sorted(set(self.target_tracking) & set(self.step))
        if both:
            raise ValueError(f"{both[0]!r} names a target tracking and a step policy: policies of an ASG need "
                             f"names of their own")
        policies = len(self.target_tracking) + len(self.step)
        if policies > MAX_POLICIES:
            raise ValueError(f"{policies} scaling policies; AWS takes at most {MAX_POLICIES} on an ASG")
        if len(self.scheduled) > MAX_SCHEDULED:
            raise ValueError(f"{len(self.scheduled)} scheduled actions; AWS takes at most {MAX_SCHEDULED} on an ASG")
        return self
