"""Rollout steps on moto: a roll stops at a manual pause (exit 4, both ASGs serving), survives the
process that started it (status and promote from a fresh clone that shares only the S3 state), and
goes on or back (abort: the old ASG at full size, held there); plan and drift say so meanwhile."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import boto3
import pytest

from tests.cli_helpers import run_infra
from tests.integration.conftest import ALARM, TARGET_GROUP
from tests.integration.fleet_support import BEE, applied, asgs, example, tags, write
from tests.integration.test_failures import start_infra, wait_until
from tests.integration.test_fleet_rollout import change_instance_type, instances, rolled_back, serving
from tests.support.watch import Watch

STEPS = [{"canary": 1}, {"pause": "manual"}, {"bake": 1}]
PAUSED_EXIT = 4


@pytest.fixture
def team_repo(aws, ops_repo: Path, target_group, alarm) -> Path:
    """The bee group behind web-tg rolled in three steps, its state in S3 (a team's, shared by clones)."""
    boto3.client("s3", region_name="us-east-1", endpoint_url=aws).create_bucket(Bucket="ops-state")
    nodes = example(ops_repo, target_groups=[TARGET_GROUP], healthy_deadline=5,
                    rollout={"steps": STEPS, "alarms": [ALARM]})
    nodes["__settings__"] = {"project": "ops", "state": {"backend": "s3", "bucket": "ops-state",
                                                         "key": "prod/state.json"}}
    write(ops_repo, nodes)
    return ops_repo


def paused_roll(capsys, autoscaling, *, bake: int = 1) -> tuple[dict, dict]:
    """Apply, roll again with a new instance type: it stops at step 2; the old ASG and the paused one."""
    with_steps(Path.cwd(), [{"canary": 1}, {"pause": "manual"}, {"bake": bake}])
    applied(capsys)
    [old] = asgs(autoscaling, BEE)
    change_instance_type(Path.cwd())
    plan = run_infra(capsys, "plan")
    assert f"roll: steps 1. canary 1 of 2, 2. pause until infra rollout promote, 3. bake {bake} s watching " \
           "web-5xx; then 2;" in plan.out, plan.out
    stopped = run_infra(capsys, "apply", "--auto-approve")
    assert stopped.code == PAUSED_EXIT, stopped.err + stopped.out
    [new] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] != old["AutoScalingGroupName"]]
    assert (f"Paused: asg.{BEE}: {new['AutoScalingGroupName']}: paused at step 2/3 with 1 of 2 instance(s), beside "
            f"{old['AutoScalingGroupName']}; go on with: infra rollout promote {BEE}; go back with: infra rollout "
            f"abort {BEE}") in stopped.out
    return old, new


def with_steps(repo: Path, steps: list[dict]) -> None:
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"]["rollout"]["steps"] = steps
    write(repo, nodes)


def with_autoscale(repo: Path, **settings) -> None:
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"].update(settings)
    write(repo, nodes)


