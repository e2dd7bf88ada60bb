"""Groups in several regions, on moto: each region observed with its own client and what is found
labelled by the region it was found in; `--region` moves every group, never mislabels."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra

FLEET = {"node_min": 1, "node_max": 1, "timeout": 1, "healthy_deadline": 60}
NODES = {"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False, "autoscale": FLEET},
         "east": {"region": "us-east-1"}, "west": {"region": "eu-west-1"}}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    (ops_repo / "nodes.json").write_text(json.dumps(NODES))
    return ops_repo


def launch_templates(aws: str, region: str) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=aws)
    return [t["LaunchTemplateName"].rsplit(".", 1)[1] for t in ec2.describe_launch_templates()["LaunchTemplates"]]


def test_each_region_is_observed_on_its_own_and_what_is_found_keeps_its_region(repo, aws, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert launch_templates(aws, "us-east-1") == ["east"] and launch_templates(aws, "eu-west-1") == ["west"]
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0

    (repo / ".infra" / "state.json").unlink()  # found again by tags alone, each in its own region
    planned = run_infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 0, planned.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    shown = json.loads(run_infra(capsys, "state", "show", "launch_template.west", "-o", "json").out)
    assert shown["attributes"]["region"] == "eu-west-1"
    assert run_infra(capsys, "drift").code == 0


def test_region_option_moves_every_group_and_a_group_applied_elsewhere_is_refused(repo, aws, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    moved = run_infra(capsys, "--region", "us-east-1", "plan")
    assert moved.code == 1 and len(moved.err.strip().splitlines()) == 1
    assert "group west moves from eu-west-1 to us-east-1" in moved.err
    # A repository applied with --region all along plans against that region alone.
    (repo / ".infra" / "state.json").unlink()
    planned = run_infra(capsys, "--region", "ap-south-1", "plan")
    assert planned.code == 0 and "Plan: 4 to add" in planned.out, planned.out  # nothing there yet
    assert '"region": "ap-south-1"' in run_infra(capsys, "--region", "ap-south-1", "plan", "-o", "json").out
