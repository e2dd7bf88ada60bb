"""Living with an estate, on moto: --exclude leaves a broken group out of an apply of the rest;
--refresh-only accepts a hand change into the state, after which drift reports none."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"], "packer": False,
        "run_list": ["recipe[seatgeek::base-server]"]}
FLEET = {"node_min": 1, "node_max": 2, "timeout": 1, "healthy_deadline": 60}


@pytest.fixture
def repo(aws, tmp_path: Path, monkeypatch) -> Path:
    nodes = {"__settings__": {"project": "acme-ops"}, "__base__": BASE, "web": {"autoscale": FLEET},
             "api": {"autoscale": FLEET},
             "broken": {"autoscale": FLEET, "security_groups": ["no-such-group"]}}  # fails its plan
    (tmp_path / "nodes.json").write_text(json.dumps(nodes, indent=2))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def asgs(endpoint_url: str) -> dict[str, dict]:
    client = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=endpoint_url)
    return {next(t["Value"] for t in g["Tags"] if t["Key"] == "group"): g
            for g in client.describe_auto_scaling_groups()["AutoScalingGroups"]}


def test_exclude_leaves_a_broken_group_out_of_an_apply_of_the_rest(repo, aws, capsys):
    planned = run_infra(capsys, "plan", "--exclude", "broken")
    left = "asg.broken, dna.broken, launch_template.broken, role.broken"
    assert planned.code == 0 and f"  ! left out by --exclude, with what depends on it (4): {left}" in planned.out
    assert "broken" not in planned.out.split("  ! left out")[0]
    assert "Plan: 8 to add, 0 to change, 0 to destroy, 0 to build." in planned.out

    applied = run_infra(capsys, "apply", "--auto-approve", "--exclude", "broken")
    assert applied.code == 0, applied.err
    assert "Apply complete: 8 action(s) done." in applied.out and "broken" not in applied.err
    assert set(asgs(aws)) == {"web", "api"}
    recorded = json.loads(run_infra(capsys, "state", "list", "-o", "json").out)
    assert not [a for a in recorded if ".broken" in a] and len(recorded) == 8
    assert run_infra(capsys, "plan", "--detailed-exitcode", "--exclude", "broken").code == 0  # the rest is done

    whole = run_infra(capsys, "apply", "--auto-approve")  # the broken group is found out when planning
    assert whole.code == 1 and "security_groups: no security group no-such-group in us-east-1" in whole.err
    narrower = run_infra(capsys, "plan", "--exclude", "launch_template.web", "--exclude", "broken", "-o", "json")
    assert json.loads(narrower.out)["excluded"] == [  # and what depends on it
        "asg.broken", "asg.web", "dna.broken", "launch_template.broken", "launch_template.web", "role.broken"]


def test_refresh_only_accepts_a_hand_change_so_that_drift_then_reports_none(repo, aws, capsys):
    nodes = json.loads((repo / "nodes.json").read_text())
    del nodes["broken"]
    (repo / "nodes.json").write_text(json.dumps(nodes))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    web = asgs(aws)["web"]
    client = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)
    client.update_auto_scaling_group(AutoScalingGroupName=web["AutoScalingGroupName"], MaxSize=4)  # an incident
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "max_size: recorded 2, actual 4" in drift.out

    planned = run_infra(capsys, "plan", "--refresh-only", "--detailed-exitcode", "--out", "refresh.plan")
    assert planned.code == 2, planned.err
    assert (" # asg.web will be refreshed in state (what is there now is recorded; nothing else changes): changed "
            "outside infra: max_size\n <= asg.web\n    ~ max_size: 2 -> 4\n") in planned.out
    assert "Refresh-only plan: 1 to record in state; nothing else changes." in planned.out
    document = json.loads(run_infra(capsys, "plan", "--refresh-only", "-o", "json").out)
    assert document["refresh_only"] is True and [a["action"] for a in document["actions"]] == ["refresh"]

    applied = run_infra(capsys, "apply", "refresh.plan")
    assert applied.code == 0, applied.err
    assert "Refresh complete: the state records what exists now (1 resource(s) refreshed); nothing else was " \
           "changed." in applied.out
    after = asgs(aws)
    assert after["web"]["AutoScalingGroupName"] == web["AutoScalingGroupName"] and after["web"]["MaxSize"] == 4
    assert run_infra(capsys, "drift").code == 0
    state = json.loads((repo / ".infra" / "state.json").read_text())
    assert state["resources"]["asg.web"]["attributes"]["max_size"] == 4

    # nodes.json still says 2: a plan puts it back unless nodes.json is changed to keep it
    assert "~ max_size: 4 -> 2" in run_infra(capsys, "plan").out
    nodes["web"]["autoscale"]["node_max"] = 4
    (repo / "nodes.json").write_text(json.dumps(nodes))
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
