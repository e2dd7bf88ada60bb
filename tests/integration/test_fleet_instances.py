"""One-off instances (instance:create) and deploys (instance:deploy) on moto."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of

WWW, BEE = "12_04-www", "12_04-bee"


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["__base__"]["packer"] = False
    nodes[BEE]["autoscale"].update({"timeout": 1, "healthy_deadline": 3})
    (ops_repo / "nodes.json").write_text(json.dumps(nodes, indent=2))
    return ops_repo


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A private key as ssh-keygen makes it, without its .pub beside it."""
    path = tmp_path / "keys" / "deploy.pem"
    path.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    path.with_name("deploy.pem.pub").unlink()
    return path


@pytest.fixture
def ssm(aws: str):
    return boto3.client("ssm", region_name="us-east-1", endpoint_url=aws)


def one_off(ec2) -> list[dict]:
    found = ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": ["infra:name"]},
                                            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    return [i for r in found["Reservations"] for i in r["Instances"]]


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_instance_create_honours_key_name_and_zone_and_writes_the_dna_file(repo, key, capsys, ec2):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    result = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1", "--zone", "us-east-1c")
    assert result.code == 0, result.err
    assert "imported key pair deploy" in result.out

    [pair] = ec2.describe_key_pairs(KeyNames=["deploy"])["KeyPairs"]
    assert pair["KeyName"] == "deploy"
    [instance] = one_off(ec2)
    assert instance["KeyName"] == "deploy"
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1c"
    assert instance["InstanceType"] == "m3.xlarge" and instance["ImageId"] == "ami-1ebb2077"
    assert {"Name": "web1", "group": WWW, "infra:managed": "true"}.items() <= tags(instance).items()
    assert {g["GroupName"] for g in instance["SecurityGroups"]} == {"external", "internal", "www"}

    dna = repo / "dna" / f"{WWW}-{instance['InstanceId']}.json"
    assert json.loads(dna.read_text()) == {"id": "web1", "run_list": [f"role[role-{WWW}]"]}
    assert instance["InstanceId"] in result.out

    listed = run_infra(capsys, "state", "list")
    assert f"instance.{WWW}.web1" in listed.out.split()
    plan = run_infra(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out  # a recorded one-off instance is not planned for deletion
    assert run_infra(capsys, "drift").code == 0


def test_instance_create_picks_a_zone_and_reuses_a_key_pair_aws_has(repo, key, capsys, ec2):
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True).stdout
    ec2.import_key_pair(KeyName="deploy", PublicKeyMaterial=public.encode())
    result = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web2")
    assert result.code == 0, result.err
    assert "imported key pair" not in result.out and "chosen at random" in result.out
    [instance] = one_off(ec2)
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert instance["Placement"]["AvailabilityZone"] in zones


@pytest.mark.parametrize("args, message", [
    (["--key", "missing.pem", "--name", "x"], "missing.pem: no such key file"),
    (["--key", "KEY", "--name", "x", "--zone", "us-east-1z"], "--zone us-east-1z: not an available zone of us-east-1"),
    (["--key", "KEY", "--name", "a.b"], "--name 'a.b': use 1-64 letters"),
    (["--name", "x"], "instance:create needs --key PATH (usage: instance:create GROUP --key PATH --name NAME"),
    (["--key", "KEY"], "instance:create needs --name NAME (usage:"),
])
def test_instance_create_bad_input_is_one_clear_line(repo, key, capsys, ec2, args, message):
    args = [str(key) if a == "KEY" else a for a in args]
    result = run_infra(capsys, "instance:create", WWW, *args)
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert one_off(ec2) == []


def test_instance_create_refuses_an_unreadable_key_and_an_unknown_group(repo, tmp_path, key, capsys):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    result = run_infra(capsys, "instance:create", WWW, "--key", str(garbage), "--name", "x")
    assert result.code == 1 and "not a private key infra can read" in result.err
    result = run_infra(capsys, "instance:create", "nope", "--key", str(key), "--name", "x")
    assert result.code == 1 and "unknown group 'nope'" in result.err


def test_instance_create_before_the_groups_ami_exists_says_so_and_imports_nothing(repo, key, capsys, ec2):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[WWW]["packer"] = True  # its instances boot its own AMI, which is not built yet
    (repo / "nodes.json").write_text(json.dumps(nodes))
    result = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "early")
    assert result.code == 1 and f"needs ami.{WWW}.image_id, which does not exist yet" in result.err
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["deploy"]}])["KeyPairs"] == []
    assert one_off(ec2) == []


def test_instance_create_refuses_a_name_in_use(repo, key, capsys, ec2):
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1").code == 0
    again = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1")
    assert again.code == 1 and "instance.12_04-www.web1 already exists" in again.err
    assert len(one_off(ec2)) == 1


def test_a_one_off_instance_goes_with_its_group(repo, key, capsys, ec2):
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1").code == 0
    [instance] = one_off(ec2)
    dna = repo / "dna" / f"{WWW}-{instance['InstanceId']}.json"
    nodes = json.loads((repo / "nodes.json").read_text())
    del nodes[WWW]
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))

    plan = run_infra(capsys, "plan")
    assert f"- instance.{WWW}.web1" in plan.out
    assert f"    - instance {instance['InstanceId']} (running, {instance['Placement']['AvailabilityZone']})" in plan.out
    assert f"    - file dna/{dna.name}" in plan.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert one_off(ec2) == [] and not dna.exists()


