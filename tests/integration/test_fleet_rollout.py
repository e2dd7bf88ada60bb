"""Gated rolls on moto: traffic moves between target groups' instances, alarms and unhealthy targets
roll back, so does SIGTERM, and `infra rollback` returns to the AMI the group ran before.

moto models what these need: target health (a registered running instance is healthy, a stopped
one is not), attaching and detaching ASGs to target groups (which registers and deregisters their
instances), and alarms set with SetAlarmState. It does not model draining (a detached instance
is at once unused), so a drain here ends as soon as it starts.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import ALARM, TARGET_GROUP
from tests.integration.fleet_support import BEE, applied, asgs, example, no_changes, tags, write
from tests.integration.test_failures import kill_group, start_infra, wait_until
from tests.integration.test_kills import unlock
from tests.support.watch import Watch


@pytest.fixture
def repo(aws, ops_repo: Path, target_group, alarm) -> Path:
    gated(ops_repo, bake=2)
    return ops_repo


def gated(repo: Path, *, bake: int, **autoscale) -> dict:
    """The example's bee group behind web-tg, rolled with a canary of 1 (of 2) and a bake watching web-5xx."""
    return example(repo, **{"target_groups": [TARGET_GROUP], "healthy_deadline": 5,
                            "rollout": {"canary": 1, "bake": bake, "alarms": [ALARM]}, **autoscale})


def change_instance_type(repo: Path, instance_type: str = "m3.large") -> None:
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["instance_type"] = instance_type
    write(repo, nodes)


def serving(elbv2, arn: str) -> set[str]:
    """The instances web-tg sends traffic to now."""
    found = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in found if d["TargetHealth"]["State"] == "healthy"}


def instances(group: dict) -> set[str]:
    return {i["InstanceId"] for i in group["Instances"]}


def rolled_back(autoscaling, elbv2, arn: str, old: dict) -> None:
    """The old ASG alone, at full size, attached and serving; nothing of the new one left."""
    [kept] = asgs(autoscaling, BEE)
    assert kept["AutoScalingGroupName"] == old["AutoScalingGroupName"]
    assert kept["DesiredCapacity"] == 2 and kept["TargetGroupARNs"] == [arn]
    assert serving(elbv2, arn) == instances(old)
    assert "infra:roll" not in tags(kept)


def test_a_canary_and_bake_roll_moves_the_target_group_to_the_new_instances_never_leaving_it_empty(
        repo, capsys, autoscaling, elbv2, target_group):
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    assert old["TargetGroupARNs"] == [target_group] and old["HealthCheckType"] == "ELB"
    assert serving(elbv2, target_group) == instances(old)
    no_changes(capsys)
    change_instance_type(repo)

    plan = run_infra(capsys, "plan")
    assert ("    roll: canary 1 of 2, bake 2 s watching web-5xx; then 2; old ASG drained from web-tg, deleted after "
            "1 s (healthy in web-tg within 5 s at each step, else rolled back)") in plan.out
    with Watch(lambda: frozenset(serving(elbv2, target_group))) as watch:  # who web-tg serves
        result = applied(capsys)
    [new] = asgs(autoscaling, BEE)
    assert new["AutoScalingGroupName"] != old["AutoScalingGroupName"] and new["TargetGroupARNs"] == [target_group]
    assert serving(elbv2, target_group) == instances(new)
    assert all(watch.seen), "web-tg had no healthy target at some moment of the roll"
    assert watch.seen[0] == instances(old) and watch.seen[-1] == instances(new)
    assert any(len(seen & instances(new)) == 1 and seen >= instances(old) for seen in watch.seen)  # the canary
    out = result.out
    for line in (f"1 of 2 instance(s), attached to {TARGET_GROUP}", "1/1 healthy in web-tg", "bake 0/2 s watching "
                 "web-5xx", "canary passed; scaling to 2", "2/2 healthy in web-tg",
                 f"detached {old['AutoScalingGroupName']} from web-tg", "drained from web-tg"):
        assert line in out, out
    assert out.index("bake 0/2 s") < out.index("scaling to 2") < out.index("detached") \
        < out.index(f"deleted {old['AutoScalingGroupName']}")
    assert json.loads(run_infra(capsys, "state", "show", f"asg.{BEE}", "--output", "json").out)["outputs"][
        "previous"]["launch_template_version"] == "1"
    no_changes(capsys)


def test_target_groups_are_observed_and_a_hand_detached_one_is_drift_put_back_by_apply(repo, capsys, autoscaling,
                                                                                        target_group):
    applied(capsys)
    [group] = asgs(autoscaling, BEE)
    autoscaling.detach_load_balancer_target_groups(AutoScalingGroupName=group["AutoScalingGroupName"],
                                                   TargetGroupARNs=[target_group])
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "target_groups" in drift.out, drift.out
    plan = run_infra(capsys, "plan")
    assert f"~ asg.{BEE}" in plan.out and "+/-" not in plan.out
    applied(capsys)
    assert asgs(autoscaling, BEE)[0]["TargetGroupARNs"] == [target_group]
    assert run_infra(capsys, "drift").code == 0


