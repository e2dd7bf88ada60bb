"""An ASG's scaling policies, their alarms and its scheduled actions: observed in bulk, put in place.

They are part of the ASG (its `scaling` attribute), so the autoscaling provider observes them with
its ASGs, updates them in place, and a roll puts them on the new ASG (blue_green.py). Observation
is one paginated DescribePolicies and one DescribeScheduledActions a region, and DescribeAlarms
for the step policies' alarms (100 names a call), made only when some ASG of this project there
needs them: its group has `autoscale.scaling`, or its ASG carries `infra:scaling` (infra put
policies on it, which are to be removed once nodes.json drops them). Policies and actions cannot
be tagged: they are this project's because its ASG is. The alarms infra makes are tagged like
everything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.aws.session import AwsClients, aws_errors, paginate
from infra.errors import ProviderError
from infra.providers.aws import load_balancing
from infra.providers.aws.scaling_requests import (
    STEP,
    alarm_request,
    document_of,
    name_of,
    scheduled_request,
    step_request,
    target_tracking_request,
)
from infra.providers.base import Progress
from infra.reconciler.scaling import empty

SCALING_TAG = "infra:scaling"  # on an ASG whose policies infra manages
# What a scaling policy or scheduled action sets off; suspended, the ASG keeps its size (a roll's new
# ASG until it takes over, its old one once it no longer serves).
PROCESSES = ["AlarmNotification", "ScheduledActions"]
PAGE = 100  # DescribePolicies and DescribeScheduledActions take at most 100 a page
ALARMS_PER_CALL = 100


def observe(clients: AwsClients, region: str, asgs: Iterable[str], *, one: str | None = None) -> dict[str, dict]:
    """The `scaling` document of each of `asgs`; `one`: ask about that ASG alone (an apply's look)."""
    asgs = set(asgs)
    client = clients.client("autoscaling", region)
    only = {"AutoScalingGroupName": one} if one else {}
    with aws_errors(f"describe scaling policies in {region}"):
        policies = [p for p in paginate(client, "describe_policies", "ScalingPolicies", **only,
                                        PaginationConfig={"PageSize": PAGE}) if p["AutoScalingGroupName"] in asgs]
        actions = [a for a in paginate(client, "describe_scheduled_actions", "ScheduledUpdateGroupActions", **only,
                                       PaginationConfig={"PageSize": PAGE}) if a["AutoScalingGroupName"] in asgs]
    alarms = _alarms(clients, region, [p["PolicyName"] for p in policies if p.get("PolicyType") == STEP])
    return {asg: document_of(asg, [p for p in policies if p["AutoScalingGroupName"] == asg],
                             [a for a in actions if a["AutoScalingGroupName"] == asg], alarms) for asg in asgs}


def _alarms(clients: AwsClients, region: str, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    client = clients.client("cloudwatch", region)
    for start in range(0, len(names), ALARMS_PER_CALL):
        with aws_errors("describe the alarms of step scaling policies"):
            answer = client.describe_alarms(AlarmNames=names[start:start + ALARMS_PER_CALL], AlarmTypes=["MetricAlarm"])
        found.update({alarm["AlarmName"]: alarm for alarm in answer.get("MetricAlarms", [])})
    return found


def put(clients: AwsClients, region: str, asg: str, wanted: dict[str, Any] | None, tags: dict[str, str],
        progress: Progress, *, new: bool = False) -> None:
    """Make `asg`'s policies, alarms and scheduled actions those `wanted` says (None: none): put
    what is missing or differs, delete the rest. `new`: nothing is there yet (a roll's new ASG)."""
    wanted = {**empty(), **(wanted or {})}
    found = empty() if new else observe(clients, region, [asg], one=asg)[asg]
    client = clients.client("autoscaling", region)
    gone = _delete_unwanted(clients, region, asg, found, wanted)
    said = []
    for kind in ("target_tracking", "step"):
        for key, policy in wanted[kind].items():
            if found[kind].get(key) != policy:
                _put_policy(clients, region, asg, kind, key, policy, tags)
                said.append(f"{kind.replace('_', ' ')} {key}")
    for key, action in wanted["scheduled"].items():
        if found["scheduled"].get(key) != action:
            with aws_errors(f"put scheduled action {key} on {asg}"):
                client.put_scheduled_update_group_action(**scheduled_request(asg, key, action))
            said.append(f"scheduled {key}")
    if said or gone:
        progress(f"{asg}: scaling: " + "; ".join(part for part in (
            "put " + ", ".join(said) if said else "", "deleted " + ", ".join(gone) if gone else "") if part))


def _delete_unwanted(clients: AwsClients, region: str, asg: str, found: dict[str, Any],
                     wanted: dict[str, Any]) -> list[str]:
    """Delete what `asg` has that `wanted` does not, and a policy that changes type (AWS does not
    change a policy's type in place); what, in words."""
    client = clients.client("autoscaling", region)
    gone: list[str] = []
    for kind in ("target_tracking", "step"):
        for key, entry in found[kind].items():
            if key in wanted[kind] and "policy_type" not in entry:
                continue
            with aws_errors(f"delete scaling policy {key} of {asg}"):
                client.delete_policy(AutoScalingGroupName=asg, PolicyName=name_of(asg, key))
            if kind == "step":
                delete_alarms(clients, region, [name_of(asg, key)])
            gone.append(f"{kind.replace('_', ' ')} {key}")
    for key in found["scheduled"]:
        if key not in wanted["scheduled"]:
            with aws_errors(f"delete scheduled action {key} of {asg}"):
                client.delete_scheduled_action(AutoScalingGroupName=asg, ScheduledActionName=name_of(asg, key))
            gone.append(f"scheduled {key}")
    return gone


def _put_policy(clients: AwsClients, region: str, asg: str, kind: str, key: str, policy: dict[str, Any],
                tags: dict[str, str]) -> None:
    client = clients.client("autoscaling", region)
    if kind == "target_tracking":
        label = (load_balancing.resource_label(clients, region, policy["target_group"])
                 if policy["metric"] == "requests_per_target" else None)
        request = target_tracking_request(asg, key, policy, label)
    else:
        request = step_request(asg, key, policy)
    with aws_errors(f"put scaling policy {key} on {asg}"):
        arn = client.put_scaling_policy(**request).get("PolicyARN") or _arn(client, asg, request["PolicyName"])
    if kind == "step":
        with aws_errors(f"put the alarm of step policy {key} on {asg}"):
            clients.client("cloudwatch", region).put_metric_alarm(**alarm_request(asg, key, policy, arn, tags))


def _arn(client: Any, asg: str, name: str) -> str:
    """The policy's ARN, when PutScalingPolicy's answer lacks it (moto's does)."""
    found = client.describe_policies(AutoScalingGroupName=asg, PolicyNames=[name])["ScalingPolicies"]
    if not found:
        raise ProviderError(f"scaling policy {name} of {asg} is gone right after it was put")
    return found[0]["PolicyARN"]


def delete_alarms(clients: AwsClients, region: str, names: list[str]) -> None:
    """Delete the alarms of step policies that exist (AWS deletes an ASG's policies with it, not
    the alarms set on them; DeleteAlarms fails, deleting nothing, when a name has no alarm)."""
    client = clients.client("cloudwatch", region)
    found = list(_alarms(clients, region, names))
    for start in range(0, len(found), ALARMS_PER_CALL):
        with aws_errors("delete the alarms of step scaling policies"):
            client.delete_alarms(AlarmNames=found[start:start + ALARMS_PER_CALL])


def forget(clients: AwsClients, region: str, asg: str, scaling: dict[str, Any] | None) -> None:
    """What deleting `asg` leaves of its scaling (its step policies' alarms) goes too."""
    if scaling and scaling.get("step"):
        delete_alarms(clients, region, [name_of(asg, key) for key in scaling["step"]])


def pause(client: Any, asg: str) -> None:
    with aws_errors(f"suspend the scaling of {asg}"):
        client.suspend_processes(AutoScalingGroupName=asg, ScalingProcesses=PROCESSES)


def resume(client: Any, asg: str) -> None:
    with aws_errors(f"resume the scaling of {asg}"):
        client.resume_processes(AutoScalingGroupName=asg, ScalingProcesses=PROCESSES)