def test_a_manual_pause_stops_the_roll_survives_the_process_and_promote_from_a_fresh_clone_finishes_it(
        team_repo, tmp_path_factory, capsys, autoscaling, elbv2, target_group, monkeypatch):
    old, new = paused_roll(capsys, autoscaling)
    assert new["DesiredCapacity"] == 1 and tags(new)["infra:roll"] == "paused" and tags(new)["infra:roll_step"] == "1"
    assert serving(elbv2, target_group) == instances(old) | instances(new)  # the canary serves beside the old ASG
    [old_now] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] == old["AutoScalingGroupName"]]
    assert old_now["DesiredCapacity"] == 2

    plan = run_infra(capsys, "plan", "--detailed-exitcode")  # no second roll: the paused one, and how to end it
    assert plan.code == 2 and "+/-" not in plan.out, plan.out
    assert f"! asg.{BEE}: roll paused at step 2 of 3 (pause until infra rollout promote) since " in plan.out
    assert plan.out.rstrip().endswith(f"No changes to apply, but 1 held back from nodes.json: asg.{BEE} (roll "
                                      f"paused: infra rollout promote {BEE} or abort {BEE}).")
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and f"asg.{BEE}: roll paused at step 2 since" in drift.out, drift.out

    clone = tmp_path_factory.mktemp("clone") / "ops"  # another machine: the repository's files, the state in S3
    shutil.copytree(team_repo, clone, ignore=shutil.ignore_patterns(".infra"))
    monkeypatch.chdir(clone)
    status = run_infra(capsys, "rollout", "status", BEE)
    assert status.code == PAUSED_EXIT and f"{BEE}: roll paused at step 2 of 3" in status.out, status.out
    with Watch(lambda: frozenset(serving(elbv2, target_group))) as watch:
        promoted = run_infra(capsys, "rollout", "promote", BEE)
    assert promoted.code == 0, promoted.err + promoted.out
    assert f"{new['AutoScalingGroupName']}: promoted at step 2/3; going on from step 3" in promoted.out
    assert "bake 0/1 s watching web-5xx" in promoted.out and "canary passed; scaling to 2" in promoted.out
    [done] = asgs(autoscaling, BEE)
    assert done["AutoScalingGroupName"] == new["AutoScalingGroupName"] and done["DesiredCapacity"] == 2
    assert not {"infra:roll", "infra:roll_step", "infra:roll_since"} & set(tags(done))
    assert serving(elbv2, target_group) == instances(done)
    assert all(watch.seen), "web-tg had no healthy target at some moment of the promote"
    again = run_infra(capsys, "plan", "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.out, again.out
    assert run_infra(capsys, "rollout", "status", BEE).out.startswith(f"{BEE}: no roll under way")


def test_abort_at_the_pause_keeps_the_old_asg_at_full_size_and_holds_it_there(team_repo, capsys, autoscaling,
                                                                                elbv2, target_group):
    old, new = paused_roll(capsys, autoscaling)
    aborted = run_infra(capsys, "rollout", "abort", BEE)
    assert aborted.code == 0, aborted.err + aborted.out
    assert f"rolled back, deleted {new['AutoScalingGroupName']} and kept {old['AutoScalingGroupName']}" in aborted.out
    rolled_back(autoscaling, elbv2, target_group, old)
    held = run_infra(capsys, "plan", "--detailed-exitcode")  # not rolled again by the next apply
    assert held.code == 2 and "+/-" not in held.out, held.out
    assert f"asg.{BEE}: held at launch_template_version 1 by infra rollback, which left 2" in held.out
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and f"infra autoscale:update {BEE} rolls it forward" in drift.out, drift.out
    nothing = run_infra(capsys, "rollout", "promote", BEE)
    assert nothing.code == 1 and "has no paused roll" in nothing.err


def test_an_alarm_firing_while_paused_aborts_the_roll_on_the_next_status(team_repo, capsys, autoscaling, elbv2,
                                                                        cloudwatch, target_group):
    old, new = paused_roll(capsys, autoscaling)
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx above 1")
    status = run_infra(capsys, "rollout", "status", BEE)
    assert status.code == 1, status.err + status.out
    assert f"asg.{BEE}: aborted" in status.out
    assert f"{BEE}: alarm {ALARM} (5xx above 1) is in ALARM while the roll was paused: aborted" in status.out
    rolled_back(autoscaling, elbv2, target_group, old)


def test_a_bad_step_is_one_located_error_and_an_unknown_key_suggests_the_closest(ops_repo, capsys):
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes[BEE]["autoscale"]["rollout"] = {"steps": [{"canary": 1}, {"pasue": "manual"}]}
    write(ops_repo, nodes)
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "rollout.steps.1.pasue" in result.err and "did you mean 'pause'" in result.err, \
        result.err


def test_a_plan_warns_when_a_watched_alarm_already_fires_or_a_target_group_serves_nobody(
        team_repo, capsys, autoscaling, cloudwatch, target_group):
    applied(capsys)
    change_instance_type(team_repo)
    quiet = run_infra(capsys, "plan")
    assert "! alarm" not in quiet.out and "no healthy target" not in quiet.out, quiet.out
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx above 1")
    [group] = asgs(autoscaling, BEE)
    autoscaling.detach_load_balancer_target_groups(AutoScalingGroupName=group["AutoScalingGroupName"],
                                                   TargetGroupARNs=[target_group])
    warned = run_infra(capsys, "plan")
    assert f"    ! alarm {ALARM} (5xx above 1) is in ALARM now: a roll would stop before it starts" in warned.out
    assert f"    ! target group {TARGET_GROUP} has no healthy target now" in warned.out, warned.out
    markdown = run_infra(capsys, "plan", "--output", "markdown").out
    assert f"**Warning:** target group {TARGET_GROUP} has no healthy target now." in markdown


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_promote_stopped_by_sigterm_or_ctrl_c_pauses_the_roll_again_and_a_second_promote_finishes_it(
        team_repo, capsys, autoscaling, elbv2, target_group, tmp_path, signum, code):
    """The operator approved the canary: stopping the promote keeps it, paused where it was (not rolled
    back), the state and the tags say so, the lock is released, and promote (or abort) goes on."""
    old, new = paused_roll(capsys, autoscaling, bake=60)
    promote = start_infra(team_repo, tmp_path, "promote", "rollout", "promote", BEE)

    def baking() -> bool:
        return "bake 0/60 s" in (tmp_path / "promote.out").read_text() or promote.poll() is not None

    wait_until("the bake", baking, timeout=60)
    promote.send_signal(signum)  # to infra alone (kill -INT, or a CI runner's SIGTERM)
    assert promote.wait(timeout=60) == code
    said = (tmp_path / "promote.out").read_text() + (tmp_path / "promote.err").read_text()
    assert (f"asg.{BEE}: {new['AutoScalingGroupName']}: infra was stopped (Ctrl-C or SIGTERM) during the bake: "
            f"paused again after step 2/3, 1 of 2 instance(s) beside {old['AutoScalingGroupName']}, which serves at "
            f"full size; go on with: infra rollout promote {BEE}; go back with: infra rollout abort {BEE}") in said, \
        said
    assert "rolled back" not in said and "Traceback" not in said
    stopped = "terminated" if signum == signal.SIGTERM else "interrupted"
    assert f"error: {stopped}; what finished is recorded in state, the lock is released" in said, said
    [paused] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] == new["AutoScalingGroupName"]]
    assert tags(paused)["infra:roll"] == "paused" and tags(paused)["infra:roll_step"] == "1"
    assert serving(elbv2, target_group) == instances(old) | instances(paused)  # both serve, as at the pause
    assert not (team_repo / ".infra" / "state.lock").exists()
    status = run_infra(capsys, "rollout", "status", BEE)
    assert status.code == PAUSED_EXIT and f"{BEE}: roll paused at step 2 of 3" in status.out, status.out
    with_steps(team_repo, [{"canary": 1}, {"pause": "manual"}, {"bake": 1}])  # a step not yet run may change
    promoted = run_infra(capsys, "rollout", "promote", BEE)
    assert promoted.code == 0, promoted.err + promoted.out
    [done] = asgs(autoscaling, BEE)
    assert done["AutoScalingGroupName"] == new["AutoScalingGroupName"] and done["DesiredCapacity"] == 2
    assert serving(elbv2, target_group) == instances(done)


