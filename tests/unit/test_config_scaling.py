"""nodes.json's `autoscale.scaling`: strict, located, and the ASG attribute it becomes."""

import pytest

from infra.reconciler.graph import desired_graph
from tests.unit.test_config_rollout import error_of, parse

TRACK_CPU = {"target_tracking": {"cpu": {"metric": "cpu", "target": 60}}}


def nodes(scaling, **autoscale) -> dict:
    return {"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"},
            "web": {"autoscale": {"node_min": 2, "node_max": 4, "scaling": scaling, **autoscale}}}


def test_scaling_becomes_the_asgs_scaling_attribute_with_every_default():
    scaling = {"target_tracking": {"cpu": {"metric": "cpu", "target": 60},
                                   "queue": {"custom_metric": {"namespace": "App", "name": "Depth",
                                                               "dimensions": {"AutoScalingGroupName": ""}},
                                             "target": 12.5, "disable_scale_in": True}},
               "step": {"burst": {"metric": "cpu", "above": 85, "steps": [{"lower": 0, "change": 2}]}},
               "scheduled": {"night": {"cron": "0  22 * * *", "min": 1}}}
    attributes = desired_graph(parse(nodes(scaling)))["asg.web"].attributes
    assert attributes["scaling"] == {
        "target_tracking": {
            "cpu": {"metric": "cpu", "custom_metric": None, "target": 60, "target_group": None,
                    "disable_scale_in": False, "warmup": None},
            "queue": {"metric": None, "custom_metric": {"namespace": "App", "name": "Depth", "statistic": "Average",
                                                        "dimensions": {"AutoScalingGroupName": ""}},
                      "target": 12.5, "target_group": None, "disable_scale_in": True, "warmup": None}},
        "step": {"burst": {"metric": "cpu", "custom_metric": None, "above": 85, "below": None, "period": 60,
                           "evaluation_periods": 1, "adjustment": "change",
                           "steps": [{"lower": 0, "upper": None, "change": 2}], "warmup": None}},
        "scheduled": {"night": {"cron": "0 22 * * *", "time_zone": None, "min": 1, "max": None, "desired": None}},
        "suspended": False}


def test_without_scaling_the_attribute_is_none_and_an_empty_block_manages_none():
    document = nodes(None)
    del document["web"]["autoscale"]["scaling"]
    assert desired_graph(parse(document))["asg.web"].attributes["scaling"] is None
    assert desired_graph(parse(nodes({})))["asg.web"].attributes["scaling"] == {
        "target_tracking": {}, "step": {}, "scheduled": {}, "suspended": False}


def test_requests_per_target_takes_the_groups_only_target_group_by_name():
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/73e2d6bc24d8a067"
    scaling = {"target_tracking": {"requests": {"metric": "requests_per_target", "target": 500}}}
    attributes = desired_graph(parse(nodes(scaling, target_groups=[arn])))["asg.web"].attributes
    assert attributes["scaling"]["target_tracking"]["requests"]["target_group"] == "web-tg"
    named = {"target_tracking": {"requests": {"metric": "requests_per_target", "target": 500,
                                              "target_group": "api-tg"}}}
    attributes = desired_graph(parse(nodes(named, target_groups=["web-tg", "api-tg"])))["asg.web"].attributes
    assert attributes["scaling"]["target_tracking"]["requests"]["target_group"] == "api-tg"


