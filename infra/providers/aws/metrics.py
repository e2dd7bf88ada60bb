"""What runs, and how busy it is: this project's nodes and their CPU in CloudWatch (`infra usage`).

The nodes are a group's live autoscaling group (found by its tags, as the autoscaling provider
finds it) and its running one-off instances, this project's only (`infra:owner`). Their CPU is
EC2's own `CPUUtilization` (namespace `AWS/EC2`), which every instance sends every 5 minutes
(basic monitoring) and which CloudWatch also aggregates by `AutoScalingGroupName` for the
instances of an ASG, with no group metrics to enable (those are the `AWS/AutoScaling` sizes, a
different thing). Target tracking's `ASGAverageCPUUtilization` is this same metric. All of it is
read with GetMetricData, up to 500 metrics a call, never a call per group.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from infra.aws.session import AwsClients, paginate
from infra.providers.aws.asg_observed import live_and_leftovers
from infra.providers.aws.common import GROUP_TAG, MANAGED, by_owner, tag_dict
from infra.providers.aws.instances import NAME_TAG
from infra.usage.model import METRIC, NAMESPACE, PERIOD, CpuSeries, NodeSet

MAX_QUERIES = 500  # GetMetricData's limit per call


class UsageReader:
    def __init__(self, clients: AwsClients, owner: str) -> None:
        self.clients, self.owner = clients, owner

    def nodes(self, region: str, groups: Iterable[str]) -> list[NodeSet]:
        """The live ASG and the running one-off instances of each of `groups` in `region`."""
        wanted = set(groups)
        return [*self._autoscaling_groups(region, wanted), *self._instances(region, wanted)]

    def _autoscaling_groups(self, region: str, wanted: set[str]) -> list[NodeSet]:
        client = self.clients.client("autoscaling", region)
        found = [g for g in paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups", Filters=[MANAGED],
                                     PaginationConfig={"PageSize": 100})
                 if tag_dict(g.get("Tags")).get(GROUP_TAG) in wanted and not g.get("Status")]
        by_group: dict[str, list[dict[str, Any]]] = {}
        for asg in by_owner(found, lambda g: tag_dict(g.get("Tags")), self.owner).ours:
            by_group.setdefault(tag_dict(asg.get("Tags"))[GROUP_TAG], []).append(asg)
        # The live one, as plan sees it (mid-roll, the new ASG counts once it is healthy).
        return [_asg_nodes(group, region, live_and_leftovers(asgs)[0]) for group, asgs in by_group.items()]

    def _instances(self, region: str, wanted: set[str]) -> list[NodeSet]:
        ec2 = self.clients.client("ec2", region)
        found = [i for r in paginate(ec2, "describe_instances", "Reservations", Filters=[
            MANAGED, {"Name": "tag-key", "Values": [NAME_TAG]}, {"Name": "instance-state-name", "Values": ["running"]}])
            for i in r.get("Instances", []) if tag_dict(i.get("Tags")).get(GROUP_TAG) in wanted]
        return [NodeSet(group=tag_dict(i.get("Tags"))[GROUP_TAG], region=region, kind="instance",
                        name=tag_dict(i.get("Tags"))[NAME_TAG], dimension=("InstanceId", i["InstanceId"]),
                        instance_types=[i["InstanceType"]])
                for i in by_owner(found, lambda i: tag_dict(i.get("Tags")), self.owner).ours]

    def cpu(self, region: str, nodes: list[NodeSet], start: datetime, end: datetime) -> list[CpuSeries]:
        """The CPU of each of `nodes` (in their order) per 5-minute period from `start` to `end`."""
        series = [CpuSeries() for _ in nodes]
        client = self.clients.client("cloudwatch", region)
        for first in range(0, len(nodes), MAX_QUERIES // 2):
            batch = list(enumerate(nodes))[first:first + MAX_QUERIES // 2]
            queries = [_query(f"{stat[:3].lower()}{index}", item.dimension, stat)
                       for index, item in batch for stat in ("Average", "Maximum")]
            for result in paginate(client, "get_metric_data", "MetricDataResults", MetricDataQueries=queries,
                                   StartTime=start, EndTime=end, ScanBy="TimestampAscending"):
                index = int(result["Id"][3:])
                target = series[index].averages if result["Id"].startswith("ave") else series[index].maxima
                target.extend(float(v) for v in result.get("Values", []))
        return series


def _asg_nodes(group: str, region: str, asg: dict[str, Any]) -> NodeSet:
    serving = [i for i in asg.get("Instances", []) if i.get("LifecycleState") == "InService"]
    return NodeSet(group=group, region=region, kind="asg", name=asg["AutoScalingGroupName"],
                   dimension=("AutoScalingGroupName", asg["AutoScalingGroupName"]),
                   instance_types=[i.get("InstanceType") or "unknown" for i in serving],
                   node_min=asg["MinSize"], node_max=asg["MaxSize"], desired=asg["DesiredCapacity"])


def _query(ident: str, dimension: tuple[str, str], stat: str) -> dict[str, Any]:
    return {"Id": ident, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC,
                   "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}]},
        "Period": PERIOD, "Stat": stat}}
