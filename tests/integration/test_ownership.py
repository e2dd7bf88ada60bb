"""Two ops repositories in one account and region, on moto with the real packer: neither ever
deletes, rebuilds or retags what the other made; a lost state adopts only its own; what infra made
before owner tags is adopted only when asked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from infra.providers import packer
from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of
from tests.integration.test_images import make_ami

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
        "run_list": ["recipe[seatgeek::base-server]"]}
FLEET = {"node_min": 1, "node_max": 1, "timeout": 1, "healthy_deadline": 60}
# Both repositories have a group called `shared`: the same name, two different fleets.
A = {"__base__": BASE, "alpha": {"autoscale": FLEET}, "shared": {"autoscale": FLEET}}
B = {"__base__": BASE, "beta": {}, "shared": {"autoscale": FLEET, "instance_type": "m3.large"}}


@pytest.fixture
def repos(aws, tmp_path: Path, monkeypatch):
    packer.binary()  # fails (does not skip) when packer is missing
    made = {}
    for name, nodes in (("a", A), ("b", B)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "nodes.json").write_text(json.dumps(nodes, indent=2))
        made[name] = tmp_path / name
    return made


def infra(capsys, monkeypatch, repo: Path, *args: str):
    monkeypatch.chdir(repo)
    return run_infra(capsys, *args)


def applied(capsys, monkeypatch, repo: Path, *args: str):
    result = infra(capsys, monkeypatch, repo, "apply", "--auto-approve", *args)
    assert result.code == 0, result.err + result.out
    return result


def no_changes(capsys, monkeypatch, repo: Path):
    result = infra(capsys, monkeypatch, repo, "plan", "--detailed-exitcode")
    assert result.code == 0, result.out
    return result


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def world(aws: str) -> dict[str, dict]:
    """Everything infra made in the account, by id, with its tags (and what it runs)."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    autoscaling = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)
    managed = [{"Name": "tag:infra:managed", "Values": ["true"]}]
    found = {i["ImageId"]: tags(i) for i in ec2.describe_images(Owners=["self"], Filters=managed)["Images"]}
    found.update({t["LaunchTemplateId"]: {**tags(t), "name": t["LaunchTemplateName"]}
                  for t in ec2.describe_launch_templates(Filters=managed)["LaunchTemplates"]})
    found.update({g["AutoScalingGroupName"]: {**tags(g), "instances": sorted(i["InstanceId"] for i in g["Instances"]),
                                              "template": json.dumps(g["LaunchTemplate"])}
                  for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]})
    return found


def owned_by(found: dict[str, dict], owner: str) -> dict[str, dict]:
    return {key: value for key, value in found.items() if value.get("infra:owner") == owner}


def test_two_repositories_apply_side_by_side_and_never_touch_each_other(repos, aws, capsys, monkeypatch):
    a, b = repos["a"], repos["b"]
    owner_a, owner_b = owner_of(a), owner_of(b)
    assert owner_a != owner_b  # two folders without a remote: two projects, without anyone naming them

    applied(capsys, monkeypatch, a)
    of_a = owned_by(world(aws), owner_a)
    assert len(of_a) == 6  # 2 AMIs, 2 launch templates, 2 ASGs

    planned = infra(capsys, monkeypatch, b, "plan")
    assert planned.code == 0 and "destroy" not in planned.out.replace("0 to destroy", "")
    assert "asg.shared: autoscaling group shared-" in planned.out and f"belongs to project '{owner_a}'" in planned.out
    applied(capsys, monkeypatch, b)
    no_changes(capsys, monkeypatch, a)
    no_changes(capsys, monkeypatch, b)

    now = world(aws)
    assert owned_by(now, owner_a) == of_a  # not deleted, rebuilt, retagged or rolled
    of_b = owned_by(now, owner_b)
    assert len(of_b) == 4 and len(now) == 10  # beta: an AMI only; nothing unowned
    assert sorted(v["name"] for v in now.values() if "name" in v) == sorted(
        [f"{owner_a}.alpha", f"{owner_a}.shared", f"{owner_b}.shared"])

    # a roll of one repository's `shared` is that repository's alone
    assert infra(capsys, monkeypatch, a, "autoscale:update", "shared", "--auto-approve").code == 0
    assert owned_by(world(aws), owner_b) == of_b
    # removing one repository's AMIs of `shared` leaves the other's
    images_of_a = {k for k, v in owned_by(world(aws), owner_a).items() if k.startswith("ami-")
                   and v["group"] == "shared"}
    deleted = infra(capsys, monkeypatch, b, "packer:delete", "shared", "--auto-approve")
    assert deleted.code == 1 and f"{owner_b}.shared" in deleted.err  # in use by B's own launch template
    assert f"{owner_a}." not in deleted.err
    nodes = json.loads((b / "nodes.json").read_text())
    nodes["shared"]["autoscale"] = False
    (b / "nodes.json").write_text(json.dumps(nodes))
    applied(capsys, monkeypatch, b)
    assert infra(capsys, monkeypatch, b, "packer:delete", "shared", "--auto-approve").code == 0
    assert {k for k, v in world(aws).items() if k.startswith("ami-") and v.get("group") == "shared"} == images_of_a


