"""Put CPU metrics into the sandbox's CloudWatch, so `infra usage` has something to judge there.

    eval "$(infra sandbox start | tail -1)" && infra apply --auto-approve
    .venv/bin/python scripts/sandbox_cpu.py 12_04-bee=3 12_04-www=90 api=45 --hours 36
    infra usage

For each GROUP=LEVEL it finds the group's live autoscaling group in the sandbox (by its `group`
tag), and for GROUP.NAME=LEVEL the one-off instance instance.GROUP.NAME, and writes, for every
5-minute period of the last HOURS hours, what EC2's basic monitoring sends for it:
`AWS/EC2 CPUUtilization` under the `AutoScalingGroupName` (or `InstanceId`) dimension, as a
statistic set of 5 samples. The level swings by SPREAD (default a fifth of it) over each day,
the same every run: no randomness. Only for the sandbox: real CloudWatch refuses `AWS/` data.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import UTC, datetime, timedelta

import boto3

PERIOD = timedelta(minutes=5)
BATCH = 20  # data points per PutMetricData call


def cpu_at(level: float, spread: float, moment: datetime) -> tuple[float, float, float]:
    """(minimum, average, maximum) of a period: a daily swing of `spread` around `level`, in 0..100."""
    day = (moment.hour * 60 + moment.minute) / 1440
    average = min(100.0, max(0.0, level + spread * math.sin(2 * math.pi * day)))
    return max(0.0, average - spread / 4), average, min(100.0, average + spread / 2)


def statistic_sets(level: float, spread: float, hours: float, end: datetime) -> list[dict]:
    """One statistic set of 5 samples per 5-minute period, from `hours` ago to `end`."""
    start = end.replace(second=0, microsecond=0) - timedelta(minutes=end.minute % 5)
    data = []
    for step in range(int(hours * 12)):
        moment = start - step * PERIOD
        low, average, high = cpu_at(level, spread, moment)
        data.append({"Timestamp": moment, "Unit": "Percent", "StatisticValues": {
            "SampleCount": 5.0, "Sum": round(average * 5, 3), "Minimum": round(low, 3), "Maximum": round(high, 3)}})
    return data


def put(cloudwatch, dimension: tuple[str, str], data: list[dict]) -> None:
    for first in range(0, len(data), BATCH):
        cloudwatch.put_metric_data(Namespace="AWS/EC2", MetricData=[
            {"MetricName": "CPUUtilization", "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}], **datum}
            for datum in data[first:first + BATCH]])


def tags(resource: dict) -> dict:
    return {t["Key"]: t.get("Value") for t in resource.get("Tags", [])}


def dimension_of(clients: dict, target: str) -> tuple[str, str]:
    """GROUP: its live autoscaling group (not one a roll still waits on); GROUP.NAME: that one-off instance."""
    group, _, name = target.partition(".")
    if name:
        found = [i["InstanceId"] for r in clients["ec2"].describe_instances()["Reservations"] for i in r["Instances"]
                 if tags(i).get("group") == group and tags(i).get("infra:name") == name
                 and i["State"]["Name"] == "running"]
        if not found:
            raise SystemExit(f"no running instance.{group}.{name} in the sandbox: infra instance:create it first")
        return "InstanceId", found[0]
    asgs = [g for g in clients["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
            if tags(g).get("group") == group and tags(g).get("infra:roll") != "pending"]
    if not asgs:
        raise SystemExit(f"no autoscaling group of group {group!r} in the sandbox: run infra apply first")
    return "AutoScalingGroupName", max(asgs, key=lambda g: str(g.get("CreatedTime", "")))["AutoScalingGroupName"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("levels", nargs="+", metavar="GROUP[.NAME]=LEVEL[:SPREAD]",
                        help="the CPU percent a group's ASG (or one-off instance NAME) runs around")
    parser.add_argument("--hours", type=float, default=36, help="how far back the data goes (default 36)")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise SystemExit("AWS_ENDPOINT_URL is not set: start the sandbox (eval \"$(infra sandbox start | tail -1)\")")
    clients = {name: boto3.client(name, region_name=args.region, endpoint_url=endpoint,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
               for name in ("autoscaling", "cloudwatch", "ec2")}
    end = datetime.now(UTC)
    for item in args.levels:
        target, _, level = item.partition("=")
        level, _, spread = level.partition(":")
        dimension = dimension_of(clients, target)
        data = statistic_sets(float(level), float(spread) if spread else float(level) / 5, args.hours, end)
        put(clients["cloudwatch"], dimension, data)
        print(f"{target}: {len(data)} periods of CPU around {float(level):g}% for {dimension[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
