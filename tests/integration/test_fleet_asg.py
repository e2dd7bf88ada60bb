"""Launch templates and autoscaling groups on moto: apply, blue/green rolls, roll back, renames, orphans."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of
from tests.integration.fleet_support import BEE, applied, asgs, example, no_changes, tags, write


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    example(ops_repo)
    return ops_repo


def test_apply_creates_the_bee_asg_and_none_for_www(repo, capsys, autoscaling, ec2):
    applied(capsys)
    [group] = asgs(autoscaling)
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 2, 2)
    assert group["AutoScalingGroupName"].startswith(f"{BEE}-")
    assert {"group": BEE, "infra:managed": "true", "Name": BEE}.items() <= tags(group).items()
    assert group["HealthCheckType"] == "EC2" and group["HealthCheckGracePeriod"] == 300
    assert sorted(group["AvailabilityZones"]) == sorted(
        z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
    assert len(group["Instances"]) == 2
    [template] = ec2.describe_launch_templates()["LaunchTemplates"]
    assert template["LaunchTemplateName"] == f"{owner_of(repo)}.{BEE}" and tags(template)["group"] == BEE
    assert tags(template)["infra:owner"] == tags(group)["infra:owner"] == owner_of(repo)
    assert group["LaunchTemplate"]["LaunchTemplateId"] == template["LaunchTemplateId"]
    assert asgs(autoscaling, "12_04-www") == []
    no_changes(capsys)


@pytest.mark.skipif(shutil.which("packer") is None, reason="needs the packer binary")
def test_example_with_ami_builds_runs_the_asg_from_the_new_ami(aws, ops_repo, capsys, autoscaling, ec2):
    example(ops_repo, packer=True)
    applied(capsys)
    [image] = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group", "Values": [BEE]}])["Images"]
    [group] = asgs(autoscaling)
    version = ec2.describe_launch_template_versions(LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"],
                                                    Versions=["$Latest"])["LaunchTemplateVersions"][0]
    assert version["LaunchTemplateData"]["ImageId"] == image["ImageId"]
    no_changes(capsys)


def test_instance_type_change_rolls_to_a_new_asg(repo, capsys, autoscaling, ec2):
    applied(capsys)
    [old] = asgs(autoscaling)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    write(repo, nodes)

    plan = run_infra(capsys, "plan")
    assert "+/- asg.12_04-bee" in plan.out and "~ launch_template.12_04-bee" in plan.out
    result = applied(capsys)
    assert f"keeping {old['AutoScalingGroupName']} for 1s" in result.out

    [new] = asgs(autoscaling)
    assert new["AutoScalingGroupName"] != old["AutoScalingGroupName"]
    assert new["LaunchTemplate"]["Version"] == "2"
    assert {i["InstanceType"] for i in new["Instances"]} == {"m3.large"}
    assert "infra:roll" not in tags(new)
    no_changes(capsys)


def test_an_unhealthy_new_asg_is_rolled_back(repo, capsys, autoscaling):
    applied(capsys)
    [old] = asgs(autoscaling)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"
    write(repo, nodes)

    with instances_going_unhealthy(autoscaling):
        result = run_infra(capsys, "apply", "--auto-approve")

    assert result.code == 1
    assert f"rolled back, deleted {BEE}-" in result.err and f"kept {old['AutoScalingGroupName']}" in result.err
    assert "Traceback" not in result.err
    [kept] = asgs(autoscaling)
    assert kept["AutoScalingGroupName"] == old["AutoScalingGroupName"]
    assert kept["LaunchTemplate"]["Version"] == "1"
    plan = run_infra(capsys, "plan")
    assert "+/- asg.12_04-bee" in plan.out  # the roll is still to do


class instances_going_unhealthy:
    """Marks every instance of an ASG that is mid-roll (infra:roll=pending or holding), or of the
    ASGs with `tag`, unhealthy, as AWS would a node whose health checks fail."""

    def __init__(self, autoscaling, tag: tuple[str, str] | None = None) -> None:
        self.autoscaling = autoscaling
        key, values = (tag[0], [tag[1]]) if tag else ("infra:roll", ["pending", "holding"])
        self.filters = [{"Name": f"tag:{key}", "Values": values}]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            pending = self.autoscaling.describe_auto_scaling_groups(Filters=self.filters)["AutoScalingGroups"]
            for group in pending:
                for instance in group["Instances"]:
                    if instance["HealthStatus"] == "Healthy":
                        self.autoscaling.set_instance_health(InstanceId=instance["InstanceId"],
                                                             HealthStatus="Unhealthy")
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def test_a_renamed_group_keeps_its_old_asg_until_the_new_one_is_in_service(repo, capsys, autoscaling):
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["bee-v2"] = nodes.pop(BEE)
    nodes["bee-v2"]["autoscale"]["subnets"] = ["subnet-0000dead"]  # AWS refuses to make it
    write(repo, nodes)
    assert ("deleted once asg.bee-v2 is up, after its timeout (1s); asg.bee-v2 takes over: the same run list"
            in run_infra(capsys, "plan").out)

    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1 and "asg.bee-v2" in failed.err, failed.err
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [old["AutoScalingGroupName"]]

    del nodes["bee-v2"]["autoscale"]["subnets"]
    write(repo, nodes)
    done = applied(capsys)
    assert done.out.index("asg.bee-v2: created") < done.out.index("asg.12_04-bee: keeping") \
        < done.out.index("asg.12_04-bee: destroyed")
    assert asgs(autoscaling, BEE) == [] and len(asgs(autoscaling, "bee-v2")) == 1
    no_changes(capsys)


def test_an_unrelated_group_added_beside_a_removed_one_neither_waits_for_nor_blocks_it(repo, capsys, autoscaling):
    """batch runs none of bee's services: no rename, so bee goes at once, even though batch fails."""
    applied(capsys)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["batch"] = {**nodes.pop(BEE), "run_list": ["recipe[seatgeek-service::jobs]"]}
    nodes["batch"]["autoscale"] = {**nodes["batch"]["autoscale"], "subnets": ["subnet-0000dead"]}  # AWS refuses it
    write(repo, nodes)
    planned = run_infra(capsys, "plan").out
    assert f"asg.{BEE} will be destroyed: no longer in nodes.json\n" in planned, planned
    assert "deleted once" not in planned

    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1 and "asg.batch" in failed.err, failed.err
    assert "so other nodes notice" not in failed.out and asgs(autoscaling, BEE) == [], failed.out


