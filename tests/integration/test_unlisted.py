"""A plan right after an apply, against AWS whose listings do not show yet what the apply made (the
hostile sandbox's `scan_lag`): what the state records and a scan did not list is asked for by name
or id, so the plan is empty instead of making a second ASG and launch template. A warm plan where
the scans show everything asks nothing more (docs/aws-behaviour.md)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from infra.sandbox.hostile import Knobs
from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of
from tests.integration.fleet_support import BEE, applied, example, write
from tests.integration.test_failures import builds
from tests.integration.test_hostile import WWW, client, hostile_fixture, pointed_at
from tests.support.aws_proxy import CountingProxy


def listings_lag(seconds: float, seed: int) -> Knobs:
    """A sandbox whose listings leave out what was made for `seconds`; nothing else is hostile."""
    return Knobs(seed=seed, latency=0, throttle=0, errors=0, lag=0, scan_lag=seconds, pending=0, initial=0,
                 ami_pending=0, failed_launches=0)


LISTINGS_LAG = listings_lag(600, seed=1)  # longer than the test


lagging_listings = hostile_fixture("lagging-listings", LISTINGS_LAG)


def planned_counting(server: Any, capsys, monkeypatch) -> tuple[Any, Counter[str]]:
    """`infra plan --detailed-exitcode` against `server` through a proxy, and the requests it counted."""
    proxy = CountingProxy(server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
    try:
        return run_infra(capsys, "plan", "--detailed-exitcode"), proxy.counts
    finally:
        proxy.close()


def test_a_plan_right_after_an_apply_finds_by_name_what_aws_does_not_list_yet(lagging_listings, ops_repo, capsys,
                                                                             monkeypatch):
    endpoint = pointed_at(lagging_listings, monkeypatch)
    example(ops_repo)
    applied(capsys)
    assert client("autoscaling", endpoint).describe_auto_scaling_groups()["AutoScalingGroups"] == []  # not listed
    assert client("ec2", endpoint).describe_launch_templates()["LaunchTemplates"] == []

    plan, asked = planned_counting(lagging_listings, capsys, monkeypatch)
    assert plan.code == 0, plan.out + plan.err  # no second ASG, no second launch template
    assert "made again" not in plan.out and "No changes" in plan.out
    # Each kind's listing, then one describe by name or id for what it did not show.
    assert asked["DescribeAutoScalingGroups"] == 2 and asked["DescribeLaunchTemplates"] == 2, asked


def test_a_plan_right_after_a_build_finds_by_id_the_ami_aws_does_not_list_yet(lagging_listings, ops_repo, control,
                                                                              capsys, monkeypatch):
    endpoint = pointed_at(lagging_listings, monkeypatch)
    example(ops_repo, packer=True)
    applied(capsys)
    assert set(builds(control)) == {BEE, WWW}
    assert client("ec2", endpoint).describe_images(Owners=["self"])["Images"] == []  # not listed
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err  # no second build
    assert sorted(builds(control)) == [BEE, WWW]


def test_a_warm_plan_where_the_listings_show_everything_asks_nothing_more(aws, proxy, ops_repo, capsys, monkeypatch):
    example(ops_repo)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    applied(capsys)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert proxy.counts["DescribeAutoScalingGroups"] == 1 and proxy.counts["DescribeLaunchTemplates"] == 1, \
        proxy.counts


def one_off_instances(ec2) -> list[str]:
    found = ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": ["infra:name"]}])
    return [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]


def created_one_off(capsys, tmp_path: Path) -> str:
    """`instance:create` of a web instance; its id."""
    key = tmp_path / "deploy.pem"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    made = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1")
    assert made.code == 0, made.out + made.err
    return made.out.split("launched ", 1)[1].split()[0]


def test_a_plan_right_after_instance_create_finds_by_id_the_instance_aws_does_not_list_yet(
        lagging_listings, ops_repo, tmp_path, capsys, monkeypatch):
    endpoint = pointed_at(lagging_listings, monkeypatch)
    example(ops_repo)
    applied(capsys)
    instance = created_one_off(capsys, tmp_path)
    ec2 = client("ec2", endpoint)
    assert one_off_instances(ec2) == []  # not listed

    plan, asked = planned_counting(lagging_listings, capsys, monkeypatch)
    assert plan.code == 0, plan.out + plan.err  # no second instance
    assert "made again" not in plan.out and "No changes" in plan.out
    # The one-off instances' listing and the build leftovers', then one describe by id.
    assert asked["DescribeInstances"] == 3, asked

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    ec2.terminate_instances(InstanceIds=[instance])  # by hand: shown by id, terminated, it is gone
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert f"instance.{WWW}.web1 will be created: recorded in state but gone; will be made again" in plan.out


def test_a_warm_plan_with_a_one_off_instance_listed_asks_for_no_instance_by_id(aws, proxy, ops_repo, tmp_path,
                                                                              capsys, monkeypatch):
    example(ops_repo)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    applied(capsys)
    created_one_off(capsys, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert proxy.counts["DescribeInstances"] == 2, proxy.counts  # the two listings above, nothing by id


def test_a_renamed_groups_old_asg_waits_on_the_new_asg_aws_does_not_list_yet(lagging_listings, ops_repo, capsys,
                                                                             monkeypatch):
    """The hold before a renamed group's old ASG goes watches the new ASG the apply just made by its
    name: unlisted, it was taken for no nodes at all, and the old ASG went while the new one failed."""
    endpoint = pointed_at(lagging_listings, monkeypatch)
    example(ops_repo, timeout=4)
    applied(capsys)
    autoscaling, ec2 = client("autoscaling", endpoint), client("ec2", endpoint)
    [old] = [t["ResourceId"] for t in autoscaling.describe_tags(
        Filters=[{"Name": "key", "Values": ["group"]}, {"Name": "value", "Values": [BEE]}])["Tags"]]
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["bee-v2"] = nodes.pop(BEE)
    write(ops_repo, nodes)

    def fail_new_nodes_soon_after_they_are_up():
        while len(new := instances_of(ec2, "bee-v2")) < 2:  # instances are listed at once
            time.sleep(0.05)
        time.sleep(1.5)  # healthy first (the create passes), then failing while the old ASG is kept (4 s)
        for instance in new:
            autoscaling.set_instance_health(InstanceId=instance, HealthStatus="Unhealthy")

    saboteur = threading.Thread(target=fail_new_nodes_soon_after_they_are_up, daemon=True)
    saboteur.start()
    failed = run_infra(capsys, "apply", "--auto-approve")
    saboteur.join(timeout=10)
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []  # the new ASG is not listed
    assert failed.code == 1 and "became unhealthy" in failed.err and f"{old} is kept" in failed.err, \
        failed.out + failed.err
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[old])["AutoScalingGroups"]


def instances_of(ec2, group: str) -> list[str]:
    found = ec2.describe_instances(Filters=[{"Name": "tag:group", "Values": [group]},
                                            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]


# Listings leave out for 20 s what was made: the AMIs below are listed by the time the ASG is made, the ASG not yet.
SHORT_LAG = listings_lag(20, seed=2)


short_lag = hostile_fixture("short-lag", SHORT_LAG)


def test_retention_keeps_the_rollback_target_of_an_asg_aws_does_not_list_yet(short_lag, ops_repo, capsys,
                                                                              monkeypatch):
    """An ASG just made holds on to the AMI it would roll back to (infra:previous); retention asks for
    the ASGs the state records by name, so an ASG not listed yet does not let that AMI go."""
    endpoint = pointed_at(short_lag, monkeypatch)
    example(ops_repo)
    ec2, autoscaling = client("ec2", endpoint), client("autoscaling", endpoint)
    identity = [{"Key": "group", "Value": BEE}, {"Key": "infra:managed", "Value": "true"},
                {"Key": "infra:owner", "Value": owner_of(ops_repo)}]
    older, newer = (ec2.register_image(Name=f"{BEE}-{n}", RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8}}])["ImageId"] for n in ("older", "newer")
        if time.sleep(1.1) is None)  # a second apart: their creation dates order them
    while len(ec2.describe_images(Owners=["self"])["Images"]) < 2:  # the scan lag: AMIs too are listed late
        time.sleep(0.5)
    applied(capsys)
    ec2.create_tags(Resources=[older, newer], Tags=identity)  # bee's now (before, the apply would remove them)
    [name] = [t["ResourceId"] for t in autoscaling.describe_tags(
        Filters=[{"Name": "key", "Values": ["group"]}, {"Name": "value", "Values": [BEE]}])["Tags"]]
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    template = group["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_or_update_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group",
                                             "Key": "infra:previous", "Value": f"{template}:1:{older}",
                                             "PropagateAtLaunch": False}])
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []  # the new ASG is not listed

    cleaned = run_infra(capsys, "packer:clean", BEE, "-n", "1")
    assert cleaned.code == 0, cleaned.out + cleaned.err
    assert f"kept {older}" in cleaned.out and f"autoscaling group {name} (its rollback target" in cleaned.out, \
        cleaned.out
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == {older, newer}


def test_retention_keeps_the_ami_of_a_one_off_instance_aws_does_not_list_yet(short_lag, ops_repo, tmp_path, capsys,
                                                                             monkeypatch):
    """An instance launched seconds ago is not in the listing of instances by image yet; retention
    counts the one-off instances the state records, so the AMI one was launched from stays."""
    endpoint = pointed_at(short_lag, monkeypatch)
    nodes = example(ops_repo)
    ec2 = client("ec2", endpoint)
    oldest, middle, newest = [ec2.register_image(Name=f"{WWW}-{n}", RootDeviceName="/dev/sda1", BlockDeviceMappings=[
        {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8}}])["ImageId"] for n in range(3)
        if time.sleep(1.1) is None]  # a second apart: their creation dates order them
    nodes[WWW]["source_ami"] = oldest  # what its one-off instances boot (www builds none: packer is off)
    write(ops_repo, nodes)
    while len(ec2.describe_images(Owners=["self"])["Images"]) < 3:  # the scan lag: AMIs too are listed late
        time.sleep(0.5)
    applied(capsys)
    ec2.create_tags(Resources=[oldest, middle, newest], Tags=[
        {"Key": "group", "Value": WWW}, {"Key": "infra:managed", "Value": "true"},
        {"Key": "infra:owner", "Value": owner_of(ops_repo)}])  # www's now (before, the apply would remove them)
    instance = created_one_off(capsys, tmp_path)
    assert one_off_instances(ec2) == []  # not listed yet

    cleaned = run_infra(capsys, "packer:clean", WWW, "-n", "1")
    assert cleaned.code == 0, cleaned.out + cleaned.err
    assert f"kept {oldest}" in cleaned.out and f"instance.{WWW}.web1 (a one-off instance the state records" \
        in cleaned.out, cleaned.out
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == {oldest, newest}
    assert ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["ImageId"] == oldest
