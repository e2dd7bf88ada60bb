"""infra usage on moto, with CPU put into moto's CloudWatch as EC2 sends it (scripts/sandbox_cpu.py),
and the monthly cost of a plan made against what moto runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.support.plan_schema import schema_errors

ROOT = Path(__file__).resolve().parents[2]
BEE, WWW, API = "12_04-bee", "12_04-www", "api"
ROLL = {"timeout": 1, "healthy_deadline": 5}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    """Three groups: bee (2 x m1.large), www (1 x m3.xlarge), api (2 x c5.large); verdicts after 2 h of data."""
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["__base__"].update(packer=False, usage={"min_hours": 2})
    nodes[BEE]["autoscale"].update(ROLL)
    nodes[WWW]["autoscale"] = {"node_min": 1, "node_max": 1, **ROLL}
    nodes[API] = {"instance_type": "c5.large", "security_groups": ["www"], "autoscale": {"node_min": 2, "node_max": 2,
                                                                                           **ROLL}}
    write(ops_repo, nodes)
    assert run_infra_quietly("apply", "--auto-approve") == 0
    return ops_repo


def write(repo: Path, nodes: dict) -> None:
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))


def run_infra_quietly(*args: str) -> int:
    from infra.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def put_cpu(*levels: str, hours: float = 3) -> None:
    """CPU around each level for the last `hours`, as scripts/sandbox_cpu.py puts it into the sandbox."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "sandbox_cpu.py"), *levels, "--hours", str(hours)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def usage(capsys, *args: str) -> tuple[int, dict]:
    result = run_infra(capsys, "usage", "--days", "1", "-o", "json", *args)
    assert result.code in (0, 2), result.err
    return result.code, {(r["group"], r["kind"]): r for r in json.loads(result.out)["rows"]}


def test_idle_saturated_and_fine_groups_get_their_verdicts_and_the_report_exits_2(repo, capsys):
    put_cpu(f"{BEE}=3", f"{WWW}=92:4", f"{API}=45")
    code, rows = usage(capsys)
    assert code == 2
    bee, www, api = rows[(BEE, "asg")], rows[(WWW, "asg")], rows[(API, "asg")]
    assert [bee["verdict"], www["verdict"], api["verdict"]] == ["idle", "saturated", "fine"]
    assert (bee["nodes"], bee["instance_types"], bee["hourly"], bee["monthly"]) == (2, ["m1.large"], 0.175, 255.5)
    assert (www["nodes"], www["instance_types"], www["monthly"]) == (1, ["m3.xlarge"], 194.18)
    assert bee["cpu"]["p95"] < 10 < api["cpu"]["p95"] < 80 < www["cpu"]["p95"]
    assert bee["cpu"]["hours"] == 3.0 and bee["thresholds"] == {"idle_below": 10.0, "saturated_above": 80.0,
                                                                  "min_hours": 2.0}
    assert bee["suggestions"][0]["text"] == "fewer nodes: 1 instead of 2 (lower desired and node_min to 1)"
    assert www["suggestions"][0]["text"].startswith("more nodes: 2 instead of 1 (it runs at node_max")
    assert api["suggestions"] == []

    text = run_infra(capsys, "usage", "--days", "1")
    assert text.code == 2
    assert "verdict    IDLE: p95 CPU" in text.out and "SATURATED" in text.out and "FINE" in text.out
    assert "2 of 3 need attention (idle: 12_04-bee; saturated: 12_04-www)" in text.out
    markdown = run_infra(capsys, "usage", "--days", "1", "-o", "markdown")
    assert markdown.code == 2 and markdown.out.startswith("### infra usage: 2 of 3 need attention")


def test_a_fine_group_alone_exits_0(repo, capsys):
    put_cpu(f"{BEE}=3", f"{API}=45")
    code, rows = usage(capsys, API)
    assert code == 0 and list(rows) == [(API, "asg")] and rows[(API, "asg")]["verdict"] == "fine"


