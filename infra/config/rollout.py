"""`autoscale.rollout` in nodes.json: how a roll moves traffic. Its steps (canary, bake, pause,
analysis), the alarms it watches, the metrics it judges, and the old ASG kept warm after it.

Checks that need more than the rollout (keep_previous needs target_groups) are in models.py's
`Autoscale`, once merged with `__base__`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from infra.config.fields import DAY, MAX_NODES, NonEmpty, Strict

# A canary as a share of the desired capacity: 1% to 100%.
PERCENT = re.compile(r"(100|[1-9][0-9]?)%")
MAX_ALARMS = 100  # one DescribeAlarms call answers for up to 100 names
MANUAL = "manual"  # a pause that lasts until `infra rollout promote` (or abort)
MAX_ROLL_STEPS = 20


def _canary_value(value: Any) -> int | str | None:
    """A canary: a count of instances, or a share of the desired capacity ("25%")."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))):
        raise ValueError(f"should be a count (1) or a share of desired (\"25%\"), got {json.dumps(value)}")
    if isinstance(value, int) and not 1 <= value <= MAX_NODES:
        raise ValueError(f"a canary of {value} instances; give 1 to {MAX_NODES:,}, or a share like \"25%\"")
    if isinstance(value, str) and not PERCENT.fullmatch(value):
        raise ValueError(f"{value!r} is not a share of the desired capacity; write it like \"25%\" (1% to 100%)")
    return value


class AnalysisMetric(Strict):
    """A CloudWatch metric a roll's analysis judges: over a step's window, against a ceiling, and
    against the same metric over the window before the roll (Kayenta's idea, in one number)."""

    name: NonEmpty = Field(..., description="What the lines call it: \"5xx rate\", \"p99 latency\".")
    namespace: NonEmpty = Field("AWS/ApplicationELB", description="CloudWatch namespace.")
    metric: NonEmpty = Field(..., description="Metric name, e.g. HTTPCode_Target_5XX_Count.")
    statistic: Literal["Sum", "Average", "Minimum", "Maximum", "SampleCount"] = Field(
        "Sum", description="Statistic over the window.")
    per: NonEmpty | None = Field(None, description="Divide by this metric (same namespace, dimensions, statistic "
                                                  "Sum): RequestCount makes a count a rate per request.")
    dimensions: dict[NonEmpty, str] = Field(default_factory=dict, description=(
        "Dimensions; TargetGroup written \"\" is the group's first target group (targetgroup/NAME/ID)."))
    max: float | None = Field(None, description="Fail the roll when the value is above this.")
    max_increase: float | None = Field(None, ge=0, description="Fail the roll when the value is more than the same "
                                                               "metric over the baseline window before the roll, "
                                                               "by this share (0.5: half as much again).")

    @model_validator(mode="after")
    def _a_bound(self) -> AnalysisMetric:
        if self.max is None and self.max_increase is None:
            raise ValueError(f"metric {self.name!r} has neither max nor max_increase: give one, or both")
        return self


class Analysis(Strict):
    """The metrics a roll judges at the end of every bake, timed pause and analysis step."""

    metrics: list[AnalysisMetric] = Field(..., min_length=1, max_length=20, description="The metrics judged.")
    missing_data: Literal["pass", "fail"] = Field("pass", description=(
        "A metric with no datapoint in the window (no traffic, or CloudWatch not caught up): pass (said in "
        "the roll's lines) or fail the roll."))
    baseline: int = Field(600, ge=60, le=DAY, description="Seconds before the roll that max_increase compares with.")