def test_ami_keep_1_leaves_the_ami_the_rolled_fleet_runs_and_the_one_it_would_roll_back_to(aws, ops_repo, capsys,
                                                                                              autoscaling, ec2):
    nodes = example(ops_repo, packer=True)
    nodes[BEE]["ami_keep"] = 1
    write(ops_repo, nodes)
    applied(capsys)
    [first] = bee_images(ec2)
    nodes[BEE]["instance_type"] = "m3.large"
    write(ops_repo, nodes)
    rolled = applied(capsys)
    [asg] = asgs(autoscaling, BEE)
    running = image_of(ec2, asg)
    assert running != first and bee_images(ec2) == {running, first}
    assert (f"kept {first} " in rolled.out and f"in use by autoscaling group {asg['AutoScalingGroupName']} (its "
            f"rollback target: launch template version 1)" in rolled.out), rolled.out
    no_changes(capsys)

    nodes[BEE]["instance_type"] = "c1.medium"  # built and rolled in two steps: packer:run, then apply
    write(ops_repo, nodes)
    built = run_infra(capsys, "packer:run", BEE)
    # the fleet still runs the second, and would roll back to the first
    assert built.code == 0 and f"launch template {owner_of(ops_repo)}.12_04-bee (version 2)" in built.out, built.out
    assert len(bee_images(ec2)) == 3
    rolled = applied(capsys)
    assert "ami_keep 1: removed 1 older AMI(s)" in rolled.out
    [asg] = asgs(autoscaling, BEE)
    assert bee_images(ec2) == {image_of(ec2, asg), running}  # the first went; the second is the way back


def bee_images(ec2) -> set[str]:
    return {i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group",
                                                                                  "Values": [BEE]}])["Images"]}


def image_of(ec2, asg: dict) -> str:
    version = ec2.describe_launch_template_versions(LaunchTemplateId=asg["LaunchTemplate"]["LaunchTemplateId"],
                                                    Versions=[asg["LaunchTemplate"]["Version"]])
    return version["LaunchTemplateVersions"][0]["LaunchTemplateData"]["ImageId"]


def test_a_renamed_groups_old_asg_stays_when_the_new_one_turns_unhealthy_while_it_is_kept(repo, capsys,
                                                                                          autoscaling):
    example(repo, timeout=4)
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["bee-v2"] = nodes.pop(BEE)
    write(repo, nodes)

    def fail_new_nodes_soon_after_they_are_up():
        while not asgs(autoscaling, "bee-v2"):
            time.sleep(0.05)
        time.sleep(1.5)  # healthy first (the create passes), then failing while the old ASG is kept (4 s)
        for instance in asgs(autoscaling, "bee-v2")[0]["Instances"]:
            autoscaling.set_instance_health(InstanceId=instance["InstanceId"], HealthStatus="Unhealthy")

    saboteur = threading.Thread(target=fail_new_nodes_soon_after_they_are_up, daemon=True)
    saboteur.start()
    failed = run_infra(capsys, "apply", "--auto-approve")
    saboteur.join(timeout=10)
    assert failed.code == 1 and "became unhealthy" in failed.err and f"{old['AutoScalingGroupName']} is kept" \
        in failed.err, failed.err
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [old["AutoScalingGroupName"]]


def test_autoscale_run_creates_the_asg_and_refuses_when_it_exists(repo, capsys, autoscaling):
    first = run_infra(capsys, "autoscale:run", BEE)
    assert first.code == 0, first.err
    [group] = asgs(autoscaling)
    assert tags(group)["group"] == BEE

    again = run_infra(capsys, "autoscale:run", BEE)
    assert again.code == 1
    assert "asg.12_04-bee already exists; use autoscale:update" in again.err
    assert len(asgs(autoscaling)) == 1

    www = run_infra(capsys, "autoscale:run", "12_04-www")
    assert www.code == 1 and "has no autoscale block" in www.err


