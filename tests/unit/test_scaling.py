"""Scaling policies and scheduled actions, pure: the sizes they own (planned and drift-checked against
what was applied), how a roll carries them, and their AWS requests read back as they were written."""

from __future__ import annotations

import copy

import pytest

from infra.providers.aws.scaling_requests import (
    alarm_request,
    document_of,
    key_of,
    name_of,
    scheduled_request,
    step_request,
    target_tracking_request,
)
from infra.reconciler.actions import ActionKind
from infra.reconciler.drift import detect_drift
from infra.reconciler.planner import plan
from infra.reconciler.resources import Observed, Resource
from infra.reconciler.rolls import RollShape
from infra.reconciler.scaling import sizes_owned, summary, with_sizes_of
from infra.state.model import ResourceState, State
from tests.unit.test_planner import graph

TRACK = {"metric": "cpu", "custom_metric": None, "target": 60, "target_group": None, "disable_scale_in": False,
         "warmup": None}
QUEUE = {"metric": None, "custom_metric": {"namespace": "App", "name": "Depth", "statistic": "Average",
                                           "dimensions": {"AutoScalingGroupName": "", "Queue": "jobs"}},
         "target": 12.5, "target_group": None, "disable_scale_in": True, "warmup": 90}
REQUESTS = {**TRACK, "metric": "requests_per_target", "target": 500, "target_group": "web-tg"}
BURST = {"metric": "cpu", "custom_metric": None, "above": 85, "below": None, "period": 60, "evaluation_periods": 2,
         "adjustment": "change", "steps": [{"lower": 0, "upper": 10, "change": 1}, {"lower": 10, "upper": None,
                                                                                     "change": 2}], "warmup": None}
CALM = {**BURST, "above": None, "below": 20, "adjustment": "percent",
        "steps": [{"lower": None, "upper": 0, "change": -25}]}
NIGHT = {"cron": "0 22 * * *", "time_zone": "Europe/Paris", "min": 1, "max": 2, "desired": 1}
MORNING = {"cron": "0 7 * * MON-FRI", "time_zone": None, "min": None, "max": None, "desired": 3}
SCALING = {"target_tracking": {"cpu": TRACK, "queue": QUEUE, "requests": REQUESTS},
           "step": {"burst": BURST, "calm": CALM}, "scheduled": {"night": NIGHT, "morning": MORNING}}
LABEL = "app/web-alb/50dc6c495c0c9188/targetgroup/web-tg/73e2d6bc24d8a067"


# -- the sizes scaling owns ------------------------------------------------------------------


def test_scaling_owns_the_desired_capacity_and_the_sizes_its_schedules_set():
    assert sizes_owned({"scaling": None}) == sizes_owned({"scaling": {"target_tracking": {}, "step": {},
                                                                      "scheduled": {}}}) == frozenset()
    assert sizes_owned({"scaling": {"target_tracking": {"cpu": TRACK}}}) == {"desired_capacity"}
    assert sizes_owned({"scaling": {"scheduled": {"morning": MORNING}}}) == {"desired_capacity"}
    assert sizes_owned({"scaling": {"scheduled": {"night": NIGHT}}}) == {"desired_capacity", "min_size", "max_size"}


def asg(desired=2, node_min=2, node_max=4, scaling=None, version="1") -> Resource:
    return Resource(kind="asg", group="web", attributes={
        "min_size": node_min, "max_size": node_max, "desired_capacity": desired, "launch_template_version": version,
        "timeout": 120, "healthy_deadline": 600, "scaling": scaling})


def found(desired=2, node_min=2, node_max=4, scaling=None, version="1") -> Observed:
    attributes = {**asg(desired, node_min, node_max, scaling, version).attributes, "name": "web-a",
                  "sizes_now": {"min_size": node_min, "max_size": node_max, "desired_capacity": desired}}
    return Observed(attributes=attributes, outputs={"name": "web-a"})


def recorded(**attributes) -> State:
    return State(resources={"asg.web": ResourceState(kind="asg", group="web", attributes=asg(**attributes).attributes,
                                                     outputs={"name": "web-a"})})


TRACKED = {"target_tracking": {"cpu": TRACK}, "step": {}, "scheduled": {}}


