"""Staging and production from one nodes.json, on moto with the real packer (wrapped, to count
builds): production never builds, it promotes the AMI staging built from the same inputs; two
environments in one region keep their own state and never touch each other's resources."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.test_failures import builds
from tests.support.plan_schema import schema_errors

FLEET = {"node_min": 1, "node_max": 1, "timeout": 1, "healthy_deadline": 60}
NODES = {
    "__settings__": {"project": "acme", "promote": ["staging", "production"]},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
                 "run_list": ["recipe[acme::base]"]},
    "__environments__": {
        "staging": {"region": "us-west-2", "tags": {"stage": "staging"}},
        "production": {"region": "us-east-1", "instance_type": "m3.large",
                       "groups": {"web": {"autoscale": {"node_min": 2, "node_max": 2}}}},
    },
    "web": {"autoscale": FLEET},
}


@pytest.fixture
def repo(aws, ops_repo: Path, control) -> Path:
    write(ops_repo, NODES)
    return ops_repo


def write(repo: Path, nodes: dict) -> None:
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))


def infra(capsys, environment: str, *args: str):
    return run_infra(capsys, "--env", environment, *args)


def applied(capsys, environment: str, *args: str):
    result = infra(capsys, environment, "apply", "--auto-approve", *args)
    assert result.code == 0, result.err + result.out
    return result


def no_changes(capsys, environment: str) -> None:
    result = infra(capsys, environment, "plan", "--detailed-exitcode")
    assert result.code == 0, result.out + result.err


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def running_image(aws: str, region: str, owner: str) -> dict:
    """The AMI the owner's web ASG in `region` launches, with its tags."""
    autoscaling = boto3.client("autoscaling", region_name=region, endpoint_url=aws)
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=aws)
    [group] = [g for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
               if tags(g).get("infra:owner") == owner]
    spec = group["LaunchTemplate"]
    [version] = ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"],
                                                      Versions=[spec["Version"]])["LaunchTemplateVersions"]
    [image] = ec2.describe_images(ImageIds=[version["LaunchTemplateData"]["ImageId"]])["Images"]
    return {"id": image["ImageId"], "name": image["Name"], "asg": group["AutoScalingGroupName"],
            "template": version["LaunchTemplateName"], **tags(image)}


def test_production_runs_what_staging_built_and_never_builds(repo, aws, control, capsys):
    waiting = infra(capsys, "production", "plan")
    assert waiting.code == 3 and len(waiting.err.strip().splitlines()) == 1, waiting.err  # 3: it waits
    assert "ami.web: waiting for staging" in waiting.err and "infra --env staging apply" in waiting.err

    applied(capsys, "staging")
    assert builds(control) == ["web"]
    planned = infra(capsys, "production", "plan")
    assert planned.code == 0 and "> ami.web" in planned.out and "1 to promote" in planned.out, planned.out
    assert "packer_template" not in planned.out and "0 to build" in planned.out
    document = json.loads(infra(capsys, "production", "plan", "-o", "json").out)
    assert schema_errors(document) == [] and document["summary"]["promote"] == 1
    [promote] = [a for a in document["actions"] if a["action"] == "promote"]
    assert promote["after"]["source"]["region"] == "us-west-2" and promote["after"]["region"] == "us-east-1"
    assert infra(capsys, "production", "plan", "--out", "production.plan").code == 0
    applied(capsys, "production", "production.plan")  # a saved plan promotes the AMI it names
    assert builds(control) == ["web"]  # production's apply ran no packer build

    staging = running_image(aws, "us-west-2", "acme/staging")
    production = running_image(aws, "us-east-1", "acme/production")
    assert production["infra:source_hash"] == staging["infra:source_hash"]
    assert production["infra:image_digest"] == staging["infra:image_digest"]
    assert production["id"] != staging["id"] and production["name"] == f"web-production-from-{staging['id']}"
    assert staging["name"].startswith("web-staging-") and staging["asg"].startswith("web-staging-")
    assert (staging["template"], production["template"]) == ("acme/staging.web", "acme/production.web")
    assert "stage" not in production  # production's tags, not staging's
    for environment in ("staging", "production"):
        no_changes(capsys, environment)
        assert infra(capsys, environment, "drift").code == 0

    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.json") if ".infra" not in p.parts
                  and p.name != "nodes.json") == [
        "dna/production/asg/web.json", "dna/staging/asg/web.json", "packer/staging/web.json",
        "roles/production/role-web.json", "roles/staging/role-web.json"]
    assert sorted(p.relative_to(repo).as_posix() for p in (repo / ".infra").rglob("state.json")) == [
        ".infra/production/state.json", ".infra/staging/state.json"]

    # Production's AMI is its own: once promoted, staging's may go, and production needs nothing of it;
    # with nothing to promote, its plans do not even reach staging's account.
    boto3.client("ec2", region_name="us-west-2", endpoint_url=aws).deregister_image(ImageId=staging["id"])
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["staging"]["aws"] = {"profile": "no-such-profile"}
    write(repo, nodes)
    no_changes(capsys, "production")
    assert infra(capsys, "production", "drift").code == 0
    assert "no-such-profile" in infra(capsys, "staging", "plan").err


