"""Real plans (moto, the real packer) keep the documented contract: `--output json` and `--out`
files validate against docs/plan-json.md's schema, are the same document, and a saved plan with
values unknown until apply applies. Text and Markdown plans name what deletions remove."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.support.plan_schema import schema_errors

pytestmark = pytest.mark.skipif(shutil.which("packer") is None, reason="needs the packer binary")
BEE, WWW = "12_04-bee", "12_04-www"


def _plans(capsys, repo: Path, name: str) -> dict:
    """The plan printed with --output json, checked against the schema and the --out file."""
    printed = run_infra(capsys, "plan", "--output", "json")
    assert printed.code == 0, printed.err
    document = json.loads(printed.out)
    assert schema_errors(document) == []
    assert run_infra(capsys, "plan", "--out", name).code == 0
    saved = json.loads((repo / name).read_text())
    assert schema_errors(saved) == []
    assert saved == document  # the example holds no secret: nothing masked, the same document
    return document


def _names_what_goes(capsys, endpoint: str) -> None:
    """Text and Markdown plans name what a deletion or a roll removes: the AMI ids of a removed
    group with their snapshots, the old ASG with its instances, the files."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint)
    autoscaling = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=endpoint)
    [image] = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group", "Values": [WWW]}])["Images"]
    snapshots = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    [group] = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    instances = sorted(i["InstanceId"] for i in group["Instances"])
    assert snapshots and len(instances) == 2
    text = run_infra(capsys, "plan").out
    markdown = run_infra(capsys, "plan", "--output", "markdown").out
    for shown, mark in ((text, "    - "), (markdown, "- ")):
        assert f"{mark}AMI {image['ImageId']} ({image['Name']}) and its snapshot(s) {', '.join(snapshots)}" in shown
        assert (f"{mark}autoscaling group {group['AutoScalingGroupName']} and its 2 instance(s): "
                f"{', '.join(instances)}") in shown
        assert f"{mark}file roles/role-{WWW}.json" in shown and f"{mark}file packer/{WWW}.json" in shown


def _nodes(repo: Path) -> dict:
    return json.loads((repo / "nodes.json").read_text())


def test_real_plans_validate_and_a_saved_plan_with_unknown_values_applies(aws, ops_repo, capsys):
    nodes = _nodes(ops_repo)
    nodes[BEE]["autoscale"].update(timeout=1, healthy_deadline=5)
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))

    first = _plans(capsys, ops_repo, "first.plan")
    actions = {a["address"]: a for a in first["actions"]}
    assert {a["action"] for a in first["actions"]} == {"create", "build"}
    assert actions[f"launch_template.{BEE}"]["after_unknown"] == {"image_id": f"ami.{BEE}.image_id"}
    assert actions[f"asg.{BEE}"]["after_unknown"] == {"launch_template_id": f"launch_template.{BEE}.id",
                                                      "launch_template_version": f"launch_template.{BEE}.version"}
    applied = run_infra(capsys, "apply", "first.plan")
    assert applied.code == 0, applied.err + applied.out

    nodes[BEE]["instance_type"] = "m3.large"
    del nodes[WWW]
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    _names_what_goes(capsys, aws)
    second = _plans(capsys, ops_repo, "second.plan")
    by_action = {}
    for action in second["actions"]:
        by_action.setdefault(action["action"], set()).add(action["address"])
    assert by_action["build"] == {f"ami.{BEE}"} and by_action["replace"] == {f"asg.{BEE}"}
    assert f"ami.{WWW}" in by_action["delete"] and f"role.{WWW}" in by_action["delete"]
    assert run_infra(capsys, "apply", "second.plan").code == 0

    third = _plans(capsys, ops_repo, "third.plan")
    assert third["has_changes"] is False and {a["action"] for a in third["actions"]} == {"noop"}