def test_what_a_policy_did_to_the_desired_capacity_is_no_change_and_no_drift():
    state = recorded(scaling=TRACKED)
    grown = found(desired=4, scaling=TRACKED)
    assert not plan(graph(asg(scaling=TRACKED)), {"asg.web": grown}, state).changes
    assert not detect_drift(state, {"asg.web": grown}).has_drift
    wider = found(desired=4, node_max=3, scaling=TRACKED)  # nothing but nodes.json sets max_size: drift
    [drifted] = detect_drift(state, {"asg.web": wider}).drifted
    assert [(c.path, c.before, c.after) for c in drifted.changes] == [("max_size", 4, 3)]


def test_nodes_json_changing_an_owned_size_is_an_update_from_what_was_applied():
    [action] = plan(graph(asg(desired=3, scaling=TRACKED)), {"asg.web": found(desired=4, scaling=TRACKED)},
                    recorded(scaling=TRACKED)).actions
    assert action.action is ActionKind.UPDATE
    assert [(c.path, c.before, c.after) for c in action.changes] == [("desired_capacity", 2, 3)]


def test_without_scaling_the_sizes_are_aws_s_again():
    [action] = plan(graph(asg()), {"asg.web": found(desired=4, scaling=TRACKED)}, recorded(scaling=TRACKED)).actions
    assert action.action is ActionKind.UPDATE
    assert sorted(c.path for c in action.changes) == ["desired_capacity", "scaling"]


def test_a_roll_starts_from_the_old_asgs_sizes_that_scaling_owns():
    attributes = asg(scaling={"target_tracking": {"cpu": TRACK}, "step": {}, "scheduled": {"night": NIGHT}}).attributes
    sized = with_sizes_of(attributes, {"min_size": 1, "max_size": 8, "desired_capacity": 6})
    assert (sized["min_size"], sized["max_size"], sized["desired_capacity"]) == (1, 8, 6)
    tracked = asg(scaling=TRACKED).attributes  # no schedule: min and max stay nodes.json's, desired within them
    sized = with_sizes_of(tracked, {"min_size": 1, "max_size": 8, "desired_capacity": 6})
    assert (sized["min_size"], sized["max_size"], sized["desired_capacity"]) == (2, 4, 4)
    assert with_sizes_of(asg().attributes, {"min_size": 1, "max_size": 8, "desired_capacity": 6}) == asg().attributes


def test_the_plan_says_a_roll_starts_from_the_old_asgs_size_and_hands_scaling_over():
    attributes = {**asg(desired=2, node_max=8, scaling=TRACKED).attributes, "rollout": {"canary": "25%"}}
    shape = RollShape.of(attributes, {"min_size": 2, "max_size": 8, "desired_capacity": 6})
    assert (shape.desired, shape.first, shape.carried, shape.scaling) == (6, 2, True, True)
    assert shape.summary().startswith("canary 2 of 6 (the old ASG's size now: its scaling sets it); then 6;")
    assert shape.summary().endswith("; its scaling policies act on the new ASG once it takes over")
    plain = RollShape.of(asg().attributes, {"min_size": 2, "max_size": 8, "desired_capacity": 6})
    assert (plain.desired, plain.carried, plain.scaling) == (2, False, False)
    assert "scaling" not in plain.summary()


def test_the_summary_names_each_policy_and_action():
    assert summary(SCALING) == ("target tracking cpu (cpu at 60), target tracking queue (App/Depth at 12.5), "
                                "target tracking requests (requests_per_target at 500), step burst (cpu >= 85), "
                                "step calm (cpu <= 20), scheduled night (0 22 * * *), scheduled morning "
                                "(0 7 * * MON-FRI)")
    assert summary(None) == "none"


# -- AWS's words and back ----------------------------------------------------------------------