def test_a_repository_that_lost_its_state_adopts_its_own_and_only_its_own(repos, aws, capsys, monkeypatch):
    a, b = repos["a"], repos["b"]
    applied(capsys, monkeypatch, a)
    applied(capsys, monkeypatch, b)
    of_b = owned_by(world(aws), owner_of(b))

    (a / ".infra" / "state.json").unlink()
    no_changes(capsys, monkeypatch, a)  # its own resources are found and adopted, B's are not its orphans
    nodes = json.loads((a / "nodes.json").read_text())
    del nodes["alpha"]
    (a / "nodes.json").write_text(json.dumps(nodes))
    (a / ".infra" / "state.json").unlink(missing_ok=True)
    planned = infra(capsys, monkeypatch, a, "plan")
    deleted = sorted(line.split()[1] for line in planned.out.splitlines() if line.startswith("  - "))
    assert deleted == ["ami.alpha", "asg.alpha", "dna.alpha", "launch_template.alpha", "packer_template.alpha"]
    applied(capsys, monkeypatch, a)
    assert owned_by(world(aws), owner_of(b)) == of_b
    no_changes(capsys, monkeypatch, b)


def test_packer_clean_in_one_repository_leaves_the_others_amis_alone(repos, aws, capsys, monkeypatch):
    a, b = repos["a"], repos["b"]
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    older = {repo: [make_ami(ec2, "shared", f"shared-2020010{n}-000000", owner_of(repos[repo]))["ImageId"]
                    for n in (1, 2)] for repo in ("a", "b")}
    applied(capsys, monkeypatch, a)
    applied(capsys, monkeypatch, b)

    cleaned = infra(capsys, monkeypatch, a, "packer:clean", "-n", "1", "shared")
    assert cleaned.code == 0 and "removed 2" in cleaned.out
    left = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert not set(older["a"]) & left and set(older["b"]) <= left


