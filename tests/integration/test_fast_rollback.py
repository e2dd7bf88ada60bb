"""Fast rollback on moto: with rollout.keep_previous, a roll keeps the old ASG warm out of the target
groups; infra rollback attaches it again (no instance launched, web-tg never empty); past its window
(shorter when keep_previous is lowered), with its removed group, or once keep_previous is off, the
next apply deletes it."""

from __future__ import annotations

import copy
import json

import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import ALARM, TARGET_GROUP
from tests.integration.fleet_support import BEE, applied, asgs, example, tags, write
from tests.integration.test_fleet_rollout import instances, serving
from tests.integration.test_fleet_scaling import SCALING, step_alarms
from tests.support.watch import Watch


@pytest.fixture
def kept(aws, ops_repo, capsys, autoscaling, target_group, alarm) -> tuple[dict, dict]:
    """The bee group rolled once with keep_previous: (the new ASG, the old one kept warm)."""
    return rolled_keeping(ops_repo, capsys, autoscaling)


def rolled_keeping(ops_repo, capsys, autoscaling, **autoscale) -> tuple[dict, dict]:
    example(ops_repo, target_groups=[TARGET_GROUP], healthy_deadline=5,
            rollout={"canary": 1, "alarms": [ALARM], "keep_previous": 600}, **autoscale)
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["__base__"]["source_ami"] = "ami-0a1b2c3d"  # without packer, what the group boots
    write(ops_repo, nodes)
    rolled = applied(capsys)
    assert f"kept {old['AutoScalingGroupName']} warm (2 instance(s), out of web-tg) until " in rolled.out, rolled.out
    [new] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] != old["AutoScalingGroupName"]]
    [still] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] == old["AutoScalingGroupName"]]
    assert tags(still)["infra:roll"] == "kept" and still["TargetGroupARNs"] == [] and len(still["Instances"]) == 2
    assert tags(still)["infra:kept_since"] < tags(still)["infra:kept_until"]  # a lower keep_previous counts from it
    return new, still


def every_instance(ec2) -> set[str]:
    return {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}


def test_a_kept_asg_is_no_change_and_rollback_attaches_it_again_launching_nothing(
        kept, capsys, autoscaling, ec2, elbv2, target_group):
    new, old = kept
    assert serving(elbv2, target_group) == instances(new)
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0 and "No changes." in plan.out, plan.out
    launched = every_instance(ec2)
    with Watch(lambda: frozenset(serving(elbv2, target_group))) as watch:
        back = run_infra(capsys, "rollback", BEE, "--auto-approve")
    assert back.code == 0, back.err + back.out
    assert f"{old['AutoScalingGroupName']} still runs it, kept warm until" in back.out
    assert f"roll: attach {old['AutoScalingGroupName']} (kept warm, 2 instance(s)) to web-tg again, no instance " \
           f"launched" in back.out
    assert f"attached {old['AutoScalingGroupName']} (2 instance(s), kept warm since its roll) to web-tg; no " \
           f"instance launched" in back.out
    assert every_instance(ec2) == launched  # nothing launched
    assert all(watch.seen), "web-tg had no healthy target at some moment of the rollback"
    [now] = asgs(autoscaling, BEE)
    assert now["AutoScalingGroupName"] == old["AutoScalingGroupName"] and now["TargetGroupARNs"] == [target_group]
    assert serving(elbv2, target_group) == instances(old)
    assert tags(now)["infra:rolled_back_from"] == "2" and "infra:roll" not in tags(now)
    assert "infra:kept_until" not in tags(now) and "infra:kept_since" not in tags(now)
    held = run_infra(capsys, "plan", "--detailed-exitcode")
    assert held.code == 2 and "held at launch_template_version 1 by infra rollback, which left 2" in held.out


def test_past_its_window_the_next_apply_deletes_the_kept_asg(kept, capsys, autoscaling):
    new, old = kept
    autoscaling.create_or_update_tags(Tags=[{  # its window passed (as the clock would have moved)
        "ResourceId": old["AutoScalingGroupName"], "ResourceType": "auto-scaling-group", "Key": "infra:kept_until",
        "Value": "2000-01-01T00:00:00Z", "PropagateAtLaunch": False}])
    plan = run_infra(capsys, "plan")
    assert f"asg.{BEE}.{old['AutoScalingGroupName']}" in plan.out and "to destroy" in plan.out, plan.out
    applied(capsys)
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [new["AutoScalingGroupName"]]