def test_an_unknown_target_group_or_alarm_is_a_plan_time_error_naming_the_key_and_region(repo, capsys):
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"]["target_groups"] = ["web-tgg"]
    write(repo, nodes)
    planned = run_infra(capsys, "plan")
    assert planned.code == 1 and len(planned.err.strip().splitlines()) == 1, planned.err
    at = next(n for n, line in enumerate((repo / "nodes.json").read_text().splitlines(), 1)
              if '"target_groups"' in line)
    assert (f"nodes.json:{at}:" in planned.err and f"group '{BEE}': autoscale.target_groups: no target group web-tgg "
            f"in us-east-1" in planned.err), planned.err
    nodes[BEE]["autoscale"]["target_groups"] = [TARGET_GROUP]
    nodes[BEE]["autoscale"]["rollout"]["alarms"] = ["web-5xxx"]
    write(repo, nodes)
    planned = run_infra(capsys, "plan")
    assert planned.code == 1 and "autoscale.rollout.alarms: no CloudWatch alarm web-5xxx in us-east-1" in planned.err



def test_a_target_group_arn_is_checked_at_plan_time_too(repo, target_group, capsys):
    """An ARN of a target group since deleted (or of another region) fails the plan, not the roll."""
    nodes = json.loads((repo / "nodes.json").read_text())
    gone = target_group.rsplit("/", 1)[0] + "/0123456789abcdef"
    nodes[BEE]["autoscale"]["target_groups"] = [target_group, gone]
    write(repo, nodes)
    planned = run_infra(capsys, "plan")
    assert planned.code == 1 and len(planned.err.strip().splitlines()) == 1, planned.err
    assert f"autoscale.target_groups: no target group {gone} in us-east-1; make it there, or fix the name" \
        in planned.err, planned.err
    nodes[BEE]["autoscale"]["target_groups"] = [target_group]
    write(repo, nodes)
    assert run_infra(capsys, "plan").code == 0

@pytest.fixture
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


def roll_in_the_bake(repo: Path, capsys, autoscaling, logs: Path):
    """Apply once, then start a roll with a long bake and wait until it bakes; the old ASG and the roll."""
    gated(repo, bake=60)
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    change_instance_type(repo)
    roll = start_infra(repo, logs, "roll", "apply", "--auto-approve")
    wait_until("the bake", lambda: "bake 0/60 s" in (logs / "roll.out").read_text() or roll.poll() is not None,
               timeout=60)
    assert roll.poll() is None, (logs / "roll.err").read_text()
    return old, roll


def test_an_alarm_during_the_bake_rolls_back_naming_it(repo, capsys, autoscaling, elbv2, cloudwatch, target_group,
                                                      logs):
    old, roll = roll_in_the_bake(repo, capsys, autoscaling, logs)
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx above 1 for 1 minute")
    assert roll.wait(timeout=60) == 1
    err = (logs / "roll.err").read_text()
    assert (f"asg.{BEE}: failed after" in err and f"alarm {ALARM} (5xx above 1 for 1 minute) is in ALARM during the "
            f"bake: rolled back, deleted {BEE}-" in err and f"kept {old['AutoScalingGroupName']} (2 instance(s), "
            f"attached to web-tg)" in err), err
    assert "Traceback" not in err
    rolled_back(autoscaling, elbv2, target_group, old)


def test_sigterm_during_the_bake_rolls_back(repo, capsys, autoscaling, elbv2, target_group, logs):
    old, roll = roll_in_the_bake(repo, capsys, autoscaling, logs)
    roll.send_signal(signal.SIGTERM)
    assert roll.wait(timeout=60) == 143
    err = (logs / "roll.err").read_text()
    assert "infra was stopped (Ctrl-C or SIGTERM) during the bake: rolled back" in err, err
    assert "terminated; what finished is recorded in state, the lock is released" in err
    rolled_back(autoscaling, elbv2, target_group, old)
    assert not (repo / ".infra" / "state.lock").exists()
    assert f"+/- asg.{BEE}" in run_infra(capsys, "plan").out  # the roll is still to do