def strip_owner_tags(aws: str, owner: str) -> None:
    """Make a project's resources look as an infra without owner tags left them."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    autoscaling = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)
    owned = [{"Name": "tag:infra:owner", "Values": [owner]}]
    ids = [i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=owned)["Images"]]
    ids += [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=owned)["Snapshots"]]
    ids += [t["LaunchTemplateId"] for t in ec2.describe_launch_templates(Filters=owned)["LaunchTemplates"]]
    ids += [i["InstanceId"] for r in ec2.describe_instances(Filters=owned)["Reservations"] for i in r["Instances"]]
    ec2.delete_tags(Resources=ids, Tags=[{"Key": "infra:owner"}])
    for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if tags(group).get("infra:owner") == owner:
            autoscaling.delete_tags(Tags=[{"ResourceId": group["AutoScalingGroupName"], "Key": "infra:owner",
                                           "ResourceType": "auto-scaling-group"}])


def test_what_infra_made_before_owner_tags_is_adopted_only_with_adopt(repos, aws, capsys, monkeypatch):
    a = repos["a"]
    applied(capsys, monkeypatch, a)
    before = world(aws)
    strip_owner_tags(aws, owner_of(a))
    state = json.loads((a / ".infra" / "state.json").read_text())
    (a / ".infra" / "state.json").write_text(json.dumps({**state, "format": 1, "owner": ""}))

    planned = infra(capsys, monkeypatch, a, "plan")
    assert planned.code == 0 and planned.out.count("was made by infra before owner tags") == 0
    assert planned.out.count("made by infra before owner tags, where this project would make its own") == 6
    refused = infra(capsys, monkeypatch, a, "apply", "--auto-approve")
    assert refused.code == 1 and "--adopt" in refused.err and len(refused.err.strip().splitlines()) == 1
    assert world(aws) == {k: {t: v for t, v in tags_.items() if t != "infra:owner"} for k, tags_ in before.items()}

    adopting = infra(capsys, monkeypatch, a, "plan", "--adopt")
    assert "Plan: 0 to add, 0 to change, 0 to destroy, 0 to build, 6 to adopt." in adopting.out
    applied(capsys, monkeypatch, a, "--adopt")
    assert world(aws) == before  # every tag back, nothing made, nothing rolled
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    snapshots = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "tag:group", "Values": ["alpha"]}])
    assert {tags(s).get("infra:owner") for s in snapshots["Snapshots"]} == {owner_of(a)}
    running = ec2.describe_instances(Filters=[{"Name": "tag:group", "Values": ["alpha"]},
                                              {"Name": "instance-state-name", "Values": ["running"]}])
    assert {tags(i).get("infra:owner") for r in running["Reservations"] for i in r["Instances"]} == {owner_of(a)}
    no_changes(capsys, monkeypatch, a)


def test_a_state_applied_under_another_project_name_is_refused(repos, aws, capsys, monkeypatch):
    a = repos["a"]
    applied(capsys, monkeypatch, a)
    was = owner_of(a)
    nodes = json.loads((a / "nodes.json").read_text())
    (a / "nodes.json").write_text(json.dumps({"__settings__": {"project": "renamed"}, **nodes}))
    refused = infra(capsys, monkeypatch, a, "plan")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert f"applied by project '{was}', but this is project 'renamed'" in refused.err
    assert f'"project": "{was}"' in refused.err  # what to write to keep it


def test_one_off_instances_of_the_same_name_in_two_repositories_are_two_instances(repos, aws, capsys, monkeypatch,
                                                                                  tmp_path):
    key = tmp_path / "deploy.pem"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for repo in ("a", "b"):
        nodes = json.loads((repos[repo] / "nodes.json").read_text())
        nodes["__base__"]["packer"] = False
        (repos[repo] / "nodes.json").write_text(json.dumps(nodes))
        made = infra(capsys, monkeypatch, repos[repo], "instance:create", "shared", "--key", str(key), "--name", "one")
        assert made.code == 0, made.err
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws)
    running = ec2.describe_instances(Filters=[{"Name": "tag:infra:name", "Values": ["one"]},
                                              {"Name": "instance-state-name", "Values": ["running"]}])
    owners = sorted(tags(i)["infra:owner"] for r in running["Reservations"] for i in r["Instances"])
    assert owners == sorted([owner_of(repos["a"]), owner_of(repos["b"])])
    for repo, other in (("a", "b"), ("b", "a")):  # each keeps exactly its own: nothing to adopt or delete
        planned = infra(capsys, monkeypatch, repos[repo], "plan", "shared")
        assert planned.code == 0 and " instance.shared.one\n" not in planned.out
        assert "! instance.shared.one: instance i-" in planned.out
        assert f"belongs to project '{owner_of(repos[other])}'" in planned.out
