"""A roll's metric analysis, judged: pure, so the rules are plain unit tests.

Each metric of `rollout.analysis` is measured over the wait that just ended (a bake, a timed pause,
an analysis step) and, when it has `max_increase`, over the `baseline` seconds before the roll
began. It fails the roll when the value is above `max`, or above the value before the roll by more
than `max_increase` (0.5: half as much again). A metric without datapoints in the window (no
traffic, or CloudWatch not caught up: ALB metrics arrive per minute, a few minutes late) is
`missing_data`'s call: "pass" by default, said in the roll's lines, so a quiet service or a short
step does not block every roll; "fail" where silence itself is suspect. A baseline without data
leaves only `max` to judge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    passed: bool
    line: str  # the metric, its values and the rule, in words


def judge(metric: Mapping[str, Any], value: float | None, before: float | None, *, seconds: float,
          missing_data: str = "pass") -> Verdict:
    """Whether `metric`'s `value` over the last `seconds` (and `before`, the baseline's) lets the roll go on."""
    name = str(metric.get("name"))
    what = _what(metric)
    if value is None:
        passed = missing_data == "pass"
        return Verdict(passed, f"{name} ({what}): no data over the last {seconds:.0f} s; "
                               f"{'passed' if passed else 'failed'} (missing_data: {missing_data})")
    said = f"{name} ({what}) was {_number(value)} over the last {seconds:.0f} s"
    ceiling = metric.get("max")
    if ceiling is not None and value > float(ceiling):
        return Verdict(False, f"{said}, above its max {_number(float(ceiling))}")
    increase = metric.get("max_increase")
    if increase is not None and before is not None:
        allowed = before * (1 + float(increase))
        if value > allowed:
            return Verdict(False, f"{said}, more than {_number(before)} before the roll plus "
                                  f"{float(increase):.0%} ({_number(allowed)})")
        said += f" ({_number(before)} before the roll)"
    elif increase is not None:
        said += " (no data before the roll to compare with)"
    return Verdict(True, f"{said}; passed")


def _what(metric: Mapping[str, Any]) -> str:
    per = f" per {metric['per']}" if metric.get("per") else ""
    return f"{metric.get('statistic', 'Sum')} of {metric.get('metric')}{per}"


def _number(value: float) -> str:
    return f"{value:.4g}"