def test_a_step_inserted_before_the_pause_makes_promote_refuse_and_abort_still_goes_back(
        team_repo, capsys, autoscaling, elbv2, target_group):
    """The roll's progress is an index into the steps: with one inserted before it, a promote would go
    on from the wrong step (here: the manual pause again), so it refuses, changing nothing."""
    old, new = paused_roll(capsys, autoscaling)
    with_steps(team_repo, [{"canary": 1}, {"bake": 1}, {"pause": "manual"}, {"bake": 1}])
    refused = run_infra(capsys, "rollout", "promote", BEE)
    assert refused.code == 1, refused.err + refused.out
    assert (f"asg.{BEE}: rollout.steps 1-2 of {BEE} changed since its roll ran them and paused after step 2 "
            f'(nodes.json has now: 1. {{"canary": 1}}, 2. {{"bake": 1}}), so a promote would go on from the wrong '
            f"step; put them back as they were to promote, or go back with: infra rollout abort {BEE}") in refused.err
    [paused] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] == new["AutoScalingGroupName"]]
    assert tags(paused)["infra:roll"] == "paused" and tags(paused)["infra:roll_step"] == "1"  # untouched
    status = run_infra(capsys, "rollout", "status", BEE)
    assert status.code == PAUSED_EXIT and f"but rollout.steps 1-2 of {BEE} changed" in status.out, status.out
    aborted = run_infra(capsys, "rollout", "abort", BEE)
    assert aborted.code == 0, aborted.err + aborted.out
    rolled_back(autoscaling, elbv2, target_group, old)


