"""ELBv2 target groups: what nodes.json names, how healthy an ASG's instances are in them, draining.

infra does not make target groups (nor load balancers): they belong to whatever sends the traffic,
and nodes.json names them (`autoscale.target_groups`, by name or ARN). This module finds them
(one DescribeTargetGroups a region for every name), asks DescribeTargetHealth for an ASG's
instances (one call a target group), and reads each one's deregistration delay, the time its
load balancer lets a detached instance finish what it serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.aws.session import AwsClients, aws_errors
from infra.errors import ProviderError
from infra.providers.aws.common import in_wanted_order
from infra.reconciler.rolls import target_group_name

NAMES_PER_CALL = 20  # DescribeTargetGroups takes at most 20 names at once
DELAY = "deregistration_delay.timeout_seconds"


class MissingTargetGroups(ProviderError):
    """Target groups nodes.json names that do not exist in the region."""

    def __init__(self, names: list[str], region: str) -> None:
        self.names, self.region = names, region
        super().__init__(f"no target group {', '.join(names)} in {region}")


@dataclass(frozen=True)
class TargetState:
    instance: str
    state: str  # initial, healthy, unhealthy, unused, draining, unavailable
    reason: str = ""


def is_arn(name_or_arn: str) -> bool:
    return name_or_arn.startswith("arn:")


def arns(clients: AwsClients, region: str, names_or_arns: Iterable[str]) -> dict[str, str]:
    """Each target group (name or ARN, as nodes.json gives it) -> its ARN; MissingTargetGroups
    names those not found in `region` (an ARN too: of a deleted group, or of another region)."""
    wanted = list(dict.fromkeys(names_or_arns))
    if not wanted:
        return {}
    client = clients.client("elbv2", region)
    found: dict[str, str] = {}
    for key, field, asked in (("Names", "TargetGroupName", [n for n in wanted if not is_arn(n)]),
                              ("TargetGroupArns", "TargetGroupArn", [n for n in wanted if is_arn(n)])):
        for start in range(0, len(asked), NAMES_PER_CALL):
            found.update({g[field]: g["TargetGroupArn"]
                          for g in _described(client, key, asked[start:start + NAMES_PER_CALL])})
    missing = [n for n in wanted if n not in found]
    if missing:
        raise MissingTargetGroups(missing, region)
    return {n: found[n] for n in wanted}


def _described(client: Any, key: str, chunk: list[str]) -> list[dict[str, Any]]:
    """The target groups of `chunk` (names or ARNs, as `key` says) that exist: AWS refuses the whole
    call when one is missing, so then it asks one at a time to know which."""
    try:
        with aws_errors("describe target groups"):
            return client.describe_target_groups(**{key: chunk})["TargetGroups"]
    except ProviderError as exc:
        if "TargetGroupNotFound" not in str(exc):
            raise
    return [] if len(chunk) == 1 else [g for one in chunk for g in _described(client, key, [one])]


def in_config_words(found: Iterable[str], wanted: Any) -> list[str]:
    """Attached target group ARNs as nodes.json says them: an ARN where it gave the ARN, else the
    name, in its order when they are the same ones."""
    wanted = wanted if isinstance(wanted, list) else []
    return in_wanted_order([arn if arn in wanted else target_group_name(arn) for arn in found], wanted)


def target_states(clients: AwsClients, region: str, arn: str, instances: list[str]) -> list[TargetState]:
    """How each of `instances` stands in the target group (`unused` when not registered)."""
    if not instances:
        return []
    with aws_errors(f"describe target health in {target_group_name(arn)}"):
        found = clients.client("elbv2", region).describe_target_health(
            TargetGroupArn=arn, Targets=[{"Id": i} for i in instances])["TargetHealthDescriptions"]
    return [TargetState(d["Target"]["Id"], d.get("TargetHealth", {}).get("State", "unavailable"),
                        d.get("TargetHealth", {}).get("Reason") or "") for d in found]


def healthy_count(clients: AwsClients, region: str, arn: str) -> int:
    """How many targets the target group sends traffic to now (all its targets, any ASG's)."""
    with aws_errors(f"describe target health in {target_group_name(arn)}"):
        found = clients.client("elbv2", region).describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return sum(1 for d in found if d.get("TargetHealth", {}).get("State") == "healthy")


def still_registered(clients: AwsClients, region: str, arns: Iterable[str], instances: list[str]) -> list[str]:
    """Where any of `instances` is still registered, as "2 in web-tg": draining, or not yet
    deregistered at all (a detach is asynchronous: right after it, AWS may still report them healthy
    and send them requests)."""
    found = []
    for arn in arns:
        count = sum(1 for s in target_states(clients, region, arn, instances) if s.state != "unused")
        if count:
            found.append(f"{count} in {target_group_name(arn)}")
    return found


def deregistration_delay(clients: AwsClients, region: str, target_group_arns: Iterable[str]) -> float:
    """The longest deregistration delay of these target groups, in seconds (AWS's default: 300)."""
    client, longest = clients.client("elbv2", region), 0.0
    for arn in target_group_arns:
        with aws_errors(f"describe the attributes of target group {target_group_name(arn)}"):
            attributes = client.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        value = next((a.get("Value") for a in attributes if a.get("Key") == DELAY), "300")
        longest = max(longest, float(value or 0))
    return longest


def resource_label(clients: AwsClients, region: str, name: str) -> str:
    """What target tracking on requests per target names: `app/<load balancer>/<id>/targetgroup/<name>/<id>`
    (ALBRequestCountPerTarget counts what the Application Load Balancer in front sends the target group)."""
    with aws_errors(f"describe target group {name}"):
        found = clients.client("elbv2", region).describe_target_groups(Names=[name])["TargetGroups"]
    balancers = found[0].get("LoadBalancerArns") if found else None
    if not balancers:
        raise ProviderError(f"target group {name} is behind no load balancer in {region}: requests_per_target counts "
                            f"what an Application Load Balancer sends it; put it behind one (a listener rule), or "
                            f"track another metric")
    return f"{balancers[0].split(':loadbalancer/', 1)[1]}/{found[0]['TargetGroupArn'].split(':', 5)[5]}"