def test_a_changed_input_builds_in_staging_only_and_production_follows(repo, aws, control, capsys):
    applied(capsys, "staging")
    applied(capsys, "production")
    first = running_image(aws, "us-east-1", "acme/production")

    nodes = copy.deepcopy(NODES)
    nodes["__base__"]["run_list"].append("recipe[acme::new]")  # baked into the image
    write(repo, nodes)
    assert "1 to build" in infra(capsys, "staging", "plan").out
    refused = infra(capsys, "production", "plan")
    assert refused.code == 3 and "waiting for staging" in refused.err
    applied(capsys, "staging")
    assert builds(control) == ["web", "web"]
    applied(capsys, "production")  # promotes the new build and rolls to it
    assert builds(control) == ["web", "web"]
    second = running_image(aws, "us-east-1", "acme/production")
    assert second["id"] != first["id"]
    assert second["infra:source_hash"] == running_image(aws, "us-west-2", "acme/staging")["infra:source_hash"]

    nodes["__environments__"]["production"]["groups"]["web"]["autoscale"]["node_max"] = 3  # not in the image
    write(repo, nodes)
    planned = infra(capsys, "production", "plan")
    assert "~ asg.web" in planned.out and "promote" not in planned.out.replace("0 to promote", "")
    no_changes(capsys, "staging")


def test_production_refuses_to_promote_an_image_made_of_other_inputs(repo, aws, capsys):
    applied(capsys, "staging")
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["production"]["default_attributes"] = {"environment": "production"}
    write(repo, nodes)
    refused = infra(capsys, "production", "plan")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "its inputs differ from staging's: the Chef role (default_attributes)" in refused.err


SAME_REGION = {**NODES, "__environments__": {"staging": {}, "production": {"groups": {"web": {"tags": {"tier": "1"}}}}}}


def test_two_environments_in_one_region_keep_their_state_and_their_resources(repo, aws, capsys):
    write(repo, SAME_REGION)
    applied(capsys, "staging")
    applied(capsys, "production")
    staging = running_image(aws, "us-east-1", "acme/staging")
    production = running_image(aws, "us-east-1", "acme/production")
    assert production["id"] != staging["id"]  # copied in the region: production owns what it runs
    for environment in ("staging", "production"):
        no_changes(capsys, environment)

    # A lost state finds its own environment's resources again, and none of the other's.
    (repo / ".infra" / "production" / "state.json").unlink()
    planned = infra(capsys, "production", "plan", "--detailed-exitcode")
    assert planned.code == 0 and "acme/staging" not in planned.out, planned.out
    applied(capsys, "production")

    # Production drops its fleet: its own ASG, launch template and dna go; staging's stay.
    nodes = copy.deepcopy(SAME_REGION)
    nodes["__environments__"]["production"]["groups"]["web"]["autoscale"] = False
    write(repo, nodes)
    planned = infra(capsys, "production", "plan")
    deleted = sorted(line.split()[1] for line in planned.out.splitlines() if line.startswith("  - "))
    assert deleted == ["asg.web", "dna.web", "launch_template.web"], planned.out
    applied(capsys, "production")
    assert running_image(aws, "us-east-1", "acme/staging") == staging
    no_changes(capsys, "staging")
    assert (repo / "dna" / "staging" / "asg" / "web.json").exists()
    assert not (repo / "dna" / "production" / "asg" / "web.json").exists()