def test_sigterm_during_the_hold_of_a_promote_attaches_the_old_asg_again_and_pauses_after_the_last_step(
        team_repo, capsys, autoscaling, elbv2, target_group, tmp_path):
    """Stopped once the new ASG took over (the old one detached, kept for `timeout`): the old ASG serves
    again beside the new one, and the roll waits after its last step for promote (or abort)."""
    old, new = paused_roll(capsys, autoscaling)
    with_autoscale(team_repo, timeout=60)
    promote = start_infra(team_repo, tmp_path, "promote", "rollout", "promote", BEE)

    def holding() -> bool:
        return f"keeping {old['AutoScalingGroupName']} for 60s" in (tmp_path / "promote.out").read_text() \
            or promote.poll() is not None

    wait_until("the hold", holding, timeout=60)
    [detached] = [g for g in asgs(autoscaling, BEE) if g["AutoScalingGroupName"] == old["AutoScalingGroupName"]]
    assert detached["TargetGroupARNs"] == []
    promote.send_signal(signal.SIGTERM)
    assert promote.wait(timeout=60) == 143
    said = (tmp_path / "promote.out").read_text() + (tmp_path / "promote.err").read_text()
    assert f"pausing again: attached {old['AutoScalingGroupName']} to web-tg again" in said, said
    assert (f"infra was stopped (Ctrl-C or SIGTERM) during the hold: paused again after step 3/3, 2 of 2 instance(s) "
            f"beside {old['AutoScalingGroupName']}, which serves at full size; go on with: infra rollout promote "
            f"{BEE}") in said, said
    found = {g["AutoScalingGroupName"]: g for g in asgs(autoscaling, BEE)}
    kept, paused = found[old["AutoScalingGroupName"]], found[new["AutoScalingGroupName"]]
    assert kept["TargetGroupARNs"] == [target_group] and kept["DesiredCapacity"] == 2
    assert tags(paused)["infra:roll"] == "paused" and tags(paused)["infra:roll_step"] == "2"
    assert serving(elbv2, target_group) == instances(kept) | instances(paused)
    status = run_infra(capsys, "rollout", "status", BEE)
    assert status.code == PAUSED_EXIT and f"{BEE}: roll paused at step 3 of 3" in status.out, status.out
    with_autoscale(team_repo, timeout=1)
    promoted = run_infra(capsys, "rollout", "promote", BEE)
    assert promoted.code == 0, promoted.err + promoted.out
    assert "promoted at step 3/3; going on to the take-over" in promoted.out
    [done] = asgs(autoscaling, BEE)
    assert done["AutoScalingGroupName"] == new["AutoScalingGroupName"]
