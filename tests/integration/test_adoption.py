"""Adopting what was made without infra, on moto: `infra import` of a hand-made ASG, launch template,
AMI and instance, then a plan of only their differences; imports refused in one line; look-alikes
a plan names as importable and never adopts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest

from infra.providers.aws import adoption
from tests.cli_helpers import run_infra

PROJECT = "acme-ops"
NODES = {
    "__settings__": {"project": PROJECT},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "web": {"autoscale": {"node_min": 1, "node_max": 3, "timeout": 1, "healthy_deadline": 60}},
    "api": {"packer": False},
}
IDENTITY = {"group": "web", "infra:managed": "true", "infra:owner": PROJECT}


@pytest.fixture
def repo(aws, tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "nodes.json").write_text(json.dumps(NODES, indent=2))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def clients(endpoint_url: str):
    return (boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint_url),
            boto3.client("autoscaling", region_name="us-east-1", endpoint_url=endpoint_url))


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def hand_made(endpoint_url: str, asg_name: str = "web", asg_tags: dict[str, str] | None = None) -> dict[str, str]:
    """What an operator made in the console before infra: an AMI, a launch template booting it, an
    ASG running it (named like the group), and a bastion instance."""
    ec2, autoscaling = clients(endpoint_url)
    internal = ec2.describe_security_groups(GroupNames=["internal"])["SecurityGroups"][0]["GroupId"]
    builder = ec2.run_instances(ImageId="ami-1ebb2077", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=builder, Name=f"{asg_name}-golden-2025")["ImageId"]
    ec2.terminate_instances(InstanceIds=[builder])
    template = ec2.create_launch_template(LaunchTemplateName=f"{asg_name}-legacy", LaunchTemplateData={
        "ImageId": image, "InstanceType": "m1.small", "SecurityGroupIds": [internal],
        "UserData": base64.b64encode(b"#!/bin/sh\necho hand-made\n").decode()})["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=asg_name, MinSize=1, MaxSize=2, DesiredCapacity=1, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": asg_name,
               "ResourceType": "auto-scaling-group"} for k, v in {"team": "frontend", **(asg_tags or {})}.items()])
    bastion = ec2.run_instances(ImageId="ami-1ebb2077", MinCount=1, MaxCount=1, InstanceType="t2.micro",
                                TagSpecifications=[{"ResourceType": "instance",
                                                    "Tags": [{"Key": "Name", "Value": "bastion"}]}])
    running = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    return {"ami": image, "launch_template": template, "asg": asg_name,
            "instance": bastion["Instances"][0]["InstanceId"], "asg_instance": running["Instances"][0]["InstanceId"]}


def imported(capsys, *args: str):
    result = run_infra(capsys, "import", *args)
    assert result.code == 0, result.err
    return result


def changes(plan_json: str) -> dict[str, str]:
    return {a["address"]: a["action"] for a in json.loads(plan_json)["actions"] if a["action"] != "noop"}


def test_hand_made_resources_are_imported_and_the_next_plan_shows_only_how_they_differ(repo, aws, capsys):
    made = hand_made(aws)
    ec2, autoscaling = clients(aws)

    result = imported(capsys, "web", "--ami", made["ami"])
    assert f"  # ami.web will be adopted (tagged as this project's; nothing else changes): AMI {made['ami']} " \
           f"(web-golden-2025) in us-east-1, made without infra: imported into web\n  @ ami.web" in result.out
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 0 to build, 1 to adopt." in result.out
    assert result.out.rstrip().endswith("Imported ami.web; infra plan shows how it differs from nodes.json.")
    imported(capsys, "web", "--launch-template", made["launch_template"])
    result = imported(capsys, "web", "--asg", "web")
    assert '~ tags: {"team": "frontend"} -> {"team": "frontend", "group": "web", "infra:managed": "true", ' \
           f'"infra:owner": "{PROJECT}"}}' in result.out
    imported(capsys, "web", "--instance", made["instance"], "--name", "bastion")

    # tagged as infra tags its own, and nothing else changed
    image = ec2.describe_images(ImageIds=[made["ami"]])["Images"][0]
    snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert tags(image) == IDENTITY and tags(ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]) == IDENTITY
    template = ec2.describe_launch_templates(LaunchTemplateIds=[made["launch_template"]])["LaunchTemplates"][0]
    assert tags(template) == IDENTITY and template["LaunchTemplateName"] == "web-legacy"  # it keeps its name
    assert template["LatestVersionNumber"] == 1
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    assert tags(group) == {"team": "frontend", **IDENTITY} and group["MaxSize"] == 2
    for instance, extra in ((made["asg_instance"], {"team": "frontend"}), (made["instance"], {"Name": "bastion",
                                                                                            "infra:name": "bastion"})):
        found = tags(ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0])
        assert {k: v for k, v in found.items() if not k.startswith("aws:")} == {**IDENTITY, **extra}
    assert json.loads((repo / "dna" / f"web-{made['instance']}.json").read_text())["id"] == "bastion"

    # recorded as found: nothing drifted; the plan shows only how each differs from nodes.json
    assert sorted(json.loads(run_infra(capsys, "state", "list", "-o", "json").out)) == [
        "ami.web", "asg.web", "instance.web.bastion", "launch_template.web"]
    assert run_infra(capsys, "drift").code == 0
    planned = run_infra(capsys, "plan")
    assert planned.code == 0 and "! " not in planned.out.replace("! 1 resource(s) will be destroyed", "")
    assert changes(run_infra(capsys, "plan", "-o", "json").out) == {
        "role.web": "create", "packer_template.web": "create", "dna.web": "create", "role.api": "create",  # files
        "ami.web": "build", "launch_template.web": "update", "asg.web": "replace"}  # not made a second time
    assert f"what {made['ami']} was built from is unknown (it has no infra:source_hash tag" in planned.out
    assert "~ launch_template.web\n    ~ image_id: " in planned.out
    for line in ('~ instance_type: "m1.small" -> "m1.large"', "~ max_size: 2 -> 3",
                 '~ tags.team: "frontend" -> (absent)',
                 "- autoscaling group web and its 1 instance(s): " + made["asg_instance"]):
        assert f"    {line}\n" in planned.out, line
    assert "instance.web.bastion" not in planned.out  # one-off instances are kept as they are


def test_what_is_not_ours_to_import_is_refused_in_one_line(repo, aws, capsys):
    made = hand_made(aws)
    ec2, autoscaling = clients(aws)
    hand_made(aws, asg_name="theirs", asg_tags={"infra:managed": "true", "infra:owner": "team-b", "group": "web"})
    hand_made(aws, asg_name="old", asg_tags={"infra:managed": "true", "group": "web"})
    hand_made(aws, asg_name="seeded", asg_tags={"group": "db"})
    refusals = [
        (("web", "--asg", "theirs"), "autoscaling group theirs in us-east-1 belongs to project 'team-b' (infra:owner): "
                                     "infra never takes another project's resources"),
        (("web", "--asg", "old"), "autoscaling group old in us-east-1 was made by infra before owner tags (group web): "
                                  "adopt it with infra plan --adopt and infra apply --adopt, not import"),
        (("web", "--asg", "seeded"), "autoscaling group seeded in us-east-1 is tagged group=db: it belongs to group "
                                     "db; import it there, or change its tag first"),
        (("web", "--instance", made["asg_instance"]), f"instance {made['asg_instance']} in us-east-1 was launched by "
                                                      f"autoscaling group web and comes and goes with it; import the "
                                                      f"group instead: infra import web --asg web"),
        (("api", "--asg", "web"), "group api has no asg in nodes.json to import this as (autoscale is off; set "
                                  "autoscale first)"),
        (("api", "--ami", made["ami"]), "group api has no ami in nodes.json to import this as (packer is false, so its "
                                        "nodes boot source_ami; set packer: true to build (and import) its own)"),
        (("web", "--asg", "nope"), "no autoscaling group named nope in us-east-1"),
        (("web", "--ami", "ami-0123456789abcdef0"),
         "describe ami-0123456789abcdef0 in us-east-1: InvalidAMIID.NotFound"),
        (("web", "--ami", "ami-1ebb2077"),  # the sandbox's public source AMI, of another account
         "no AMI ami-1ebb2077 of this account in us-east-1"),
        (("web", "--launch-template", "lt-0000000000000000"), "no launch template lt-0000000000000000 in us-east-1"),
        (("web", "--asg", "web", "--ami", made["ami"]), "infra import GROUP takes one of --asg NAME"),
        (("db", "--asg", "web"), "unknown group 'db'"),
    ]
    for args, said in refusals:
        refused = run_infra(capsys, "import", *args)
        assert refused.code == 1 and refused.out == "" and len(refused.err.strip().splitlines()) == 1, refused
        assert said in refused.err, refused.err
    assert not (repo / ".infra" / "state.json").exists()  # nothing recorded, nothing tagged
    assert "infra:owner" not in tags(autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["web"])["AutoScalingGroups"][0])

    imported(capsys, "web", "--asg", "web")
    again = run_infra(capsys, "import", "web", "--asg", "web")
    assert again.code == 1 and "autoscaling group web in us-east-1 is already managed by this project (group web); " \
                               "there is nothing to import" in again.err
    second = hand_made(aws, asg_name="web-2")
    taken = run_infra(capsys, "import", "web", "--asg", "web-2")
    assert taken.code == 1 and "asg.web is already managed (web): web has its asg; to swap it, remove that one " \
                               "first (infra state rm asg.web forgets it)" in taken.err
    assert "infra:owner" not in tags(autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[second["asg"]])["AutoScalingGroups"][0])


@pytest.mark.parametrize("by_name_calls", [2, 0], ids=["by name", "scan of the region"])
def test_a_plan_names_importable_look_alikes_and_never_adopts_them(repo, aws, capsys, monkeypatch, by_name_calls):
    # Few names are asked for by name; many (here: any), found in one scan of the region's ASGs and templates.
    monkeypatch.setattr(adoption, "BY_NAME_CALLS", by_name_calls)
    nodes = {**NODES, "web": {**NODES["web"], "packer": False}}  # an apply needs no packer here
    (repo / "nodes.json").write_text(json.dumps(nodes))
    made = hand_made(aws)
    ec2, autoscaling = clients(aws)
    same_name = ec2.create_launch_template(LaunchTemplateName=f"{PROJECT}.web", LaunchTemplateData={
        "ImageId": "ami-1ebb2077"})["LaunchTemplate"]["LaunchTemplateId"]

    for adopt in ((), ("--adopt",)):  # not even --adopt takes what infra did not make
        planned = run_infra(capsys, "plan", *adopt)
        assert planned.code == 0 and "+ asg.web\n" in planned.out and "to adopt" not in planned.out
        assert ("  ! asg.web: autoscaling group web in us-east-1: made without infra, named like this group's: left "
                "alone, infra makes its own; to manage this one instead, import it: infra import web --asg web") \
            in planned.out
        assert (f"  ! launch_template.web: launch template {PROJECT}.web ({same_name}) in us-east-1: made without "
                f"infra, named like this group's") in planned.out
    notices = json.loads(run_infra(capsys, "plan", "-o", "json").out)["notices"]
    assert {n["address"]: n["import_command"] for n in notices} == {
        "asg.web": "infra import web --asg web",
        "launch_template.web": f"infra import web --launch-template {same_name}"}
    assert not any(n["blocking"] for n in notices)

    ec2.delete_launch_template(LaunchTemplateId=same_name)  # else infra's own could not take the name
    applied = run_infra(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    groups = {g["AutoScalingGroupName"]: tags(g)
              for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]}
    assert groups["web"] == {"team": "frontend"}  # left alone
    [own] = [name for name, found in groups.items() if found.get("infra:owner") == PROJECT]
    assert own.startswith("web-")  # infra made its own beside it
    again = run_infra(capsys, "plan", "--detailed-exitcode")
    assert again.code == 0 and "infra import" not in again.out  # a hint only where infra would make one
    assert made["asg"] == "web"