@pytest.mark.parametrize("scaling, said", [
    ({"target_tracking": {"cpu": {"metric": "cpu", "targt": 60}}},
     "unknown key 'autoscale.scaling.target_tracking.cpu.targt'; did you mean 'target'?"),
    ({"target_tracking": {"cpu": {"metric": "cpus", "target": 60}}},
     "key 'autoscale.scaling.target_tracking.cpu.metric': should be 'cpu', 'network_in', 'network_out' or "
     "'requests_per_target', got 'cpus'"),
    ({"target_tracking": {"cpu": {"metric": "cpu", "target": 160}}}, "target 160 for cpu, a percentage"),
    ({"target_tracking": {"cpu": {"target": 60}}}, "give either metric (a predefined one) or custom_metric"),
    ({"target_tracking": {"cpu": {"metric": "cpu", "target": 0}}}, "'autoscale.scaling.target_tracking.cpu.target'"),
    ({"target_tracking": {"q": {"custom_metric": {"namespace": "App", "name": "Depth",
                                                  "dimensions": {"AutoScalingGroupName": "web-1"}}, "target": 5}}},
     "AutoScalingGroupName is the group's own ASG, whose name a roll changes: write it as \"\""),
    ({"target_tracking": {"cpu": {"metric": "cpu", "target": 60, "target_group": "web-tg"}}},
     "target_group is for the requests_per_target metric only"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "steps": [{"lowr": 0, "change": 1}]}}},
     "unknown key 'autoscale.scaling.step.b.steps.0.lowr'; did you mean 'lower'?"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "steps": [{"lower": 0, "upper": 5, "change": 1},
                                                             {"lower": 6, "change": 2}]}}},
     "step 1 must end where step 2 starts"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "steps": [{"lower": 0, "upper": 5, "change": 1}]}}},
     "for an alarm above its threshold, the steps go from lower 0 up, and the last has no upper"),
    ({"step": {"b": {"metric": "cpu", "below": 20, "steps": [{"lower": -5, "upper": 0, "change": -1}]}}},
     "for an alarm below its threshold, the steps go up to upper 0, and the first has no lower"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "below": 20, "steps": [{"lower": 0, "change": 1}]}}},
     "give either above or below (where the alarm fires), not both"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "period": 45, "steps": [{"lower": 0, "change": 1}]}}},
     "period 45: CloudWatch takes 10, 30 or a multiple of 60 seconds"),
    ({"step": {"b": {"metric": "requests_per_target", "above": 80, "steps": [{"lower": 0, "change": 1}]}}},
     "key 'autoscale.scaling.step.b.metric': should be 'cpu', 'network_in' or 'network_out'"),
    ({"step": {"b": {"metric": "cpu", "above": 80, "adjustment": "exact", "steps": [{"lower": 0, "change": -1}]}}},
     "an exact adjustment is a node count"),
    ({"scheduled": {"n": {"cron": "0 22 * *", "min": 1}}}, "'0 22 * *' is not a cron expression of five fields"),
    ({"scheduled": {"n": {"cron": "0 22 * * *", "time_zone": "Mars/Base", "min": 1}}},
     "'Mars/Base' is not an IANA time zone"),
    ({"scheduled": {"n": {"cron": "0 22 * * *"}}}, "a scheduled action sets min, max or desired"),
    ({"scheduled": {"n": {"cron": "0 22 * * *", "min": 3, "max": 2}}}, "min (3) is larger than max (2)"),
    ({"scheduled": {"n": {"cron": "0 22 * * *", "min": 3, "desired": 2}}}, "desired (2) is outside min (3)"),
    ({"scheduled": {"bad name": {"cron": "0 22 * * *", "min": 1}}}, "'bad name' cannot name a policy"),
    ({"target_tracking": {"x": {"metric": "cpu", "target": 50}},
      "step": {"x": {"metric": "cpu", "above": 80, "steps": [{"lower": 0, "change": 1}]}}},
     "'x' names a target tracking and a step policy"),
    ({"sceduled": {}}, "unknown key 'autoscale.scaling.sceduled'; did you mean 'scheduled'?"),
    ({"target_tracking": {"r": {"metric": "requests_per_target", "target": 100}}},
     "scaling.target_tracking.r: requests_per_target counts the requests of one of the group's target_groups, "
     "and it has none"),
])
def test_bad_scaling_is_a_located_error(scaling, said):
    message = error_of(nodes(scaling))
    assert message.startswith("nodes.json:") and "group 'web'" in message and said in message, message


def test_a_requests_policy_must_name_one_of_the_groups_target_groups():
    policy = {"metric": "requests_per_target", "target": 100}
    assert "say which one with target_group (web-tg, api-tg)" in error_of(
        nodes({"target_tracking": {"r": policy}}, target_groups=["web-tg", "api-tg"]))
    assert "target_group other-tg is not one of the group's target_groups (web-tg)" in error_of(
        nodes({"target_tracking": {"r": {**policy, "target_group": "other-tg"}}}, target_groups=["web-tg"]))


def test_scaling_from_base_is_checked_once_merged():
    document = nodes(None)
    del document["web"]["autoscale"]["scaling"]
    document["__base__"]["autoscale"] = {"scaling": TRACK_CPU}
    assert desired_graph(parse(document))["asg.web"].attributes["scaling"]["target_tracking"]["cpu"]["target"] == 60