class RolloutStep(Strict):
    """One step of a roll, in the order given: grow the new ASG (canary), watch it (bake), or wait
    (pause, for seconds or until a person runs `infra rollout promote`)."""

    canary: int | str | None = Field(None, description="Grow the new ASG to this many instances (or this share of "
                                                       "desired, \"25%\"), and wait until they are healthy.")
    bake: int | None = Field(None, ge=1, le=DAY, description="Watch the new instances (and the alarms) for this "
                                                            "many seconds.")
    pause: int | str | None = Field(None, description="Wait this many seconds (watching, as a bake does), or "
                                                      "\"manual\": stop until infra rollout promote.")
    analysis: int | None = Field(None, ge=1, le=DAY, description="Watch this many seconds as a bake does, then "
                                                                 "judge rollout.analysis's metrics over them.")

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, value: Any) -> int | str | None:
        return _canary_value(value)

    @field_validator("pause", mode="before")
    @classmethod
    def _pause(cls, value: Any) -> int | str | None:
        if isinstance(value, str) and value == MANUAL:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= DAY:
            return value
        raise ValueError(f"should be seconds (1 to {DAY}) or \"manual\", got {json.dumps(value)}")

    @model_validator(mode="after")
    def _one(self) -> RolloutStep:
        given = [key for key in ("canary", "bake", "pause", "analysis") if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError("a step is one of {\"canary\": N or \"P%\"}, {\"bake\": seconds}, {\"pause\": seconds "
                             "or \"manual\"}, {\"analysis\": seconds}"
                             + (f"; this one has {' and '.join(given)}" if given else ""))
        return self

    def document(self) -> dict[str, int | str]:
        """The step as nodes.json writes it: {"canary": 1}."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


class Rollout(Strict):
    """How a roll moves traffic: a canary, a bake watching alarms, and how healthy is healthy enough."""

    canary: int | str | None = Field(None, description="Instances the new ASG starts with before the rest: a count "
                                                       "(1) or a share of desired (\"25%\"); none: all at once.")
    bake: int = Field(0, ge=0, le=DAY, description="Seconds to watch the new instances (and the alarms) while the "
                                                   "old ASG still serves, before going on.")
    alarms: list[NonEmpty] = Field(default_factory=list, max_length=MAX_ALARMS,
                                   description="CloudWatch alarm names: one in ALARM during the roll rolls it back.")
    min_healthy_percent: int = Field(100, ge=1, le=100, description="Share of the new instances that must be "
                                                                     "healthy at each step (rounded up).")

    keep_previous: int = Field(0, ge=0, le=7 * DAY, description=(
        "Seconds the old ASG is kept after a roll, warm (its instances run, and cost) but out of the target "
        "groups, so infra rollback brings it back in seconds; 0: deleted after timeout. Needs target_groups."))
    steps: list[RolloutStep] | None = Field(None, min_length=1, max_length=MAX_ROLL_STEPS, description=(
        "The roll's steps in order: {\"canary\": N or \"P%\"}, {\"bake\": seconds}, {\"pause\": seconds or "
        "\"manual\"}; canary and bake are the short form of [{\"canary\": ...}, {\"bake\": ...}]."))

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, value: Any) -> int | str | None:
        return _canary_value(value)

    analysis: Analysis | None = Field(None, description="CloudWatch metrics judged at the end of every bake, timed "
                                                        "pause and analysis step; one out of bounds rolls back.")

    @model_validator(mode="after")
    def _one_form(self) -> Rollout:
        if self.steps is not None and (self.canary is not None or self.bake):
            raise ValueError("give either steps or canary and bake (their short form), not both: write the canary "
                             "and the bake as steps")
        if self.analysis is None and any(step.analysis for step in self.steps or ()):
            raise ValueError("an analysis step judges rollout.analysis's metrics, and there are none: add "
                             "rollout.analysis (metrics, with max or max_increase)")
        return self

    def document(self) -> dict[str, Any]:
        """The rollout as the ASG's attributes record it (steps only when given, so rollouts written
        before steps existed record what they did)."""
        found = self.model_dump(exclude={"steps", "keep_previous", "analysis"})
        if self.keep_previous:  # recorded only when set, as steps are
            found["keep_previous"] = self.keep_previous
        if self.analysis is not None:
            found["analysis"] = self.analysis.model_dump(exclude_none=True)
        return found if self.steps is None else {**found, "steps": [step.document() for step in self.steps]}


