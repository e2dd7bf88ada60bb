"""A plan starts its regions' bulk scans (ASGs, launch templates, AMIs) while it builds nodes.json's
graph (infra/aws/early_pages.py): observing reads them, so each is asked once per region, never a
second time, and the plan is what it was. Requests counted at the endpoint, a proxy in front of moto."""

from __future__ import annotations

import json
import time
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


def test_the_asg_scans_of_nodes_json_s_regions_page_while_the_state_is_read(proxy, repo, capsys, monkeypatch):
    # the longest chain of round trips starts before the state (70 MB at 10,000 groups) is read
    applied = run_infra(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    from infra.state.local import LocalBackend

    read, asked_while_reading = LocalBackend.read, []

    def read_when_the_scans_were_asked(self):
        deadline = time.monotonic() + 10
        while proxy.counts["DescribeAutoScalingGroups"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        asked_while_reading.append(proxy.counts["DescribeAutoScalingGroups"])
        return read(self)

    monkeypatch.setattr(LocalBackend, "read", read_when_the_scans_were_asked)
    proxy.reset()
    planned = run_infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 0, planned.out + planned.err
    assert asked_while_reading == [2]  # us-east-1 and us-west-2, before the state was read
    assert proxy.reset()["DescribeAutoScalingGroups"] == 2  # and read by observing, not asked again
