"""A plan starts its regions' bulk scans (ASGs, launch templates, AMIs) while it builds nodes.json's
graph (infra/aws/early_pages.py): observing reads them, so each is asked once per region, never a
second time, and the plan is what it was. Requests counted at the endpoint, a proxy in front of moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"], "packer": False,
        "autoscale": {"node_min": 0, "node_max": 1, "timeout": 1, "healthy_deadline": 60}}
SCANS = ("DescribeAutoScalingGroups", "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    nodes = {"__settings__": {"project": "acme-ops"}, "__base__": BASE, "east": {}, "east2": {},
             "west": {"region": "us-west-2"}}
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_warm_plan_asks_each_region_scan_once_and_finds_everything_applied(proxy, repo, capsys):
    applied = run_infra(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    proxy.reset()
    planned = run_infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 0, planned.out + planned.err  # nothing to change: every scan was read whole
    asked = proxy.reset()
    assert {scan: asked[scan] for scan in SCANS} == {scan: 2 for scan in SCANS}  # one each in us-east-1, us-west-2


def test_a_group_removed_from_nodes_json_is_still_found_in_the_region_the_state_records(proxy, repo, capsys):
    applied = run_infra(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    nodes = json.loads((repo / "nodes.json").read_text())
    del nodes["west"]  # nodes.json names us-west-2 no more; the state still records its ASG there
    (repo / "nodes.json").write_text(json.dumps(nodes))
    proxy.reset()
    planned = run_infra(capsys, "plan")
    assert planned.code == 0, planned.err
    assert "# asg.west will be destroyed" in planned.out and "# launch_template.west will be destroyed" in planned.out
    assert "autoscaling group west-" in planned.out  # as found in us-west-2, not only as the state recorded it
    asked = proxy.reset()
    assert {scan: asked[scan] for scan in SCANS} == {scan: 2 for scan in SCANS}
