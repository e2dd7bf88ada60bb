"""Autoscaling groups changed in place on moto, drift, and protection: what does not roll."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of
from tests.integration.fleet_support import BEE, applied, asgs, example, no_changes, tags, write


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    example(ops_repo)
    return ops_repo


def test_a_size_change_updates_the_asg_in_place(repo, capsys, autoscaling):
    applied(capsys)
    [old] = asgs(autoscaling)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"].update({"node_max": 4, "desired": 3})
    write(repo, nodes)

    plan = run_infra(capsys, "plan")
    assert "~ asg.12_04-bee" in plan.out and "+/-" not in plan.out
    assert "max_size: 2 -> 4" in plan.out
    applied(capsys)
    [group] = asgs(autoscaling)
    assert group["AutoScalingGroupName"] == old["AutoScalingGroupName"]
    assert (group["MaxSize"], group["DesiredCapacity"]) == (4, 3)
    no_changes(capsys)


def test_a_new_timeout_is_kept_on_the_asg_in_place(repo, capsys, autoscaling):
    applied(capsys)
    example(repo, timeout=7)
    applied(capsys)
    [group] = asgs(autoscaling)
    assert tags(group)["infra:timeout"] == "7"
    no_changes(capsys)


def test_drift_names_a_hand_changed_max_size_and_apply_puts_it_back(repo, capsys, autoscaling):
    applied(capsys)
    [group] = asgs(autoscaling)
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group["AutoScalingGroupName"], MaxSize=5)

    drift = run_infra(capsys, "drift")
    assert drift.code == 2
    assert "asg.12_04-bee" in drift.out and "max_size: recorded 2, actual 5" in drift.out
    applied(capsys)
    assert asgs(autoscaling)[0]["MaxSize"] == 2
    assert run_infra(capsys, "drift").code == 0


def test_an_unknown_security_group_or_source_ami_is_a_plan_time_error_at_its_key(repo, capsys, autoscaling):
    good = (repo / "nodes.json").read_text()
    nodes = json.loads(good)
    nodes[BEE]["security_groups"] = ["no-such-group"]
    write(repo, nodes)
    at = next(n for n, line in enumerate((repo / "nodes.json").read_text().splitlines(), 1)
              if '"security_groups": [' in line and n > 20)  # the group's own, not __base__'s
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run_infra(capsys, *command)
        assert result.code == 1 and result.err.startswith(f"error: nodes.json:{at}:"), result.err
        assert (f"group '{BEE}': security_groups: no security group no-such-group in us-east-1; make it there, or "
                f"fix the name") in result.err and len(result.err.splitlines()) == 1
    nodes = json.loads(good)
    nodes[BEE]["source_ami"] = "ami-00000000"  # without packer: what the launch template boots
    write(repo, nodes)
    result = run_infra(capsys, "plan")
    assert result.code == 1 and f"group '{BEE}': source_ami: ami-00000000 does not exist in us-east-1" in result.err
    assert asgs(autoscaling) == []


def test_a_protected_group_rolls_only_with_allow_destroy(repo, capsys, autoscaling):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["protect"] = True
    write(repo, nodes)
    assert run_infra(capsys, "autoscale:run", BEE).code == 0
    [old] = asgs(autoscaling)

    refused = run_infra(capsys, "autoscale:update", BEE, "--auto-approve")
    assert refused.code == 1 and "protected" in refused.err and "--allow-destroy" in refused.err
    assert asgs(autoscaling) == [old]

    nodes[BEE]["instance_type"] = "m3.large"
    write(repo, nodes)
    assert run_infra(capsys, "apply", "--auto-approve").code == 1
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling)] == [old["AutoScalingGroupName"]]

    assert run_infra(capsys, "autoscale:update", BEE, "--allow-destroy", "--auto-approve").code == 0
    [new] = asgs(autoscaling)
    assert new["AutoScalingGroupName"] != old["AutoScalingGroupName"]


def test_a_protected_group_removed_from_nodes_json_is_destroyed_only_with_allow_destroy(repo, capsys, autoscaling):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["protect"] = True
    write(repo, nodes)
    assert run_infra(capsys, "autoscale:run", BEE).code == 0
    assert run_infra(capsys, "apply", "--auto-approve").code == 0  # the rest of the group
    [kept] = asgs(autoscaling)

    del nodes[BEE]
    write(repo, nodes)
    planned = run_infra(capsys, "plan")
    assert "asg.12_04-bee will be destroyed" in planned.out and "PROTECTED" in planned.out
    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "asg.12_04-bee" in refused.err and "--allow-destroy" in refused.err
    assert asgs(autoscaling) == [kept]
    assert "asg.12_04-bee" in run_infra(capsys, "state", "list").out

    assert run_infra(capsys, "apply", "--auto-approve", "--allow-destroy").code == 0
    assert asgs(autoscaling) == []


def test_protection_outlives_a_lost_state_through_the_protect_tag(repo, capsys, autoscaling):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["protect"] = True
    write(repo, nodes)
    applied(capsys)
    [kept] = asgs(autoscaling)
    assert tags(kept)["infra:protect"] == "true"
    shutil.rmtree(repo / ".infra")  # the state is lost

    del nodes[BEE]  # and the group goes: its ASG is an orphan now, found by its tags
    nodes["12_04-www"]["autoscale"] = {"node_min": 1, "node_max": 1, "timeout": 1, "healthy_deadline": 3}
    write(repo, nodes)
    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "asg.12_04-bee" in refused.err and "--allow-destroy" in refused.err
    assert asgs(autoscaling) == [kept]
    assert run_infra(capsys, "apply", "--auto-approve", "--allow-destroy").code == 0
    assert asgs(autoscaling, BEE) == []


def test_taking_protection_off_is_a_tag_change_in_place(repo, capsys, autoscaling):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["protect"] = True
    write(repo, nodes)
    applied(capsys)
    nodes[BEE]["protect"] = False
    write(repo, nodes)
    planned = run_infra(capsys, "plan")
    assert "~ asg.12_04-bee" in planned.out and "infra:protect" in planned.out and "+/-" not in planned.out
    applied(capsys)
    assert "infra:protect" not in tags(asgs(autoscaling)[0])
    no_changes(capsys)


def test_a_region_move_is_refused_by_plan_and_is_no_drift_until_applied(repo, capsys, autoscaling):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["region"] = "us-west-2"
    write(repo, nodes)
    assert run_infra(capsys, "drift").code == 0  # what was applied is still there, as recorded
    refused = run_infra(capsys, "plan")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert f"group {BEE} moves from us-east-1 to us-west-2" in refused.err and "new name" in refused.err
    assert run_infra(capsys, "apply", "--auto-approve").code == 1
    assert len(asgs(autoscaling)) == 1  # nothing made in us-west-2, nothing left behind in us-east-1


def test_a_tag_change_updates_in_place_and_rolls_nothing(repo, capsys, autoscaling):
    assert run_infra(capsys, "autoscale:run", BEE).code == 0
    [before] = asgs(autoscaling)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["tags"] = {"team": "core"}
    write(repo, nodes)
    planned = run_infra(capsys, "plan", BEE)
    assert f"~ launch_template.{BEE}" in planned.out and f"asg.{BEE}" in planned.out
    assert f"+/- asg.{BEE}" not in planned.out
    assert run_infra(capsys, "apply", BEE, "--auto-approve").code == 0
    [after] = asgs(autoscaling)
    assert after["AutoScalingGroupName"] == before["AutoScalingGroupName"]
    assert {"Key": "team", "Value": "core"} in [{"Key": t["Key"], "Value": t["Value"]} for t in after["Tags"]]
    assert run_infra(capsys, "plan", BEE, "--detailed-exitcode").code == 0


def test_a_launch_template_version_made_by_hand_is_drift_only_once_it_is_the_default(repo, capsys, autoscaling,
                                                                                      aws):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    [template] = ec2.describe_launch_templates(LaunchTemplateNames=[f"{owner_of(repo)}.{BEE}"])["LaunchTemplates"]
    made = ec2.create_launch_template_version(LaunchTemplateId=template["LaunchTemplateId"], SourceVersion="1",
                                              LaunchTemplateData={"InstanceType": "t2.micro"})
    assert run_infra(capsys, "drift").code == 0  # beside the default: nothing boots from it
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0

    ec2.modify_launch_template(LaunchTemplateId=template["LaunchTemplateId"],
                               DefaultVersion=str(made["LaunchTemplateVersion"]["VersionNumber"]))
    drifted = run_infra(capsys, "drift")
    assert drifted.code == 2 and f"launch_template.{BEE}" in drifted.out and "instance_type" in drifted.out