def test_keep_previous_without_target_groups_is_one_located_error(ops_repo, capsys):
    example(ops_repo, rollout={"keep_previous": 600})
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "rollout.keep_previous keeps the old ASG warm out of the target groups" in result.err


def launch_templates(ec2) -> list[str]:
    return [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]
            if any(tag["Key"] == "group" and tag["Value"] == BEE for tag in t.get("Tags", []))]


def test_a_group_removed_while_its_previous_asg_is_kept_goes_whole_in_one_apply(kept, ops_repo, capsys, autoscaling,
                                                                               ec2):
    new, old = kept
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    del nodes[BEE]
    write(ops_repo, nodes)
    plan = run_infra(capsys, "plan")
    for name in (new["AutoScalingGroupName"], old["AutoScalingGroupName"]):
        assert f"autoscaling group {name}" in plan.out, plan.out  # the reviewer sees the warm one go too
    gone = applied(capsys)
    after = run_infra(capsys, "plan", "--detailed-exitcode")
    assert after.code == 0 and "No changes." in after.out, gone.out + after.out
    assert asgs(autoscaling, BEE) == [] and launch_templates(ec2) == []


def test_keep_previous_turned_off_deletes_the_kept_asg_in_the_next_apply(kept, ops_repo, capsys, autoscaling):
    new, old = kept
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    del nodes[BEE]["autoscale"]["rollout"]["keep_previous"]
    write(ops_repo, nodes)
    plan = run_infra(capsys, "plan")
    assert f"- asg.{BEE}.{old['AutoScalingGroupName']}" in plan.out and "the group keeps none now" in plan.out, plan.out
    applied(capsys)
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [new["AutoScalingGroupName"]]
    after = run_infra(capsys, "plan", "--detailed-exitcode")
    assert after.code == 0 and "No changes." in after.out, after.out


def test_a_removed_group_takes_the_step_alarms_of_its_kept_asg_too(aws, ops_repo, capsys, autoscaling, cloudwatch,
                                                                   ec2, target_group, alarm):
    new, old = rolled_keeping(ops_repo, capsys, autoscaling, node_max=4, scaling=copy.deepcopy(SCALING))
    assert step_alarms(cloudwatch, old["AutoScalingGroupName"]) != {}  # kept with its scaling, suspended
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    del nodes[BEE]
    write(ops_repo, nodes)
    applied(capsys)
    assert asgs(autoscaling, BEE) == [] and launch_templates(ec2) == []
    for asg in (new, old):
        assert step_alarms(cloudwatch, asg["AutoScalingGroupName"]) == {}, asg["AutoScalingGroupName"]


def test_a_lower_keep_previous_ends_the_kept_asgs_window_sooner(kept, ops_repo, capsys, autoscaling):
    new, old = kept
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"]["rollout"]["keep_previous"] = 300
    write(ops_repo, nodes)
    within = run_infra(capsys, "plan")
    assert "rollout.keep_previous: 600 -> 300" in within.out and old["AutoScalingGroupName"] not in within.out
    autoscaling.create_or_update_tags(Tags=[{  # kept long ago: past 300 s, within the 600 s its roll gave it
        "ResourceId": old["AutoScalingGroupName"], "ResourceType": "auto-scaling-group", "Key": "infra:kept_since",
        "Value": "2000-01-01T00:00:00Z", "PropagateAtLaunch": False}])
    past = run_infra(capsys, "plan")
    assert f"- asg.{BEE}.{old['AutoScalingGroupName']}" in past.out, past.out
    assert "until 2000-01-01T00:05:00Z for a fast rollback (rollout.keep_previous); past that now" in past.out
    applied(capsys)
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [new["AutoScalingGroupName"]]
    after = run_infra(capsys, "plan", "--detailed-exitcode")
    assert after.code == 0 and "No changes." in after.out, after.out
