"""An apply killed (SIGKILL, with its packer) or terminated at the worst moments: the next apply
removes whatever the killed build left (build instance, key pair, unfinished AMI, template copy)
and converges, on moto with the real packer (stopped where a test wants it by the wrapper)."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of
from tests.integration.test_failures import BEE, WWW, amis_per_group, asgs_of, kill_group, start_infra, wait_until


@pytest.fixture
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


def leftovers(ec2, repo: Path) -> dict[str, list[str]]:
    """Everything a build of this repository could leave behind."""
    owner = owner_of(repo)  # its key pairs' names start infra.<owner>.
    running = ec2.describe_instances(Filters=[{"Name": "tag-key", "Values": ["infra:build"]},
                                              {"Name": "instance-state-name",
                                               "Values": ["pending", "running", "stopping", "stopped"]}])
    pairs = ec2.describe_key_pairs()["KeyPairs"]
    images = ec2.describe_images(Owners=["self"])["Images"]
    return {
        "build instances": [i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]],
        "key pairs": [p["KeyName"] for p in pairs if p["KeyName"].startswith(("packer_", f"infra.{owner}."))],
        "untagged AMIs": [i["ImageId"] for i in images
                          if not any(t["Key"] == "infra:managed" for t in i.get("Tags", []))
                          and i["Name"].startswith((f"{BEE}-", f"{WWW}-"))],
        "template copies": [p.name for p in (repo / ".infra" / "tmp").glob("*")] if (repo / ".infra" / "tmp").exists()
        else [],
    }


def unlock(repo: Path, capsys) -> None:
    lock = repo / ".infra" / "state.lock"
    if lock.exists():
        assert run_infra(capsys, "state", "unlock", json.loads(lock.read_text())["id"]).code == 0


def paused_apply(control: Path, repo: Path, logs: Path, moment: str, *args: str, groups=(BEE, WWW)):
    """An apply whose builds of `groups` are stopped (SIGSTOP) when packer prints `moment`, each:
    once they all are, nothing moves until the test kills or terminates it."""
    for group in groups:
        (control / f"pause-{group}").write_text(moment)
    apply = start_infra(repo, logs, "apply", "apply", "--auto-approve", *args)
    wait_until(f"packer stopped at {moment!r}",
               lambda: all((control / f"paused-{g}").exists() for g in groups) or apply.poll() is not None,
               timeout=60)
    assert apply.poll() is None, (logs / "apply.err").read_text()
    for group in groups:
        (control / f"pause-{group}").unlink()
    return apply


@pytest.mark.parametrize("moment, left", [  # what is surely there (packer stops a moment after it says it)
    ("Launching a source AWS instance", {"key pairs"}),
    ("Waiting for instance", {"build instances", "key pairs"}),
    ("Waiting for AMI to become ready", {"build instances", "key pairs", "untagged AMIs"}),
])
def test_an_apply_killed_mid_build_leaves_nothing_once_applied_again(control, ops_repo, ec2, capsys, logs,
                                                                     moment, left):
    apply = paused_apply(control, ops_repo, logs, moment)
    kill_group(apply, control)
    found = leftovers(ec2, ops_repo)
    assert left | {"template copies"} <= {what for what, items in found.items() if items}, found

    unlock(ops_repo, capsys)
    planned = run_infra(capsys, "plan")
    listed = set(re.findall(r"^  - build_leftover\.[^.]+\.(\S+)$", planned.out, re.M))
    # (both groups' builds ran when the apply was killed; a key pair, or an unfinished AMI, goes with
    # the instance it belongs to)
    assert set(found["build instances"]) <= listed <= set(found["build instances"] + found["key pairs"])
    assert "left by a packer build that is not running" in planned.out
    for image in found["untagged AMIs"]:
        assert f"unfinished AMI {image}" in planned.out  # named under the instance it was made from
    resumed = run_infra(capsys, "apply", "--auto-approve")
    assert resumed.code == 0, resumed.err
    for image in found["untagged AMIs"]:
        assert f"deregistered the unfinished AMI {image}" in resumed.out
    assert not any(leftovers(ec2, ops_repo).values()), leftovers(ec2, ops_repo)
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1}
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_sigterm_during_a_stuck_build_ends_the_apply_within_seconds(control, ops_repo, ec2, capsys, logs):
    """A build that no longer answers (here: stopped; in life: packer retrying a dead endpoint for
    11 minutes) gets its interrupt, then is killed after a grace period; the next apply cleans up."""
    apply = paused_apply(control, ops_repo, logs, "Waiting for instance")
    apply.send_signal(signal.SIGTERM)  # to infra alone, as a CI runner cancelling a job does
    try:
        apply.wait(timeout=60)
    finally:
        kill_group(apply, control)
    assert apply.returncode == 143, (logs / "apply.err").read_text()
    err = (logs / "apply.err").read_text()
    assert "terminated; what finished is recorded in state, the lock is released" in err
    assert not (ops_repo / ".infra" / "state.lock").exists()
    assert leftovers(ec2, ops_repo)["build instances"]  # packer had no time to clean up...
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert not any(leftovers(ec2, ops_repo).values())  # ...the next apply did


def test_a_build_past_its_build_timeout_is_stopped_and_fails_its_group_only(control, ops_repo, ec2, capsys, logs):
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[WWW]["build_timeout"] = 2
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    apply = paused_apply(control, ops_repo, logs, "Waiting for instance", groups=(WWW,))
    assert apply.wait(timeout=60) == 1
    err = (logs / "apply.err").read_text()
    assert f"ami.{WWW}: failed after" in err and "did not finish within 2s (build_timeout)" in err, err
    assert f"ami.{BEE}" not in err  # the other group's build finished
    nodes[WWW]["build_timeout"] = 3600
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert not any(leftovers(ec2, ops_repo).values())


def test_a_roll_killed_while_it_holds_the_old_asg_keeps_the_new_one(control, ops_repo, ec2, aws, capsys, logs):
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["__base__"]["packer"] = False
    nodes[BEE]["autoscale"].update({"timeout": 120, "healthy_deadline": 60})
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [old] = asgs_of(BEE, aws)
    nodes[BEE]["instance_type"] = "m3.large"
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    roll = start_infra(ops_repo, logs, "roll", "apply", "--auto-approve")
    try:
        wait_until("the roll's hold", lambda: "keeping" in (logs / "roll.out").read_text() or roll.poll() is not None,
                   timeout=60)
        assert roll.poll() is None, (logs / "roll.err").read_text()
    finally:
        kill_group(roll, control)
    [new] = [name for name in asgs_of(BEE, aws) if name != old]

    unlock(ops_repo, capsys)
    planned = run_infra(capsys, "plan")
    assert f"- asg.{BEE}.{old}" in planned.out and f"left beside asg.{BEE} by an interrupted roll" in planned.out
    assert f"+/- asg.{BEE}" not in planned.out  # no third ASG
    applied = run_infra(capsys, "apply", "--auto-approve")
    assert applied.code == 0 and f"cleared infra:roll=holding from {new}" in applied.out
    assert asgs_of(BEE, aws) == [new]
    survivor = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws).describe_auto_scaling_groups(
        AutoScalingGroupNames=[new])["AutoScalingGroups"][0]
    assert "infra:roll" not in {t["Key"] for t in survivor["Tags"]}  # not holding for ever
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
