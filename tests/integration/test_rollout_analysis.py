"""A roll's metric analysis on moto's CloudWatch (PutMetricData, GetMetricData): traffic put while the
canary serves is judged against the window before the roll, and a canary worse by more than the
margin rolls back, naming the metric and its values; no datapoint is missing_data's call."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import TARGET_GROUP
from tests.integration.fleet_support import BEE, applied, asgs, example, write
from tests.integration.test_fleet_rollout import change_instance_type, rolled_back

RATE = {"name": "error rate", "namespace": "web", "metric": "Errors", "per": "Requests",
        "dimensions": {"TargetGroup": ""}, "max": 0.3, "max_increase": 0.5}


def put(cloudwatch, dimension: str, errors: float, requests: float, when: datetime) -> None:
    cloudwatch.put_metric_data(Namespace="web", MetricData=[
        {"MetricName": name, "Value": value, "Timestamp": when, "Dimensions": [{"Name": "TargetGroup",
                                                                              "Value": dimension}]}
        for name, value in (("Errors", errors), ("Requests", requests))])


class Traffic:
    """Requests with `errors` per 100 while a second ASG of the group exists (the canary serves)."""

    def __init__(self, autoscaling, cloudwatch, dimension: str, errors: float) -> None:
        self.args, self.done = (autoscaling, cloudwatch, dimension, errors), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        autoscaling, cloudwatch, dimension, errors = self.args
        while not self.done.wait(0.3):
            if len(asgs(autoscaling, BEE)) > 1:
                put(cloudwatch, dimension, errors, 100, datetime.now(UTC))

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


@pytest.fixture
def analysed(aws, ops_repo, capsys, autoscaling, cloudwatch, target_group) -> str:
    """The bee group rolled with a canary, then a 4 s analysis of its error rate; applied once, with
    1 error per 100 requests before the roll. The TargetGroup dimension, as CloudWatch names it."""
    example(ops_repo, target_groups=[TARGET_GROUP], healthy_deadline=5,
            rollout={"steps": [{"canary": 1}, {"analysis": 4}], "analysis": {"metrics": [RATE]}})
    applied(capsys)
    dimension = target_group.rpartition(":")[2]
    put(cloudwatch, dimension, 1, 100, datetime.now(UTC) - timedelta(seconds=60))
    change_instance_type(ops_repo)
    return dimension


def test_a_canary_worse_than_before_the_roll_by_more_than_the_margin_rolls_back_naming_the_metric(
        analysed, capsys, autoscaling, cloudwatch, elbv2, target_group):
    [old] = asgs(autoscaling, BEE)
    plan = run_infra(capsys, "plan")
    assert "2. analysis 4 s of error rate" in plan.out, plan.out
    with Traffic(autoscaling, cloudwatch, analysed, errors=10):
        failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1
    assert ("analysis failed after the analysis: error rate (Sum of Errors per Requests) was 0.1 over the last 4 s, "
            "more than 0.01 before the roll plus 50% (0.015): rolled back") in failed.err, failed.err + failed.out
    rolled_back(autoscaling, elbv2, target_group, old)


def test_a_canary_as_good_as_before_goes_on_and_no_data_passes_by_default(analysed, ops_repo, capsys, autoscaling,
                                                                          cloudwatch):
    with Traffic(autoscaling, cloudwatch, analysed, errors=1):
        rolled = applied(capsys)
    assert ("analysis: error rate (Sum of Errors per Requests) was 0.01 over the last 4 s (0.01 before the roll); "
            "passed") in rolled.out, rolled.out
    # No traffic at all: a metric nothing was ever put for. (The same metric still shows the first
    # roll's datapoints: CloudWatch answers per minute, so a window of seconds reads its minute; and
    # moto's GetMetricData matched them under another namespace too, so the metric's name changes.)
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.xlarge"
    nodes[BEE]["autoscale"]["rollout"]["analysis"]["metrics"][0].update(metric="QuietErrors", per="QuietRequests")
    write(ops_repo, nodes)
    quiet = applied(capsys)
    assert "error rate (Sum of QuietErrors per QuietRequests): no data over the last 4 s; passed (missing_data: pass)" \
        in quiet.out, quiet.out