def test_a_roll_killed_in_the_bake_leaves_a_leftover_the_next_apply_detaches_and_deletes(
        repo, capsys, autoscaling, elbv2, target_group, logs):
    old, roll = roll_in_the_bake(repo, capsys, autoscaling, logs)
    kill_group(roll)  # SIGKILL: nothing rolls back
    [new] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] != old["AutoScalingGroupName"]]
    assert tags(new)["infra:roll"] == "pending" and serving(elbv2, target_group) == instances(old) | instances(new)
    unlock(repo, capsys)
    planned = run_infra(capsys, "plan")
    assert f"- asg.{BEE}.{new['AutoScalingGroupName']}" in planned.out and f"+/- asg.{BEE}" in planned.out
    gated(repo, bake=0)
    applied(capsys)
    [rolled] = asgs(autoscaling, BEE)
    assert serving(elbv2, target_group) == instances(rolled)  # no target left behind by the killed roll


def test_a_target_turning_unhealthy_rolls_back_naming_the_target_group_and_instance(
        repo, capsys, autoscaling, elbv2, ec2, target_group):
    gated(repo, bake=30)
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    change_instance_type(repo)
    stopped: list[str] = []

    def stop_the_canary() -> None:  # a stopped instance is unused in its target group: never healthy again
        deadline = time.monotonic() + 30
        while not stopped and time.monotonic() < deadline:
            canary = {i["InstanceId"] for group in autoscaling.describe_auto_scaling_groups(
                Filters=[{"Name": "tag:infra:roll", "Values": ["pending"]}])["AutoScalingGroups"]
                for i in group["Instances"]}
            if canary and canary <= serving(elbv2, target_group):  # it serves: the bake begins
                time.sleep(0.5)
                ec2.stop_instances(InstanceIds=sorted(canary))
                stopped.extend(sorted(canary))
            time.sleep(0.01)

    saboteur = threading.Thread(target=stop_the_canary, daemon=True)
    saboteur.start()
    result = run_infra(capsys, "apply", "--auto-approve")
    saboteur.join(timeout=30)
    assert result.code == 1 and stopped, result.out + result.err
    assert re.search(rf"asg\.{BEE}: failed after [0-9.]+s: {BEE}-[0-9a-f]{{8}} became unhealthy during the bake "
                     rf"\(0/1 healthy in web-tg\): {stopped[0]} in web-tg: unused \(Target\.InvalidState\): rolled "
                     rf"back, deleted {BEE}-[0-9a-f]{{8}} and kept {old['AutoScalingGroupName']}",
                     result.err), result.err
    rolled_back(autoscaling, elbv2, target_group, old)


def test_infra_rollback_returns_to_the_previous_ami_and_stays_there(repo, capsys, autoscaling, ec2, elbv2,
                                                                   target_group):
    applied(capsys)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["__base__"]["source_ami"] = "ami-0a1b2c3d"  # without packer, what the group boots
    write(repo, nodes)
    applied(capsys)
    [rolled] = asgs(autoscaling, BEE)
    assert images_of(ec2, rolled) == {"ami-0a1b2c3d"}

    asked = run_infra(capsys, "rollback", BEE)  # as apply: it shows the plan, and asks (no terminal here)
    assert asked.code == 1 and "back to launch template version 1" in asked.out
    assert asked.err == "error: rollback needs confirmation: run it on a terminal, or pass --auto-approve\n"
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [rolled["AutoScalingGroupName"]]
    back = run_infra(capsys, "rollback", BEE, "--auto-approve")
    assert back.code == 0, back.err + back.out
    assert "infra rollback: back to launch template version 1 (ami-1ebb2077)" in back.out
    assert "roll: canary 1 of 2, bake 2 s watching web-5xx" in back.out and "bake 0/2 s" in back.out
    [now] = asgs(autoscaling, BEE)
    assert now["LaunchTemplate"]["Version"] == "1" and images_of(ec2, now) == {"ami-1ebb2077"}
    assert serving(elbv2, target_group) == instances(now)
    assert tags(now)["infra:rolled_back_from"] == "2"
    assert default_version(ec2, now) == "1"  # what launches from the template's default boots what the group runs

    held = run_infra(capsys, "plan", "--detailed-exitcode")  # nodes.json and the fleet differ: a change to report
    assert held.code == 2 and "+/-" not in held.out, held.out
    assert f"asg.{BEE}: held at launch_template_version 1 by infra rollback, which left 2" in held.out
    assert held.out.rstrip().endswith(f"No changes to apply, but 1 held back from nodes.json: asg.{BEE} (rolled "
                                      f"back: infra autoscale:update {BEE} rolls it forward).")
    drift = run_infra(capsys, "drift")
    assert drift.code == 2, drift.out
    assert (f"asg.{BEE}: rolled back: {now['AutoScalingGroupName']} runs launch template version 1, not 2, which "
            f"infra rollback (or infra rollout abort) left; infra autoscale:update {BEE} rolls it forward") in drift.out
    again = run_infra(capsys, "rollback", BEE, "--auto-approve")  # the way back from a rollback is the version it left
    assert again.code == 0 and "back to launch template version 2 (ami-0a1b2c3d)" in again.out
    assert images_of(ec2, asgs(autoscaling, BEE)[0]) == {"ami-0a1b2c3d"}
    assert default_version(ec2, now) == "2"
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0 and run_infra(capsys, "drift").code == 0