def test_without_enough_data_there_is_no_verdict_and_no_finding(repo, capsys):
    put_cpu(f"{BEE}=3", hours=1)
    code, rows = usage(capsys)
    assert code == 0
    assert {r["verdict"] for r in rows.values()} == {"unknown"}
    assert rows[(BEE, "asg")]["reason"] == ("1.0 h of CPU data in the window; a verdict needs 2 h "
                                            "(usage.min_hours)")
    assert rows[(WWW, "asg")]["reason"].startswith("0.0 h of CPU data")


def test_only_this_projects_nodes_count(repo, capsys, aws):
    """Another project's ASG of a group of the same name, busy, is neither counted nor read."""
    autoscaling = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws)
    ours = [g for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
            if {"Key": "group", "Value": BEE} in [{"Key": t["Key"], "Value": t["Value"]} for t in g["Tags"]]]
    template = ours[0]["LaunchTemplate"]["LaunchTemplateId"]
    put_cpu(f"{BEE}=3")  # before the look-alike is there: the script finds a group's ASG by its group tag alone
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{BEE}-0therpr0", MinSize=3, MaxSize=3, DesiredCapacity=3,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"}, AvailabilityZones=["us-east-1a"],
        Tags=[{"ResourceId": f"{BEE}-0therpr0", "ResourceType": "auto-scaling-group", "Key": k, "Value": v,
               "PropagateAtLaunch": True}
              for k, v in {"group": BEE, "infra:managed": "true", "infra:owner": "someone-else"}.items()])
    boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=aws).put_metric_data(
        Namespace="AWS/EC2", MetricData=[{
            "MetricName": "CPUUtilization", "Value": 99.0, "Unit": "Percent",
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": f"{BEE}-0therpr0"}]}])
    _, rows = usage(capsys, BEE)
    bee = rows[(BEE, "asg")]
    assert bee["name"] == ours[0]["AutoScalingGroupName"] and bee["nodes"] == 2 and bee["verdict"] == "idle"


def test_a_one_off_instance_is_judged_by_its_own_cpu(repo, capsys, tmp_path):
    key = tmp_path / "deploy.pem"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    assert run_infra(capsys, "instance:create", BEE, "--key", str(key), "--name", "console").code == 0
    put_cpu(f"{BEE}=30", f"{BEE}.console=1")
    code, rows = usage(capsys, BEE)
    assert code == 2 and rows[(BEE, "asg")]["verdict"] == "fine"
    console = rows[(BEE, "instance")]
    assert (console["name"], console["nodes"], console["verdict"]) == ("console", 1, "idle")
    assert console["suggestions"][0] == {"text": "no node: terminate instance.12_04-bee.console if nothing needs it",
                                         "monthly_change": -127.75}


@pytest.mark.parametrize("args, error", [
    (("--days", "0"), "--days 0: give 1 to 63 (CloudWatch keeps 5-minute data 63 days)"),
    (("--days", "64"), "--days 64: give 1 to 63"),
    (("nosuch",), "unknown group 'nosuch'"),
])
def test_bad_arguments_are_one_line(repo, capsys, args, error):
    result = run_infra(capsys, "usage", *args)
    assert result.code == 1 and error in result.err and result.err.count("\n") == 1


def test_a_plan_says_what_it_does_to_the_monthly_bill(repo, capsys):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = "m3.large"  # a roll to a cheaper type
    nodes[API]["autoscale"].update(node_min=1, node_max=4, desired=3)  # one more node
    del nodes[WWW]  # its node goes
    write(repo, nodes)
    markdown = run_infra(capsys, "plan", "-o", "markdown")
    assert markdown.code == 0, markdown.err
    assert "**Monthly cost: -$193.45**" in markdown.out
    assert "| `12_04-bee` | 2 × m1.large: $255.50 | 2 × m3.large: $194.18 | -$61.32 |" in markdown.out
    assert "| `api` | 2 × c5.large: $124.10 | 3 × c5.large: $186.15 | +$62.05 |" in markdown.out
    assert "| `12_04-www` | 1 × m3.xlarge: $194.18 | none | -$194.18 |" in markdown.out
    assert "`asg.12_04-bee` rolls: its new nodes run beside the old ones for up to 6 s" in markdown.out
    document = json.loads(run_infra(capsys, "plan", "-o", "json").out)
    assert not schema_errors(document)
    assert document["cost"]["groups"] == {BEE: -61.32, API: 62.05, WWW: -194.18}