def test_a_renamed_one_off_instance_gets_its_name_back(repo, key, capsys, ec2):
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1").code == 0
    [instance] = one_off(ec2)
    ec2.create_tags(Resources=[instance["InstanceId"]], Tags=[{"Key": "Name", "Value": "renamed"}])
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "tags.Name" in drift.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [same] = one_off(ec2)
    assert same["InstanceId"] == instance["InstanceId"] and tags(same)["Name"] == "web1"


def test_a_one_off_instance_terminated_by_hand_is_made_again_with_its_own_dna_file(repo, key, capsys, ec2):
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1").code == 0
    [first] = one_off(ec2)
    ec2.terminate_instances(InstanceIds=[first["InstanceId"]])

    assert "recorded in state but gone" in run_infra(capsys, "plan").out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [again] = one_off(ec2)
    assert tags(again)["Name"] == "web1" and again["InstanceId"] != first["InstanceId"]
    assert sorted(p.name for p in (repo / "dna").glob(f"{WWW}-*.json")) == [f"{WWW}-{again['InstanceId']}.json"]
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_a_one_off_instance_the_state_lost_is_adopted_not_terminated(repo, key, capsys, ec2):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "w-1").code == 0
    assert run_infra(capsys, "state", "rm", f"instance.{WWW}.w-1").code == 0
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "w-2").code == 0

    planned = run_infra(capsys, "plan")
    assert "will be destroyed" not in planned.out and "No changes" in planned.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert sorted(tags(i)["Name"] for i in one_off(ec2)) == ["w-1", "w-2"]
    recorded = run_infra(capsys, "state", "list").out
    assert f"instance.{WWW}.w-1" in recorded and f"instance.{WWW}.w-2" in recorded
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_deploy_sends_one_batched_command_to_the_group(repo, key, capsys, ssm, ec2):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    result = run_infra(capsys, "instance:deploy", BEE, "-n", "1")
    assert result.code == 0, result.err

    [command] = ssm.list_commands()["Commands"]
    assert command["DocumentName"] == "AWS-RunShellScript"
    # by group and owner: another project's group of the same name is not this deploy's
    assert command["Targets"] == [{"Key": "tag:group", "Values": [BEE]},
                                  {"Key": "tag:infra:owner", "Values": [owner_of(repo)]}]
    assert command["MaxConcurrency"] == "1" and command["MaxErrors"] == "0"
    assert command["Parameters"]["commands"] == ["chef-solo -j /etc/chef/dna.json"]
    running = ec2.describe_instances(Filters=[{"Name": "tag:group", "Values": [BEE]},
                                              {"Name": "instance-state-name", "Values": ["running"]}])
    instances = [i for r in running["Reservations"] for i in r["Instances"]]
    for instance in instances:
        assert f"{instance['InstanceId']} {BEE}: Success" in result.out
    assert f"deploy Success: {len(instances)}/{len(instances)} node(s) done, 0 failed" in result.out
    assert "command_invocation" not in result.out + result.err  # how results were gathered is infra's business


def test_deploy_of_every_group_is_one_command_per_region(repo, key, capsys, ssm):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1").code == 0
    result = run_infra(capsys, "instance:deploy", "-n", "5", "--output", "json")
    assert result.code == 0, result.err
    [report] = json.loads(result.out)
    assert report["ok"] and sorted(report["groups"]) == [BEE, WWW]
    assert report["note"] == "" and "command_invocation" not in result.out + result.err  # no internal notes
    assert {n["group"] for n in report["nodes"]} == {BEE, WWW}
    [command] = ssm.list_commands()["Commands"]
    assert sorted(command["Targets"][0]["Values"]) == [BEE, WWW] and command["MaxConcurrency"] == "5"


def test_deploy_without_running_nodes_sends_nothing(repo, capsys, ssm):
    result = run_infra(capsys, "instance:deploy", WWW, "-n", "2")
    assert result.code == 0
    assert "no running nodes" in result.out
    assert ssm.list_commands()["Commands"] == []


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "-n 0: the batch size must be from 1 to 10,000"),
    (["-n", "99999999"], "-n 99999999: the batch size must be from 1 to 10,000"),
    (["--max-errors", "500%"], "--max-errors '500%': give a number of nodes (0) or a percentage up to 100%"),
    (["--max-errors", "some"], "--max-errors 'some'"),
])
def test_deploy_bad_input_is_one_clear_line(repo, capsys, ssm, args, message):
    result = run_infra(capsys, "instance:deploy", *args)
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1
    assert ssm.list_commands()["Commands"] == []


def test_instance_create_with_an_unknown_security_group_says_so_before_anything(repo, key, capsys, ec2):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[WWW]["security_groups"] = ["wwww"]
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))
    result = run_infra(capsys, "instance:create", WWW, "--key", str(key), "--name", "web1")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result.err
    assert f"group '{WWW}': security_groups: no security group wwww in us-east-1; make it there" in result.err
    assert one_off(ec2) == [] and ec2.describe_key_pairs()["KeyPairs"] == []  # the key was not imported either