def test_a_change_after_a_rollback_makes_a_new_default_version_and_rolls_to_it(repo, capsys, autoscaling, ec2):
    applied(capsys)
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["__base__"]["source_ami"] = "ami-0a1b2c3d"
    write(repo, nodes)
    applied(capsys)
    assert run_infra(capsys, "rollback", BEE, "--auto-approve").code == 0
    nodes[BEE]["instance_type"] = "m3.large"
    write(repo, nodes)
    rolled = applied(capsys)
    assert "new version 3" in rolled.out, rolled.out
    [now] = asgs(autoscaling, BEE)
    assert now["LaunchTemplate"]["Version"] == "3" and default_version(ec2, now) == "3"
    [template] = ec2.describe_launch_templates(
        LaunchTemplateIds=[now["LaunchTemplate"]["LaunchTemplateId"]])["LaunchTemplates"]
    assert "infra:applied_version" not in tags(template)
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def default_version(ec2, group: dict) -> str:
    [template] = ec2.describe_launch_templates(
        LaunchTemplateIds=[group["LaunchTemplate"]["LaunchTemplateId"]])["LaunchTemplates"]
    return str(template["DefaultVersionNumber"])


def images_of(ec2, group: dict) -> set[str]:
    ids = [i["InstanceId"] for i in group["Instances"]]
    return {i["ImageId"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}


def test_rollback_without_an_earlier_roll_says_so(repo, capsys):
    applied(capsys)
    refused = run_infra(capsys, "rollback", BEE, "--auto-approve")
    assert refused.code == 1 and "records no earlier roll (infra:previous): nothing to roll back to" in refused.err
    assert run_infra(capsys, "rollback", "12_04-www", "--auto-approve").code == 1


def test_the_sandbox_seeds_the_target_groups_and_alarms_nodes_json_names(ops_repo, capsys, monkeypatch):
    """`infra sandbox start` makes what a gated roll needs, so it runs there as in AWS (and a reset keeps it)."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    gated(ops_repo, bake=0)
    started = run_infra(capsys, "sandbox", "start")
    try:
        assert started.code == 0 and "target group web-tg, alarm web-5xx" in started.out, started.err
        endpoint = re.search(r"export AWS_ENDPOINT_URL=(\S+)", started.out).group(1)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        elbv2 = boto3.client("elbv2", region_name="us-east-1", endpoint_url=endpoint)
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=endpoint)
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        [group] = elbv2.describe_target_groups(Names=[TARGET_GROUP])["TargetGroups"]
        delay = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
        assert {"Key": "deregistration_delay.timeout_seconds", "Value": "5"} in delay
        assert [a["StateValue"] for a in cloudwatch.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]] == ["OK"]
        applied(capsys)
        assert len(serving(elbv2, group["TargetGroupArn"])) == 2
    finally:
        assert run_infra(capsys, "sandbox", "stop").code == 0


def test_sigterm_while_a_renamed_groups_old_asg_is_kept_keeps_it_and_says_so(aws, ops_repo, capsys, autoscaling,
                                                                             logs):
    example(ops_repo, timeout=60)
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["bee-v2"] = nodes.pop(BEE)
    write(ops_repo, nodes)
    apply = start_infra(ops_repo, logs, "rename", "apply", "--auto-approve")
    wait_until("the old ASG kept beside the new one",
               lambda: f"asg.{BEE}: keeping" in (logs / "rename.out").read_text())
    apply.send_signal(signal.SIGTERM)
    assert apply.wait(timeout=60) == 143
    err = (logs / "rename.err").read_text()
    assert (f"infra was stopped (Ctrl-C or SIGTERM) while {old['AutoScalingGroupName']} was kept beside "
            f"{asgs(autoscaling, 'bee-v2')[0]['AutoScalingGroupName']}; {old['AutoScalingGroupName']} is kept, "
            f"apply again to remove it") in err, err
    assert [g["AutoScalingGroupName"] for g in asgs(autoscaling, BEE)] == [old["AutoScalingGroupName"]]


def test_a_removed_groups_asg_is_drained_from_its_target_groups_before_it_is_deleted(repo, capsys, autoscaling,
                                                                                     elbv2, target_group):
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    nodes = json.loads((repo / "nodes.json").read_text())
    del nodes[BEE]
    write(repo, nodes)
    out = applied(capsys).out
    name = old["AutoScalingGroupName"]
    assert out.index(f"{name}: drained from web-tg") < out.index(f"deleted {name}"), out
    assert "could not detach" not in out, out  # detached once, before the drain; not again to delete it
    assert asgs(autoscaling, BEE) == [] and serving(elbv2, target_group) == set()
