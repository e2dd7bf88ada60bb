"""A roll's metrics read from CloudWatch (GetMetricData): one call answers for a metric and the one
it is divided by (`per`), over one window.

Datapoints come per minute (Period 60, CloudWatch's smallest for most AWS metrics); a window's value
is the statistic over them: the sum of the sums (Sum, SampleCount), the mean of the averages, the
least of the minimums, the largest of the maximums. `per` is always summed (RequestCount). No
datapoint, or a `per` of 0, is no value (None): reconciler/analysis.py says what that means.
The ALB's `TargetGroup` dimension written "" is the group's first target group, as CloudWatch names
it (`targetgroup/web-tg/73e2d6bc24d8a067`, the end of its ARN).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from infra.aws.session import AwsClients, aws_errors

PERIOD = 60
TARGET_GROUP_DIMENSION = "TargetGroup"
COMBINE: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum, "SampleCount": sum, "Minimum": min, "Maximum": max, "Average": lambda values: sum(values) / len(values)}


def measure(clients: AwsClients, region: str, metric: Mapping[str, Any], target_group_arns: list[str],
            start: datetime, end: datetime) -> float | None:
    """`metric`'s value from `start` to `end` (None: no data)."""
    dimensions = [{"Name": key, "Value": value or _target_group(key, target_group_arns)}
                  for key, value in (metric.get("dimensions") or {}).items()]
    namespace = metric.get("namespace") or "AWS/ApplicationELB"
    queries = [_query("m", namespace, metric["metric"], dimensions, metric.get("statistic") or "Sum")]
    if metric.get("per"):
        queries.append(_query("p", namespace, metric["per"], dimensions, "Sum"))
    with aws_errors(f"read CloudWatch metric {metric['metric']}"):
        found = clients.client("cloudwatch", region).get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end)["MetricDataResults"]
    values = {result["Id"]: [v for v in result.get("Values") or [] if v is not None] for result in found}
    if not values.get("m"):
        return None
    value = float(COMBINE[metric.get("statistic") or "Sum"](values["m"]))
    if not metric.get("per"):
        return value
    per = float(sum(values.get("p") or []))
    return value / per if per else None


def _query(ident: str, namespace: str, name: str, dimensions: list[dict[str, str]], stat: str) -> dict[str, Any]:
    return {"Id": ident, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
        "Period": PERIOD, "Stat": stat}}


def _target_group(key: str, arns: list[str]) -> str:
    if key != TARGET_GROUP_DIMENSION or not arns:
        return ""
    return arns[0].rpartition(":")[2]  # arn:...:targetgroup/web-tg/73e2d6bc24d8a067 -> targetgroup/web-tg/...
