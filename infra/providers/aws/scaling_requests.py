"""nodes.json's scaling in AWS's words and back. Pure: no calls.

The requests that put a target tracking policy, a step policy and its alarm, and a scheduled
action on one ASG; and the `scaling` document (reconciler/scaling.py) read back from what
DescribePolicies, DescribeAlarms and DescribeScheduledActions say, so that plan compares like
with like. Each is named `<ASG name>-<key>` in AWS: names are the ASG's own there, and a roll
makes another ASG (Spinnaker names the policies it copies to a new server group after it too).
A step policy's alarm has the policy's name.
"""

from __future__ import annotations

from typing import Any

from infra.config.scaling import ASG_DIMENSION
from infra.reconciler.scaling import empty, plain

PREDEFINED = {"cpu": "ASGAverageCPUUtilization", "network_in": "ASGAverageNetworkIn",
              "network_out": "ASGAverageNetworkOut", "requests_per_target": "ALBRequestCountPerTarget"}
# What a step policy's alarm watches for a predefined metric: EC2's own, averaged over the ASG.
EC2_METRICS = {"cpu": "CPUUtilization", "network_in": "NetworkIn", "network_out": "NetworkOut"}
ADJUSTMENTS = {"change": "ChangeInCapacity", "percent": "PercentChangeInCapacity", "exact": "ExactCapacity"}
ABOVE, BELOW = "GreaterThanOrEqualToThreshold", "LessThanOrEqualToThreshold"
TARGET_TRACKING, STEP = "TargetTrackingScaling", "StepScaling"
OUTSIDE = " (made outside infra)"  # marks the key of a policy or action not named by infra


def aws_name(asg: str, key: str) -> str:
    return f"{asg}-{key}"


def key_of(asg: str, name: str) -> str:
    """The key in a `scaling` document of what is named `name` on `asg`: its nodes.json key, or, for
    what infra did not name, its own name marked so."""
    prefix = aws_name(asg, "")
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else name + OUTSIDE


def name_of(asg: str, key: str) -> str:
    """The AWS name of what `key` stands for in a `scaling` document of `asg` (key_of's reverse)."""
    return key.removesuffix(OUTSIDE) if key.endswith(OUTSIDE) else aws_name(asg, key)


# -- to AWS ------------------------------------------------------------------------------------


def target_tracking_request(asg: str, key: str, policy: dict[str, Any], resource_label: str | None
                            ) -> dict[str, Any]:
    """PutScalingPolicy's arguments; `resource_label` names the load balancer and target group of
    requests_per_target."""
    if policy["custom_metric"] is not None:
        metric: dict[str, Any] = {"CustomizedMetricSpecification": _custom(asg, policy["custom_metric"])}
    else:
        predefined = {"PredefinedMetricType": PREDEFINED[policy["metric"]]}
        if resource_label:
            predefined["ResourceLabel"] = resource_label
        metric = {"PredefinedMetricSpecification": predefined}
    config = {**metric, "TargetValue": float(policy["target"]), "DisableScaleIn": bool(policy["disable_scale_in"])}
    return {"AutoScalingGroupName": asg, "PolicyName": aws_name(asg, key), "PolicyType": TARGET_TRACKING,
            "TargetTrackingConfiguration": config, **_warmup(policy)}


def step_request(asg: str, key: str, policy: dict[str, Any]) -> dict[str, Any]:
    steps = []
    for step in policy["steps"]:
        bounds = {"MetricIntervalLowerBound": step["lower"], "MetricIntervalUpperBound": step["upper"]}
        steps.append({**{k: float(v) for k, v in bounds.items() if v is not None},
                      "ScalingAdjustment": int(step["change"])})
    return {"AutoScalingGroupName": asg, "PolicyName": aws_name(asg, key), "PolicyType": STEP,
            "AdjustmentType": ADJUSTMENTS[policy["adjustment"]], "StepAdjustments": steps, **_warmup(policy)}