def described(asg_name: str, scaling: dict) -> tuple[list[dict], list[dict], dict[str, dict]]:
    """What DescribePolicies, DescribeScheduledActions and DescribeAlarms would say once the requests were made."""
    policies, alarms = [], {}
    for key, policy in scaling["target_tracking"].items():
        request = target_tracking_request(asg_name, key, policy, LABEL if policy["target_group"] else None)
        policies.append({k: v for k, v in request.items()})
    for key, policy in scaling["step"].items():
        request = step_request(asg_name, key, policy)
        policies.append(request)
        alarm = alarm_request(asg_name, key, policy, f"arn:policy/{key}", {"group": "web"})
        alarms[alarm["AlarmName"]] = {k: v for k, v in alarm.items() if k != "Tags"}
    actions = [scheduled_request(asg_name, key, action) for key, action in scaling["scheduled"].items()]
    return policies, actions, alarms


def test_every_policy_and_action_reads_back_as_it_was_written():
    policies, actions, alarms = described("web-1a2b3c4d", SCALING)
    assert document_of("web-1a2b3c4d", policies, actions, alarms) == SCALING


def test_the_requests_name_everything_after_the_asg_and_fill_in_its_dimension():
    policies, actions, alarms = described("web-1a2b3c4d", SCALING)
    assert [p["PolicyName"] for p in policies] == ["web-1a2b3c4d-cpu", "web-1a2b3c4d-queue", "web-1a2b3c4d-requests",
                                                   "web-1a2b3c4d-burst", "web-1a2b3c4d-calm"]
    queue = policies[1]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]
    assert queue["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": "web-1a2b3c4d"},
                                   {"Name": "Queue", "Value": "jobs"}]
    assert policies[2]["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": LABEL}
    burst = alarms["web-1a2b3c4d-burst"]
    assert (burst["AlarmActions"], burst["ComparisonOperator"], burst["Threshold"], burst["Dimensions"]) == (
        ["arn:policy/burst"], "GreaterThanOrEqualToThreshold", 85.0,
        [{"Name": "AutoScalingGroupName", "Value": "web-1a2b3c4d"}])
    assert alarms["web-1a2b3c4d-calm"]["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert actions[1] == {"AutoScalingGroupName": "web-1a2b3c4d", "ScheduledActionName": "web-1a2b3c4d-morning",
                          "Recurrence": "0 7 * * MON-FRI", "DesiredCapacity": 3}


def test_what_infra_did_not_name_is_marked_and_found_by_its_own_name():
    key = key_of("web-1a2b3c4d", "by-hand")
    assert key == "by-hand (made outside infra)" and name_of("web-1a2b3c4d", key) == "by-hand"
    assert key_of("web-1a2b3c4d", "web-1a2b3c4d-cpu") == "cpu" and name_of("web-1a2b3c4d", "cpu") == "web-1a2b3c4d-cpu"
    simple = {"AutoScalingGroupName": "web-1a2b3c4d", "PolicyName": "old-simple", "PolicyType": "SimpleScaling"}
    assert document_of("web-1a2b3c4d", [simple], [], {})["step"] == {
        "old-simple (made outside infra)": {"policy_type": "SimpleScaling"}}


def test_a_step_policy_whose_alarm_is_gone_or_changed_reads_so():
    policies, _, alarms = described("web-1a2b3c4d", {"target_tracking": {}, "step": {"burst": BURST}, "scheduled": {}})
    gone = document_of("web-1a2b3c4d", policies, [], {})["step"]["burst"]
    assert (gone["metric"], gone["above"], gone["period"]) == (None, None, None)
    changed = copy.deepcopy(alarms)
    changed["web-1a2b3c4d-burst"].update(Statistic="Maximum", ComparisonOperator="GreaterThanThreshold")
    read = document_of("web-1a2b3c4d", policies, [], changed)["step"]["burst"]
    assert read["metric"] is None and read["custom_metric"]["statistic"] == "Maximum" and read["above"] is None


@pytest.mark.parametrize("whole, read", [(60.0, 60), (12.5, 12.5)])
def test_whole_numbers_read_the_same_whoever_wrote_them(whole, read):
    policy = {"AutoScalingGroupName": "a", "PolicyName": "a-cpu", "PolicyType": "TargetTrackingScaling",
              "TargetTrackingConfiguration": {"PredefinedMetricSpecification": {
                  "PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": whole}}
    target = document_of("a", [policy], [], {})["target_tracking"]["cpu"]["target"]
    assert target == read and type(target) is type(read)