def test_autoscale_update_rolls_blue_green(repo, capsys, autoscaling):
    assert run_infra(capsys, "autoscale:run", BEE).code == 0
    [old] = asgs(autoscaling)
    asked = run_infra(capsys, "autoscale:update", BEE)  # as apply: it shows the roll, and asks (no terminal here)
    assert asked.code == 1 and f"+/- asg.{BEE}" in asked.out, asked.out
    assert asked.err == "error: autoscale:update needs confirmation: run it on a terminal, or pass --auto-approve\n"
    assert asgs(autoscaling) == [old]
    result = run_infra(capsys, "autoscale:update", BEE, "--auto-approve")
    assert result.code == 0, result.err
    assert "2/2 instances InService and Healthy" in result.out
    [new] = asgs(autoscaling)
    assert new["AutoScalingGroupName"] != old["AutoScalingGroupName"]


@pytest.mark.skipif(shutil.which("packer") is None, reason="needs the packer binary")
def test_autoscale_update_with_nothing_changed_rolls_on_the_same_launch_template_version(aws, ops_repo, capsys,
                                                                                        autoscaling, ec2):
    example(ops_repo, packer=True)  # the launch template refers to the group's AMI, outside what is planned
    applied(capsys)
    [old] = asgs(autoscaling)
    result = run_infra(capsys, "autoscale:update", BEE, "--auto-approve")
    assert result.code == 0, result.err
    assert "new version" not in result.out and f"launch_template.{BEE}" not in result.out
    [new] = asgs(autoscaling)
    assert new["AutoScalingGroupName"] != old["AutoScalingGroupName"]
    assert new["LaunchTemplate"] == old["LaunchTemplate"]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=old["LaunchTemplate"]["LaunchTemplateId"])
    assert len(versions["LaunchTemplateVersions"]) == 1


def test_autoscale_create_writes_the_dna_file_and_the_role(repo, capsys):
    assert run_infra(capsys, "autoscale:create", BEE).code == 0
    assert json.loads((repo / "dna/asg/12_04-bee.json").read_text()) == {
        "id": BEE, "run_list": ["role[role-12_04-bee]"]}
    assert (repo / "roles/role-12_04-bee.json").is_file()


def test_an_asg_left_by_an_interrupted_roll_is_deleted(repo, capsys, autoscaling):
    applied(capsys)
    [live] = asgs(autoscaling)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{BEE}-leftover", MinSize=0, MaxSize=0, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": live["LaunchTemplate"]["LaunchTemplateId"], "Version": "1"},
        Tags=[{"Key": "group", "Value": BEE}, {"Key": "infra:managed", "Value": "true"},
              {"Key": "infra:owner", "Value": owner_of(repo)}, {"Key": "infra:roll", "Value": "pending"}])

    plan = run_infra(capsys, "plan")
    assert f"- asg.12_04-bee.{BEE}-leftover" in plan.out
    assert "+/- asg.12_04-bee" not in plan.out and "~ asg.12_04-bee" not in plan.out
    applied(capsys)
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling)] == [live["AutoScalingGroupName"]]


def test_a_group_without_autoscale_loses_its_asg_and_launch_template(repo, capsys, autoscaling, ec2):
    applied(capsys)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"] = False
    write(repo, nodes)
    plan = run_infra(capsys, "plan")
    assert "- asg.12_04-bee" in plan.out and "- launch_template.12_04-bee" in plan.out
    applied(capsys)
    assert asgs(autoscaling) == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []


def test_after_a_lost_state_what_infra_made_is_found_though_nothing_wants_its_kind(aws, ops_repo, capsys,
                                                                                   autoscaling):
    nodes = example(ops_repo, packer=True)
    applied(capsys)
    shutil.rmtree(ops_repo / ".infra")
    nodes[BEE]["autoscale"] = False  # no group has an ASG now
    del nodes["12_04-www"]
    write(ops_repo, nodes)
    plan = run_infra(capsys, "plan")
    for gone in ("asg.12_04-bee", "launch_template.12_04-bee", "dna.12_04-bee", "packer_template.12_04-www",
                 "ami.12_04-www"):
        assert f"- {gone}" in plan.out, plan.out
    assert "role.12_04-www" not in plan.out  # a role may be written by hand: never taken for an orphan
    done = applied(capsys)
    assert done.out.index("asg.12_04-bee: destroyed") < done.out.index("launch_template.12_04-bee: delete")
    assert asgs(autoscaling) == []
    assert not (ops_repo / "dna" / "asg" / f"{BEE}.json").exists()
    assert not (ops_repo / "packer" / "12_04-www.json").exists()
    assert (ops_repo / "roles" / "role-12_04-www.json").exists()
    no_changes(capsys)
    no_changes(capsys)