def alarm_request(asg: str, key: str, policy: dict[str, Any], policy_arn: str, tags: dict[str, str]
                  ) -> dict[str, Any]:
    """PutMetricAlarm's arguments for the alarm that sets off the step policy `key` of `asg`."""
    above = policy["above"] is not None
    if policy["custom_metric"] is not None:
        custom = _custom(asg, policy["custom_metric"])
        metric = {"Namespace": custom["Namespace"], "MetricName": custom["MetricName"],
                  "Statistic": custom["Statistic"], "Dimensions": custom["Dimensions"]}
    else:
        metric = {"Namespace": "AWS/EC2", "MetricName": EC2_METRICS[policy["metric"]], "Statistic": "Average",
                  "Dimensions": [{"Name": ASG_DIMENSION, "Value": asg}]}
    return {"AlarmName": aws_name(asg, key), "AlarmDescription": f"infra: sets off step policy {key} of {asg}",
            "ActionsEnabled": True, "AlarmActions": [policy_arn], **metric, "Period": int(policy["period"]),
            "EvaluationPeriods": int(policy["evaluation_periods"]),
            "Threshold": float(policy["above"] if above else policy["below"]),
            "ComparisonOperator": ABOVE if above else BELOW,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def scheduled_request(asg: str, key: str, action: dict[str, Any]) -> dict[str, Any]:
    sizes = {"MinSize": action["min"], "MaxSize": action["max"], "DesiredCapacity": action["desired"]}
    return {"AutoScalingGroupName": asg, "ScheduledActionName": aws_name(asg, key), "Recurrence": action["cron"],
            **({"TimeZone": action["time_zone"]} if action["time_zone"] else {}),
            **{k: int(v) for k, v in sizes.items() if v is not None}}


def _custom(asg: str, custom: dict[str, Any]) -> dict[str, Any]:
    dimensions = [{"Name": name, "Value": asg if name == ASG_DIMENSION else value}
                  for name, value in custom["dimensions"].items()]
    return {"Namespace": custom["namespace"], "MetricName": custom["name"], "Statistic": custom["statistic"],
            "Dimensions": dimensions}


def _warmup(policy: dict[str, Any]) -> dict[str, Any]:
    return {"EstimatedInstanceWarmup": int(policy["warmup"])} if policy.get("warmup") is not None else {}


# -- from AWS ----------------------------------------------------------------------------------


def document_of(asg: str, policies: list[dict[str, Any]], actions: list[dict[str, Any]],
                alarms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The `scaling` document of `asg` from what was described (alarms by name). A policy of
    another type (simple, predictive) is listed under `step` as what it is, to be seen and removed."""
    found = empty()
    for policy in policies:
        kind, entry = _policy_of(asg, policy, alarms.get(policy["PolicyName"]))
        found[kind][key_of(asg, policy["PolicyName"])] = entry
    for action in actions:
        found["scheduled"][key_of(asg, action["ScheduledActionName"])] = scheduled_of(action)
    return plain(found)


def _policy_of(asg: str, policy: dict[str, Any], alarm: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if policy.get("PolicyType") == TARGET_TRACKING:
        return "target_tracking", target_tracking_of(asg, policy)
    if policy.get("PolicyType") == STEP:
        return "step", step_of(asg, policy, alarm)
    return "step", {"policy_type": policy.get("PolicyType")}


def target_tracking_of(asg: str, policy: dict[str, Any]) -> dict[str, Any]:
    config = policy.get("TargetTrackingConfiguration") or {}
    predefined = config.get("PredefinedMetricSpecification") or {}
    custom = config.get("CustomizedMetricSpecification")
    label = predefined.get("ResourceLabel") or ""
    return {"metric": _reverse(PREDEFINED).get(predefined.get("PredefinedMetricType")) if predefined else None,
            "custom_metric": _custom_of(asg, custom) if custom else None,
            "target": config.get("TargetValue"),
            "target_group": label.split("/targetgroup/", 1)[1].split("/", 1)[0] if "/targetgroup/" in label else None,
            "disable_scale_in": bool(config.get("DisableScaleIn", False)),
            "warmup": policy.get("EstimatedInstanceWarmup")}


def step_of(asg: str, policy: dict[str, Any], alarm: dict[str, Any] | None) -> dict[str, Any]:
    steps = [{"lower": step.get("MetricIntervalLowerBound"), "upper": step.get("MetricIntervalUpperBound"),
              "change": step.get("ScalingAdjustment")} for step in policy.get("StepAdjustments") or []]
    steps.sort(key=lambda step: float("-inf") if step["lower"] is None else step["lower"])
    found = {"metric": None, "custom_metric": None, "above": None, "below": None, "period": None,
             "evaluation_periods": None}
    if alarm is not None:
        found.update(_alarm_of(asg, alarm))
    adjustment = policy.get("AdjustmentType")
    return {**found, "adjustment": _reverse(ADJUSTMENTS).get(adjustment, adjustment), "steps": steps,
            "warmup": policy.get("EstimatedInstanceWarmup")}


def _alarm_of(asg: str, alarm: dict[str, Any]) -> dict[str, Any]:
    dimensions = alarm.get("Dimensions") or []
    predefined = _reverse(EC2_METRICS).get(alarm.get("MetricName"))
    own = (alarm.get("Namespace") == "AWS/EC2" and predefined and alarm.get("Statistic") == "Average"
           and dimensions == [{"Name": ASG_DIMENSION, "Value": asg}])
    custom = {"Namespace": alarm.get("Namespace"), "MetricName": alarm.get("MetricName"),
              "Statistic": alarm.get("Statistic"), "Dimensions": dimensions}
    operator = alarm.get("ComparisonOperator")
    return {"metric": predefined if own else None, "custom_metric": None if own else _custom_of(asg, custom),
            "above": alarm.get("Threshold") if operator == ABOVE else None,
            "below": alarm.get("Threshold") if operator == BELOW else None,
            "period": alarm.get("Period"), "evaluation_periods": alarm.get("EvaluationPeriods")}


def scheduled_of(action: dict[str, Any]) -> dict[str, Any]:
    return {"cron": action.get("Recurrence"), "time_zone": action.get("TimeZone") or None,
            "min": action.get("MinSize"), "max": action.get("MaxSize"), "desired": action.get("DesiredCapacity")}


def _custom_of(asg: str, custom: dict[str, Any]) -> dict[str, Any]:
    dimensions = {d["Name"]: "" if d["Name"] == ASG_DIMENSION and d.get("Value") == asg else d.get("Value", "")
                  for d in custom.get("Dimensions") or []}
    return {"namespace": custom.get("Namespace"), "name": custom.get("MetricName"),
            "statistic": custom.get("Statistic"), "dimensions": dimensions}


def _reverse(mapping: dict[str, str]) -> dict[str | None, str]:  # looked up with what AWS gave, maybe nothing
    return {v: k for k, v in mapping.items()}