OTHER_ACCOUNT = "222222222222"  # moto answers as the account of the role assumed


def test_production_in_another_account_assumes_its_role_and_gets_the_ami_shared_then_copied(repo, aws, capsys):
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["production"]["aws"] = {"role_arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/infra"}
    write(repo, nodes)
    applied(capsys, "staging")
    planned = infra(capsys, "production", "plan")
    assert "> ami.web" in planned.out and '"account": "123456789012"' in planned.out, planned.out
    applied(capsys, "production")
    staging = running_image(aws, "us-west-2", "acme/staging")
    ec2 = boto3.client("ec2", region_name="us-west-2", endpoint_url=aws)
    shared = ec2.describe_image_attribute(ImageId=staging["id"], Attribute="launchPermission")["LaunchPermissions"]
    assert shared == [{"UserId": OTHER_ACCOUNT}]
    assert not [g for g in boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)
                .describe_auto_scaling_groups()["AutoScalingGroups"]]  # nothing of production in staging's account

    role = boto3.client("sts", region_name="us-east-1", endpoint_url=aws).assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/infra", RoleSessionName="test")["Credentials"]
    there = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws, aws_access_key_id=role["AccessKeyId"],
                         aws_secret_access_key=role["SecretAccessKey"], aws_session_token=role["SessionToken"])
    [image] = there.describe_images(Owners=["self"])["Images"]
    assert image["OwnerId"] == OTHER_ACCOUNT and tags(image)["infra:source_hash"] == staging["infra:source_hash"]
    no_changes(capsys, "production")


def test_credentials_of_another_account_than_nodes_json_names_are_refused(repo, aws, capsys):
    nodes = copy.deepcopy(NODES)
    nodes["__environments__"]["staging"]["aws"] = {"account": "999999999999"}
    write(repo, nodes)
    refused = infra(capsys, "staging", "plan")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert "this environment runs in AWS account 999999999999, but the credentials are of account 123456789012" \
        in refused.err


def test_the_sandbox_makes_each_environments_state_bucket_and_lock_table_in_its_account(ops_repo, capsys,
                                                                                        monkeypatch):
    """docs/environments.md's example runs on the sandbox as it stands: S3 state, a lock table, and
    production in another account (a role assumed: moto answers as that account)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    nodes = {"__settings__": {"project": "acme-ops", "promote": ["staging", "production"],
                              "state": {"backend": "s3", "bucket": "acme-ops-state", "key": "infra/state.json",
                                        "lock_table": "infra-locks"}},
             "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False},
             "__environments__": {
                 "staging": {"region": "us-west-2"},
                 "production": {"region": "us-east-1",
                                "aws": {"role_arn": "arn:aws:iam::222222222222:role/infra-deploy"}}},
             "web": {"autoscale": {"node_min": 1, "node_max": 1}}}
    (ops_repo / "nodes.json").write_text(json.dumps(nodes, indent=2))
    started = run_infra(capsys, "sandbox", "start")
    try:
        assert started.code == 0, started.err
        for made in ("state bucket acme-ops-state (staging)", "lock table infra-locks (staging)",
                     "lock table infra-locks (production)"):  # one bucket, a lock table in each account
            assert made in started.out, started.out
        monkeypatch.setenv("AWS_ENDPOINT_URL", re.search(r"export AWS_ENDPOINT_URL=(\S+)", started.out).group(1))
        for environment in ("staging", "production"):
            planned = run_infra(capsys, "--env", environment, "plan")
            assert planned.code == 0 and "Plan: " in planned.out, planned.err
        again = run_infra(capsys, "sandbox", "start")  # already running: nothing made twice, nothing fails
        assert again.code == 0 and "Already running" in again.out
    finally:
        assert run_infra(capsys, "sandbox", "stop").code == 0
